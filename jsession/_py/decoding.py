"""Twin of ``jsession._c.decoding``: JSON decoding of a received part (see ``decoding.pyi``).

``orjson.loads`` where it reads as ``json.loads`` does. It does not for integers past 64
bits (it makes them floats) nor for nesting that json.loads finds too deep, so input with a
run of 19 digits or more than 256 brackets takes ``json.loads``, which refuses, as the
compiled decoder does, what the two unpackers read differently.
"""

from __future__ import annotations

import json
import math
import re
import typing as t

__all__ = ["loads"]

_LONG_DIGITS = re.compile(rb"\d{19}")
# at least 257 brackets: matched from the start only, so linear in the input's length
_MANY_BRACKETS = re.compile(rb"(?:[^\[{]*[\[{]){257}")


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


def _strict(data: t.Any) -> t.Any:
    return json.loads(str(data, "utf-8"), parse_int=_int, parse_float=_float, parse_constant=_refuse)


try:
    from orjson import loads as _orjson_loads
except ModuleNotFoundError:
    loads = _strict
else:

    def loads(data: t.Any) -> t.Any:
        """The value of the JSON in a buffer of UTF-8, or ValueError (see ``decoding.pyi``)."""
        if _LONG_DIGITS.search(data) is None and _MANY_BRACKETS.match(data) is None:
            return _orjson_loads(data)
        return _strict(data)
