"""jsession.jsonutil: the public JSON helpers, against jupyter_client.jsonutil where it helps."""

from __future__ import annotations

import json
import math
import numbers
import pickle
import subprocess
import sys
import time
import warnings
from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import subprocess_env
from jsession import jsonutil

reference = pytest.importorskip("jupyter_client.jsonutil")


@pytest.fixture
def local_zone(monkeypatch):
    """Switch the process's local time zone (TZ) for one test."""
    if not hasattr(time, "tzset"):
        pytest.skip("time.tzset is not available on this platform")

    def use(name):
        monkeypatch.setenv("TZ", name)
        time.tzset()

    yield use
    monkeypatch.undo()
    time.tzset()


def _outcome(func, *args):
    """(kind, value, warnings) of a call: the result or the exception type."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = ("ok", func(*args))
        except Exception as exc:  # noqa: BLE001 - compared by type
            result = ("raised", type(exc))
    return (*result, [(w.category, str(w.message)) for w in caught])


def _same_value(ours, theirs):
    """Equal values; datetimes also equal in wall time and offset (tz classes may differ)."""
    if isinstance(theirs, datetime) and type(theirs.tzinfo).__name__ == "tzlocal":
        # A naive timestamp read as local time. dateutil applies today's standard and DST
        # offsets to every date; ours follows the zone's history (tested against zoneinfo
        # below), so only the wall time and the kind of zone are compared here.
        return (
            isinstance(ours, datetime)
            and isinstance(ours.tzinfo, jsonutil.tzlocal)
            and ours.replace(tzinfo=None) == theirs.replace(tzinfo=None)
        )
    if isinstance(theirs, datetime):
        return (
            isinstance(ours, datetime)
            and ours == theirs
            and ours.replace(tzinfo=None) == theirs.replace(tzinfo=None)
            and ours.utcoffset() == theirs.utcoffset()
        )
    if isinstance(theirs, dict):
        return (
            type(ours) is dict
            and list(ours) == list(theirs)
            and all(_same_value(ours[k], theirs[k]) for k in theirs)
        )
    if isinstance(theirs, list):
        return (
            type(ours) is list
            and len(ours) == len(theirs)
            and all(_same_value(a, b) for a, b in zip(ours, theirs, strict=True))
        )
    return type(ours) is type(theirs) and (ours is theirs or ours == theirs)


def _assert_same_outcome(ours, theirs):
    assert ours[0] == theirs[0], (ours, theirs)
    if ours[0] == "raised":
        assert ours[1] is theirs[1]
    else:
        assert _same_value(ours[1], theirs[1]), (ours, theirs)
    assert ours[2] == theirs[2]


# -- names -------------------------------------------------------------------------------


def test_public_names_match_the_reference():
    def public(module):
        return {name for name in dir(module) if not name.startswith("_")}

    assert public(jsonutil) == public(reference)
    for name in public(reference):
        theirs, ours = getattr(reference, name), getattr(jsonutil, name)
        if isinstance(theirs, type(json)):
            assert ours is theirs  # the same standard modules
    assert jsonutil.ISO8601 == reference.ISO8601
    assert jsonutil.next_attr_name == reference.next_attr_name
    for imported in ("datetime", "date", "Iterable", "b2a_base64", "Any", "Union"):
        assert getattr(jsonutil, imported) is getattr(reference, imported)


def test_works_without_dateutil():
    code = (
        "import sys, warnings; sys.modules['dateutil'] = None\n"
        "warnings.simplefilter('ignore')\n"
        "from jsession import jsonutil as j\n"
        "print(j.extract_dates(['2013-07-03T16:34:52Z', '2013-07-03T16:34:52'])[1].utcoffset() is not None)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=subprocess_env()
    )
    assert done.stdout.strip() == "True"


# -- parse_date --------------------------------------------------------------------------


def test_parse_date_passes_non_timestamps_through():
    assert jsonutil.parse_date(None) is None
    for text in ("", "hello", "2013-07-03", "2013-07-03T16:34", "2013-07-03T16:34:52.1234567Z"):
        assert jsonutil.parse_date(text) is text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2013-07-03T16:34:52Z", datetime(2013, 7, 3, 16, 34, 52, tzinfo=timezone.utc)),
        ("2013-07-03T16:34:52.5+0100", datetime(2013, 7, 3, 15, 34, 52, 500000, tzinfo=timezone.utc)),
        ("2013-07-03T16:34:52.000007-08:00", datetime(2013, 7, 4, 0, 34, 52, 7, tzinfo=timezone.utc)),
        ("2013-07-03T24:00:00Z", datetime(2013, 7, 4, tzinfo=timezone.utc)),
        ("2013-12-31T24:00:00.000+05:30", datetime(2014, 1, 1, tzinfo=timezone(timedelta(hours=5.5)))),
        ("2013-07-03T16:34:52-00:00", datetime(2013, 7, 3, 16, 34, 52, tzinfo=timezone.utc)),
        ("2013-07-03T16:34:52+0530\n", datetime(2013, 7, 3, 11, 4, 52, tzinfo=timezone.utc)),
    ],
)
def test_parse_date_values(text, expected):
    parsed = jsonutil.parse_date(text)
    assert parsed == expected
    assert parsed.utcoffset() == reference.parse_date(text).utcoffset()
    if parsed.utcoffset() == timedelta(0):
        assert parsed.tzinfo is timezone.utc


@pytest.mark.parametrize(
    "text",
    [
        "0000-01-01T00:00:00Z",
        "2013-13-01T00:00:00Z",
        "2013-02-29T00:00:00Z",
        "2013-07-32T00:00:00Z",
        "2013-07-03T25:00:00Z",
        "2013-07-03T24:00:01Z",
        "2013-07-03T24:00:00.5Z",
        "2013-07-03T12:60:00Z",
        "2013-07-03T12:00:60Z",
        "2013-07-03T12:00:00+2400",
        "2013-07-03T12:00:00-23:60",
        "2013-07-03T12:00:00Z\n",
        "2013-07-03T12:00:00+05:30\n",
        "2013-07-03T12:00:00\n",
        "٢٠١٣-07-03T12:00:00Z",
        "2013-07-03T12:00:0０Z",
    ],
)
def test_parse_date_errors(text):
    with pytest.raises(ValueError):
        reference.parse_date(text)
    with pytest.raises(ValueError):
        jsonutil.parse_date(text)


def test_parse_date_past_the_last_day():
    with pytest.raises(OverflowError):
        reference.parse_date("9999-12-31T24:00:00Z")
    with pytest.raises(OverflowError):
        jsonutil.parse_date("9999-12-31T24:00:00Z")


def test_naive_timestamps_are_local_with_a_warning():
    text = "2013-07-03T16:34:52.249482"
    message = (
        "Interpreting naive datetime as local 2013-07-03 16:34:52.249482."
        " Please add timezone info to timestamps."
    )
    with pytest.warns(DeprecationWarning) as caught:
        parsed = jsonutil.parse_date(text)
    assert [str(w.message) for w in caught] == [message]
    assert isinstance(parsed.tzinfo, jsonutil.tzlocal)
    assert parsed.replace(tzinfo=None) == datetime(2013, 7, 3, 16, 34, 52, 249482)
    with pytest.warns(DeprecationWarning, match="as local 2013-07-04 00:00:00. Please"):
        jsonutil.parse_date("2013-07-03T24:00:00")


def test_naive_timestamps_use_the_patched_tzlocal(monkeypatch):
    pacific = timezone(timedelta(hours=-8), "Pacific")
    monkeypatch.setattr(jsonutil, "tzlocal", lambda: pacific)
    with pytest.deprecated_call():
        assert jsonutil.parse_date("2013-07-03T16:34:52").tzinfo is pacific


# Strings the reference's pattern admits, built to sit near every boundary the parsers check.
_digit = st.sampled_from("0123456789")
_any_digit = st.one_of(_digit, _digit, _digit, _digit, _digit, st.sampled_from("٣０९"))


@st.composite
def pattern_strings(draw):
    def number(n, edges):
        if draw(st.booleans()):
            return draw(st.sampled_from(edges))
        return "".join(draw(_any_digit) for _ in range(n))

    year = number(4, ["0000", "0001", "1900", "2000", "2024", "9999"])
    month = number(2, ["00", "01", "02", "12", "13"])
    day = number(2, ["00", "01", "28", "29", "30", "31", "32"])
    hour = number(2, ["00", "23", "24", "25"])
    minute = number(2, ["00", "59", "60"])
    second = number(2, ["00", "59", "60"])
    text = f"{year}-{month}-{day}T{hour}:{minute}:{second}"
    if draw(st.booleans()):
        text += "." + "".join(draw(_any_digit) for _ in range(draw(st.integers(1, 6))))
    zone = draw(st.sampled_from(["", "Z", "+", "-"]))
    if zone in ("+", "-"):
        hours = number(2, ["00", "01", "23", "24", "99"])
        minutes = number(2, ["00", "30", "59", "60", "99"])
        zone += hours + draw(st.sampled_from([":", ""])) + minutes
    return text + zone + draw(st.sampled_from(["", "", "", "\n"]))


@settings(max_examples=250, deadline=None)
@given(st.one_of(pattern_strings(), st.from_regex(reference.ISO8601_PAT), st.text(max_size=35)))
def test_parse_date_matches_the_reference(text):
    assert bool(jsonutil.ISO8601_PAT.match(text)) == bool(reference.ISO8601_PAT.match(text))
    _assert_same_outcome(_outcome(jsonutil.parse_date, text), _outcome(reference.parse_date, text))


# -- extract_dates -----------------------------------------------------------------------


def test_extract_dates_shapes(impl):
    stamp = "2013-07-03T16:34:52.249482Z"
    when = datetime(2013, 7, 3, 16, 34, 52, 249482, tzinfo=timezone.utc)
    obj = {"a": [stamp, (stamp, 1)], "b": {"c": stamp, "d": None}, 3: "text"}
    snapshot = json.dumps(obj)
    out = jsonutil.extract_dates(obj)
    assert out == {"a": [when, [when, 1]], "b": {"c": when, "d": None}, 3: "text"}
    assert json.dumps(obj) == snapshot  # not clobbered
    assert jsonutil.extract_dates(stamp) == when
    assert jsonutil.extract_dates(None) is None


def test_extract_dates_warns_once_per_naive_string(impl):
    obj = {"a": "2013-07-03T16:34:52", "b": ["2013-07-03T16:34:53", "2013-07-03T16:34:54Z"]}
    ours = _outcome(jsonutil.extract_dates, obj)
    theirs = _outcome(reference.extract_dates, obj)
    _assert_same_outcome(ours, theirs)
    assert len(ours[2]) == 2
    assert all(category is DeprecationWarning for category, _ in ours[2])


def test_extract_dates_raises_where_the_reference_does(impl):
    for bad in (["2013-13-03T16:34:52Z"], {"x": {"y": "2013-07-03T16:34:52+2400"}}):
        with pytest.raises(ValueError):
            reference.extract_dates(bad)
        with pytest.raises(ValueError):
            jsonutil.extract_dates(bad)


def test_extract_dates_of_a_header(impl):
    header = {
        "msg_id": "5c1f7f0e-2a67c2a3b0d9e2d4f8a1b6c3_1234_7",
        "msg_type": "execute_request",
        "username": "u",
        "session": "5c1f7f0e-2a67c2a3b0d9e2d4f8a1b6c3",
        "date": "2026-11-25T15:10:02.123456Z",
        "version": "5.4",
    }
    _assert_same_outcome(_outcome(jsonutil.extract_dates, header), _outcome(reference.extract_dates, header))


_json_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=20),
    pattern_strings(),
)
_json = st.recursive(
    _json_leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.lists(children, max_size=3).map(tuple),
        st.dictionaries(st.text(max_size=6), children, max_size=4),
    ),
    max_leaves=15,
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_json)
def test_extract_dates_matches_the_reference(impl, obj):
    _assert_same_outcome(_outcome(jsonutil.extract_dates, obj), _outcome(reference.extract_dates, obj))


# -- tzlocal -----------------------------------------------------------------------------


def test_tzlocal_basics():
    zone = jsonutil.tzlocal()
    assert repr(zone) == "tzlocal()"
    assert zone == jsonutil.tzlocal()
    assert hash(zone) == hash(jsonutil.tzlocal())
    assert zone != timezone.utc
    assert pickle.loads(pickle.dumps(zone)) == zone
    assert len({zone, jsonutil.tzlocal()}) == 1


def test_tzlocal_follows_the_system_zone(local_zone):
    local_zone("America/New_York")
    zone = jsonutil.tzlocal()
    summer, winter = datetime(2021, 7, 1, 12, tzinfo=zone), datetime(2021, 1, 1, 12, tzinfo=zone)
    assert summer.utcoffset() == timedelta(hours=-4)
    assert winter.utcoffset() == timedelta(hours=-5)
    assert summer.dst() == timedelta(hours=1) and winter.dst() == timedelta(0)
    assert (summer.tzname(), winter.tzname()) == ("EDT", "EST")
    assert summer.isoformat() == "2021-07-01T12:00:00-04:00"
    # 01:30 happens twice on 2021-11-07; 02:30 never happens on 2021-03-14
    repeated = datetime(2021, 11, 7, 1, 30, tzinfo=zone)
    assert repeated.utcoffset() == timedelta(hours=-4)
    assert repeated.replace(fold=1).utcoffset() == timedelta(hours=-5)
    skipped = datetime(2021, 3, 14, 2, 30, tzinfo=zone)
    assert skipped.utcoffset() == timedelta(hours=-5)
    assert skipped.replace(fold=1).utcoffset() == timedelta(hours=-4)
    # converting into the zone marks the second 01:30 with fold=1
    second = datetime(2021, 11, 7, 6, 30, tzinfo=timezone.utc).astimezone(zone)
    assert (second.hour, second.minute, second.fold) == (1, 30, 1)
    assert zone.utcoffset(None) is None

    local_zone("Asia/Kolkata")
    assert datetime(2021, 7, 1, tzinfo=zone).utcoffset() == timedelta(hours=5, minutes=30)
    assert zone.utcoffset(None) == timedelta(hours=5, minutes=30)
    assert zone.dst(None) == timedelta(0)


_ZONES = [
    "UTC",
    "America/New_York",
    "Europe/London",
    "Europe/Dublin",
    "Europe/Moscow",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "America/Sao_Paulo",
    "Asia/Kolkata",
]


@pytest.mark.parametrize("name", _ZONES)
def test_tzlocal_agrees_with_zoneinfo(local_zone, name):
    zoneinfo = pytest.importorskip("zoneinfo")
    try:
        reference_zone = zoneinfo.ZoneInfo(name)
    except zoneinfo.ZoneInfoNotFoundError:
        pytest.skip(f"no tz database entry for {name}")
    local_zone(name)
    zone = jsonutil.tzlocal()

    @settings(max_examples=100, deadline=None)
    @given(st.integers(-(2**31), 2**31 - 1), st.sampled_from([0, 1]))
    def check(seconds, fold):
        wall = (datetime(1970, 1, 1) + timedelta(seconds=seconds)).replace(fold=fold)
        ours, theirs = wall.replace(tzinfo=zone), wall.replace(tzinfo=reference_zone)
        assert ours.utcoffset() == theirs.utcoffset()
        assert ours.tzname() == theirs.tzname()
        converted = datetime.fromtimestamp(seconds, zone)
        expected = datetime.fromtimestamp(seconds, reference_zone)
        assert converted.replace(tzinfo=None) == expected.replace(tzinfo=None)
        assert converted.fold == expected.fold

    check()


def test_tzlocal_matches_dateutil_today(local_zone):
    dateutil_tz = pytest.importorskip("dateutil.tz")
    for name in ("America/New_York", "Europe/London", "Australia/Lord_Howe"):
        local_zone(name)
        for month in range(1, 13):
            wall = datetime(2025, month, 15, 12)
            assert jsonutil.tzlocal().utcoffset(wall) == dateutil_tz.tzlocal().utcoffset(wall)


# -- json_default ------------------------------------------------------------------------


class Count:
    def __int__(self):
        return 389


class Ratio:
    def __float__(self):
        return 3.14


numbers.Integral.register(Count)
numbers.Real.register(Ratio)


def _defaulted(module, value):
    return json.loads(json.dumps(value, default=module.json_default))


@pytest.mark.parametrize(
    "value",
    [
        0,
        -1.5,
        "text",
        None,
        True,
        [1, "a"],
        (1, 2),
        {3, 1, 2},
        {"k": b"\x00\xff binary"},
        {"nested": [(1, {2})]},
        date(2025, 4, 8),
        datetime(2025, 4, 8, 9, 10, 11, 12, tzinfo=timezone.utc),
        datetime(2025, 4, 8, 9, 10, 11, tzinfo=timezone(timedelta(hours=2))),
        datetime(2025, 4, 8, 9, 10, 11, tzinfo=timezone(timedelta(0), "London")),
        range(3),
        frozenset(["x"]),
        Count(),
        Ratio(),
    ],
    ids=repr,
)
def test_json_default_matches_the_reference(value):
    assert _defaulted(jsonutil, value) == _defaulted(reference, value)


def test_json_default_generators_and_iterators():
    assert _defaulted(jsonutil, (x * 2 for x in range(3))) == [0, 2, 4]
    assert _defaulted(jsonutil, iter("ab")) == ["a", "b"]


def test_json_default_datetimes():
    assert jsonutil.json_default(datetime(2020, 1, 2, 3, 4, 5, tzinfo=timezone.utc)) == "2020-01-02T03:04:05Z"
    shifted = datetime(2020, 1, 2, 3, 4, 5, 6, tzinfo=timezone(-timedelta(hours=3, minutes=30)))
    assert jsonutil.json_default(shifted) == "2020-01-02T03:04:05.000006-03:30"


def test_json_default_naive_datetime(monkeypatch):
    monkeypatch.setattr(jsonutil, "tzlocal", lambda: timezone(timedelta(hours=-8)))
    naive = datetime(2020, 1, 2, 3, 4, 5)
    with pytest.warns(DeprecationWarning) as caught:
        assert jsonutil.json_default(naive) == "2020-01-02T03:04:05-08:00"
    assert [str(w.message) for w in caught] == [
        "Interpreting naive datetime as local 2020-01-02 03:04:05. Please add timezone info to timestamps."
    ]
    monkeypatch.setattr(jsonutil, "tzlocal", lambda: timezone.utc)
    with pytest.deprecated_call():
        assert jsonutil.json_default(naive) == "2020-01-02T03:04:05Z"


def test_json_default_round_trip_through_extract_dates(impl, monkeypatch):
    monkeypatch.setattr(jsonutil, "tzlocal", lambda: timezone(timedelta(hours=-8)))
    data = {
        "naive": datetime(2013, 7, 3, 16, 34, 52),
        "utc": datetime(2013, 7, 3, 16, 34, 52, 1, tzinfo=timezone.utc),
        "other": datetime(2013, 7, 3, 16, 34, 52, tzinfo=timezone(timedelta(hours=2))),
    }
    with pytest.deprecated_call():
        text = json.dumps(data, default=jsonutil.json_default)
    assert text.count("Z") == 1
    back = jsonutil.extract_dates(json.loads(text))
    assert back["utc"] == data["utc"] and back["other"] == data["other"]
    assert back["naive"] == data["naive"].replace(tzinfo=timezone(timedelta(hours=-8)))


def test_json_default_rejects_the_unknown():
    thing = object()
    with pytest.raises(TypeError) as ours:
        jsonutil.json_default(thing)
    with pytest.raises(TypeError) as theirs:
        reference.json_default(thing)
    assert str(ours.value) == str(theirs.value) == f"{thing!r} is not JSON serializable"


def test_date_default_is_deprecated():
    stamp = datetime(2020, 1, 2, tzinfo=timezone.utc)
    with pytest.warns(UserWarning) as caught:
        assert jsonutil.date_default(stamp) == "2020-01-02T00:00:00Z"
    assert [(w.category, str(w.message)) for w in caught] == [
        (
            UserWarning,
            "date_default is deprecated since jupyter_client 7.0.0."
            " Use jupyter_client.jsonutil.json_default.",
        )
    ]


# -- json_clean and squash_dates ---------------------------------------------------------


def _gen():
    yield from (1, 2)


@pytest.mark.parametrize(
    "value",
    [
        1,
        True,
        False,
        None,
        "s",
        1.5,
        math.nan,
        math.inf,
        -math.inf,
        b"\x01\x02bytes",
        [1, (2, 3), {4}],
        {"a": (1,), 2: [b"x"], None: 1.0},
        date(2020, 1, 2),
        datetime(2020, 1, 2, 3, 4, 5, 6),
        datetime(2020, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
        Count(),
        Ratio(),
        range(2),
    ],
    ids=repr,
)
def test_json_clean_matches_the_reference(value):
    _assert_same_outcome(_outcome(jsonutil.json_clean, value), _outcome(reference.json_clean, value))


def test_json_clean_iterators_and_generators():
    assert jsonutil.json_clean(_gen()) == [1, 2]
    assert jsonutil.json_clean(iter([b"a"])) == ["YQ=="]
    assert jsonutil.json_clean({"k": (x for x in "ab")}) == {"k": ["a", "b"]}


def test_json_clean_errors():
    for colliding in ({1: "a", "1": "b"}, {True: 0, "True": 1}):
        with pytest.raises(ValueError) as ours:
            jsonutil.json_clean(colliding)
        with pytest.raises(ValueError) as theirs:
            reference.json_clean(colliding)
        assert str(ours.value) == str(theirs.value)
    for unknown in (object(), 1j, range(2)):
        ours, theirs = _outcome(jsonutil.json_clean, unknown), _outcome(reference.json_clean, unknown)
        _assert_same_outcome(ours, theirs)
    with pytest.raises(ValueError, match=r"^Can't clean for JSON: 1j$"):
        jsonutil.json_clean(1j)


_cleanable = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        st.text(max_size=8),
        st.binary(max_size=8),
        st.dates(),
        st.datetimes(),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.lists(children, max_size=4).map(tuple),
        st.dictionaries(
            st.one_of(st.text(max_size=4), st.integers(-3, 3), st.booleans()), children, max_size=4
        ),
    ),
    max_leaves=15,
)


@settings(max_examples=100, deadline=None)
@given(_cleanable)
def test_json_clean_matches_the_reference_everywhere(value):
    ours, theirs = _outcome(jsonutil.json_clean, value), _outcome(reference.json_clean, value)
    assert ours[0] == theirs[0] and ours[2] == theirs[2]
    if ours[0] == "ok":
        assert json.dumps(ours[1]) == json.dumps(theirs[1])
    else:
        assert ours[1] is theirs[1]


def test_squash_dates():
    when = datetime(2013, 7, 3, 16, 34, 52, 249482, tzinfo=timezone.utc)
    obj = {"a": when, "b": [when, (when, 1)], "c": {"d": when}, "e": date(2020, 1, 1), "f": "x"}
    snapshot = dict(obj)
    out = jsonutil.squash_dates(obj)
    stamp = "2013-07-03T16:34:52.249482+00:00"
    assert out == {"a": stamp, "b": [stamp, [stamp, 1]], "c": {"d": stamp}, "e": date(2020, 1, 1), "f": "x"}
    assert obj == snapshot and obj["a"] is when
    assert out == reference.squash_dates(obj)
    assert jsonutil.squash_dates(when.replace(tzinfo=None)) == "2013-07-03T16:34:52.249482"


def test_squash_then_extract_round_trips(impl):
    when = datetime(2013, 7, 3, 16, 34, 52, 249482, tzinfo=timezone(timedelta(hours=-8)))
    obj = {"a": [when, {"b": when}]}
    assert jsonutil.extract_dates(jsonutil.squash_dates(obj)) == obj


@pytest.mark.skipif(sys.version_info < (3, 11), reason="fromisoformat reads 'Z' from 3.11")
def test_extract_dates_agrees_with_fromisoformat(impl):
    for text in ("2013-07-03T16:34:52Z", "2013-07-03T16:34:52.25+05:30", "2013-07-03T16:34:52.000001-0800"):
        assert jsonutil.extract_dates(text) == datetime.fromisoformat(text)
