"""Interrupt the kernel's IOPub sends with SIGINT, thousands of times, and count damaged messages.

    python scripts/interrupt_sends.py [--seconds 10] [--impl compiled|python] [--buffer BYTES]

The main thread publishes signed comm messages through ``jsession.kernel.iopub.IOPubThread``
(the jsession kernel's path) while another thread sends it SIGINT every ``--every`` seconds
(Python's handler raises KeyboardInterrupt, as when a kernel is interrupted). A receiver
process checks every message it gets: the frame count, the signature, the buffer's size and
the sequence. A message the interrupt stopped before it started is missing (fine); one cut,
mixed with another or repeated is damaged. Exit status 1 if any message was damaged.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import sys
import threading
import time
import typing as t

KEY = b"interrupt-sends-key"


def receive(endpoint: str, nbytes: int, ready: t.Any, result: t.Any) -> None:
    import zmq

    from jsession import Session

    session = Session(key=KEY)
    ctx = zmq.Context()
    sock = ctx.socket(zmq.SUB)
    sock.rcvhwm = 0
    sock.subscribe(b"")
    sock.connect(endpoint)
    ready.set()
    got = damaged = repeated = 0
    last = -1
    while True:
        frames = sock.recv_multipart(copy=False)
        if frames[-1].bytes == b"END":
            break
        try:
            _, rest = session.feed_identities(frames, copy=False)
            msg = session.deserialize(rest, copy=False)
            if msg["msg_type"] == "iopub_welcome":  # the publisher greets the subscription
                continue
            i = msg["content"]["data"]["i"]
            if len(msg["buffers"]) != (1 if nbytes else 0) or (nbytes and len(msg["buffers"][0]) != nbytes):
                raise ValueError("wrong buffers")
        except Exception as e:
            damaged += 1
            if damaged <= 3:
                sizes = [len(f) for f in frames]
                print(f"damaged: {type(e).__name__}: {e}; frame sizes {sizes}", file=sys.stderr)
            continue
        if i <= last:
            repeated += 1
        last = i
        got += 1
    result.put((got, damaged, repeated))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--every", type=float, default=0.00014, help="seconds between two SIGINTs")
    parser.add_argument("--impl", choices=("compiled", "python"), default="compiled")
    parser.add_argument("--buffer", type=int, default=1 << 18, help="bytes of each message's buffer")
    args = parser.parse_args()

    from jsession import _backend

    _backend.use(args.impl)
    import zmq

    from jsession.kernel import Session
    from jsession.kernel.iopub import IOPubThread

    ctx = zmq.Context()
    pub = ctx.socket(zmq.XPUB)
    pub.sndhwm = 0
    port = pub.bind_to_random_port("tcp://127.0.0.1")
    mp = multiprocessing.get_context("spawn")
    ready, result = mp.Event(), mp.Queue()
    endpoint = f"tcp://127.0.0.1:{port}"
    receiver = mp.Process(target=receive, args=(endpoint, args.buffer, ready, result), daemon=True)
    receiver.start()
    ready.wait(30)
    session = Session(key=KEY)
    iopub = IOPubThread(pub, pipe=False, session=session)
    iopub.start()
    pub.poll(10000)  # the subscription (read by the IO thread)
    time.sleep(0.5)

    buf = os.urandom(args.buffer)
    stop, go = threading.Event(), threading.Event()
    interrupts = 0

    def interrupter() -> None:
        nonlocal interrupts
        main_thread = threading.main_thread().ident
        go.wait()
        while not stop.is_set():
            signal.pthread_kill(main_thread, signal.SIGINT)
            interrupts += 1
            time.sleep(args.every)

    threading.Thread(target=interrupter, daemon=True).start()
    sent = 0
    deadline = time.monotonic() + args.seconds
    i = 0
    while True:
        try:
            go.set()
            while time.monotonic() < deadline:
                session.send(
                    iopub.background_socket,
                    "comm_msg",
                    {"data": {"i": i}, "comm_id": "interrupted"},
                    ident=b"comm-interrupted",
                    buffers=[buf] if args.buffer else None,
                )
                i += 1
                sent += 1
            break
        except KeyboardInterrupt:
            i += 1
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the SIGINTs still in flight
    stop.set()
    time.sleep(0.1)
    iopub.send_multipart([b"END"])
    got, damaged, repeated = result.get(timeout=120)
    receiver.join(30)
    iopub.stop()
    iopub.close()
    print(
        f"{args.impl}: {interrupts} SIGINTs during {args.seconds:g} s of sends, {sent} messages sent "
        f"without an interrupt, {got} received whole, {damaged} damaged, {repeated} out of order"
    )
    return 1 if damaged or repeated else 0


if __name__ == "__main__":
    sys.exit(main())
