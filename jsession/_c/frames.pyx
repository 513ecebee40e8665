# cython: language_level=3, boundscheck=False, wraparound=False
# cython: freethreading_compatible = True
"""Frame-list mechanisms of the wire format: delimiter search, assembly, buffer checks.

Frames are bytes, ``zmq.Frame`` or any buffer-protocol object; none is ever copied.
"""

from cpython.buffer cimport PyBUF_ANY_CONTIGUOUS, PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.list cimport PyList_Append
from libc.string cimport memcmp

DELIM = b"<IDS|MSG>"

cdef const char* _DELIM = b"<IDS|MSG>"
cdef Py_ssize_t _DELIM_LEN = 9


cdef inline bint _is_delimiter(object frame) except -1:
    cdef Py_buffer view
    cdef bint found
    if type(frame) is bytes:
        # lengths first: a 1 GiB ident is rejected without reading it
        return (PyBytes_GET_SIZE(frame) == _DELIM_LEN
                and memcmp(PyBytes_AS_STRING(frame), _DELIM, _DELIM_LEN) == 0)
    try:
        PyObject_GetBuffer(frame, &view, PyBUF_SIMPLE)
    except (TypeError, BufferError):
        return False  # not bytes-like, so not equal to the delimiter (as list.index would say)
    found = view.len == _DELIM_LEN and memcmp(view.buf, _DELIM, _DELIM_LEN) == 0
    PyBuffer_Release(&view)
    return found


def find_delimiter(frames):
    """Index of the first frame equal to ``b"<IDS|MSG>"``, or -1 when there is none."""
    cdef Py_ssize_t i = 0
    for frame in frames:
        if _is_delimiter(frame):
            return i
        i += 1
    return -1


def build_frames(ident, signature, parts):
    """``[*idents, DELIM, signature, *parts]``: a list ident is spliced, None adds nothing."""
    return _build(ident, signature, parts)


cdef list _build(ident, signature, parts):
    cdef list out
    if type(ident) is list:
        out = list(<list>ident)
    elif isinstance(ident, list):
        out = list(ident)
    elif ident is None:
        out = []
    else:
        out = [ident]
    PyList_Append(out, DELIM)
    PyList_Append(out, signature)
    out.extend(parts)
    return out


def check_buffers(buffers):
    """Raise unless every buffer is a contiguous buffer-protocol object."""
    cdef Py_buffer view
    cdef Py_ssize_t idx = 0
    for buf in buffers:
        try:
            PyObject_GetBuffer(buf, &view, PyBUF_SIMPLE)
        except TypeError as e:
            raise TypeError("Buffer objects must support the buffer protocol.") from e
        except BufferError:
            # exporters such as non-contiguous memoryviews refuse a simple buffer
            try:
                PyObject_GetBuffer(buf, &view, PyBUF_ANY_CONTIGUOUS)
            except BufferError:
                raise ValueError("Buffer %i (%r) is not contiguous" % (idx, buf)) from None
        PyBuffer_Release(&view)
        idx += 1


cdef Py_ssize_t _frame_size(frame, Py_ssize_t idx) except -1:
    """A frame's size in bytes; TypeError without the buffer protocol, ValueError if not
    contiguous (``idx`` names the frame in the message)."""
    cdef Py_buffer view
    cdef Py_ssize_t size
    if type(frame) is bytes:
        return PyBytes_GET_SIZE(frame)
    try:
        PyObject_GetBuffer(frame, &view, PyBUF_ANY_CONTIGUOUS)
    except TypeError:
        raise TypeError(
            "frame %i does not support the buffer protocol: %s" % (idx, type(frame).__name__)
        ) from None
    except BufferError:
        raise ValueError("frame %i is not contiguous" % idx) from None
    size = view.len
    PyBuffer_Release(&view)
    return size


def frame_sizes(frames):
    """The size in bytes of every frame; TypeError for a frame that is not a buffer."""
    cdef list sizes = []
    cdef Py_ssize_t idx = 0
    for frame in frames:
        PyList_Append(sizes, _frame_size(frame, idx))
        idx += 1
    return sizes


def send_frames(send, socket, frames, int sndmore):
    """``send(socket, frame, sndmore)`` for every frame but the last, then
    ``send(socket, last, 0)``: one multipart message, always whole.

    Compiled, the loop runs no Python bytecode between frames, so a signal handler cannot
    run there; it runs inside ``send`` (pyzmq checks for signals after every libzmq call).
    A KeyboardInterrupt raised there is held until the rest of the message is sent: the
    frame counts as taken, unless libzmq said EINTR (interrupted before taking it), when it
    is sent again.
    """
    _send_all(send, socket, frames if type(frames) is list else list(frames), sndmore)


cdef int _send_all(send, socket, list parts, int sndmore) except -1:
    cdef Py_ssize_t i = 0, last = len(parts) - 1
    interrupted = None
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


def send_copied(send, socket, frames, Py_ssize_t threshold, int more):
    """Send every frame with ``send(socket, frame, flags)`` (``more`` on all but the last)
    if all are buffers under ``threshold`` bytes, and return True; else send nothing and
    return False (a frame to send without a copy). TypeError/ValueError as frame_sizes."""
    cdef list items = frames if type(frames) is list else list(frames)
    cdef Py_ssize_t idx, size, last = len(items) - 1
    # every frame is checked before the first is sent: no half-sent message on bad input
    for idx in range(last + 1):
        frame = items[idx]
        size = _frame_size(frame, idx)
        if size >= threshold:
            return False
    if last < 0:
        raise ValueError("no frames to send")
    _send_all(send, socket, items, more)  # as send_frames: always the whole message
    return True


def recv_frames(recv, socket, int flags, bint copy):
    """One message's frames, received with ``recv(socket, flags, False)`` as Frames until one
    has ``more`` false; with copy, each frame's bytes instead of the Frame."""
    cdef list parts = []
    frame = recv(socket, flags, False)
    while True:
        PyList_Append(parts, frame.bytes if copy else frame)
        if not frame.more:
            return parts
        frame = recv(socket, flags, False)


def pack_frames(dumps, default, option, msg, content, signer, ident):
    """The frames of serialize, ``[*idents, DELIM, signature, header, parent_header,
    metadata, content]``, each part ``dumps(part, default, option)`` (content first) and
    signed with ``signer`` (None: unsigned); None when dumps raises (the caller decides)."""
    cdef list parts
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
    return _build(ident, b"" if signer is None else signer.sign(parts), parts)
