"""Pure-Python twin of ``jsession._c.zerocopy``: pyzmq's way, ``zmq.Frame`` objects that
pyzmq's garbage-collector thread releases (so ``held`` and ``release`` have nothing to do)."""

from __future__ import annotations

from typing import Any

import zmq

from .frames import send_frames

__all__ = ["available", "held", "release", "send"]

_send = zmq.backend.Socket.send


def available() -> bool:
    """Always True: this twin needs nothing but pyzmq."""
    return True


def held() -> int:
    """0: pyzmq keeps the buffers it shares, and releases them on its own thread."""
    return 0


def release() -> int:
    """Nothing to release here (pyzmq's thread does it); returns 0."""
    return 0


def send(socket: Any, parts: Any, threshold: int) -> None:
    """Send ``parts`` on the zmq.Socket as one multipart message: frames of at least
    ``threshold`` bytes shared with ZeroMQ, the others copied.

    Every part is checked (TypeError for a non-buffer, BufferError for a non-contiguous
    one) before anything is sent. A signal handler may run between two frames here (see
    ``frames.send_frames``): the caller blocks SIGINT around it.
    """
    items = parts if type(parts) is list else list(parts)
    if not items:
        raise ValueError("no frames to send")
    if socket.closed:
        raise zmq.ZMQError(zmq.ENOTSOCK)
    frames = []
    for part in items:
        with memoryview(part) as view:
            if not view.contiguous:
                raise BufferError("a frame to send is not contiguous")
            nbytes = view.nbytes
        frames.append(zmq.Frame(part, copy=False) if nbytes > 0 and nbytes >= threshold else part)
    send_frames(_send, socket, frames, zmq.SNDMORE)
