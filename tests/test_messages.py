"""The message mechanisms (MessageBuilder, unpack_message), compiled and pure, through Session."""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone

import pytest

from jsession import session as ss
from jsession.adapter import adapt
from jsession.jsonutil import extract_dates, parse_date


def test_header_fields_and_counter(impl):
    builder = impl.MessageBuilder("sess", "user", 1234, ss.extract_header)
    first, second = builder.header("kind"), builder.header("kind")
    assert list(first) == ["msg_id", "msg_type", "username", "session", "date", "version"]
    assert (first["msg_id"], second["msg_id"]) == ("sess_1234_0", "sess_1234_1")
    assert first["date"].tzinfo is timezone.utc
    assert abs((datetime.now(timezone.utc) - first["date"]).total_seconds()) < 5
    assert first["version"] == "5.4" and builder.count == 2


@pytest.mark.parametrize(
    "parent, expected",
    [
        (None, {}),
        ({}, {}),
        ({"header": {"msg_id": "p"}}, {"msg_id": "p"}),
        ({"msg_id": "p", "x": 1}, {"msg_id": "p", "x": 1}),
        ({"header": [("msg_id", "p")]}, {"msg_id": "p"}),  # a non-dict header becomes a dict
        (ss.Message({"header": {"msg_id": "m"}}), {"msg_id": "m"}),
    ],
)
def test_parent_header_as_extract_header_gives_it(impl, parent, expected):
    builder = impl.MessageBuilder("s", "u", 1, ss.extract_header)
    got = builder.message("t", None, parent, None, {}, None)["parent_header"]
    assert dict(got) == expected


def test_parent_without_header_or_msg_id_is_a_key_error(impl):
    builder = impl.MessageBuilder("s", "u", 1, ss.extract_header)
    with pytest.raises(KeyError):
        builder.message("t", None, {"neither": 1}, None, {}, None)


def test_message_metadata_is_a_copy_over_the_base(impl):
    base = {"a": 1}
    builder = impl.MessageBuilder("s", "u", 1, ss.extract_header)
    msg = builder.message("t", {"c": 1}, None, {"msg_id": "i", "msg_type": "given"}, base, {"b": 2})
    assert msg["metadata"] == {"a": 1, "b": 2} and base == {"a": 1}
    assert (msg["msg_id"], msg["msg_type"], msg["content"]) == ("i", "given", {"c": 1})


def _frames(header: dict, parent: dict, metadata: dict, content: dict, *buffers: bytes) -> list:
    dumps = [json.dumps(x).encode() for x in (header, parent, metadata, content)]
    return [b"sig", *dumps, *buffers]


HEADER = {"msg_id": "1", "msg_type": "t", "date": "2026-01-02T03:04:05.123456Z", "version": "5.4"}


@pytest.mark.parametrize("parts_as", [0, 1, 2])
def test_unpack_message_matches_the_reference_recipe(impl, parts_as):
    parent = dict(HEADER, msg_id="0")
    frames = _frames(HEADER, parent, {"m": "2026-01-02T03:04:05Z"}, {"c": [1]}, b"buf")
    got = impl.messages.unpack_message(
        frames, parts_as, ss.json_unpacker, ss.json_unpacker, parse_date, True, adapt
    )
    assert list(got) == ["header", "msg_id", "msg_type", "parent_header", "metadata", "content", "buffers"]
    assert got["header"] == extract_dates(HEADER) and got["parent_header"] == extract_dates(parent)
    assert got["metadata"] == {"m": "2026-01-02T03:04:05Z"}  # metadata dates stay strings
    assert got["content"] == {"c": [1]} and got["buffers"] == [b"buf"]


def test_unpack_message_adapts_old_messages_only(impl):
    calls = []

    def finish(message):
        calls.append(message)
        return "adapted"

    current = _frames(HEADER, {}, {}, {})
    assert (
        impl.messages.unpack_message(current, 0, json.loads, json.loads, parse_date, True, finish)
        != "adapted"
    )
    old = _frames({"msg_id": "1", "msg_type": "t"}, {}, {}, {})
    assert impl.messages.unpack_message(old, 0, json.loads, json.loads, parse_date, True, finish) == "adapted"
    assert len(calls) == 1


def test_unpack_message_falls_back_to_the_unpacker(impl):
    seen = []

    def unpack(data):
        seen.append(bytes(data))
        return json.loads(bytes(data).decode())

    def refuse(data):
        raise ValueError("not this one")

    frames = _frames(HEADER, {}, {}, {"x": 1})
    got = impl.messages.unpack_message(frames, 0, refuse, unpack, parse_date, False, None)
    assert got["content"] == frames[4] and len(seen) == 3  # content left packed


def test_sessions_use_the_active_builder(impl):
    s = ss.Session(key=b"k", session="abc", username="me")
    assert type(s._builder) is impl.MessageBuilder
    assert s.msg("t")["header"]["msg_id"] == f"abc_{os.getpid()}_0"
    s.username, s.session = "you", "xyz"
    header = s.msg("t")["header"]
    assert (header["username"], header["session"], header["msg_id"]) == ("you", "xyz", f"xyz_{os.getpid()}_1")
    assert s.message_count == 2
    s.message_count = 10
    assert s.msg_id.endswith("_10")


def test_subclass_headers_are_its_own(impl):
    class Custom(ss.Session):
        def msg_header(self, msg_type):
            return {"msg_id": "custom", "msg_type": msg_type}

    assert Custom(key=b"k").msg("t")["header"] == {"msg_id": "custom", "msg_type": "t"}


# Forked from a fresh interpreter that has started no thread (nothing here makes a zmq.Context):
# forking a multi-threaded process warns on Python 3.12+ (DeprecationWarning, an error under -W
# error) and can deadlock the child. The pytest process has libzmq's threads by now.
FORK_IDS = """
import json, os, sys
from jsession import _backend, session as ss
_backend.use(sys.argv[1])
s = ss.Session(key=b"k", session="f")
read, write = os.pipe()
pid = os.fork()
if pid == 0:  # the child: report its message id and leave at once
    try:
        os.write(write, s.msg_id.encode())
    finally:
        os._exit(0)
os.close(write)
child_id = os.read(read, 200).decode()
os.waitpid(pid, 0)
print(json.dumps({"parent": os.getpid(), "child": pid, "parent_id": s.msg_id, "child_id": child_id}))
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_ids_carry_its_pid(impl):
    import subprocess
    import sys

    from conftest import subprocess_env

    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", FORK_IDS, impl.name],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    ids = json.loads(done.stdout)
    assert ids["child_id"] == f"f_{ids['child']}_0"
    assert ids["parent_id"] == f"f_{ids['parent']}_0"
    assert ids["child"] != ids["parent"]


@pytest.mark.parametrize("short", [[], [b"sig"], [b"sig", b"{}", b"{}", b"{}"], (b"sig", b"{}")])
def test_unpack_message_refuses_fewer_than_5_frames(impl, short):
    with pytest.raises(IndexError):
        impl.unpack_message(short, 0, json.loads, json.loads, parse_date, True, None)


@pytest.mark.parametrize("seed", range(6))
def test_bad_scheme_is_a_trait_error_whatever_the_observer_order(seed):
    import subprocess
    import sys

    from conftest import subprocess_env

    code = (
        "from traitlets import TraitError\n"
        "from jsession import Session\n"
        "try:\n"
        "    Session(key=b'k', signature_scheme='sha256')\n"
        "except TraitError:\n"
        "    pass\n"
        "else:\n"
        "    raise SystemExit('no TraitError')\n"
    )
    subprocess.run([sys.executable, "-c", code], env=subprocess_env(PYTHONHASHSEED=str(seed)), check=True)


def test_pack_frames_is_serialize_and_declines_what_it_cannot_pack(impl):
    import orjson

    s = ss.Session(key=b"k")
    msg = s.msg("t", content={"a": 1})
    option = orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z
    frames = impl.frames.pack_frames(
        orjson.dumps, ss.json_default, option, msg, msg["content"], s._signer, [b"i"]
    )
    assert frames == s.serialize(msg, ident=[b"i"])
    unsigned = impl.frames.pack_frames(orjson.dumps, ss.json_default, option, msg, {}, None, None)
    assert unsigned[:2] == [ss.DELIM, b""]
    assert impl.frames.pack_frames(orjson.dumps, None, option, msg, {"x": object()}, None, None) is None


def test_verified_message_refuses_before_unpacking(impl):
    s = ss.Session(key=b"k")
    frames = s.serialize(s.msg("t", content={"a": 1}))[1:]
    history = impl.ReplayHistory(10)
    args = (0, ss.orjson.loads, ss.orjson_unpacker, ss.parse_date, None, 1024, bytes)
    msg = impl.messages.verified_message(frames, s._signer, history, True, *args)
    assert msg["content"] == {"a": 1} and frames[0] in history
    with pytest.raises(ValueError, match="Duplicate Signature"):
        impl.messages.verified_message(frames, s._signer, history, True, *args)
    with pytest.raises(ValueError, match="Invalid Signature"):
        impl.messages.verified_message([b"0" * 64, *frames[1:]], s._signer, history, True, *args)
    with pytest.raises(ValueError, match="Unsigned Message"):
        impl.messages.verified_message([], s._signer, history, True, *args)
    with pytest.raises(TypeError, match="malformed message"):
        impl.messages.verified_message(frames[:3], None, history, True, *args)
