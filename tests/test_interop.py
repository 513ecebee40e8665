"""Wire interop with the real jupyter_client 8.10: same frames, and each side accepts the other's."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone

import pytest
import zmq

from jsession import session as js

jc = pytest.importorskip("jupyter_client.session")

PACKERS = ["json", "orjson", "msgpack", "pickle"]
SCHEMES = ["hmac-sha256", "hmac-sha512", "hmac-sha1", "hmac-md5"]
KEY = b"5f0b4b1e-8c41-4f0e-9d0a-3b1c2d3e4f50"


def pair(packer: str, scheme: str, key: bytes = KEY):
    """A jsession and a jupyter_client Session configured alike."""
    settings = dict(
        key=key,
        signature_scheme=scheme,
        packer=packer,
        session="a1b2c3d4-0011223344556677889900aa",
        username="alice",
    )
    return js.Session(**settings), jc.Session(**settings)


def sample_message(ours: js.Session, n: int = 0) -> dict:
    date = datetime(2026, 11, 25, 15, 0, n % 60, 123456, tzinfo=timezone.utc)
    parent = {
        "msg_id": f"parent-{n}",
        "msg_type": "execute_request",
        "username": "bob",
        "session": "feedface",
        "date": date - timedelta(seconds=1),
        "version": "5.4",
    }
    header = {
        "msg_id": f"{ours.session}_1_{n}",
        "msg_type": "execute_reply",
        "username": "alice",
        "session": ours.session,
        "date": date,
        "version": "5.4",
    }
    content = {
        "status": "ok",
        "execution_count": n,
        "user_expressions": {"x": {"data": {"text/plain": "ü → ∞"}, "metadata": {}}},
        "payload": [],
        "nested": [1, 2.5, None, True, "two\nlines"],
    }
    return ours.msg("execute_reply", content=content, parent=parent, header=header, metadata={"started": "x"})


@pytest.mark.parametrize("packer", PACKERS)
@pytest.mark.parametrize("scheme", SCHEMES)
def test_same_frames(impl, packer, scheme):
    ours, theirs = pair(packer, scheme)
    msg = sample_message(ours)
    ident = [b"router-id", b"\x00\x01"]
    our_frames = ours.serialize(copy.deepcopy(msg), ident=ident)
    their_frames = theirs.serialize(copy.deepcopy(msg), ident=ident)
    assert our_frames == their_frames
    assert ours.sign(our_frames[3:7]) == theirs.sign(their_frames[3:7])


@pytest.mark.parametrize("packer", PACKERS)
@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("as_frames", [False, True], ids=["bytes", "zmq.Frame"])
def test_each_accepts_the_other(impl, packer, scheme, as_frames):
    ours, theirs = pair(packer, scheme)
    for n, (sender, receiver) in enumerate([(theirs, ours), (ours, theirs)]):
        msg = sample_message(ours, n)
        frames = sender.serialize(msg, ident=b"peer") + [b"buffer-one", b"\x00" * 100]
        if as_frames:
            frames = [zmq.Frame(f) for f in frames]
        idents, rest = receiver.feed_identities(frames, copy=not as_frames)
        assert [bytes(i) for i in idents] == [b"peer"]
        got = receiver.deserialize(rest, copy=not as_frames)
        assert got["header"] == msg["header"]
        assert got["parent_header"] == msg["parent_header"]
        assert got["msg_id"] == msg["msg_id"] and got["msg_type"] == "execute_reply"
        assert got["content"] == msg["content"]
        assert got["metadata"] == msg["metadata"]
        assert [bytes(b) for b in got["buffers"]] == [b"buffer-one", b"\x00" * 100]


@pytest.mark.parametrize("packer", PACKERS)
def test_same_message_dict_from_both(impl, packer):
    """Deserializing the same frames gives equal dicts, in the same key order."""
    ours, theirs = pair(packer, "hmac-sha256")
    frames = theirs.serialize(sample_message(ours)) + [b"buf"]
    _, rest = theirs.feed_identities(frames)
    a = ours.deserialize(list(rest))
    b = theirs.deserialize(list(rest))
    assert list(a) == list(b)
    for key in ("header", "parent_header", "metadata", "content", "msg_id", "msg_type"):
        assert a[key] == b[key], key
    assert list(a["header"]) == list(b["header"])
    assert [bytes(x) for x in a["buffers"]] == [bytes(x) for x in b["buffers"]]


def test_tampered_by_either_side_is_rejected_by_both(impl):
    ours, theirs = pair("json", "hmac-sha256")
    frames = theirs.serialize(sample_message(ours))
    _, rest = ours.feed_identities(frames)
    rest[4] = rest[4].replace(b'"ok"', b'"no"')
    for receiver in (ours, theirs):
        with pytest.raises(ValueError, match="Invalid Signature"):
            receiver.deserialize(list(rest))


def test_unsigned_peer(impl):
    """Both sides with signing off interoperate, and a keyed side refuses them."""
    ours, theirs = pair("json", "hmac-sha256", key=b"")
    frames = ours.serialize(sample_message(ours))
    assert frames[1] == b""
    assert theirs.deserialize(theirs.feed_identities(frames)[1])["content"]["status"] == "ok"
    keyed, _ = pair("json", "hmac-sha256")
    with pytest.raises(ValueError, match="Unsigned Message"):
        keyed.deserialize(keyed.feed_identities(frames)[1])


def test_socket_round_trip_between_implementations(impl):
    ours, theirs = pair("orjson", "hmac-sha256")
    ctx = zmq.Context()
    a, b = ctx.socket(zmq.PAIR), ctx.socket(zmq.PAIR)
    try:
        a.bind("inproc://interop")
        b.connect("inproc://interop")
        big = bytes(range(256)) * 1024  # 256 KiB: above copy_threshold, sent without a copy
        ours.send(a, "comm_msg", content={"data": 1}, ident=b"id", buffers=[b"small", big])
        idents, msg = theirs.recv(b, mode=0)
        assert idents == [b"id"] and msg["content"] == {"data": 1}
        assert [bytes(x) for x in msg["buffers"]] == [b"small", big]
        theirs.send(b, "comm_msg", content={"data": 2}, buffers=[big])
        idents, msg = ours.recv(a, mode=0, copy=False)
        assert msg["content"] == {"data": 2} and bytes(msg["buffers"][0]) == big
    finally:
        a.close(linger=0)
        b.close(linger=0)
        ctx.term()
