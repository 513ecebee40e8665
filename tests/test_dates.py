"""The date-extraction mechanism, both twins: ``extract_dates(obj, slow_parse)``."""

from __future__ import annotations

import re
import string
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

HEADER = {
    "msg_id": "5c1f7f0e-2a67c2a3b0d9e2d4f8a1b6c3_1234_7",
    "msg_type": "execute_request",
    "username": "u",
    "session": "5c1f7f0e-2a67c2a3b0d9e2d4f8a1b6c3",
    "date": "2026-11-25T15:10:02.123456Z",
    "version": "5.4",
}


@pytest.fixture
def dates(impl):
    """One twin's dates module (``impl`` runs each test over both)."""
    return impl.dates


class Recorder:
    """A slow_parse that records what it was given and marks what it returns."""

    def __init__(self):
        self.seen = []

    def __call__(self, s):
        self.seen.append(s)
        return ("slow", s)


_COMMON = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(Z|[+-]\d\d:?\d\d)\Z", re.ASCII)


def _strict(s):
    """The datetime a string in the common form stands for, or None (not common, or out of range)."""
    match = _COMMON.match(s)
    if match is None:
        return None
    fraction, zone = match.groups()
    usec = int(fraction[1:].ljust(6, "0")) if fraction else 0
    if zone == "Z":
        tz = timezone.utc
    else:
        hours, minutes = int(zone[1:3]), int(zone[-2:])
        if hours > 23 or minutes > 59:
            return None
        offset = timedelta(hours=hours, minutes=minutes)
        tz = timezone(-offset if zone[0] == "-" else offset)
    fields = [int(s[a:b]) for a, b in ((0, 4), (5, 7), (8, 10), (11, 13), (14, 16), (17, 19))]
    try:
        return datetime(*fields, usec, tz)
    except ValueError:
        return None


def _model(obj, slow_parse):
    """What extract_dates must give, written as plainly as possible."""
    if isinstance(obj, dict):
        out = {}
        for key, value in obj.items():
            out[key] = _model(value, slow_parse)
        return out
    if isinstance(obj, (list, tuple)):
        return [_model(item, slow_parse) for item in obj]
    if isinstance(obj, str):
        direct = _strict(obj)
        if direct is not None:
            return direct
        could_match = 19 <= len(obj) <= 33 and obj[4] == "-" and obj[10] == "T"
        return slow_parse(obj) if could_match else obj
    return obj


# -- the common form is parsed without slow_parse -------------------------------------


def test_header_date_parsed_directly(dates):
    slow = Recorder()
    out = dates.extract_dates(HEADER, slow)
    assert slow.seen == []
    assert out["date"] == datetime(2026, 11, 25, 15, 10, 2, 123456, tzinfo=timezone.utc)
    assert out["date"].tzinfo is timezone.utc
    assert list(out) == list(HEADER)
    for key in HEADER.keys() - {"date"}:
        assert out[key] is HEADER[key]


def test_input_is_not_modified(dates):
    original = dict(HEADER)
    nested = {"header": HEADER, "list": [HEADER["date"]]}
    out = dates.extract_dates(nested, Recorder())
    assert original == HEADER
    assert nested["list"] == [HEADER["date"]]
    assert out is not nested and out["header"] is not HEADER


@pytest.mark.parametrize(
    ("text", "offset"),
    [
        ("2013-07-03T16:34:52.249482Z", timedelta(0)),
        ("2013-07-03T16:34:52.249482+00:00", timedelta(0)),
        ("2013-07-03T16:34:52.249482-0000", timedelta(0)),
        ("2013-07-03T16:34:52-08:00", timedelta(hours=-8)),
        ("2013-07-03T16:34:52+0800", timedelta(hours=8)),
        ("2013-07-03T16:34:52.5+05:30", timedelta(hours=5, minutes=30)),
        ("2013-07-03T16:34:52.000001-2359", -timedelta(hours=23, minutes=59)),
        ("2013-07-03T16:34:52.12+23:59", timedelta(hours=23, minutes=59)),
    ],
)
def test_offsets(dates, text, offset):
    slow = Recorder()
    parsed = dates.extract_dates(text, slow)
    assert slow.seen == []
    assert parsed == _strict(text)
    assert parsed.utcoffset() == offset
    if not offset:
        assert parsed.tzinfo is timezone.utc


@pytest.mark.parametrize("digits", range(1, 7))
def test_fraction_digits_scale_to_microseconds(dates, digits):
    text = "2020-01-02T03:04:05." + "123456"[:digits] + "Z"
    parsed = dates.extract_dates(text, Recorder())
    assert parsed.microsecond == int("123456"[:digits].ljust(6, "0"))


def test_timezones_are_shared(dates):
    first = dates.extract_dates("2020-01-02T03:04:05+05:30", Recorder())
    second = dates.extract_dates("2021-06-07T08:09:10.5+0530", Recorder())
    assert first.tzinfo is second.tzinfo
    assert first.tzinfo == timezone(timedelta(hours=5, minutes=30))


@pytest.mark.parametrize(
    "text",
    [
        "2000-02-29T00:00:00Z",  # leap day
        "2400-02-29T23:59:59Z",
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59.999999Z",
        "2021-04-30T12:00:00Z",
    ],
)
def test_edges_of_valid_ranges(dates, text):
    slow = Recorder()
    assert dates.extract_dates(text, slow) == _strict(text)
    assert slow.seen == []


# -- everything else that might be a date goes to slow_parse --------------------------


@pytest.mark.parametrize(
    "text",
    [
        "2013-07-03T16:34:52",  # naive: slow_parse warns
        "2013-07-03T16:34:52.249482",
        "2013-07-03T24:00:00Z",  # midnight ending the day
        "0000-01-01T00:00:00Z",
        "2013-13-03T16:34:52Z",
        "2013-00-03T16:34:52Z",
        "2013-02-29T16:34:52Z",
        "1900-02-29T16:34:52Z",
        "2013-04-31T16:34:52Z",
        "2013-07-00T16:34:52Z",
        "2013-07-03T16:60:52Z",
        "2013-07-03T16:34:60Z",
        "2013-07-03T16:34:52+24:00",
        "2013-07-03T16:34:52-0060",
        "2013-07-03T16:34:52.Z",
        "2013-07-03T16:34:52.1234567Z",
        "2013-07-03T16:34:52Z\n",
        "2013-07-03T16:34:52+0530\n",
        "2013-07-03T16:34:52z",
        "2013-07-03T16:34:52+05",
        "2013-07-03T16:34:52+05:3",
        "2013-07-03T16:34:52 +05:30",
        "2013-07-03T16-34-52Z",
        "2013-07-03T16:34:52,5Z",
        "٢٠١٣-07-03T16:34:52Z",  # Arabic-Indic digits match \d
        "2013-07-03T16:34:5２Z",  # fullwidth digit
        "2013-07-03T16:34:52Zé",
        "abcd-ef-ghTij:kl:mn",
        "2013-07-03Txxxxxxxxxxxxxxxxxxxxxx",  # 33 characters
    ],
)
def test_other_candidates_go_to_slow_parse(dates, text):
    slow = Recorder()
    assert dates.extract_dates(text, slow) == ("slow", text)
    assert slow.seen == [text]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "2013",
        "2013-07-03",
        "2013-07-03T16:34",
        "2013-07-03T16:3",  # 18 characters
        "2013-07-03 16:34:52Z",
        "2013/07-03T16:34:52Z",
        "20130703T163452Z....",
        "2013-07-03T16:34:52.249482+05:30\n\n",  # 34 characters: longer than any match
        "x" * 10_000,
        "é" * 40,
        "execute_request",
    ],
)
def test_non_candidates_are_kept(dates, text):
    slow = Recorder()
    assert dates.extract_dates(text, slow) is text
    assert slow.seen == []


def test_slow_parse_errors_propagate(dates):
    def fail(s):
        raise ValueError(f"bad {s}")

    with pytest.raises(ValueError, match="bad 2013-13-03T16:34:52Z"):
        dates.extract_dates({"a": ["2013-13-03T16:34:52Z"]}, fail)


# -- shapes ----------------------------------------------------------------------------


def test_containers(dates):
    stamp = "2013-07-03T16:34:52Z"
    obj = {"t": (stamp, [stamp, 1, None]), 1: {"x": stamp}, "n": 2.5, "b": b"2013"}
    out = dates.extract_dates(obj, Recorder())
    when = _strict(stamp)
    assert out == {"t": [when, [when, 1, None]], 1: {"x": when}, "n": 2.5, "b": b"2013"}
    assert type(out["t"]) is list
    assert out["b"] is obj["b"]


def test_leaves_are_returned_as_is(dates):
    for leaf in (None, 1, 2.5, True, b"2013-07-03T16:34:52Z", {1, 2}, frozenset(), object()):
        assert dates.extract_dates(leaf, Recorder()) is leaf


def test_subclasses(dates):
    class Text(str):
        pass

    class Mapping(dict):
        def items(self):  # the reference iterates items(), so an override is honoured
            return [("only", "2013-07-03T16:34:52Z")]

    class Sequence(list):
        def __iter__(self):
            return iter(["2013-07-03T16:34:52+01:00"])

    class Pair(tuple):
        pass

    when = _strict("2013-07-03T16:34:52Z")
    assert dates.extract_dates(Text("2013-07-03T16:34:52Z"), Recorder()) == when
    short = Text("short")
    assert dates.extract_dates(short, Recorder()) is short
    slow = Recorder()
    assert dates.extract_dates(Text("2013-07-03T16:34:52"), slow) == ("slow", "2013-07-03T16:34:52")
    assert type(slow.seen[0]) is Text
    mapped = dates.extract_dates(Mapping(a=1), Recorder())
    assert type(mapped) is dict and mapped == {"only": when}
    assert dates.extract_dates(Sequence([1, 2]), Recorder()) == [_strict("2013-07-03T16:34:52+01:00")]
    assert dates.extract_dates(Pair(("x", 1)), Recorder()) == ["x", 1]


def test_deep_nesting_raises_recursion_error(dates):
    deep = "2013-07-03T16:34:52Z"
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(RecursionError):
        dates.extract_dates(deep, Recorder())
    loop = {}
    loop["self"] = loop
    with pytest.raises(RecursionError):
        dates.extract_dates(loop, Recorder())


def test_moderate_nesting_is_fine(dates):
    deep = "2013-07-03T16:34:52Z"
    for _ in range(100):
        deep = {"a": [deep]}
    out = dates.extract_dates(deep, Recorder())
    for _ in range(100):
        out = out["a"][0]
    assert out == _strict("2013-07-03T16:34:52Z")


def test_slow_parse_that_mutates_the_input(dates):
    """Values are read as the iteration reaches them, like the reference's loop."""
    obj = {"a": "2013-07-03T16:34:52", "b": "2013-07-03T16:34:52Z", "c": "keep", "d": 4}

    def meddle(s):
        obj["b"] = "replaced"
        obj["d"] = "2013-07-03T16:34:52+01:00"
        return "parsed"

    expected = {"a": "parsed", "b": "replaced", "c": "keep", "d": _strict("2013-07-03T16:34:52+01:00")}
    assert dates.extract_dates(obj, meddle) == expected


def test_slow_parse_that_grows_the_input(dates):
    obj = {"a": "2013-07-03T16:34:52", "b": 1}

    def grow(s):
        obj["new"] = 1
        return s

    with pytest.raises(RuntimeError):
        dates.extract_dates(obj, grow)


# -- properties -------------------------------------------------------------------------

_DIGIT = st.sampled_from("0123456789")
_ODD = st.sampled_from("0123456789٠١٢٣٤٥٦٧٨٩０９-:+.TZz \n\x00é\U0001f600")


@st.composite
def timestamps(draw):
    """Strings near the common form: mostly ASCII digits, sometimes an odd character."""
    char = st.one_of(_DIGIT, _DIGIT, _DIGIT, _DIGIT, _ODD)

    def digits(n):
        return "".join(draw(char) for _ in range(n))

    text = f"{digits(4)}-{digits(2)}-{digits(2)}T{digits(2)}:{digits(2)}:{digits(2)}"
    if draw(st.booleans()):
        text += "." + digits(draw(st.integers(0, 8)))
    zone = draw(st.sampled_from(["", "Z", "+:", "-:", "+", "-", "+short", "junk"]))
    if zone in ("+:", "-:"):
        zone = zone[0] + digits(2) + ":" + digits(2)
    elif zone in ("+", "-"):
        zone += digits(4)
    elif zone == "+short":
        zone = "+" + digits(2)
    elif zone == "junk":
        zone = draw(st.text(max_size=4))
    return text + zone + draw(st.sampled_from(["", "", "\n"]))


def _slow(s):
    return ("slow", s)


# The fixture only selects a module, so sharing it across examples is fine.
_SHARED_FIXTURE = [HealthCheck.function_scoped_fixture]


@settings(max_examples=200, deadline=None, suppress_health_check=_SHARED_FIXTURE)
@given(text=st.one_of(timestamps(), st.text(max_size=40)))
def test_strings_match_the_model(dates, text):
    expected = _model(text, _slow)
    got = dates.extract_dates(text, _slow)
    assert got == expected
    assert type(got) is type(expected)
    if isinstance(got, datetime):
        assert got.utcoffset() == expected.utcoffset()
        assert type(got.tzinfo) is timezone


_leaves = st.one_of(
    st.none(), st.integers(), st.floats(allow_nan=False), st.booleans(), timestamps(), st.text(max_size=25)
)


@settings(max_examples=100, deadline=None, suppress_health_check=_SHARED_FIXTURE)
@given(
    obj=st.recursive(
        _leaves,
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.lists(children, max_size=4).map(tuple),
            st.dictionaries(st.one_of(st.text(max_size=5), st.integers()), children, max_size=4),
        ),
        max_leaves=20,
    )
)
def test_structures_match_the_model(dates, obj):
    assert dates.extract_dates(obj, _slow) == _model(obj, _slow)


def test_ascii_garbage_is_safe(dates):
    junk = [string.printable[i : i + 25] for i in range(len(string.printable))]
    junk += ["2013-07-03T16:34:52" + c for c in string.printable]
    assert dates.extract_dates(junk, _slow) == _model(junk, _slow)
