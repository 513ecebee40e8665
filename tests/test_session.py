"""Session behaviour: construction and configuration, messages, signing, replay, errors."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
from datetime import datetime

import pytest
import zmq
from traitlets import TraitError

import jsession
from jsession import session as ss


@pytest.fixture
def session(impl):
    return ss.Session(key=b"secret-key", username="tester")


def frames_of(s: ss.Session, msg: dict, ident=None) -> list:
    return s.feed_identities(s.serialize(msg, ident=ident))[1]


# ---------------------------------------------------------------- construction


def test_defaults(impl):
    s = ss.Session()
    assert re.fullmatch(rb"[0-9a-f]{8}-[0-9a-f]{24}", s.key)
    assert s.signature_scheme == "hmac-sha256" and s.digest_mod is hashlib.sha256
    assert s.packer == s.unpacker == ("orjson" if ss.has_orjson else "json")
    assert s.pack is (ss.orjson_packer if ss.has_orjson else ss.json_packer)
    assert s.bsession == s.session.encode("ascii")
    assert s.username == os.environ.get("USER", "username")
    assert s.metadata == {} and s.digest_history == set()
    assert (s.digest_history_size, s.copy_threshold, s.buffer_threshold, s.item_threshold) == (
        2**16,
        2**16,
        1024,
        64,
    )
    assert s.check_pid is True and s.debug is False and s.adapt_version == 0
    assert s.pid == os.getpid()
    assert isinstance(s.auth, hmac.HMAC)
    assert s.none == s.pack({})


def test_key_must_be_bytes():
    with pytest.raises(TraitError):
        ss.Session(key="a str key")


def test_empty_key_disables_signing_with_a_warning(impl, caplog):
    with caplog.at_level(logging.WARNING):
        s = ss.Session(key=b"")
    assert "Message signing is disabled.  This is insecure and not recommended!" in caplog.text
    assert s.auth is None and s.sign([b"a"]) == b""
    assert frames_of(s, s.msg("x"))[0] == b""


@pytest.mark.parametrize(
    "scheme, message",
    [
        ("sha256", "signature_scheme must start with 'hmac-', got 'sha256'"),
        ("hmac-nosuchhash", "hashlib has no such attribute: nosuchhash"),
    ],
)
def test_bad_signature_scheme(scheme, message):
    with pytest.raises(TraitError, match=re.escape(message)):
        ss.Session(signature_scheme=scheme)


@pytest.mark.parametrize("name", ["sha1", "sha224", "sha384", "sha512", "md5", "sha3_256", "blake2b"])
def test_every_hashlib_scheme_signs_like_hmac(impl, name):
    s = ss.Session(key=b"k" * 40, signature_scheme=f"hmac-{name}")
    parts = [b"header", b"parent", b"metadata", b"content"]
    expected = hmac.new(b"k" * 40, b"".join(parts), getattr(hashlib, name)).hexdigest().encode()
    assert s.sign(parts) == expected


def test_key_and_scheme_changes_take_effect(impl):
    s = ss.Session(key=b"one")
    msg = s.msg("x")
    first = frames_of(s, msg)[0]
    s.key = b"two"
    second = frames_of(s, msg)[0]
    s.signature_scheme = "hmac-sha512"
    third = frames_of(s, msg)[0]
    parts = frames_of(s, msg)[1:5]
    assert first != second and len(third) == 128
    assert third == hmac.new(b"two", b"".join(parts), hashlib.sha512).hexdigest().encode()
    s.key = b""
    assert frames_of(s, msg)[0] == b""


def test_auth_set_by_the_caller_is_used(impl):
    s = ss.Session(key=b"one")
    s.auth = hmac.HMAC(b"other", digestmod=hashlib.sha1)
    parts = [b"a", b"b", b"c", b"d"]
    assert s.sign(parts) == hmac.new(b"other", b"abcd", hashlib.sha1).hexdigest().encode()
    s.auth = None
    assert s.sign(parts) == b""


def test_keyfile(tmp_path, impl):
    path = tmp_path / "key"
    path.write_bytes(b"  file-key\n")
    s = ss.Session(keyfile=str(path))
    assert s.key == b"file-key"


def test_missing_keyfile_is_a_clear_error(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(FileNotFoundError, match="cannot read Session.keyfile") as info:
        ss.Session(keyfile=str(missing), key=b"do-not-show-me")
    assert "do-not-show-me" not in str(info.value)


def test_key_never_in_repr_or_str(impl):
    s = ss.Session(key=b"top-secret-value")
    for text in (repr(s), str(s), repr(s._signer)):
        assert "top-secret-value" not in text


@pytest.mark.parametrize("trait", ["pack", "unpack"])
def test_pack_must_be_callable(trait):
    with pytest.raises(TraitError):
        ss.Session(**{trait: "not callable"})


def _raising(obj):
    raise TypeError("broken on purpose")


def test_bad_pack_and_unpack_name_the_cause():
    with pytest.raises(ValueError, match="could not serialize a simple message: broken on purpose"):
        ss.Session(pack=_raising)
    with pytest.raises(ValueError, match="could not handle output from packer.*broken on purpose"):
        ss.Session(unpack=_raising)
    with pytest.raises(ValueError, match="could not handle output"):
        ss.Session(unpack=lambda b: {"other": 1})
    with pytest.raises(ValueError, match="but bytes are required"):
        ss.Session(pack=lambda o: "text")


def test_import_string_packer():
    import pickle

    s = ss.Session(packer="pickle.dumps", unpacker="pickle.loads")
    assert s.packer == "pickle.dumps" and s.unpacker == "pickle.loads"
    assert s.unpack is pickle.loads
    msg = s.msg("x", content={"a": 1})
    assert s.deserialize(frames_of(s, msg))["content"] == {"a": 1}
    with pytest.raises(ValueError, match="but bytes are required"):
        ss.Session(packer="json.dumps", unpacker="json.loads")


@pytest.mark.parametrize("name", ["json", "pickle", "msgpack", "orjson"])
def test_known_packer_names_set_both_functions(name):
    s = ss.Session()
    s.packer = name.upper()
    assert s.packer == s.unpacker == name.upper()
    assert (s.pack, s.unpack) == ss._KNOWN_PACKERS[name]


def test_dates_squashed_for_packers_without_datetime_support(impl):
    import msgpack

    s = ss.Session(pack=msgpack.packb, unpack=lambda b: msgpack.unpackb(b, raw=False))
    msg = s.msg("x", content={"t": ss.utcnow()})
    back = s.deserialize(frames_of(s, msg))
    assert back["header"]["date"] == msg["header"]["date"]
    assert isinstance(back["content"]["t"], str)


def test_session_and_bsession_stay_in_sync():
    s = ss.Session(session="abc")
    assert s.bsession == b"abc"
    s.session = "xyz"
    assert s.bsession == b"xyz"
    assert s.msg_id.startswith("xyz_")


def test_clone_copies_settings_not_history(impl):
    s = ss.Session(key=b"k", signature_scheme="hmac-sha1", packer="json", username="u")
    s._add_digest(b"seen")
    c = s.clone()
    assert (c.key, c.signature_scheme, c.packer, c.username, c.session) == (
        b"k",
        "hmac-sha1",
        "json",
        "u",
        s.session,
    )
    assert c.digest_history == {b"seen"} and c.digest_history is not s.digest_history
    msg = s.msg("x")
    assert c.serialize(msg) == s.serialize(msg)
    c._add_digest(b"new")
    assert b"new" not in s.digest_history


def test_session_factory():
    f = ss.SessionFactory()
    f.logname = "jsession.test"
    try:
        assert isinstance(f.session, ss.Session)
        assert f.log.name == "jsession.test"
        assert isinstance(f.context, zmq.Context)
    finally:
        f.context.term()


def test_message_class():
    m = ss.Message({"a": 1, "nested": {"b": 2}})
    assert m.a == 1 and m.nested.b == 2 and m["a"] == 1 and "nested" in m
    assert dict(m)["a"] == 1
    assert str(ss.Message({"a": 1})) == "{'a': 1}"


def test_module_names_match_the_reference():
    ref = pytest.importorskip("jupyter_client.session")
    ours = set(dir(ss))
    missing = [n for n in dir(ref) if not n.startswith("__") and n not in ours and not hasattr(ss, n)]
    assert missing == []


# ---------------------------------------------------------------- messages


def test_msg_layout(session):
    parent = session.msg("execute_request")
    msg = session.msg("execute_reply", content={"a": 1}, parent=parent, metadata={"m": 2})
    assert list(msg) == ["header", "msg_id", "msg_type", "parent_header", "content", "metadata"]
    header = msg["header"]
    assert list(header) == ["msg_id", "msg_type", "username", "session", "date", "version"]
    assert header["version"] == jsession.protocol_version == "5.4"
    assert isinstance(header["date"], datetime) and header["date"].tzinfo is not None
    assert msg["parent_header"] == parent["header"]
    assert msg["msg_id"] == header["msg_id"] and msg["msg_type"] == "execute_reply"
    assert msg["metadata"] == {"m": 2}


def test_msg_ids_are_unique_and_counted(session):
    ids = [session.msg_id for _ in range(1000)]
    assert len(set(ids)) == 1000
    assert ids[-1] == f"{session.session}_{os.getpid()}_999"


def test_session_metadata_is_copied_into_messages(impl):
    s = ss.Session(metadata={"origin": "kernel"})
    msg = s.msg("x", metadata={"extra": 1})
    assert msg["metadata"] == {"origin": "kernel", "extra": 1}
    assert s.metadata == {"origin": "kernel"}


def test_extract_header():
    header = {"msg_id": "1"}
    assert ss.extract_header({"header": header}) is header
    assert ss.extract_header(header) is header
    assert ss.extract_header({}) == {}
    with pytest.raises(KeyError):
        ss.extract_header({"neither": 1})


@pytest.mark.parametrize(
    "content, frame",
    [(None, b"{}"), ({"a": 1}, b'{"a":1}'), (b"raw", b"raw"), ("text \u00e9", "text \u00e9".encode())],
)
def test_serialize_content_forms(impl, content, frame):
    s = ss.Session(packer="orjson")
    msg = s.msg("x")
    msg["content"] = content
    assert s.serialize(msg)[-1] == frame


def test_serialize_rejects_other_content(session):
    msg = session.msg("x")
    msg["content"] = 42
    with pytest.raises(TypeError, match="Content incorrect type: <class 'int'>"):
        session.serialize(msg)


def test_serialize_idents(session):
    msg = session.msg("x")
    assert session.serialize(msg)[0] == ss.DELIM
    assert session.serialize(msg, ident=b"one")[:2] == [b"one", ss.DELIM]
    assert session.serialize(msg, ident=[b"a", b"b"])[:3] == [b"a", b"b", ss.DELIM]


def test_round_trip_keeps_everything(session):
    parent = session.msg("execute_request")
    msg = session.msg("execute_reply", content={"x": [1, "ü"]}, parent=parent, metadata={"m": 1})
    frames = session.serialize(msg, ident=[b"i1"]) + [b"buf"]
    idents, rest = session.feed_identities(frames)
    back = session.deserialize(rest)
    assert idents == [b"i1"]
    assert list(back) == [
        "header",
        "msg_id",
        "msg_type",
        "parent_header",
        "metadata",
        "content",
        "buffers",
    ]
    assert back["header"] == msg["header"] and back["parent_header"] == msg["parent_header"]
    assert back["content"] == msg["content"] and back["metadata"] == msg["metadata"]
    assert isinstance(back["buffers"][0], memoryview) and back["buffers"][0] == b"buf"


def test_deserialize_without_content_leaves_it_packed_and_unrecorded(session):
    rest = frames_of(session, session.msg("x", content={"a": 1}))
    back = session.deserialize(rest, content=False)
    assert back["content"] == b'{"a":1}'
    assert session.digest_history == set()
    session.deserialize(rest)  # the peek did not count as a use


# ---------------------------------------------------------------- the signature and replays


def test_replay_is_refused(session):
    rest = frames_of(session, session.msg("x"))
    session.deserialize(list(rest))
    with pytest.raises(ValueError, match=r"Duplicate Signature: b'[0-9a-f]{64}'"):
        session.deserialize(list(rest))


def test_unsigned_message_refused(session):
    rest = frames_of(session, session.msg("x"))
    rest[0] = b""
    with pytest.raises(ValueError, match="^Unsigned Message$"):
        session.deserialize(rest)


def test_a_failed_signature_is_not_recorded(session):
    # unlike the reference: a forgery that carries a genuine message's signature must not
    # get that signature remembered, or the genuine message would then be refused
    genuine = frames_of(session, session.msg("x"))
    forged = [*genuine[:4], b'{"forged":1}']
    for _ in range(2):
        with pytest.raises(ValueError, match="Invalid Signature"):
            session.deserialize(list(forged))
    assert session.digest_history == set()
    assert session.deserialize(list(genuine))["msg_type"] == "x"
    with pytest.raises(ValueError, match="Duplicate Signature"):
        session.deserialize(list(forged))  # now a replay of a remembered signature


def test_oversized_signature_is_neither_stored_nor_echoed(session):
    rest = frames_of(session, session.msg("x"))
    rest[0] = b"a" * (1 << 20)
    with pytest.raises(ValueError, match="Invalid Signature") as info:
        session.deserialize(rest)
    assert len(str(info.value)) < 200
    assert session.digest_history == set()


def test_too_few_frames(impl):
    unsigned = ss.Session(key=b"")
    with pytest.raises(TypeError, match="malformed message, must have at least 5 elements"):
        unsigned.deserialize([b"", b"{}", b"{}"])
    keyed = ss.Session(key=b"k")
    short = [keyed.sign([b"{}", b"{}"]), b"{}", b"{}"]
    with pytest.raises(TypeError, match="malformed message"):
        keyed.deserialize(short)


def test_feed_identities_without_delimiter(session):
    with pytest.raises(ValueError, match=re.escape("b'<IDS|MSG>' is not in list")):
        session.feed_identities([b"a", b"b"])
    with pytest.raises(ValueError, match="DELIM not in msg_list"):
        session.feed_identities([zmq.Frame(b"a")], copy=False)


def test_feed_identities_frames(session):
    frames = [zmq.Frame(b"id1"), zmq.Frame(ss.DELIM), zmq.Frame(b"sig"), zmq.Frame(b"h")]
    idents, rest = session.feed_identities(frames, copy=False)
    assert idents == [b"id1"] and type(idents[0]) is bytes
    assert rest[0] is frames[2] and rest[1] is frames[3]


def test_huge_ident_frame_is_not_copied(session):
    big = zmq.Frame(b"\x00" * (8 << 20))
    idents, rest = session.feed_identities([big, zmq.Frame(ss.DELIM), zmq.Frame(b"s")], copy=False)
    assert isinstance(idents[0], memoryview) and idents[0].obj is big


def test_digest_history_culls_a_tenth(impl):
    s = ss.Session(digest_history_size=100)
    for i in range(100):
        s._add_digest(b"%d" % i)
    assert len(s.digest_history) == 100
    s._add_digest(b"one more")
    assert len(s.digest_history) == 91
    s2 = ss.Session(digest_history_size=0)
    s2._add_digest(b"x")
    assert s2.digest_history == set()


def test_digest_history_replaced_by_caller_is_used(session):
    session.digest_history = {b"x"}
    session._add_digest(b"y")
    assert session.digest_history == {b"x", b"y"}


# ---------------------------------------------------------------- send / recv


def test_send_recv_with_buffers(session, pair_sockets):
    a, b = pair_sockets
    sent = session.send(a, "data", content={"n": 1}, ident=b"route", buffers=[b"x" * 10, bytearray(70000)])
    assert sent["tracker"] is ss.DONE
    idents, msg = session.recv(b, mode=0)
    assert idents == [b"route"] and msg["content"] == {"n": 1}
    assert [bytes(x) for x in msg["buffers"]] == [b"x" * 10, bytes(70000)]


def test_recv_nothing_waiting(session, pair_sockets):
    assert session.recv(pair_sockets[1]) == (None, None)


def test_recv_without_copy_gives_views_of_frames(session, pair_sockets):
    a, b = pair_sockets
    payload = os.urandom(1 << 20)
    session.send(a, "data", buffers=[payload])
    idents, msg = session.recv(b, mode=0, copy=False)
    view = msg["buffers"][0]
    assert isinstance(view, memoryview) and isinstance(view.obj, zmq.Frame)
    assert view == payload


def test_send_checks_buffers(session, pair_sockets):
    a, _ = pair_sockets
    with pytest.raises(TypeError, match="Buffer objects must support the buffer protocol."):
        session.send(a, "x", buffers=[1])
    with pytest.raises(ValueError, match=r"Buffer 0 \(.*\) is not contiguous"):
        session.send(a, "x", buffers=[memoryview(b"abcdef")[::2]])


def test_send_to_none_builds_only(session):
    msg = session.send(None, "x", content={"a": 1})
    assert msg["content"] == {"a": 1} and msg["tracker"] is ss.DONE


def test_send_refused_after_fork(session, pair_sockets, caplog):
    session.pid = session.pid + 1  # as seen from a forked child
    with caplog.at_level(logging.WARNING):
        assert session.send(pair_sockets[0], "x") is None
    assert "attempted to send message from fork" in caplog.text
    assert session.recv(pair_sockets[1]) == (None, None)
    session.check_pid = False
    assert session.send(pair_sockets[0], "x") is not None


def test_send_raw(session, pair_sockets):
    a, b = pair_sockets
    msg = session.msg("x", content={"raw": True})
    parts = [session.pack(msg[k]) for k in ("header", "parent_header", "metadata", "content")]
    session.send_raw(a, parts, ident=b"r")
    idents, back = session.recv(b, mode=0)
    assert idents == [b"r"] and back["content"] == {"raw": True}


def test_adapt_version_sends_v4(impl, pair_sockets):
    s = ss.Session(key=b"k", adapt_version=4)
    a, b = pair_sockets
    s.send(a, "execute_request", content={"code": "1", "silent": False})
    raw = b.recv_multipart()
    header = s.unpack(raw[3])
    assert "version" not in header or header.get("version", "").startswith("4")


def test_debug_prints(impl, pair_sockets, capsys):
    s = ss.Session(key=b"k", debug=True)
    s.send(pair_sockets[0], "x", content={"shown": 1})
    s.recv(pair_sockets[1], mode=0)
    assert capsys.readouterr().out.count("'shown': 1") >= 2


def test_implementation_attribute():
    assert jsession.IMPLEMENTATION in ("compiled", "python")
