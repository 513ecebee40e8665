"""What the cases share: one zmq Context, ipc endpoints, and a pool of signed messages."""

from __future__ import annotations

import tempfile

import zmq

from jsession.bench.impls import KEY, USERNAME
from jsession.bench.payloads import EXECUTE_REPLY, EXECUTE_REQUEST, REPLY_METADATA
from jsession.session import DELIM, Session


def warm_allocator() -> None:
    """Put the C allocator where a process that has handled one large message is.

    glibc's malloc gives a block over 128 KiB its own mapping, and the first time such a
    block is freed it raises that line and its heap-trimming line (to 8 and 16 MiB here).
    Until then, copying many 64-256 KiB frames at once makes it shrink and regrow its heap
    between batches, paying page faults for each copy. That is a state of the process, not
    of jsession or pyzmq: without this, the copy figures depend on whether an earlier case
    happened to free a large block. ``--cold-malloc`` skips it.
    """
    block = bytearray(8 << 20)
    del block


class Env:
    """One zmq Context and a temporary folder for ipc endpoints, closed together."""

    def __init__(self, quick: bool = False) -> None:
        self.quick = quick
        self.context = zmq.Context()
        self.tmpdir = tempfile.TemporaryDirectory(prefix="jsb-")
        self._count = 0
        self._sockets: list[zmq.Socket] = []
        # distinct signed messages for deserialize, made on first use
        self._pool: list[list[bytes]] | None = None
        self.pool_size = 4096 if quick else 32768

    def endpoint(self) -> str:
        """A fresh ipc address in this Env's folder."""
        self._count += 1
        return f"ipc://{self.tmpdir.name}/{self._count}"

    def pair(self, transport: str = "ipc") -> tuple[zmq.Socket, zmq.Socket]:
        """A connected PAIR of sockets: (sender, receiver), over ``transport`` (ipc, tcp on
        the loopback, or inproc)."""
        a, b = self.context.socket(zmq.PAIR), self.context.socket(zmq.PAIR)
        for s in (a, b):
            s.linger = 0
            s.sndhwm = s.rcvhwm = 0
        if transport == "ipc":
            a.bind(self.endpoint())
        elif transport == "tcp":
            a.bind("tcp://127.0.0.1:*")
        elif transport == "inproc":
            self._count += 1
            a.bind(f"inproc://jsb-{self._count}")
        else:
            raise ValueError(f"unknown transport {transport!r}")
        b.connect(a.get_string(zmq.LAST_ENDPOINT))
        self._sockets += (a, b)
        return a, b

    def deserialize_pool(self) -> list[list[bytes]]:
        """``pool_size`` distinct signed execute_reply messages (frames after the delimiter)."""
        if self._pool is None:
            s = Session(key=KEY, username=USERNAME)
            parent = s.msg("execute_request", content=EXECUTE_REQUEST)
            pool = []
            for _ in range(self.pool_size):
                m = s.msg("execute_reply", content=EXECUTE_REPLY, parent=parent, metadata=REPLY_METADATA)
                frames = s.serialize(m)
                pool.append(frames[frames.index(DELIM) + 1 :])
            self._pool = pool
        return self._pool

    def close(self) -> None:
        for s in self._sockets:
            s.close(linger=0)
        self._sockets.clear()
        self.context.term()
        self.tmpdir.cleanup()
