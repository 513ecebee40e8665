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


def frame_sizes(frames):
    """The size in bytes of every frame; TypeError for a frame that is not a buffer."""
    cdef Py_buffer view
    cdef list sizes = []
    cdef Py_ssize_t idx = 0
    for frame in frames:
        if type(frame) is bytes:
            PyList_Append(sizes, PyBytes_GET_SIZE(frame))
        else:
            try:
                PyObject_GetBuffer(frame, &view, PyBUF_ANY_CONTIGUOUS)
            except TypeError:
                raise TypeError(
                    "frame %i does not support the buffer protocol: %s" % (idx, type(frame).__name__)
                ) from None
            except BufferError:
                raise ValueError("frame %i is not contiguous" % idx) from None
            PyList_Append(sizes, view.len)
            PyBuffer_Release(&view)
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
    cdef list parts = frames if type(frames) is list else list(frames)
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
