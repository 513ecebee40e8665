"""A short demonstration: sign, send and receive a message with a binary buffer.

Run it with ``python -m jsession.demo``.
"""

from __future__ import annotations

import pprint

import zmq

import jsession
from jsession import Session


def main() -> None:
    ctx = zmq.Context()
    sender, receiver = ctx.socket(zmq.PAIR), ctx.socket(zmq.PAIR)
    port = sender.bind_to_random_port("tcp://127.0.0.1")
    receiver.connect(f"tcp://127.0.0.1:{port}")
    try:
        key = jsession.new_id_bytes()
        alice = Session(key=key, username="alice")
        bob = Session(key=key, username="bob")
        payload = bytes(range(256)) * 4096  # 1 MiB: sent and received without a copy
        sent = alice.send(
            sender,
            "comm_msg",
            content={"comm_id": "demo", "data": {"shape": [1024, 1024], "dtype": "uint8"}},
            buffers=[payload],
        )
        print(f"jsession {jsession.__version__} ({jsession.IMPLEMENTATION} core)")
        assert sent is not None
        print(f"sent {sent['msg_type']} {sent['msg_id']} with a {len(payload):,}-byte buffer")
        idents, msg = bob.recv(receiver, mode=0, copy=False)
        assert msg is not None
        buffer = msg["buffers"][0]
        print("received and verified (hmac-sha256):")
        shown = {k: v for k, v in msg.items() if k != "buffers"}
        pprint.pprint(shown, sort_dicts=False)
        print(f"buffer: {type(buffer).__name__} of {buffer.nbytes:,} bytes, intact: {buffer == payload}")
        try:
            receiver.send_multipart([b"<IDS|MSG>", b"0" * 64, b"{}", b"{}", b"{}", b"{}"])
            bob.recv(sender, mode=0)
        except ValueError as e:
            print(f"a forged message is refused: {e}")
    finally:
        sender.close(linger=0)
        receiver.close(linger=0)
        ctx.term()


if __name__ == "__main__":
    main()
