"""JSON decoding of a received part: the interface of ``jsession._c.decoding`` and its twin
``jsession._py.decoding``.

``loads(data)`` reads ``data`` (bytes, a memoryview or a received ``zmq.Frame``: any
contiguous buffer of UTF-8) and returns what ``json.loads`` returns for it, or raises
ValueError. It is what ``deserialize`` tries first when the session's unpacker is the json
or orjson one; on any exception the unpacker itself is called, so errors, their wording
and every lenient reading (NaN, Infinity, lone surrogates, undecodable bytes, integers of
any size) stay the unpacker's.

The compiled decoder reads strict JSON whose numbers fit: integers of at most 18 digits,
finite floats written in at most 63 characters (converted as ``float()`` converts them),
nesting at most 256 deep; it raises ValueError for everything else. The twin is
``json.loads`` with the same refusals of numbers (it may read deeper nesting and lone
surrogates, which json.loads reads as the json unpacker does, and which orjson refuses, so
that the orjson unpacker falls back to json.loads for them too).
"""

from typing import Any

__all__ = ["loads"]

def loads(data: Any) -> Any: ...
