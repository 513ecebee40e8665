"""What the cases share: one zmq Context, ipc endpoints, and a pool of signed messages."""

from __future__ import annotations

import tempfile

import zmq

from jsession.bench.impls import KEY, USERNAME
from jsession.bench.payloads import EXECUTE_REPLY, EXECUTE_REQUEST, REPLY_METADATA
from jsession.session import DELIM, Session


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

    def pair(self) -> tuple[zmq.Socket, zmq.Socket]:
        """A connected PAIR of sockets over ipc: (sender, receiver)."""
        addr = self.endpoint()
        a, b = self.context.socket(zmq.PAIR), self.context.socket(zmq.PAIR)
        for s in (a, b):
            s.linger = 0
            s.sndhwm = s.rcvhwm = 0
        a.bind(addr)
        b.connect(addr)
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
