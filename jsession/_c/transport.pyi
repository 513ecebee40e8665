"""Whole copied messages on a pyzmq socket (the same interface as ``jsession._py.transport``)."""

from collections.abc import Iterable
from typing import Any

__all__ = ["available", "recv_copied", "send_copied"]

available: bool

def send_copied(socket: Any, frames: Iterable[Any], threshold: int) -> bool: ...
def recv_copied(socket: Any, flags: int) -> list[bytes]: ...
