"""JSON decoding of received parts, both twins: ``decoding.loads`` and what deserialize makes of it.

The contract (``decoding.pyi``): where ``loads`` returns, it returns what ``json.loads``
returns, types included; where it raises, deserialize goes through the session's unpacker,
so a message always unpacks exactly as the unpacker alone would unpack it.
"""

from __future__ import annotations

import json
import math
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jsession import session as ss

_SHARED_FIXTURE = [HealthCheck.function_scoped_fixture]
UNPACKERS = [ss.json_unpacker, ss.orjson_unpacker]
JSONISH = '{}[]",:\\ \t\n01-.eEtrufalsn\u00e9\x00'  # characters that make near-JSON


@pytest.fixture
def loads(impl):
    return impl.decoding.loads


def same(a, b):
    """Equal, with the same types all the way down (1 is not 1.0, -0.0 is not 0.0); a loop,
    not recursion, for deep input."""
    pending = [(a, b)]
    while pending:
        x, y = pending.pop()
        if type(x) is not type(y):
            return False
        if isinstance(x, dict):
            if list(x) != list(y):
                return False
            pending.extend((x[k], y[k]) for k in x)
        elif isinstance(x, list):
            if len(x) != len(y):
                return False
            pending.extend(zip(x, y, strict=True))
        elif isinstance(x, float):
            if math.isnan(x) or math.isnan(y):
                if not (math.isnan(x) and math.isnan(y)):
                    return False
            elif x != y or math.copysign(1, x) != math.copysign(1, y):
                return False
        elif x != y:
            return False
    return True


def outcome(fn, data):
    try:
        return ("value", fn(data))
    except Exception as e:  # noqa: BLE001 - the kind of failure is what is compared
        return ("error", type(e))


def through_session(impl, unpacker, data):
    """What deserialize's first try then fallback make of one part (as unpack_message does)."""
    s = ss.Session(key=b"k", unpack=unpacker)
    parts_as, first, unpack = s._unpacking
    if impl.name == "compiled":
        assert first is impl.decoding.loads
    try:
        return ("value", first(memoryview(data)))
    except Exception:  # noqa: BLE001 - the fallback takes any refusal
        return outcome(unpack, memoryview(data))


def agrees(impl, data):
    for unpacker in UNPACKERS:
        got, want = through_session(impl, unpacker, data), outcome(unpacker, memoryview(data))
        assert got[0] == want[0], (unpacker, data[:80], got, want)
        if got[0] == "value":
            assert same(got[1], want[1]), (unpacker, data[:80])
        else:
            assert got[1] is want[1], (unpacker, data[:80])


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=30), inner, max_size=6),
    max_leaves=40,
)


@settings(max_examples=400, deadline=None, suppress_health_check=_SHARED_FIXTURE)
@given(value=json_values, ensure_ascii=st.booleans(), indent=st.sampled_from([None, 0, 2]))
def test_any_json_document_reads_as_json_loads_reads_it(impl, loads, value, ensure_ascii, indent):
    data = json.dumps(value, ensure_ascii=ensure_ascii, indent=indent).encode()
    want = json.loads(data)
    got = outcome(loads, data)
    if got[0] == "value":
        assert same(got[1], want)
    else:
        assert issubclass(got[1], ValueError)
    agrees(impl, data)


@settings(max_examples=300, deadline=None, suppress_health_check=_SHARED_FIXTURE)
@given(data=st.binary(max_size=200) | st.text(alphabet=JSONISH, max_size=60).map(str.encode))
def test_arbitrary_bytes_unpack_as_the_unpacker_alone_unpacks_them(impl, data):
    agrees(impl, data)


@pytest.mark.parametrize(
    "data",
    [
        b"NaN",
        b"[Infinity, -Infinity]",
        b'{"a": NaN}',  # json.loads reads these; orjson refuses
        b"12345678901234567890123",
        b"-9223372036854775809",
        b"18446744073709551615",
        b"123456789012345678",
        b"-123456789012345678",
        b"1234567890123456789",
        b"1e400",
        b"-1e400",
        b"1e-400",
        b"0." + b"1" * 80,
        b"-0",
        b"-0.0",
        b"0e0",
        b"1E+2",
        b'"\\ud83d\\ude00"',
        b'"\\ud800"',
        b'"\\udc00"',
        b'"\\ud800x"',
        b'"\\ud800\\u0041"',
        b'"\xed\xa0\x80"',
        b'"\xff"',
        b'"\xc3"',
        b"\xef\xbb\xbf{}",
        b'"\\u00e9\xc3\xa9"',
        b'"a\x00b"',
        b'"\\u0000"',
        b'"\\x"',
        b'"\\u12"',
        b'"\\u12G4"',
        b'"abc',
        b'"abc\\',
        b"01",
        b"1.",
        b".5",
        b"-",
        b"+1",
        b"1e",
        b"1e+",
        b"[1,]",
        b'{"a":1,}',
        b"{,}",
        b"[,1]",
        b'{"a" 1}',
        b'{"a":}',
        b"{1:2}",
        b"tru",
        b"nul",
        b"falsey",
        b"[1] x",
        b"",
        b"   ",
        b'{"a":1,"a":2,"b":3}',
        b'{"a":{"a":{"a":[]}}}',
        b" \t\n\r[ 1 , 2 ]\r\n",
        b"[\x0c1]",
    ],
)
def test_edges_unpack_as_the_unpacker_alone_unpacks_them(impl, data):
    agrees(impl, data)


@pytest.mark.parametrize("depth", [1, 255, 256, 257, 1000, 100_000])
def test_nesting_unpacks_as_the_unpacker_alone_unpacks_it(impl, depth):
    agrees(impl, b"[" * depth + b"]" * depth)
    agrees(impl, b'{"a":' * depth + b"0" + b"}" * depth)
    agrees(impl, b"[" * depth)  # unterminated


@pytest.mark.parametrize("length", range(0, 48))
def test_every_stop_character_at_every_position_of_a_string(loads, length):
    # the scan takes 16 (or 8) bytes a step: each kind of character that ends or breaks a
    # run (as JSON source), at each offset across several steps
    specials = ['\\"', "\\\\", "\\n", "\\u00e9", "\u00e9", "\u20ac", "\U0001f600", "\\ud83d\\ude00", "\\/"]
    for special in specials:
        data = ('"' + "a" * length + special + "b" * (47 - length) + '"').encode()
        assert same(loads(data), json.loads(data)), data
    with pytest.raises(ValueError):  # a raw control character, anywhere
        loads(('"' + "a" * length + "\x01" + '"').encode())
    with pytest.raises(ValueError):  # unterminated at every length
        loads(('"' + "a" * length).encode())


def test_long_strings_read_in_place(impl, loads):
    text = string.ascii_letters * 20_000  # 1 MB
    for doc in ({"data": {"text/plain": text}}, {"t": "\u00e9" + text}, {"t": text + "\\n" + text}):
        data = json.dumps(doc, ensure_ascii=False).encode()
        assert same(loads(data), json.loads(data))
        assert same(loads(memoryview(bytearray(data))), json.loads(data))


def test_many_distinct_keys_and_values_stay_right(loads):
    # more short keys than any table of them holds, some alike in their first and last bytes
    keys = [f"k{i:05d}" for i in range(3000)] + [f"key_{i:03d}_middle_same" for i in range(600)]
    doc = {k: i for i, k in enumerate(keys)}
    data = json.dumps(doc).encode()
    for _ in range(3):
        got = loads(data)
        assert list(got) == keys and all(got[k] == i for i, k in enumerate(keys))
    assert loads(b'{"":1,"a":2,"ab":{"":3}}') == {"": 1, "a": 2, "ab": {"": 3}}


def test_not_a_buffer_is_refused(impl, loads):
    for bad in (None, 1, ["[]"]):
        with pytest.raises((TypeError, ValueError)):
            loads(bad)


def test_deserialize_of_a_signed_message_with_lenient_json_is_the_unpackers(impl):
    # NaN, a 40-digit integer and a lone surrogate are JSON only to json.loads: the
    # fallback reads them, in both unpackers, both cores
    content = b'{"x": NaN, "big": 1234567890123456789012345678901234567890, "s": "\\ud800"}'
    for unpacker in ("json", "orjson"):
        s = ss.Session(key=b"k", unpacker=unpacker)
        frames = s.serialize(s.msg("comm_msg"))
        parts = [*frames[frames.index(ss.DELIM) + 2 : -1], content]
        got = s.deserialize([s.sign(parts), *parts])
        assert math.isnan(got["content"]["x"])
        assert got["content"]["big"] == 1234567890123456789012345678901234567890
        assert got["content"]["s"] == "\ud800"


def test_dates_anywhere_in_header_and_parent_as_the_reference(impl):
    # the decoder's fresh header and parent get their dates in place: the same result as
    # the reference's copies, for dates at the top, nested, naive, zoned, and in msg_id
    import warnings

    from jupyter_client import session as reference

    date = "2026-11-30T15:10:02.123456Z"
    header = {
        "msg_id": date, "msg_type": "x", "username": "u", "session": "s", "date": date, "version": "5.4",
        "nested": {"when": date, "list": [date, "2026-11-30T15:10:02", 1]}, "naive": "2026-11-30T15:10:02",
        "zoned": "2026-11-30T15:10:02+05:30",
    }  # fmt: skip
    parent = dict(header, msg_id="p", extra=[{"d": date}])
    parts = [json.dumps(d).encode() for d in (header, parent, {"m": date}, {"c": date})]
    s, r = ss.Session(key=b"k"), reference.Session(key=b"k")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # naive dates warn in both
        got = s.deserialize([s.sign(parts), *parts])
        want = r.deserialize([r.sign(parts), *parts])
    for key in ("header", "parent_header", "metadata", "content", "msg_id", "msg_type"):
        assert got[key] == want[key], key
    assert got["msg_id"] == date  # read before the header's dates were replaced
