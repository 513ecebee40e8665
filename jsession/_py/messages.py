"""Pure-Python twin of ``jsession._c.messages``: build new message dicts."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from .._version import protocol_version
from .dates import extract_dates as _extract

__all__ = ["MessageBuilder", "unpack_message"]

_utc = timezone.utc


class MessageBuilder:
    """The per-session values of a header, and the two builders that use them.

    The counter is read and advanced under a lock: threads sharing a Session never get the
    same message id. (A forked child gets a new lock: see ``reset_after_fork``.)
    """

    __slots__ = ("session", "username", "pid", "count", "_extract_header", "_lock", "__weakref__")

    def __init__(self, session: str, username: str, pid: int, extract_header: Callable[[Any], dict]) -> None:
        self.session = session
        self.username = username
        self.pid = pid
        self.count = 0
        self._extract_header = extract_header
        self._lock = threading.Lock()

    def reset_after_fork(self) -> None:
        """A fresh lock in a forked child (the parent's may have been held by a thread)."""
        self._lock = threading.Lock()

    def next_id(self) -> str:
        """A new message id, ``{session}_{pid}_{counter}``: each call its own counter value."""
        with self._lock:
            n = self.count
            self.count = n + 1
        return f"{self.session}_{self.pid}_{n}"

    def header(self, msg_type: str) -> dict[str, Any]:
        """A new header: the next message id of this session, dated now (UTC)."""
        return {
            "msg_id": self.next_id(),
            "msg_type": msg_type,
            "username": self.username,
            "session": self.session,
            "date": datetime.now(_utc),
            "version": protocol_version,
        }

    def message(
        self,
        msg_type: str,
        content: Any,
        parent: Any,
        header: dict[str, Any] | None,
        base_metadata: dict[str, Any],
        metadata: dict[str, Any] | None,
    ) -> dict[str, Any]:
        """The message dict; a new header unless one is given, metadata over a copy of base."""
        md = dict(base_metadata)
        if header is None:
            header = self.header(msg_type)
        if metadata is not None:
            md.update(metadata)
        return {
            "header": header,
            "msg_id": header["msg_id"],
            "msg_type": header["msg_type"],
            "parent_header": {} if parent is None else self._extract_header(parent),
            "content": {} if content is None else content,
            "metadata": md,
        }


def _load(loads: Callable, unpack: Callable, data: Any) -> Any:
    # the unpacker's C function first; on any error the unpacker itself decides
    if loads is not unpack:
        try:
            return loads(data)
        except Exception:
            pass
    return unpack(data)


def _as_bytes(frame: Any) -> bytes:
    return frame if type(frame) is bytes else bytes(frame)


def unpack_message(
    msg_list: Any,
    parts_as: int,
    loads: Callable,
    unpack: Callable,
    parse_date: Callable,
    content: bool,
    finish: Callable | None,
) -> dict[str, Any]:
    """The message dict of verified frames ``[signature, header, parent, metadata, content,
    *buffers]``: header, msg_id, msg_type, parent_header, metadata, content, buffers.

    parts_as: how the four packed parts reach the unpacker: 0 as they are, 1 as
    memoryviews (read in place), 2 as bytes. Buffers are memoryviews of their frames.
    finish (the adapter), unless None, is applied to a message that is not of the current
    protocol version or has no date; a current one is returned as it is.
    """
    parts = [msg_list[1], msg_list[2], msg_list[3], msg_list[4]]
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
    message = {
        "header": dated,
        "msg_id": msg_id,
        "msg_type": msg_type,
        "parent_header": parent,
        "metadata": metadata,
        "content": body,
        "buffers": [memoryview(b) for b in msg_list[5:]],
    }
    if finish is None or (
        type(header) is dict and header.get("version") == protocol_version and "date" in header
    ):
        return message
    return finish(message)
