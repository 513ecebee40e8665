"""Pure-Python twin of ``jsession._c.transport``: whole copied messages, through pyzmq's calls.

The compiled module calls libzmq directly, one GIL release a message; here every frame goes
through pyzmq's ``Socket.send`` and ``Socket.recv``, with the same results and errors.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import zmq

from jsession._py.frames import recv_frames
from jsession._py.frames import send_copied as _send_copied

__all__ = ["available", "recv_copied", "send_copied"]

#: Whether messages go straight to libzmq (never here: through pyzmq, frame by frame).
available = False

_backend_send = zmq.backend.Socket.send
_backend_recv = zmq.backend.Socket.recv
# pyzmq's Cython backend sets Frame.more on every recv(copy=False); the CFFI one may not
_FRAMES_KNOW_MORE = zmq.backend.Socket.__module__.startswith("zmq.backend.cython")


def send_copied(socket: Any, frames: Iterable[Any], threshold: int) -> bool:
    """Send ``frames`` as one message, every frame copied (a ``zmq.Frame`` as its own
    message, as pyzmq sends it), if all are buffers under ``threshold`` bytes, and return
    True; else send nothing and return False (see ``frames.send_copied``, with pyzmq's send)."""
    return _send_copied(_backend_send, socket, frames, threshold, zmq.SNDMORE)


def recv_copied(socket: Any, flags: int) -> list[bytes]:
    """One message's frames as bytes: ``recv_multipart(flags, copy=True)``."""
    if _FRAMES_KNOW_MORE:
        return recv_frames(_backend_recv, socket, flags, True)
    return socket.recv_multipart(flags, copy=True)
