# cython: language_level=3
"""One message sent straight through libzmq, its large frames without a copy and without
pyzmq's garbage-collector thread.

pyzmq shares a buffer with ZeroMQ through a ``zmq.Frame`` whose release, when ZeroMQ is
done with it, is a message to pyzmq's garbage-collector thread, which takes the GIL to drop
the reference: one thread wake-up and one GIL hand-off per buffer sent. Here ZeroMQ's free
callback (on its I/O thread, without the GIL) only links the buffer into a list; the
references are dropped by ``release()``, under the GIL, which ``send`` calls first (so a
stream of messages releases as it goes) and the caller calls when idle.

libzmq's functions are found through pyzmq's own extension module (the libzmq it loaded,
checked by its version), as ``jsession._c.transport`` finds its own, so that nothing is
linked at build time; ``available()`` is False where that fails (then the caller keeps
pyzmq's way).
"""

from cpython.buffer cimport PyBUF_ANY_CONTIGUOUS, PyBuffer_Release, PyObject_GetBuffer
from cpython.pythread cimport (
    PyThread_acquire_lock,
    PyThread_allocate_lock,
    PyThread_release_lock,
    PyThread_type_lock,
    WAIT_LOCK,
)
from libc.errno cimport EINTR
from libc.stdint cimport uintptr_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy

__all__ = ["available", "held", "release", "send"]

from jsession._c.libzmq cimport (
    errno_f,
    free_fn_t,
    jss_zmq_msg_t,
    msg_data_f,
    msg_f,
    msg_init_data_f,
    msg_init_size_f,
    msg_send_f,
)

cdef msg_init_size_f _init_size = NULL
cdef msg_init_data_f _init_data = NULL
cdef msg_data_f _data = NULL
cdef msg_send_f _send = NULL
cdef msg_f _close = NULL
cdef errno_f _errno = NULL

cdef int ZMQ_SNDMORE = 2


cdef struct Held:
    Py_buffer view  # keeps the exporter alive and its memory where it is (no resize)
    Held *next


# buffers ZeroMQ has let go of, linked by its free callback, dropped by release()
cdef PyThread_type_lock _lock = NULL
cdef Held *_released = NULL
cdef Py_ssize_t _held = 0  # buffers shared with ZeroMQ and not yet released (under the GIL)


cdef void _on_free(void *data, void *hint) noexcept nogil:
    # ZeroMQ's I/O thread (or a sender, for a frame dropped at once): no Python here
    cdef Held *node = <Held *>hint
    global _released
    PyThread_acquire_lock(_lock, WAIT_LOCK)
    node.next = _released
    _released = node
    PyThread_release_lock(_lock)


def _bind():
    """Find libzmq's functions (jsession._c.libzmq); False if they cannot be found."""
    global _init_size, _init_data, _data, _send, _close, _errno, _lock
    from jsession._c.libzmq import functions

    names = ("zmq_msg_init_size", "zmq_msg_init_data", "zmq_msg_data", "zmq_msg_send", "zmq_msg_close", "zmq_errno")
    by_name = functions(names)
    if by_name is None:
        return False
    found = [by_name[name] for name in names]
    _lock = PyThread_allocate_lock()
    if _lock == NULL:
        return False
    _init_size = <msg_init_size_f><uintptr_t>found[0]
    _init_data = <msg_init_data_f><uintptr_t>found[1]
    _data = <msg_data_f><uintptr_t>found[2]
    _send = <msg_send_f><uintptr_t>found[3]
    _close = <msg_f><uintptr_t>found[4]
    _errno = <errno_f><uintptr_t>found[5]
    return True


_available = _bind()


def _after_fork():
    # the lock may have been held by a thread that does not exist in the child; buffers
    # released in the parent stay referenced in the child (a leak, never a crash)
    global _lock, _released
    if _lock != NULL:
        _lock = PyThread_allocate_lock()
        _released = NULL


if _available:
    import os as _os

    _os.register_at_fork(after_in_child=_after_fork)


def available():
    """Whether libzmq's functions were found (else ``send`` raises RuntimeError)."""
    return _available


def held():
    """How many buffers are shared with ZeroMQ and not yet released (by ``release``)."""
    return _held


def release():
    """Drop the references to every buffer ZeroMQ has let go of; returns how many."""
    global _released, _held
    cdef Held *node
    cdef Held *next_node
    cdef Py_ssize_t n = 0
    if _released == NULL:  # read without the lock: a node linked meanwhile waits for the next call
        return 0
    PyThread_acquire_lock(_lock, WAIT_LOCK)
    node = _released
    _released = NULL
    PyThread_release_lock(_lock)
    while node != NULL:
        next_node = node.next
        PyBuffer_Release(&node.view)
        free(node)
        node = next_node
        n += 1
    _held -= n
    return n


def send(socket, parts, Py_ssize_t threshold):
    """Send ``parts`` (buffers) on the zmq.Socket as one multipart message: frames of at
    least ``threshold`` bytes shared with ZeroMQ, the others copied.

    Every part is checked (TypeError/ValueError, as pyzmq) before anything is sent; the
    frames then go out with the GIL released and no Python code between them, so the
    message is whole on the wire (a send interrupted by a signal is retried; the signal's
    handler runs after). Blocks as pyzmq's send does (a PUB socket never blocks).
    """
    global _held
    if not _available:
        raise RuntimeError("libzmq's functions were not found")
    cdef list items = parts if type(parts) is list else list(parts)
    cdef Py_ssize_t n = len(items), i, ready = 0, sent = 0
    if n == 0:
        raise ValueError("no frames to send")
    if socket.closed:
        import zmq

        raise zmq.ZMQError(zmq.ENOTSOCK)
    cdef uintptr_t handle = <uintptr_t>socket.underlying
    release()
    cdef jss_zmq_msg_t *msgs = <jss_zmq_msg_t *>malloc(n * sizeof(jss_zmq_msg_t))
    if msgs == NULL:
        raise MemoryError()
    cdef Py_buffer view
    cdef Held *node
    cdef int rc = 0, err = 0, flags
    try:
        for i in range(n):
            PyObject_GetBuffer(items[i], &view, PyBUF_ANY_CONTIGUOUS)
            if view.len >= threshold and view.len > 0:
                node = <Held *>malloc(sizeof(Held))
                if node == NULL:
                    PyBuffer_Release(&view)
                    raise MemoryError()
                node.view = view  # the view is the node's now
                node.next = NULL
                rc = _init_data(&msgs[i], view.buf, <size_t>view.len, _on_free, node)
                if rc != 0:
                    err = _errno()
                    PyBuffer_Release(&node.view)
                    free(node)
                    raise _zmq_error(err)
                _held += 1
            else:
                rc = _init_size(&msgs[i], <size_t>view.len)
                if rc != 0:
                    err = _errno()
                    PyBuffer_Release(&view)
                    raise _zmq_error(err)
                if view.len:
                    memcpy(_data(&msgs[i]), view.buf, <size_t>view.len)
                PyBuffer_Release(&view)
            ready += 1
        with nogil:
            while sent < n:
                flags = ZMQ_SNDMORE if sent < n - 1 else 0
                rc = _send(&msgs[sent], <void *>handle, flags)
                if rc < 0:
                    err = _errno()
                    if err == EINTR:
                        continue  # not taken: send it again
                    break
                sent += 1  # libzmq owns the frame now
        if sent < n:
            raise _zmq_error(err)
    finally:
        for i in range(sent, ready):
            _close(&msgs[i])  # unsent: a shared buffer comes back through _on_free
        free(msgs)
    return None


def _zmq_error(int errno):
    import zmq

    return zmq.ZMQError(errno)
