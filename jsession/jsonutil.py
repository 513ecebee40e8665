"""JSON helpers for Jupyter messages: ISO 8601 dates in and out, and cleaning for JSON.

A drop-in for ``jupyter_client.jsonutil`` that needs no dateutil: ``tzlocal`` is a small
``tzinfo`` over the C library's local time, ``parse_date`` has its own parser for the strings
``ISO8601_PAT`` admits, and ``extract_dates`` runs the compiled date extractor when it is built.
"""

# The public names are exactly the reference module's (imports included): the helpers
# below are imported under private names.
import datetime as _dt
import math
import numbers
import re
import time as _time
import types
import warnings
from binascii import b2a_base64
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any, Union

from jsession import _backend

#: Kept for code that imports it; json_clean checks iterators by this attribute name.
next_attr_name = "__next__"

#: strftime format used by json_clean for dates and datetimes.
ISO8601 = "%Y-%m-%dT%H:%M:%S.%f"
#: The timestamps parse_date and extract_dates turn into datetimes; other strings stay strings.
#: Groups: 1 the date and time to the second, 2 the fraction, 3 the offset ("Z" or +HH[:]MM).
ISO8601_PAT = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d{1,6})?(Z|([+-]\d\d:?\d\d))?$")

_EPOCH = datetime(1970, 1, 1)
_SECOND = _dt.timedelta(seconds=1)
_DAY_SECONDS = 86400


class tzlocal(_dt.tzinfo):  # noqa: N801 - the reference's name, which callers (and tests) patch
    """The system's local time zone, as ``time.localtime`` sees it, DST included.

    Offsets come from ``tm_gmtoff`` for the instant in question, so past and future rule
    changes of the zone are followed. For a wall time that occurs twice, ``fold`` picks the
    first (0) or second (1) occurrence; for one skipped by a transition, ``fold=0`` uses the
    offset from before the transition and ``fold=1`` the one after (PEP 495).
    """

    def __repr__(self) -> str:
        return "tzlocal()"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _TZLOCAL):
            return True  # every instance reads the same system settings
        return NotImplemented

    def __hash__(self) -> int:
        return hash("tzlocal()")

    def utcoffset(self, dt: datetime | None) -> _dt.timedelta | None:
        if dt is None:  # no single answer when the zone has DST
            return None if _time.daylight else _dt.timedelta(seconds=-_time.timezone)
        local = _local_time_of(dt)
        if local is None:
            return _dt.timedelta(seconds=-_time.timezone)
        return _dt.timedelta(seconds=local.tm_gmtoff)

    def dst(self, dt: datetime | None) -> _dt.timedelta | None:
        if dt is None:
            return None if _time.daylight else _dt.timedelta(0)
        local = _local_time_of(dt)
        if local is None or local.tm_isdst <= 0:
            return _dt.timedelta(0)
        return _dt.timedelta(seconds=local.tm_gmtoff + _time.timezone)

    def tzname(self, dt: datetime | None) -> str | None:
        local = None if dt is None else _local_time_of(dt)
        if local is None:
            return _time.tzname[0]
        return local.tm_zone

    def fromutc(self, dt: datetime) -> datetime:
        if not isinstance(dt, datetime):
            raise TypeError("fromutc() requires a datetime argument")
        if dt.tzinfo is not self:
            raise ValueError("dt.tzinfo is not self")
        instant = _wall_seconds(dt)
        offset = _offset_at(instant)
        wall = dt + _dt.timedelta(seconds=offset)
        # The second occurrence of a repeated wall time has an earlier solution before it.
        earlier = [u for u in _instants(instant + offset) if u < instant]
        return wall.replace(fold=1) if earlier else wall


# The class itself, for isinstance: the module global ``tzlocal`` is sometimes patched (tests).
_TZLOCAL = tzlocal


def _wall_seconds(dt: datetime) -> int:
    """Seconds from 1970-01-01 to ``dt``'s wall time, both read as UTC."""
    return (dt.replace(tzinfo=None) - _EPOCH) // _SECOND


def _localtime(instant: int) -> _time.struct_time | None:
    try:
        return _time.localtime(instant)
    except (OverflowError, OSError, ValueError):  # outside the platform's time_t range
        return None


def _offset_at(instant: int) -> int:
    """Local UTC offset in seconds at a POSIX instant."""
    local = _localtime(instant)
    return -_time.timezone if local is None else local.tm_gmtoff


def _candidate_offsets(wall: int) -> set[int]:
    # Zone offsets stay within a day, so the offsets a day either side cover any transition.
    return {_offset_at(wall - _DAY_SECONDS), _offset_at(wall), _offset_at(wall + _DAY_SECONDS)}


def _instants(wall: int) -> list[int]:
    """The POSIX instants whose local wall time is ``wall``: none, one, or two (sorted)."""
    return sorted(wall - o for o in _candidate_offsets(wall) if _offset_at(wall - o) == o)


def _local_time_of(dt: datetime) -> _time.struct_time | None:
    """The local time description (offset, name, DST flag) in force at ``dt``'s wall time.

    A repeated wall time is resolved by ``dt.fold``; a skipped one takes the description
    from before the gap (fold=0) or after it (fold=1).
    """
    wall = _wall_seconds(dt)
    instants = _instants(wall)
    if instants:
        return _localtime(instants[-1] if dt.fold else instants[0])
    return _localtime(wall + _DAY_SECONDS if dt.fold else wall - _DAY_SECONDS)


def _ensure_tzinfo(dt: datetime) -> datetime:
    """Give a naive datetime the local zone (``tzlocal`` as looked up now), with a warning."""
    if not dt.tzinfo:
        warnings.warn(
            f"Interpreting naive datetime as local {dt}. Please add timezone info to timestamps.",
            DeprecationWarning,
            stacklevel=4,
        )
        dt = dt.replace(tzinfo=tzlocal())
    return dt


def _offset_zone(sign: str, hours: int, minutes: int) -> _dt.tzinfo:
    if hours == 0 and minutes == 0:  # "-00:00" too
        return _dt.timezone.utc
    if minutes > 59:
        raise ValueError(f"UTC offset minutes must be in 0..59, not {minutes}")
    if hours > 23:
        raise ValueError(f"UTC offset hours must be in 0..23, not {hours}")
    offset = _dt.timedelta(hours=hours, minutes=minutes)
    return _dt.timezone(-offset if sign == "-" else offset)


def _parse_timestamp(s: str, match: re.Match[str]) -> datetime:
    """The datetime for a string ``ISO8601_PAT`` matched, with the reference's rules.

    The pattern admits Unicode digits and, through ``$``, one trailing newline. Non-ASCII
    text is an error; a newline is only tolerated after a ``+HHMM`` offset (it is read as
    part of the offset's minutes there). ``T24:00:00`` is midnight at the end of the day.
    """
    if not s.isascii():
        raise ValueError(f"non-ASCII characters in ISO 8601 timestamp {s!r}")
    stamp, fraction, zone = match.group(1, 2, 3)
    if s.endswith("\n") and not (zone and len(zone) == 5):
        raise ValueError(f"trailing newline in ISO 8601 timestamp {s!r}")
    tz: _dt.tzinfo | None = None
    if zone == "Z":
        tz = _dt.timezone.utc
    elif zone:
        tz = _offset_zone(zone[0], int(zone[1:3]), int(zone[-2:]))
    year, month, day = int(stamp[0:4]), int(stamp[5:7]), int(stamp[8:10])
    hour, minute, second = int(stamp[11:13]), int(stamp[14:16]), int(stamp[17:19])
    usec = int(fraction[1:].ljust(6, "0")) if fraction else 0
    if hour == 24:
        if minute or second or usec:
            raise ValueError(f"hour 24 is only valid as 24:00:00, the end of the day: {s!r}")
        return datetime(year, month, day, 0, 0, 0, 0, tz) + _dt.timedelta(days=1)
    return datetime(year, month, day, hour, minute, second, usec, tz)


def parse_date(s: str | None) -> Union[str, datetime] | None:  # noqa: UP007 - reference's hint
    """Parse an ISO 8601 timestamp into an aware datetime.

    None and strings that are not timestamps (see ``ISO8601_PAT``) come back unchanged.
    A timestamp without an offset is read as local time, with a DeprecationWarning.
    Malformed timestamps (a month 13, a non-ASCII digit...) raise ValueError.
    """
    if s is None:
        return s
    match = ISO8601_PAT.match(s)
    if match is None:
        return s
    return _ensure_tzinfo(_parse_timestamp(s, match))


def extract_dates(obj: Any) -> Any:
    """A copy of unpacked JSON with its ISO 8601 strings parsed by ``parse_date``.

    Dicts are copied (the input is left alone), lists and tuples become lists.
    """
    return _backend.active.extract_dates(obj, parse_date)


def squash_dates(obj: Any) -> Any:
    """A copy of ``obj`` with datetimes turned into ISO 8601 strings (the inverse)."""
    if isinstance(obj, dict):
        obj = dict(obj)
        for key, value in obj.items():
            obj[key] = squash_dates(value)
        return obj
    if isinstance(obj, (list, tuple)):
        return [squash_dates(item) for item in obj]
    if isinstance(obj, datetime):
        return obj.isoformat()
    return obj


def date_default(obj: Any) -> Any:
    """Deprecated alias of ``json_default``, kept for old callers; it warns when used."""
    warnings.warn(
        "date_default is deprecated since jupyter_client 7.0.0. Use jupyter_client.jsonutil.json_default.",
        stacklevel=2,
    )
    return json_default(obj)


def json_default(obj: Any) -> Any:
    """``default=`` hook for JSON encoders: dates, bytes, iterables and numbers."""
    if isinstance(obj, datetime):
        text = _ensure_tzinfo(obj).isoformat()
        return text.replace("+00:00", "Z")
    if isinstance(obj, date):
        return obj.isoformat()
    if isinstance(obj, bytes):
        return b2a_base64(obj, newline=False).decode("ascii")
    if isinstance(obj, Iterable):
        return list(obj)
    if isinstance(obj, numbers.Integral):
        return int(obj)
    if isinstance(obj, numbers.Real):
        return float(obj)
    raise TypeError(f"{obj!r} is not JSON serializable")


def json_clean(obj: Any) -> Any:
    """A JSON-safe copy of ``obj`` (the old ipykernel cleaner, for messages that are not JSON).

    Numbers become int or float (NaN and infinities their repr), bytes base64 text, tuples,
    sets, generators and iterators lists, dict keys strings (ValueError if two collide),
    dates ``ISO8601`` strings; anything else raises ValueError.
    """
    # bool before Integral before Real: each is a subtype of the next
    if isinstance(obj, bool):
        return obj
    if isinstance(obj, numbers.Integral):
        return int(obj)  # a plain int even for subclasses with their own __str__
    if isinstance(obj, numbers.Real):
        if math.isnan(obj) or math.isinf(obj):
            return repr(obj)
        return float(obj)
    if isinstance(obj, (str, type(None))):
        return obj
    if isinstance(obj, bytes):
        return b2a_base64(obj, newline=False).decode("ascii")
    if isinstance(obj, (tuple, set, types.GeneratorType)) or (
        hasattr(obj, "__iter__") and hasattr(obj, next_attr_name)
    ):
        obj = list(obj)
    if isinstance(obj, list):
        return [json_clean(item) for item in obj]
    if isinstance(obj, dict):
        if len(set(map(str, obj))) != len(obj):
            raise ValueError(
                "dict cannot be safely converted to JSON: key collision would lead to dropped values"
            )
        return {str(key): json_clean(value) for key, value in obj.items()}
    if isinstance(obj, (datetime, date)):
        return obj.strftime(ISO8601)
    raise ValueError(f"Can't clean for JSON: {obj!r}")
