"""Pure-Python twin of ``jsession._c.frames``: delimiter search, assembly, buffer checks."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

DELIM = b"<IDS|MSG>"
_DELIM_LEN = len(DELIM)


def _is_delimiter(frame: Any) -> bool:
    if type(frame) is bytes:
        return frame == DELIM
    try:
        view = memoryview(frame)
    except TypeError:
        return False  # not bytes-like, so not equal to the delimiter (as list.index would say)
    with view:
        # lengths first: a 1 GiB ident is rejected without reading it
        return view.nbytes == _DELIM_LEN and view.tobytes() == DELIM


def find_delimiter(frames: Iterable[Any]) -> int:
    """Index of the first frame equal to ``b"<IDS|MSG>"``, or -1 when there is none."""
    for i, frame in enumerate(frames):
        if _is_delimiter(frame):
            return i
    return -1


def build_frames(ident: Any, signature: bytes, parts: Iterable[Any]) -> list:
    """``[*idents, DELIM, signature, *parts]``: a list ident is spliced, None adds nothing."""
    if isinstance(ident, list):
        out = list(ident)
    elif ident is None:
        out = []
    else:
        out = [ident]
    out.append(DELIM)
    out.append(signature)
    out.extend(parts)
    return out


def check_buffers(buffers: Iterable[Any]) -> None:
    """Raise unless every buffer is a contiguous buffer-protocol object."""
    for idx, buf in enumerate(buffers):
        try:
            view = memoryview(buf)
        except TypeError as e:
            raise TypeError("Buffer objects must support the buffer protocol.") from e
        with view:
            if not view.contiguous:
                raise ValueError("Buffer %i (%r) is not contiguous" % (idx, buf))


def frame_sizes(frames: Iterable[Any]) -> list[int]:
    """The size in bytes of every frame; TypeError for a frame that is not a buffer."""
    sizes = []
    for idx, frame in enumerate(frames):
        if type(frame) is bytes:
            sizes.append(len(frame))
            continue
        try:
            view = memoryview(frame)
        except TypeError:
            raise TypeError(
                "frame %i does not support the buffer protocol: %s" % (idx, type(frame).__name__)
            ) from None
        with view:
            if not view.contiguous:
                raise ValueError("frame %i is not contiguous" % idx)
            sizes.append(view.nbytes)
    return sizes


def send_frames(send: Any, socket: Any, frames: Any, sndmore: int) -> None:
    """``send(socket, frame, sndmore)`` for every frame but the last, then
    ``send(socket, last, 0)``: one multipart message.

    A KeyboardInterrupt raised inside ``send`` (pyzmq checks for signals after every libzmq
    call) is held until the rest of the message is sent: the frame counts as taken, unless
    libzmq said EINTR (interrupted before taking it), when it is sent again. Unlike the compiled
    twin, a signal handler may also run between two frames here, where it cannot be told
    apart: the caller blocks SIGINT around it.
    """
    parts = frames if type(frames) is list else list(frames)
    last = len(parts) - 1
    interrupted = None
    i = 0
    while i <= last:
        try:
            send(socket, parts[i], sndmore if i < last else 0)
        except KeyboardInterrupt as e:
            # pyzmq runs the signal handlers after every libzmq call: the frame was
            # taken unless the call itself was interrupted (EINTR)
            if interrupted is None:
                interrupted = e
            import errno

            import zmq

            if zmq.zmq_errno() == errno.EINTR:
                continue
        i += 1
    if interrupted is not None:
        raise interrupted


def send_copied(send: Any, socket: Any, frames: Iterable[Any], threshold: int, more: int) -> bool:
    """Send every frame with ``send(socket, frame, flags)`` (``more`` on all but the last)
    if all are buffers under ``threshold`` bytes, and return True; else send nothing and
    return False (a frame to send without a copy). TypeError/ValueError as frame_sizes."""
    items = frames if type(frames) is list else list(frames)
    # every frame is checked before the first is sent: no half-sent message on bad input
    if any(size >= threshold for size in frame_sizes(items)):
        return False
    if not items:
        raise ValueError("no frames to send")
    send_frames(send, socket, items, more)  # always the whole message
    return True


def recv_frames(recv: Any, socket: Any, flags: int, copy: bool) -> list[Any]:
    """One message's frames, received with ``recv(socket, flags, False)`` as Frames until one
    has ``more`` false; with copy, each frame's bytes instead of the Frame."""
    parts = []
    frame = recv(socket, flags, False)
    while True:
        parts.append(frame.bytes if copy else frame)
        if not frame.more:
            return parts
        frame = recv(socket, flags, False)


def pack_frames(
    dumps: Any, default: Any, option: Any, msg: Any, content: Any, signer: Any, ident: Any
) -> list[Any] | None:
    """The frames of serialize, ``[*idents, DELIM, signature, header, parent_header,
    metadata, content]``, each part ``dumps(part, default, option)`` (content first) and
    signed with ``signer`` (None: unsigned); None when dumps raises (the caller decides)."""
    try:
        packed = dumps(content, default, option)
        parts = [
            dumps(msg["header"], default, option),
            dumps(msg["parent_header"], default, option),
            dumps(msg["metadata"], default, option),
            packed,
        ]
    except Exception:
        return None
    return build_frames(ident, b"" if signer is None else signer.sign(parts), parts)
