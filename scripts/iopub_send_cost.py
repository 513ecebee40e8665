"""Instructions a process spends publishing comm messages through jsession's kernel IOPub path.

    valgrind --tool=callgrind python scripts/iopub_send_cost.py 100 [NBYTES]
    valgrind --tool=callgrind python scripts/iopub_send_cost.py 600 [NBYTES]

The difference between the two runs' totals ("Collected"), divided by 500, is what one
message costs (all of the process's threads; NBYTES is the buffer each message carries,
1 MiB by default, 0 for none). A subscriber in another process receives every message.
Run it from outside the source tree, against the installed (compiled) jsession.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import zmq

from jsession.kernel import Session
from jsession.kernel.iopub import IOPubThread

RECEIVER = """
import sys, zmq
sub = zmq.Context().socket(zmq.SUB)
sub.rcvhwm = 0
sub.subscribe(b"")
sub.connect(sys.argv[1])
n = 0
while sub.recv_multipart(copy=False)[-1].bytes != b"END":
    n += 1
print("received", n)
"""


def main() -> None:
    count = int(sys.argv[1])
    buffer = os.urandom(int(sys.argv[2]) if len(sys.argv) > 2 else 1 << 20)
    sock = zmq.Context().socket(zmq.XPUB)
    sock.linger = 1000
    sock.sndhwm = 0
    port = sock.bind_to_random_port("tcp://127.0.0.1")
    session = Session(key=b"k" * 32)
    pub = IOPubThread(sock, pipe=False, session=session)
    pub.start()
    # the receiver in a process of its own, so that its work is not counted here
    receiver = subprocess.Popen([sys.executable, "-c", RECEIVER, f"tcp://127.0.0.1:{port}"])
    time.sleep(3)  # subscribed (valgrind starts slowly)
    parent = session.msg("execute_request", {})
    buffers = [buffer] if buffer else None
    stream, topic = pub.background_socket, b"comm-abc"
    for i in range(count):
        content = {"data": {"i": i}, "comm_id": "abc"}
        session.send(stream, "comm_msg", content, parent=parent, ident=topic, buffers=buffers)
        if i % 16 == 15:
            time.sleep(0.001)  # a paced stream: ZeroMQ's queue stays short
    time.sleep(0.5)
    pub.send_multipart([b"END"])
    receiver.wait()
    pub.stop()
    pub.close()


if __name__ == "__main__":
    main()
