# cython: language_level=3
# cython: freethreading_compatible = True
"""Build new message dicts: the nested form of a Jupyter message, in the wire's key order.

The interface is documented in ``messages.pyi``; ``jsession._py.messages`` is the twin.
A ``MessageBuilder`` holds the per-session values of a header (session id, user name,
process id, counter) as C fields that the Session updates when its traits change.

A Session is shared by threads: every read and write of those fields happens inside a
critical section on the builder (nothing with the GIL; a per-object lock on free-threaded
builds), so that no two headers get the same counter value and a field being replaced is
never read half-released.
"""

cimport cython
from cpython.buffer cimport PyBUF_ANY_CONTIGUOUS, PyBuffer_Release, PyObject_CheckBuffer, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_FromStringAndSize

from datetime import datetime, timezone

from jsession._version import protocol_version
from jsession._c.dates cimport extract as _extract, extract_owned as _extract_owned
from jsession._c.decoding cimport decode as _decode
from jsession._c.replay cimport add as _history_add
from jsession._c.signing cimport verify as _verify
from jsession._c.decoding import loads as _loads_function

__all__ = ["MessageBuilder", "unpack_message", "verified_message"]

cdef object _decoding_loads = _loads_function  # what the session passes when decode applies
cdef object _MISSING = object()
cdef object _now = datetime.now
cdef object _utc = timezone.utc
cdef str _VERSION = protocol_version


cdef class MessageBuilder:
    cdef str _session
    cdef str _username
    cdef long long _pid
    cdef long long _count
    cdef object _extract_header
    cdef object __weakref__

    def __init__(self, str session, str username, long long pid, extract_header):
        self._session = session
        self._username = username
        self._pid = pid
        self._count = 0
        self._extract_header = extract_header

    @property
    def session(self):
        with cython.critical_section(self):
            return self._session

    @session.setter
    def session(self, str value):
        with cython.critical_section(self):
            self._session = value

    @property
    def username(self):
        with cython.critical_section(self):
            return self._username

    @username.setter
    def username(self, str value):
        with cython.critical_section(self):
            self._username = value

    @property
    def pid(self):
        with cython.critical_section(self):
            return self._pid

    @pid.setter
    def pid(self, long long value):
        with cython.critical_section(self):
            self._pid = value

    @property
    def count(self):
        with cython.critical_section(self):
            return self._count

    @count.setter
    def count(self, long long value):
        with cython.critical_section(self):
            self._count = value

    def next_id(self):
        """A new message id, ``{session}_{pid}_{counter}``: each call its own counter value."""
        cdef long long n, pid
        cdef str session
        with cython.critical_section(self):
            n = self._count
            self._count = n + 1
            session = self._session
            pid = self._pid
        return f"{session}_{pid}_{n}"

    cpdef dict header(self, str msg_type):
        """A new header: the next message id of this session, dated now (UTC)."""
        cdef long long n, pid
        cdef str session, username
        with cython.critical_section(self):
            n = self._count
            self._count = n + 1
            session = self._session
            username = self._username
            pid = self._pid
        return {
            "msg_id": f"{session}_{pid}_{n}",
            "msg_type": msg_type,
            "username": username,
            "session": session,
            "date": _now(_utc),
            "version": _VERSION,
        }

    cdef object _parent_header(self, parent):
        if parent is None:
            return {}
        if type(parent) is dict:
            # the common case, a whole message: its header, as extract_header would give it
            found = (<dict>parent).get("header")
            if type(found) is dict:
                return found
        return self._extract_header(parent)

    def message(self, str msg_type, content, parent, header, dict base_metadata, metadata):
        """The message dict; a new header unless one is given, metadata over a copy of base."""
        cdef dict md = dict(base_metadata)
        if header is None:
            header = self.header(msg_type)
        if metadata is not None:
            md.update(metadata)
        return {
            "header": header,
            "msg_id": header["msg_id"],
            "msg_type": header["msg_type"],
            "parent_header": self._parent_header(parent),
            "content": {} if content is None else content,
            "metadata": md,
        }


cdef inline object _load(object loads, object unpack, object data):
    # the unpacker's C function first; on any error the unpacker itself decides
    if loads is _decoding_loads:
        try:
            return _decode(data)  # the same function, without a Python call
        except Exception:
            return unpack(data)
    if loads is not unpack:
        try:
            return loads(data)
        except Exception:
            pass
    return unpack(data)


cdef inline object _as_bytes(object frame):
    return frame if type(frame) is bytes else bytes(frame)


cpdef unpack_message(msg_list, int parts_as, loads, unpack, parse_date, bint content, finish):
    """The message dict of verified frames ``[signature, header, parent, metadata, content,
    *buffers]``: header, msg_id, msg_type, parent_header, metadata, content, buffers.

    parts_as: how the four packed parts reach the unpacker: 0 as they are, 1 as
    memoryviews (read in place), 2 as bytes. Buffers are memoryviews of their frames.
    finish (the adapter), unless None, is applied to a message that is not of the current
    protocol version or has no date; a current one is returned as it is.
    """
    cdef list parts = [msg_list[1], msg_list[2], msg_list[3], msg_list[4]]
    cdef Py_ssize_t i, n = len(msg_list)
    if parts_as == 1:
        parts = [memoryview(p) for p in parts]
    elif parts_as == 2:
        parts = [_as_bytes(p) for p in parts]
    header = _load(loads, unpack, parts[0])
    if loads is _decoding_loads and type(header) is dict:
        # unpacked just now by the decoder or json/orjson, held by nothing else: dates
        # replaced in place (a custom unpacker might hand out objects it keeps: copied).
        # The ids are read before (as the reference reads them from the undated header),
        # their absence reported after (as the reference fails: in the date scan first).
        msg_id = (<dict>header).get("msg_id", _MISSING)
        msg_type = (<dict>header).get("msg_type", _MISSING)
        dated = _extract_owned(header, parse_date)
        if msg_id is _MISSING:
            raise KeyError("msg_id")
        if msg_type is _MISSING:
            raise KeyError("msg_type")
        parent = _extract_owned(_load(loads, unpack, parts[1]), parse_date)
    else:
        dated = _extract(header, parse_date)
        msg_id = header["msg_id"]
        msg_type = header["msg_type"]
        parent = _extract(_load(loads, unpack, parts[1]), parse_date)
    metadata = _load(loads, unpack, parts[2])
    body = _load(loads, unpack, parts[3]) if content else _as_bytes(parts[3])
    cdef list buffers = []
    for i in range(5, n):
        buffers.append(memoryview(msg_list[i]))
    message = {
        "header": dated,
        "msg_id": msg_id,
        "msg_type": msg_type,
        "parent_header": parent,
        "metadata": metadata,
        "content": body,
        "buffers": buffers,
    }
    if finish is None or (type(header) is dict and header.get("version") == _VERSION and "date" in header):
        return message
    return finish(message)


cdef bint _contiguous(object frame, Py_buffer *view):
    # a buffer of bytes (not of wider items, which signature_bytes slices by item)
    if not PyObject_CheckBuffer(frame):
        return False
    try:
        PyObject_GetBuffer(frame, view, PyBUF_ANY_CONTIGUOUS)
    except BufferError:
        return False
    if view.itemsize == 1:
        return True
    PyBuffer_Release(view)
    return False


def verified_message(msg_list, signer, history, bint content, int parts_as, loads, unpack,
                     parse_date, finish, Py_ssize_t max_signature, signature_bytes):
    """unpack_message of received frames ``[signature, header, parent, metadata, content,
    *buffers]`` once their signature is checked: signer None takes any message; else the
    signature must verify and not be in history, where it is then added (unless not content:
    a peek is checked, not remembered). signature_bytes turns a non-bytes signature frame
    into bytes; one over max_signature bytes is refused without being stored or echoed."""
    cdef Py_ssize_t n = len(msg_list)
    cdef Py_buffer view
    if signer is not None:
        # verified before anything is unpacked; replays refused, as by the reference
        signature = msg_list[0] if n else b""
        if type(signature) is not bytes:
            if _contiguous(signature, &view):
                # a received Frame: at most one byte past the largest accepted size, copied
                # here without signature_bytes' memoryview and slice (same bytes)
                try:
                    signature = PyBytes_FromStringAndSize(<char*>view.buf, min(view.len, max_signature + 1))
                finally:
                    PyBuffer_Release(&view)
            else:
                signature = signature_bytes(signature)  # its errors, or its bytes
        if not signature:
            raise ValueError("Unsigned Message")
        if len(<bytes>signature) > max_signature:
            raise ValueError("Invalid Signature: %r" % (signature[:64] + b"..."))
        # the four signed frames: a list of bytes the signer reads where they are (a slice
        # of a list is one C copy of four pointers); anything else, as a tuple
        if type(msg_list) is list:
            signed = (<list>msg_list)[1:5]
        else:
            signed = (msg_list[1], msg_list[2], msg_list[3], msg_list[4]) if n >= 5 else msg_list[1:5]
        if not _verify(signer, signature, signed):
            # the reference's words for a remembered signature over other frames
            if signature in history:
                raise ValueError("Duplicate Signature: %r" % signature)
            raise ValueError("Invalid Signature: %r" % signature)
        # Only a verified signature is remembered (the reference records any, so a flood of
        # forgeries could push real ones out); add() looks up and inserts in one step, so
        # of threads given the same message exactly one gets past here.
        if not (_history_add(history, signature) if content else signature not in history):
            raise ValueError("Duplicate Signature: %r" % signature)
    if n < 5:
        raise TypeError("malformed message, must have at least 5 elements")
    return unpack_message(msg_list, parts_as, loads, unpack, parse_date, content, finish)
