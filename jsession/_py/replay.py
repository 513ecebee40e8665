"""Pure-Python twin of ``jsession._c.replay``: the replay history of a Session.

The interface is documented in ``jsession/_c/replay.pyi``. Entries live in a dict, whose
insertion order is the age order that culling follows; one lock makes every operation
(above all ``add``: look up, then insert) one step for other threads.
"""

from __future__ import annotations

import hashlib
import os
import threading
import weakref
from collections.abc import Iterable, Iterator
from collections.abc import Set as AbstractSet
from typing import Any

__all__ = ["ReplayHistory", "fingerprint"]

# A signature in canonical form (lowercase hex) of at most this many raw bytes is stored raw.
RAW_MAX = 32
# The most entries a history holds (the compiled index numbers slots in 32 bits).
MAX_SIZE = 1 << 30


def fingerprint(item: Any) -> tuple[bytes, Any]:
    """(key, original) for an entry: the raw digest of a lowercase hex signature of at most
    RAW_MAX bytes (original None: the hex is its key's hex), otherwise a 33-byte tagged
    BLAKE2b fingerprint and the item itself (as exact bytes or str)."""
    if type(item) is bytes:
        data = item
    elif isinstance(item, str):
        return _opaque(b"s" + item.encode("utf-8", "surrogatepass")), str(item)
    else:
        try:
            data = memoryview(item).tobytes()
        except TypeError:
            raise TypeError(f"a signature is bytes or str, not {type(item).__name__}") from None
    size = len(data)
    if 2 <= size <= 2 * RAW_MAX and not size & 1:
        try:
            text = data.decode("ascii")
            raw = bytes.fromhex(text)
        except ValueError:  # not ASCII, or not hex
            pass
        else:
            if raw.hex() == text:  # lowercase, no spaces: the canonical form
                return raw, None
    return _opaque(b"b" + data), data


def _opaque(tagged: bytes) -> bytes:
    return b"\xff" + hashlib.blake2b(tagged, digest_size=RAW_MAX).digest()


class ReplayHistory:
    """Signatures of accepted messages, at most ``size`` of them, forgotten oldest first."""

    is_replay_history = True
    # mutable, so unhashable, like set
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, size: int, items: Iterable[Any] = ()) -> None:
        self._lock = threading.Lock()
        _histories[id(self)] = self
        self._entries: dict[bytes, Any] = {}
        self._size = _checked_size(size)
        for item in items:
            self.add(item)

    @property
    def size(self) -> int:
        return self._size

    @size.setter
    def size(self, value: int) -> None:
        with self._lock:
            self._size = _checked_size(value)
            self._drop(len(self._entries) - self._size)

    def _drop(self, n: int) -> None:
        entries = self._entries
        if n >= len(entries):
            entries.clear()
        elif n > 0:
            for key in _first(entries, n):
                del entries[key]

    def add(self, item: Any) -> bool:
        """Remember item; False if it was already remembered (with size 0: True, not kept)."""
        key, original = fingerprint(item)
        with self._lock:
            entries = self._entries
            if key in entries:
                return False
            if self._size == 0:
                return True
            if len(entries) >= self._size:
                # as the reference: one past the size, a tenth (at least one) goes
                self._drop(max((len(entries) + 1) // 10, 1))
            entries[key] = original
            return True

    def cull(self) -> None:
        """Forget the oldest tenth (and any entries past the size)."""
        with self._lock:
            n = len(self._entries)
            self._drop(max(n // 10, n - self._size))

    def __contains__(self, item: object) -> bool:
        try:
            key, _ = fingerprint(item)
        except TypeError:
            return False
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[Any]:
        with self._lock:
            items = list(self._entries.items())
        for key, original in items:
            yield key.hex().encode("ascii") if original is None else original

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AbstractSet):
            return NotImplemented
        if len(self) != len(other):
            return False
        return all(item in other for item in self)

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def copy(self) -> ReplayHistory:
        other = ReplayHistory(self._size)
        with self._lock:
            other._entries = dict(self._entries)
        return other

    def update(self, items: Iterable[Any]) -> None:
        for item in items:
            self.add(item)

    @property
    def nbytes(self) -> int:
        """Bytes held by the entries' storage (the dict and its keys and originals)."""
        import sys

        with self._lock:
            items = list(self._entries.items())
        total = sys.getsizeof(self._entries)
        for key, original in items:
            total += sys.getsizeof(key) + (0 if original is None else sys.getsizeof(original))
        return total

    def __repr__(self) -> str:
        return f"<ReplayHistory {len(self)} of {self._size}>"

    def __reduce__(self) -> tuple[Any, ...]:
        return (ReplayHistory, (self._size, list(self)))


def _checked_size(value: int) -> int:
    size = max(0, int(value))
    if size > MAX_SIZE:
        raise ValueError(f"a replay history holds at most {MAX_SIZE} signatures, not {size}")
    return size


def _first(entries: dict[bytes, Any], n: int) -> list[bytes]:
    it = iter(entries)
    return [next(it) for _ in range(n)]


AbstractSet.register(ReplayHistory)

# every history, so that a forked child gets fresh locks (a thread of the parent may
# have held one at the fork)
# (by id: a history, like a set, is unhashable)
_histories: weakref.WeakValueDictionary[int, ReplayHistory] = weakref.WeakValueDictionary()


def _reset_locks() -> None:
    for history in list(_histories.values()):
        history._lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_locks)
