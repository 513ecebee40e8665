"""Hostile frames: nothing unsigned gets through, nothing is unpacked before the signature is
checked, and only the documented exceptions (ValueError, TypeError, KeyError) come out.

Every frame a socket delivers is treated as written by an attacker who does not hold the key.
Two delivery kinds are exercised throughout: a list of bytes (``copy=True``) and a list of
``zmq.Frame`` (``copy=False``), over both the compiled core and the pure-Python twin.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import os
import re

import orjson
import pytest
import zmq
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from jsession import session as ss

KEY = b"hostile-test-key-5f1c3a9e"
OTHER_KEY = b"not-the-key-5f1c3a9e"
DELIM = ss.DELIM
DOCUMENTED = (ValueError, TypeError, KeyError)
KINDS = ["bytes", "frame"]

# hypothesis: the suite stays fast; HOSTILE_EXAMPLES=20000 makes a long run
FAST = settings(
    max_examples=int(os.environ.get("HOSTILE_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


class RecordingUnpacker:
    """An unpacker that remembers every call, to prove nothing was unpacked."""

    def __init__(self) -> None:
        self.calls: list[bytes] = []

    def __call__(self, data):
        self.calls.append(bytes(data))
        return orjson.loads(data)


def receiver(**kwargs) -> tuple[ss.Session, RecordingUnpacker]:
    session = ss.Session(key=KEY, **kwargs)
    recorder = RecordingUnpacker()
    session.unpack = recorder
    return session, recorder


def genuine_wire(sender: ss.Session | None = None) -> list[bytes]:
    """A signed message on the wire: two idents, delimiter, signature, 4 parts, 2 buffers.

    The 4 signed parts are all different, so every reordering changes them.
    """
    sender = sender or ss.Session(key=KEY, username="alice")
    parent = sender.msg("execute_request", content={"code": "1 + 1"})
    msg = sender.msg(
        "execute_result",
        content={"data": {"text/plain": "2"}, "execution_count": 1},
        parent=parent,
        metadata={"started": "2024-05-01T10:00:00.000001Z"},
    )
    return sender.serialize(msg, ident=[b"router-1", b"router-2"]) + [b"buffer-0", bytes(100)]


def split(wire: list[bytes]) -> tuple[int, list[bytes], list[bytes]]:
    """(delimiter index, [signature, *4 parts], buffers) of a well-formed wire list."""
    d = wire.index(DELIM)
    return d, wire[d + 1 : d + 6], wire[d + 6 :]


def deliver(session: ss.Session, wire: list, kind: str, content: bool = True) -> dict:
    """What a socket's reader does with received frames: split, then deserialize."""
    if kind == "frame":
        frames = [zmq.Frame(bytes(f)) for f in wire]
        _, rest = session.feed_identities(frames, copy=False)
        return session.deserialize(rest, content=content, copy=False)
    _, rest = session.feed_identities(list(wire), copy=True)
    return session.deserialize(rest, content=content, copy=True)


def refused(session: ss.Session, recorder: RecordingUnpacker, wire: list, kind: str) -> str:
    """Deliver wire, which must be refused with a ValueError before anything is unpacked;
    the error message is returned."""
    session.digest_history.clear()  # each case is judged on its own, never as a replay
    with pytest.raises(ValueError) as info:
        deliver(session, wire, kind)
    assert recorder.calls == [], "a frame was unpacked before the signature was verified"
    message = str(info.value)
    assert KEY.decode() not in message
    return message


INVALID = r"^Invalid Signature: b['\"]"


def _flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


# ---------------------------------------------------------------- the genuine message


@pytest.mark.parametrize("kind", KINDS)
def test_the_genuine_message_is_accepted_and_unpacked(impl, kind):
    session, recorder = receiver()
    msg = deliver(session, genuine_wire(), kind)
    assert msg["msg_type"] == "execute_result" and msg["content"]["data"] == {"text/plain": "2"}
    assert len(recorder.calls) == 4
    assert [bytes(b) for b in msg["buffers"]] == [b"buffer-0", bytes(100)]


@pytest.mark.parametrize("kind", KINDS)
def test_idents_and_buffers_are_not_signed(impl, kind):
    # the protocol signs the 4 parts only: routing ids and buffers may change in transit
    session, _ = receiver()
    wire = genuine_wire()
    d, signed, _ = split(wire)
    changed = [b"another-router", DELIM, *signed, b"other buffer"]
    msg = deliver(session, changed, kind)
    assert [bytes(b) for b in msg["buffers"]] == [b"other buffer"]


# ---------------------------------------------------------------- the tampering matrix


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("part", ["header", "parent_header", "metadata", "content"])
def test_every_bit_flip_in_a_signed_frame_is_refused(impl, kind, part):
    session, recorder = receiver()
    wire = genuine_wire()
    d = wire.index(DELIM)
    index = d + 2 + ["header", "parent_header", "metadata", "content"].index(part)
    original = wire[index]
    for bit in range(8 * len(original)):
        tampered = list(wire)
        tampered[index] = _flip(original, bit)
        assert refused(session, recorder, tampered, kind).startswith("Invalid Signature: b")


@pytest.mark.parametrize("kind", KINDS)
def test_every_bit_flip_in_the_signature_is_refused(impl, kind):
    session, recorder = receiver()
    wire = genuine_wire()
    d = wire.index(DELIM)
    for bit in range(8 * len(wire[d + 1])):
        tampered = list(wire)
        tampered[d + 1] = _flip(wire[d + 1], bit)
        assert refused(session, recorder, tampered, kind).startswith("Invalid Signature: b")


def _truncations(wire: list[bytes]):
    d = wire.index(DELIM)
    for index in range(d + 2, d + 6):
        frame = wire[index]
        for size in sorted({0, 1, len(frame) // 2, len(frame) - 1}):
            yield f"frame {index} cut to {size} bytes", wire[:index] + [frame[:size]] + wire[index + 1 :]
        yield f"frame {index} extended", wire[:index] + [frame + b" "] + wire[index + 1 :]
    for end in range(d + 2, d + 6):
        yield f"message cut after frame {end - 1}", wire[:end]


@pytest.mark.parametrize("kind", KINDS)
def test_truncated_or_extended_messages_are_refused(impl, kind):
    session, recorder = receiver()
    for name, tampered in _truncations(genuine_wire()):
        assert refused(session, recorder, tampered, kind).startswith("Invalid Signature: b"), name


@pytest.mark.parametrize("kind", KINDS)
def test_nothing_after_the_delimiter_is_an_unsigned_message(impl, kind):
    session, recorder = receiver()
    wire = genuine_wire()
    assert refused(session, recorder, wire[: wire.index(DELIM) + 1], kind) == "Unsigned Message"


@pytest.mark.parametrize("kind", KINDS)
def test_every_reordering_of_the_signed_frames_is_refused(impl, kind):
    session, recorder = receiver()
    wire = genuine_wire()
    d, signed, buffers = split(wire)
    signature, parts = signed[0], signed[1:]
    for order in itertools.permutations(range(4)):
        if order == (0, 1, 2, 3):
            continue
        tampered = wire[:d] + [DELIM, signature] + [parts[i] for i in order] + buffers
        assert refused(session, recorder, tampered, kind).startswith("Invalid Signature"), order
    # the signature moved among the parts, or a buffer moved into the signed frames
    moved = [
        wire[:d] + [DELIM, parts[0], signature, *parts[1:]] + buffers,
        wire[:d] + [DELIM, signature, buffers[0], *parts[:3]],
        wire[:d] + [DELIM, signature, *parts[1:], parts[0]] + buffers,
    ]
    for tampered in moved:
        assert refused(session, recorder, tampered, kind).startswith("Invalid Signature")


@pytest.mark.parametrize("kind", KINDS)
def test_duplicated_delimiters_are_refused(impl, kind):
    session, recorder = receiver()
    wire = genuine_wire()
    d, signed, buffers = split(wire)
    idents = wire[:d]
    cases = {
        "doubled": idents + [DELIM, DELIM, *signed] + buffers,
        "after the signature": idents + [DELIM, signed[0], DELIM, *signed[1:]] + buffers,
        "before the idents": [DELIM, *idents, DELIM, *signed] + buffers,
        "among the parts": idents + [DELIM, *signed[:3], DELIM, *signed[3:]] + buffers,
    }
    for name, tampered in cases.items():
        assert refused(session, recorder, tampered, kind).startswith("Invalid Signature"), name


def _signature_variants(wire: list[bytes]) -> dict[str, tuple[bytes, str]]:
    """Signature frame -> (the forged signature, the expected error message pattern)."""
    _, signed, _ = split(wire)
    good, parts = signed[0], signed[1:]

    def mac(key: bytes, digest: str) -> hmac.HMAC:
        h = hmac.new(key, digestmod=getattr(hashlib, digest))
        for part in parts:
            h.update(part)
        return h

    assert mac(KEY, "sha256").hexdigest().encode() == good
    assert any(c in b"abcdef" for c in good)  # so the upper-cased one differs
    return {
        "empty": (b"", r"^Unsigned Message$"),
        "one byte short": (good[:-1], INVALID),
        "half": (good[:32], INVALID),
        "one byte": (good[:1], INVALID),
        "one byte long": (good + b"0", INVALID),
        "doubled": (good + good, INVALID),
        "over 1 KiB": (good * 20, r"^Invalid Signature: b'[0-9a-f]{64}\.\.\.'$"),
        "non-hex": (b"g" * 64, INVALID),
        "NUL bytes": (bytes(64), INVALID),
        "whitespace": (b" " + good[:-1], INVALID),
        "upper case": (good.upper(), INVALID),
        "raw digest": (mac(KEY, "sha256").digest(), INVALID),
        "hmac-sha512": (mac(KEY, "sha512").hexdigest().encode(), INVALID),
        "hmac-sha1": (mac(KEY, "sha1").hexdigest().encode(), INVALID),
        "hmac-md5": (mac(KEY, "md5").hexdigest().encode(), INVALID),
        "hmac-sha3_256": (mac(KEY, "sha3_256").hexdigest().encode(), INVALID),
        "another key": (mac(OTHER_KEY, "sha256").hexdigest().encode(), INVALID),
        "plain sha256": (hashlib.sha256(b"".join(parts)).hexdigest().encode(), INVALID),
    }


@pytest.mark.parametrize("kind", KINDS)
def test_forged_signatures_are_refused(impl, kind):
    session, recorder = receiver()
    wire = genuine_wire()
    d = wire.index(DELIM)
    for name, (forged, pattern) in _signature_variants(wire).items():
        tampered = wire[: d + 1] + [forged] + wire[d + 2 :]
        message = refused(session, recorder, tampered, kind)
        assert re.match(pattern, message), (name, message)
        if len(forged) > ss.MAX_SIGNATURE_SIZE:
            assert forged not in session.digest_history
            assert len(message) < 100


@pytest.mark.parametrize("kind", KINDS)
def test_a_message_signed_with_another_scheme_is_refused(impl, kind):
    session, recorder = receiver()
    for scheme in ("hmac-sha512", "hmac-sha1", "hmac-sha3_256", "hmac-blake2b"):
        sender = ss.Session(key=KEY, signature_scheme=scheme)
        assert refused(session, recorder, genuine_wire(sender), kind).startswith("Invalid Signature")


@pytest.mark.parametrize("kind", KINDS)
def test_an_unsigned_message_is_refused_when_a_key_is_set(impl, kind):
    session, recorder = receiver()
    unsigned = genuine_wire(ss.Session(key=b""))
    assert split(unsigned)[1][0] == b""
    assert refused(session, recorder, unsigned, kind) == "Unsigned Message"


@pytest.mark.parametrize("kind", KINDS)
def test_reframed_signed_bytes_pass_the_hmac_but_not_the_unpacker(impl, kind):
    # The protocol signs the concatenation of the 4 frames, not their boundaries, so the same
    # bytes split elsewhere keep a valid signature, in jupyter_client too. Packed JSON dicts
    # only split one way into 4 whole documents: any other split fails to unpack.
    session, recorder = receiver()
    wire = genuine_wire()
    d, (signature, header, parent, metadata, content), buffers = split(wire)
    reframed = [
        [header + parent[:1], parent[1:], metadata, content],
        [header[:-1], header[-1:] + parent, metadata, content],
        [header, parent + metadata, b"", content],
        [header, parent, metadata + content[:-1], content[-1:]],
    ]
    for parts in reframed:
        session.digest_history.clear()
        recorder.calls.clear()
        with pytest.raises(ValueError) as info:
            deliver(session, wire[:d] + [DELIM, signature, *parts] + buffers, kind)
        assert not str(info.value).startswith(("Invalid Signature", "Unsigned", "Duplicate"))
        assert recorder.calls, "the signature is valid: the frames are unpacked, and refused"


@pytest.mark.parametrize("kind", KINDS)
def test_a_replay_is_refused_without_unpacking(impl, kind):
    session, recorder = receiver()
    wire = genuine_wire()
    deliver(session, wire, kind)
    recorder.calls.clear()
    with pytest.raises(ValueError, match=r"^Duplicate Signature: b'[0-9a-f]{64}'$"):
        deliver(session, wire, kind)
    assert recorder.calls == []


@pytest.mark.parametrize("kind", KINDS)
def test_a_peek_without_content_is_checked_too(impl, kind):
    session, recorder = receiver()
    wire = genuine_wire()
    d = wire.index(DELIM)
    tampered = list(wire)
    tampered[d + 5] = _flip(wire[d + 5], 3)
    with pytest.raises(ValueError, match="^Invalid Signature"):
        deliver(session, tampered, kind, content=False)
    assert recorder.calls == []


# ---------------------------------------------------------------- properties

frame_bytes = st.one_of(
    st.binary(max_size=80),
    st.just(DELIM),
    st.sampled_from([b"", b"{}", b"[]", b"null", b"0" * 64, b"<IDS|MSG", b"<IDS|MSG>\x00"]),
)
frame_lists = st.lists(frame_bytes, max_size=10)


@FAST
@given(frames=frame_lists, kind=st.sampled_from(KINDS))
def test_feed_identities_splits_at_the_first_delimiter_or_raises_value_error(impl, frames, kind):
    session = ss.Session(key=KEY)
    copy = kind == "bytes"
    given_frames = frames if copy else [zmq.Frame(f) for f in frames]
    if DELIM not in frames:
        with pytest.raises(ValueError):
            session.feed_identities(given_frames, copy=copy)
        return
    idents, rest = session.feed_identities(given_frames, copy=copy)
    d = frames.index(DELIM)
    assert idents == frames[:d]  # bytes either way
    assert [bytes(f) for f in rest] == frames[d + 1 :]
    if not copy:
        assert all(isinstance(f, zmq.Frame) for f in rest)


@FAST
@given(frames=frame_lists, kind=st.sampled_from(KINDS), content=st.booleans())
def test_deserialize_with_a_key_refuses_any_unsigned_frames(impl, frames, kind, content):
    session, recorder = receiver()
    copy = kind == "bytes"
    given_frames = frames if copy else [zmq.Frame(f) for f in frames]
    with pytest.raises(ValueError):
        session.deserialize(given_frames, content=content, copy=copy)
    assert recorder.calls == []


odd_frames = st.lists(
    st.one_of(
        frame_bytes,
        frame_bytes.map(bytearray),
        frame_bytes.map(zmq.Frame),
        st.just(memoryview(b"<IDS|MSG>abc")[::2]),  # a buffer, but not contiguous
        st.text(max_size=10),
        st.integers(),
        st.none(),
        st.just(DELIM.decode()),
    ),
    max_size=8,
)


@FAST
@given(frames=odd_frames, copy=st.booleans(), content=st.booleans())
def test_any_objects_as_frames_raise_only_documented_errors(impl, frames, copy, content):
    # what a caller might pass by mistake: strs, ints, None, odd buffers
    session, recorder = receiver()
    try:
        _, rest = session.feed_identities(frames, copy=copy)
    except DOCUMENTED:
        rest = frames
    with pytest.raises(DOCUMENTED):
        session.deserialize(rest, content=content, copy=copy)
    assert recorder.calls == []


def _mutations(draw_count: int = 6):
    """Strategy: a list of (operation, a, b, payload) applied to a wire list by ``mutate``."""
    op = st.tuples(
        st.sampled_from(["flip", "cut", "append", "drop", "dup", "swap", "delim", "replace", "buffer"]),
        st.integers(0, 20),
        st.integers(0, 4000),
        st.binary(max_size=16),
    )
    return st.lists(op, min_size=1, max_size=draw_count)


def mutate(wire: list[bytes], ops) -> list[bytes]:
    wire = list(wire)
    for name, a, b, payload in ops:
        if not wire and name not in ("delim", "buffer"):
            continue
        i = a % max(len(wire), 1)
        if name == "flip" and wire[i]:
            wire[i] = _flip(wire[i], b % (8 * len(wire[i])))
        elif name == "cut":
            wire[i] = wire[i][: b % (len(wire[i]) + 1)]
        elif name == "append":
            wire[i] = wire[i] + payload
        elif name == "drop":
            del wire[i]
        elif name == "dup":
            wire.insert(i, wire[i])
        elif name == "swap":
            j = b % len(wire)
            wire[i], wire[j] = wire[j], wire[i]
        elif name == "delim":
            wire.insert(a % (len(wire) + 1), DELIM)
        elif name == "replace":
            wire[i] = payload
        elif name == "buffer":
            wire.append(payload)
    return wire


@FAST
@given(ops=_mutations(), kind=st.sampled_from(KINDS), content=st.booleans())
def test_a_message_is_accepted_only_if_its_signed_frames_are_intact(impl, ops, kind, content):
    session, recorder = receiver()
    wire = genuine_wire()
    _, signed, _ = split(wire)
    tampered = mutate(wire, ops)
    arrived = split(tampered)[1] if DELIM in tampered else []
    intact = arrived == signed
    # the same bytes split at other frame boundaries: see test_reframed_signed_bytes_...
    assume(intact or arrived[:1] != signed[:1] or b"".join(arrived[1:]) != b"".join(signed[1:]))
    if intact:
        msg = deliver(session, tampered, kind, content=content)
        assert msg["msg_type"] == "execute_result"
        return
    with pytest.raises(ValueError):
        deliver(session, tampered, kind, content=content)
    assert recorder.calls == []


@FAST
@given(
    frames=st.lists(frame_bytes, min_size=1, max_size=10),
    ops=_mutations(3),
    forge=st.booleans(),
    copy=st.booleans(),
)
def test_recv_refuses_hostile_frames_from_a_socket(impl, pair_sockets, frames, ops, forge, copy):
    a, b = pair_sockets
    session, recorder = receiver()
    genuine = genuine_wire()
    wire = mutate(genuine, ops) if forge else frames
    assume(not (DELIM in wire and split(wire)[1] == split(genuine)[1]))
    a.send_multipart(wire)
    with pytest.raises(ValueError):
        session.recv(b, mode=0, copy=copy)
    assert recorder.calls == []
    assert session.recv(b) == (None, None)  # one message in, one message refused


# An authenticated peer (or any peer, when signing is off) may still send garbage: what comes
# out must be what jupyter_client raises for the same frames, in type.
def _containers(inner):
    return st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=12),
    _containers,
    max_leaves=12,
)
header_like = st.fixed_dictionaries(
    {},
    optional={
        "msg_id": json_values,
        "msg_type": st.sampled_from(["execute_request", "execute_reply", "status", "x"]) | json_values,
        "version": st.sampled_from(["5.3", "4.1", "5", "x.y", "", "6.0"]) | json_values,
        "date": st.sampled_from(["2024-05-01T10:00:00Z", "2024-05-01T10:00:00.5+05:30", "nope"])
        | json_values,
    },
)


def _dumps(value) -> bytes:
    return json.dumps(value).encode()  # integers beyond 64 bits too: orjson falls back for them


part = st.one_of(
    header_like.map(_dumps),
    json_values.map(_dumps),
    st.binary(max_size=40),
)


def _outcome(call, dated: bool):
    try:
        msg = call()
    except Exception as e:  # noqa: BLE001  (any type is compared)
        return type(e)
    if not dated:  # adapt filled in "now": a different instant for each call
        msg["header"].pop("date")
    return {k: msg[k] for k in ("msg_id", "msg_type", "header", "parent_header", "metadata", "content")}


@FAST
@given(parts=st.lists(part, min_size=4, max_size=4), copy=st.booleans(), signed=st.booleans())
def test_authenticated_garbage_fails_as_in_the_reference(impl, parts, copy, signed):
    reference = pytest.importorskip("jupyter_client.session")
    key = KEY if signed else b""
    ours = ss.Session(key=key)
    theirs = reference.Session(key=key)
    frames = [ours.sign(parts), *parts]
    try:
        # as the unpacker reads it: orjson, or json for what orjson refuses (Infinity...)
        dated = "date" in ss.orjson_unpacker(parts[0])
    except (ValueError, TypeError):
        dated = True  # not a dict: no date is filled in
    if copy:
        got = _outcome(lambda: ours.deserialize(list(frames)), dated)
    else:
        got = _outcome(lambda: ours.deserialize([zmq.Frame(f) for f in frames], copy=False), dated)
    expected = _outcome(lambda: theirs.deserialize(list(frames)), dated)
    assert got == expected
