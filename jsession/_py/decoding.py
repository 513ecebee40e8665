"""Twin of ``jsession._c.decoding``: JSON decoding of a received part (see ``decoding.pyi``).

``json.loads`` with the compiled decoder's refusals: integers past 18 digits (orjson makes
those past 64 bits floats, json.loads ints), non-finite numbers and the constants NaN and
Infinity (orjson refuses them), and invalid UTF-8. The pure-Python core does not put it
before the unpackers (it is slower than orjson, and json.loads is the json unpacker's own
step); it is here for the interface, and for tests that hold both twins to it.
"""

from __future__ import annotations

import json
import math
import typing as t

__all__ = ["loads"]


def _refuse(_: str) -> t.NoReturn:
    raise ValueError("JSON left to the unpacker")


def _int(text: str) -> int:
    if len(text) - text.startswith("-") > 18:
        _refuse(text)
    return int(text)


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        _refuse(text)
    return value


def loads(data: t.Any) -> t.Any:
    """The value of the JSON in a buffer of UTF-8, or ValueError (see ``decoding.pyi``)."""
    return json.loads(str(data, "utf-8"), parse_int=_int, parse_float=_float, parse_constant=_refuse)
