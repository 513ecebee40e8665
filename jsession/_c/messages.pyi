"""Build new message dicts (the same interface as ``jsession._py.messages``)."""

from collections.abc import Callable
from typing import Any

__all__ = ["MessageBuilder", "unpack_message"]

class MessageBuilder:
    session: str
    username: str
    pid: int
    count: int
    def __init__(
        self, session: str, username: str, pid: int, extract_header: Callable[[Any], dict]
    ) -> None: ...
    def next_id(self) -> str: ...
    def header(self, msg_type: str) -> dict[str, Any]: ...
    def message(
        self,
        msg_type: str,
        content: Any,
        parent: Any,
        header: dict[str, Any] | None,
        base_metadata: dict[str, Any],
        metadata: dict[str, Any] | None,
    ) -> dict[str, Any]: ...

def unpack_message(
    msg_list: Any,
    parts_as: int,
    loads: Callable[..., Any],
    unpack: Callable[..., Any],
    parse_date: Callable[..., Any],
    content: bool,
    finish: Callable[..., Any] | None,
) -> dict[str, Any]: ...
