# cython: language_level=3, boundscheck=False, wraparound=False
# cython: freethreading_compatible = True
"""Whole multipart messages sent and received straight on libzmq: one GIL release a message.

pyzmq's per-frame calls (``Socket.send`` and ``Socket.recv``, one per frame) each release and
take back the GIL and check for signals, and each received frame is a ``Frame`` whose socket
is asked for RCVMORE. Here a copied message goes out, or comes in as bytes, in one call of
each: libzmq's own functions, those of the very library pyzmq loaded (looked up through
pyzmq's compiled backend with dlsym, and checked to report pyzmq's libzmq version), on the
socket pyzmq made (``socket.underlying``). Where they cannot be found (pyzmq's CFFI backend,
a platform without dlsym's search of dependencies), every call goes through pyzmq instead.

The interface is documented in ``transport.pyi``; ``jsession._py.transport`` is the twin.
"""

from cpython.buffer cimport PyBUF_ANY_CONTIGUOUS, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.exc cimport PyErr_CheckSignals
from cpython.list cimport PyList_Append
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from libc.stdint cimport uintptr_t
from libc.string cimport memset

import errno as _errno

import zmq
from zmq.error import InterruptedSystemCall

from jsession._c.frames import recv_frames as _recv_frames
from jsession._c.libzmq import functions as _functions
from jsession._c.frames import send_copied as _send_copied

__all__ = ["available", "recv_copied", "send_copied"]

from jsession._c.libzmq cimport (
    errno_f,
    jss_zmq_msg_t,
    msg_data_f,
    msg_f,
    msg_recv_f,
    msg_size_f,
    send_f,
)

cdef send_f _zmq_send = NULL
cdef msg_f _zmq_msg_init = NULL
cdef msg_f _zmq_msg_close = NULL
cdef msg_recv_f _zmq_msg_recv = NULL
cdef msg_data_f _zmq_msg_data = NULL
cdef msg_size_f _zmq_msg_size = NULL
cdef msg_f _zmq_msg_more = NULL
cdef errno_f _zmq_errno = NULL

cdef int _SNDMORE = zmq.SNDMORE
cdef int _DONTWAIT = zmq.DONTWAIT
cdef int _EINTR = _errno.EINTR
cdef int _EAGAIN = zmq.EAGAIN
cdef int _ETERM = zmq.ETERM
cdef object _Socket = zmq.Socket
cdef object _Frame = zmq.Frame
_backend_send = zmq.backend.Socket.send
_backend_recv = zmq.backend.Socket.recv
# pyzmq's Cython backend sets Frame.more on every recv(copy=False); the CFFI one may not
_FRAMES_KNOW_MORE = zmq.backend.Socket.__module__.startswith("zmq.backend.cython")

cdef enum:
    _STACK_FRAMES = 16  # views of a message of up to this many frames live on the stack


cdef bint _bind():
    global _zmq_send, _zmq_msg_init, _zmq_msg_close, _zmq_msg_recv, _zmq_msg_data
    global _zmq_msg_size, _zmq_msg_more, _zmq_errno
    found = _functions(("zmq_send", "zmq_msg_init", "zmq_msg_close", "zmq_msg_recv", "zmq_msg_data",
                        "zmq_msg_size", "zmq_msg_more", "zmq_errno"))
    if found is None:
        return False
    _zmq_send = <send_f><uintptr_t>found["zmq_send"]
    _zmq_msg_init = <msg_f><uintptr_t>found["zmq_msg_init"]
    _zmq_msg_close = <msg_f><uintptr_t>found["zmq_msg_close"]
    _zmq_msg_recv = <msg_recv_f><uintptr_t>found["zmq_msg_recv"]
    _zmq_msg_data = <msg_data_f><uintptr_t>found["zmq_msg_data"]
    _zmq_msg_size = <msg_size_f><uintptr_t>found["zmq_msg_size"]
    _zmq_msg_more = <msg_f><uintptr_t>found["zmq_msg_more"]
    _zmq_errno = <errno_f><uintptr_t>found["zmq_errno"]
    return True


#: Whether messages go straight to libzmq (else through pyzmq, frame by frame).
available = _bind()


cdef int _raise_zmq(int err) except -1:
    """pyzmq's exception for a libzmq error number."""
    if err == _EAGAIN:
        raise zmq.Again(err)
    if err == _ETERM:
        raise zmq.ContextTerminated(err)
    if err == _EINTR:
        raise InterruptedSystemCall(err)
    raise zmq.ZMQError(err)


cdef inline void *_handle(socket) except? NULL:
    """The libzmq socket of an open pyzmq socket; NULL for a closed one (pyzmq raises)."""
    if socket._closed:
        return NULL
    return <void *><uintptr_t>socket.underlying


def send_copied(socket, frames, Py_ssize_t threshold):
    """Send ``frames`` as one message, every frame copied (a ``zmq.Frame`` is sent as pyzmq
    sends it, as its own message, so that its tracker tells when libzmq has released it), if
    all are buffers under ``threshold`` bytes, and return True; else send nothing and return
    False.

    As ``frames.send_copied`` with pyzmq's send: every frame is checked before the first is
    sent (TypeError or ValueError, nothing sent), a KeyboardInterrupt while sending is held
    until the whole message is sent, and libzmq's errors are pyzmq's exceptions.
    """
    cdef list items = frames if type(frames) is list else list(frames)
    cdef Py_ssize_t n = len(items), i, taken = 0
    cdef Py_buffer stack_views[_STACK_FRAMES]
    cdef Py_buffer *views = stack_views
    cdef void *handle
    cdef int rc = 0, err = 0, flags
    if not available or not isinstance(socket, _Socket):
        return _send_copied(_backend_send, socket, items, threshold, _SNDMORE)
    for item in items:
        if type(item) is not bytes and isinstance(item, _Frame):
            # pyzmq sends a Frame's own message (its tracker then says when libzmq is done
            # with it): left to pyzmq
            return _send_copied(_backend_send, socket, items, threshold, _SNDMORE)
    handle = _handle(socket)
    if handle == NULL:
        return _send_copied(_backend_send, socket, items, threshold, _SNDMORE)
    if n > _STACK_FRAMES:
        views = <Py_buffer *>PyMem_Malloc(n * sizeof(Py_buffer))
        if views == NULL:
            raise MemoryError()
    interrupted = None
    try:
        # every frame's memory, held (and its size checked) before the first is sent
        for i in range(n):
            try:
                PyObject_GetBuffer(items[i], &views[i], PyBUF_ANY_CONTIGUOUS)
            except TypeError:
                raise TypeError(
                    "frame %i does not support the buffer protocol: %s" % (i, type(items[i]).__name__)
                ) from None
            except BufferError:
                raise ValueError("frame %i is not contiguous" % i) from None
            taken = i + 1
            if views[i].len >= threshold:
                return False
        if n == 0:
            raise ValueError("no frames to send")
        i = 0
        while i < n:
            flags = _SNDMORE if i < n - 1 else 0
            with nogil:
                while i < n:
                    rc = _zmq_send(handle, views[i].buf, <size_t>views[i].len, flags)
                    if rc < 0:
                        err = _zmq_errno()
                        break
                    i += 1
                    flags = _SNDMORE if i < n - 1 else 0
            if rc < 0:
                rc = 0
                if err != _EINTR:
                    _raise_zmq(err)
                # interrupted before libzmq took frame i: run the signal handlers, hold a
                # KeyboardInterrupt until the message is whole, and send frame i again
                try:
                    PyErr_CheckSignals()
                except KeyboardInterrupt as e:
                    if interrupted is None:
                        interrupted = e
        if interrupted is not None:
            raise interrupted
        return True
    finally:
        for i in range(taken):
            PyBuffer_Release(&views[i])
        if views != stack_views:
            PyMem_Free(views)


cdef list _pyzmq_recv(socket, int flags):
    if _FRAMES_KNOW_MORE:
        return _recv_frames(_backend_recv, socket, flags, True)
    return socket.recv_multipart(flags, copy=True)


def recv_copied(socket, int flags):
    """One message's frames as bytes: ``recv_multipart(flags, copy=True)``, with pyzmq's
    exceptions (zmq.Again when NOBLOCK finds nothing; a signal handler's exception while
    waiting for the first frame)."""
    cdef jss_zmq_msg_t msg
    cdef void *handle
    cdef int rc, err = 0, more = 1, first = 1
    cdef list parts = []
    if not available or not isinstance(socket, _Socket):
        return _pyzmq_recv(socket, flags)
    handle = _handle(socket)
    if handle == NULL:
        return _pyzmq_recv(socket, flags)
    _zmq_msg_init(&msg)
    try:
        while more:
            if first:
                # waiting for the message: without the GIL
                with nogil:
                    rc = _zmq_msg_recv(&msg, handle, flags)
                    if rc < 0:
                        err = _zmq_errno()
            else:
                # a multipart message arrives whole: the rest is there already
                rc = _zmq_msg_recv(&msg, handle, flags | _DONTWAIT)
                if rc < 0:
                    err = _zmq_errno()
                    if err == _EAGAIN:
                        with nogil:
                            rc = _zmq_msg_recv(&msg, handle, flags)
                            if rc < 0:
                                err = _zmq_errno()
            if rc < 0:
                if err == _EINTR:
                    PyErr_CheckSignals()  # a handler's exception ends the wait
                    continue
                _raise_zmq(err)
            first = 0
            PyList_Append(parts, PyBytes_FromStringAndSize(<char *>_zmq_msg_data(&msg), <Py_ssize_t>_zmq_msg_size(&msg)))
            more = _zmq_msg_more(&msg)
        return parts
    finally:
        _zmq_msg_close(&msg)
