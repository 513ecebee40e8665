"""The replay history of a Session (the same interface as ``jsession._py.replay``)."""

from collections.abc import Iterable, Iterator
from typing import Any, ClassVar, final

__all__ = ["ReplayHistory", "fingerprint"]

def fingerprint(item: bytes | str | Any) -> tuple[bytes, bytes | str | None]:
    """``(key, original)``: the raw digest of a lowercase hex signature of at most 32 bytes
    (original None), else ``b"\\xff"`` + a BLAKE2b-256 of the tagged item, and the item.
    A non-buffer, non-str item is a TypeError."""

@final
class ReplayHistory:
    """Signatures of accepted messages, at most ``size`` of them, forgotten oldest first.

    Set-like: ``in``, ``len``, iteration (oldest first; hex signatures come back as the
    lowercase hex bytes they were given as), ``==`` with any set. Entries are bytes-like
    or str. Thread-safe: ``add`` checks and inserts in one step.
    """

    is_replay_history: ClassVar[bool]
    __hash__: ClassVar[None]  # type: ignore[assignment]
    def __init__(self, size: int, items: Iterable[Any] = ()) -> None: ...
    size: int
    @property
    def nbytes(self) -> int:
        """Bytes held by the storage."""
    def add(self, item: Any) -> bool:
        """Remember item; False if already remembered. Past ``size``, the oldest tenth
        (at least one) is forgotten first. With size 0 nothing is kept (True)."""
    def cull(self) -> None:
        """Forget the oldest tenth, and any entries past ``size``."""
    def clear(self) -> None: ...
    def copy(self) -> ReplayHistory: ...
    def update(self, items: Iterable[Any]) -> None: ...
    def __contains__(self, item: object, /) -> bool: ...
    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[Any]: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __ne__(self, other: object, /) -> bool: ...
