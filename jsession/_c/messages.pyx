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

from datetime import datetime, timezone

from jsession._version import protocol_version
from jsession._c.dates import extract_dates as _extract

__all__ = ["MessageBuilder", "unpack_message"]

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
    if loads is not unpack:
        try:
            return loads(data)
        except Exception:
            pass
    return unpack(data)


cdef inline object _as_bytes(object frame):
    return frame if type(frame) is bytes else bytes(frame)


def unpack_message(msg_list, int parts_as, loads, unpack, parse_date, bint content, finish):
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
