"""HMAC signatures of Jupyter message frames: the pure-Python twin of jsession._c.signing.

The interface and its behaviour are written down once, in jsession/_c/signing.pyi.
Python's ``hmac`` is keyed once per Signer; each message hashes a copy of that template.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, final

if TYPE_CHECKING:
    from typing_extensions import Buffer

__all__ = ["Signer"]


def _owner(index: int | str) -> str:
    return index if isinstance(index, str) else f"frame {index}"


def _view(obj: Any, index: int | str) -> memoryview:
    """obj's bytes, read in place, with the compiled twin's errors."""
    try:
        view = memoryview(obj)
    except TypeError:
        raise TypeError(
            f"{_owner(index)} does not support the buffer protocol: {type(obj).__name__}"
        ) from None
    if not view.c_contiguous:
        raise ValueError(f"{_owner(index)} is not a contiguous buffer")
    return view


def _frame_tuple(frames: Any) -> tuple[Any, ...] | list[Any]:
    if type(frames) is tuple or type(frames) is list:
        return frames
    try:
        it = iter(frames)
    except TypeError:
        raise TypeError(f"frames must be an iterable of buffers, not {type(frames).__name__}") from None
    return tuple(it)


@final
class Signer:
    __slots__ = ("_digest_name", "_template")

    def __init__(self, key: Buffer, digest_name: str) -> None:
        if not isinstance(digest_name, str):
            raise TypeError(f"digest_name must be a str, not {type(digest_name).__name__}")
        key_view = _view(key, "key")
        if not key_view.nbytes:
            raise ValueError("key must not be empty")
        digestmod = getattr(hashlib, digest_name)
        self._template = hmac.new(key_view.tobytes(), digestmod=digestmod)
        self._digest_name = digest_name

    @property
    def digest_name(self) -> str:
        return self._digest_name

    @property
    def hex_size(self) -> int:
        return 2 * self._template.digest_size

    def sign(self, frames: Iterable[Buffer]) -> bytes:
        mac = self._template.copy()
        for index, frame in enumerate(_frame_tuple(frames)):
            mac.update(frame if type(frame) is bytes else _view(frame, index))
        return mac.hexdigest().encode("ascii")

    def verify(self, signature: Buffer, frames: Iterable[Buffer]) -> bool:
        given = _view(signature, "signature")
        return hmac.compare_digest(given, self.sign(frames))

    def __repr__(self) -> str:
        return f"<Signer digest_name={self._digest_name!r}>"

    def __reduce__(self) -> Any:
        raise TypeError("a Signer holds a key: it cannot be pickled or copied")
