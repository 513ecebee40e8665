"""HMAC signatures of Jupyter message frames, keyed once per Signer.

The one written interface of ``jsession._c.signing`` (compiled, OpenSSL) and
``jsession._py.signing`` (pure Python, ``hmac``); both behave the same, errors included.
"""

from collections.abc import Iterable
from typing import final

from typing_extensions import Buffer, Self

__all__ = ["Signer"]

@final
class Signer:
    """Signs and verifies messages under one key and one digest.

    ``Signer(key, digest_name)``: ``key`` is a non-empty bytes-like object (copied; a
    str is a TypeError, an empty key a ValueError). ``digest_name`` names a hashlib
    algorithm ("sha256", "sha512", "sha3_256", "blake2b", ...) and is looked up as
    ``getattr(hashlib, digest_name)``, so an unknown name raises AttributeError and a
    name Python's ``hmac`` refuses (e.g. "shake_128") raises what ``hmac`` raises, here.

    An instance never changes (the compiled one is keyed in ``__new__``, so calling
    ``__init__`` again does nothing): one can be shared by any number of threads. It
    cannot be pickled or copied, and its repr shows the digest name only.

    Buffers (key, signature, frames) are read in place through the buffer protocol:
    bytes, bytearray, memoryview, zmq.Frame, ... A non-buffer is a TypeError ("frame 2
    does not support the buffer protocol: str"); a buffer that is not C-contiguous is a
    ValueError ("frame 2 is not a contiguous buffer"); anything else that
    ``memoryview(obj)`` raises is raised as is.
    """

    def __new__(cls, key: Buffer, digest_name: str) -> Self: ...
    @property
    def digest_name(self) -> str:
        """The hashlib name given to the constructor."""
    @property
    def hex_size(self) -> int:
        """Length of a signature: twice the digest size (64 for sha256)."""
    def sign(self, frames: Iterable[Buffer]) -> bytes:
        """Lowercase ASCII hex HMAC of the frames' bytes, concatenated in order.

        ``frames`` is any iterable of buffers (a non-iterable is a TypeError); a message
        passes its 4 packed frames: header, parent_header, metadata, content.
        """
    def verify(self, signature: Buffer, frames: Iterable[Buffer]) -> bool:
        """Whether ``signature`` is exactly ``sign(frames)``, compared in constant time.

        A signature of the wrong length, in upper case or not hex at all is simply False.
        """
