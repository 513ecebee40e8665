"""Pure-Python twin of ``jsession._c.dates`` (the interface is described in ``dates.pyi``)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

__all__ = ["extract_dates"]

# The common form; range checks are left to the datetime constructor.
_COMMON = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?"
    r"(?:Z|([+-])(\d{2}):?(\d{2}))\Z",
    re.ASCII,
)
# Lengths a string matching jsonutil.ISO8601_PAT can have (19 + 7 fraction + 6 offset + "\n").
_MIN_LEN = 19
_MAX_LEN = 33
# Keyed by offset in minutes; offsets stay within +-23:59, so this holds at most 2878 zones.
_ZONES: dict[int, timezone] = {}


def _zone(sign: str, hours: str, minutes: str) -> timezone | None:
    h, m = int(hours), int(minutes)
    if h > 23 or m > 59:
        return None
    offset = h * 60 + m
    if offset == 0:
        return timezone.utc
    if sign == "-":
        offset = -offset
    tz = _ZONES.get(offset)
    if tz is None:
        tz = _ZONES[offset] = timezone(timedelta(minutes=offset))
    return tz


def _parse_common(s: str) -> datetime | None:
    m = _COMMON.match(s)
    if m is None:
        return None
    year, month, day, hour, minute, second, fraction, sign, oh, om = m.groups()
    if sign is None:
        tz: timezone | None = timezone.utc
    else:
        tz = _zone(sign, oh, om)
        if tz is None:
            return None
    usec = int(fraction.ljust(6, "0")) if fraction else 0
    try:
        return datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), usec, tz)
    except ValueError:  # year 0, T24:00, day 31 of a short month...: slow_parse decides
        return None


def _from_str(s: str, slow_parse: Callable[[str], Any]) -> Any:
    if not (_MIN_LEN <= len(s) <= _MAX_LEN and s[4] == "-" and s[10] == "T"):
        return s
    parsed = _parse_common(s)
    if parsed is not None:
        return parsed
    return slow_parse(s)


def extract_dates(obj: Any, slow_parse: Callable[[str], Any]) -> Any:
    """Copy of ``obj`` with date strings replaced by aware datetimes (see dates.pyi)."""
    if isinstance(obj, str):
        return _from_str(obj, slow_parse)
    if isinstance(obj, dict):
        return {key: extract_dates(value, slow_parse) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [extract_dates(item, slow_parse) for item in obj]
    return obj
