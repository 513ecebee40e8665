# cython: language_level=3
# cython: freethreading_compatible = True
"""JSON decoding of a received part, straight from the frame's memory.

The interface is documented in ``decoding.pyi``; ``jsession._py.decoding`` is the twin.
The decoder itself is C (``json_decode.h``): it keeps nothing between calls, so threads
may share it.
"""

from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE

__all__ = ["loads"]


cdef extern from "json_decode.h":
    object jss_json_decode(const char *data, Py_ssize_t size)


cdef object decode(object data):
    cdef Py_buffer view
    if type(data) is bytes:
        return jss_json_decode(PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data))
    PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
    try:
        return jss_json_decode(<const char *>view.buf, view.len)
    finally:
        PyBuffer_Release(&view)


def loads(data):
    """The value of the JSON in ``data`` (any contiguous buffer of UTF-8), or ValueError
    for input left to the unpacker (see ``decoding.pyi``)."""
    return decode(data)
