"""The replay history: only verified signatures enter it, it is bounded by its size, it
forgets oldest first, and no flood of refused messages can push a verified signature out.

Every test runs over the compiled core and the pure-Python twin.
"""

from __future__ import annotations

import os
import pickle
import random
import uuid

import pytest
import zmq

from jsession import session as ss

KEY = b"replay-test-key-0c4e1b7a"


def sigs(n: int) -> list[bytes]:
    """n distinct hmac-sha256-shaped signatures (64 lowercase hex bytes)."""
    return [os.urandom(32).hex().encode() for _ in range(n)]


# ---------------------------------------------------------------- the structure


def test_culls_the_oldest_tenth_when_one_past_the_size(impl):
    h = impl.ReplayHistory(100)
    first = sigs(100)
    for s in first:
        assert h.add(s) is True
    assert len(h) == 100 and list(h) == first
    newest = sigs(1)[0]
    h.add(newest)
    assert len(h) == 91
    assert list(h) == first[10:] + [newest]  # the ten oldest went, nothing else


def test_add_says_whether_the_item_was_new(impl):
    h = impl.ReplayHistory(10)
    s = sigs(1)[0]
    assert h.add(s) is True and h.add(s) is False and len(h) == 1


def test_size_zero_remembers_nothing(impl):
    h = impl.ReplayHistory(0)
    s = sigs(1)[0]
    assert h.add(s) is True and h.add(s) is True
    assert len(h) == 0 and s not in h and list(h) == []


def test_entries_come_back_as_given(impl):
    # a lowercase hex signature is stored as its raw digest and comes back as the same hex;
    # anything else is fingerprinted and kept; bytes and str stay different entries
    items = [sigs(1)[0], b"ab", "ab", b"AB", b"odd", "\u00e9t\u00e9", uuid.uuid4().bytes, b"a" * 200]
    h = impl.ReplayHistory(100, items)
    assert list(h) == items
    assert h == set(items) and set(items) == h and h != set(items[1:])
    assert bytearray(b"ab") in h and memoryview(b"odd") in h
    assert b"ab".upper() in h and "AB" not in h and b"ba" not in h
    assert None not in h and 5 not in h and [1] not in h
    with pytest.raises(TypeError, match="a signature is bytes or str, not int"):
        h.add(5)


def test_both_implementations_store_the_same_keys(impl):
    from jsession._py import replay as twin

    for item in [sigs(1)[0], b"ab", "ab", b"x", "", b"", b"f" * 64, b"f" * 66, b"a" * 128]:
        assert impl.replay.fingerprint(item) == twin.fingerprint(item)
    assert len(impl.replay.fingerprint(b"ab" * 32)[0]) == 32  # sha256: the raw digest


def test_resizing_keeps_the_newest(impl):
    h = impl.ReplayHistory(50, [b"%02x" % i for i in range(50)])
    h.size = 20
    assert len(h) == 20 and list(h) == [b"%02x" % i for i in range(30, 50)]
    h.size = 100
    h.update(b"%02x" % i for i in range(100, 130))
    assert len(h) == 50
    h.size = 0
    assert len(h) == 0 and h.add(b"ab") and len(h) == 0
    with pytest.raises(ValueError, match="at most"):
        h.size = 2**40


def test_copy_pickle_clear(impl):
    h = impl.ReplayHistory(8, sigs(5) + ["x"])
    c = h.copy()
    assert c == h and c is not h and c.size == 8
    c.add(b"ab")
    assert b"ab" not in h
    assert pickle.loads(pickle.dumps(h)) == h
    h.clear()
    assert len(h) == 0 and h == set() and len(c) == 7
    h.add(b"cd")
    assert list(h) == [b"cd"]


def test_random_operations_agree_with_a_model(impl):
    # an ordered list of unique entries, culled by the reference's rule, oldest first
    rng = random.Random(20261130)
    pool = sigs(60) + [b"%d" % i for i in range(30)] + [f"s{i}" for i in range(10)]
    for size in (1, 2, 3, 7, 64, 65, 200):
        h, model = impl.ReplayHistory(size), []
        for _ in range(3000):
            item = rng.choice(pool)
            roll = rng.random()
            if roll < 0.8:
                new = item not in model
                if new:
                    if len(model) >= size:
                        del model[: max((len(model) + 1) // 10, 1)]
                    model.append(item)
                assert h.add(item) is new
            elif roll < 0.99:
                assert (item in h) == (item in model)
            else:
                h.cull()
                del model[: max(len(model) // 10, len(model) - size)]
            assert len(h) == len(model) <= size
        assert list(h) == model


def test_memory_is_fixed_per_entry_and_bounded(impl):
    # what a full history holds does not depend on what the entries were, only on the size
    full = impl.ReplayHistory(4096, sigs(4096))
    again = impl.ReplayHistory(4096, sigs(4096))
    for s in sigs(20000):
        again.add(s)
    assert len(again) <= 4096
    if impl.name == "compiled":
        assert again.nbytes == full.nbytes
        assert full.nbytes <= 4096 * (32 + 1 + 4 + 8) + 2 * 8192 * 4
    else:
        assert again.nbytes <= 2 * full.nbytes  # a dict keeps deleted slots until it resizes


# ---------------------------------------------------------------- in a Session


def test_the_session_history_is_a_replay_history(impl):
    s = ss.Session(key=KEY, digest_history_size=10)
    assert isinstance(s.digest_history, impl.ReplayHistory) and s.digest_history.size == 10
    s.digest_history_size = 3
    assert s.digest_history.size == 3
    s.digest_history = {b"ab", b"cd"}
    assert isinstance(s.digest_history, impl.ReplayHistory) and s.digest_history == {b"ab", b"cd"}
    with pytest.raises(ss.TraitError):
        s.digest_history = 5


def _wire(sender: ss.Session, i: int) -> list[bytes]:
    return sender.feed_identities(sender.serialize(sender.msg("execute_request", content={"i": i})))[1]


def test_a_forgery_carrying_a_genuine_signature_does_not_block_it(impl):
    # the reference records a signature before checking it: a forgery that copies a genuine
    # message's signature would get the genuine message refused as a replay
    sender, receiver = ss.Session(key=KEY), ss.Session(key=KEY)
    genuine = _wire(sender, 1)
    forged = [genuine[0], *genuine[1:4], b'{"code": "evil"}']
    with pytest.raises(ValueError, match="Invalid Signature"):
        receiver.deserialize(forged)
    assert receiver.deserialize(list(genuine))["content"] == {"i": 1}
    with pytest.raises(ValueError, match="Duplicate Signature"):
        receiver.deserialize(list(genuine))


def _flood_frames(rng: random.Random, captured: list[bytes], n: int):
    """n refused messages: forged signatures of every shape, genuine signatures over other
    frames, replays of the captured message, unsigned and malformed ones."""
    bodies = [b"{}", b'{"code": "x"}', b"\x00" * 5000, os.urandom(300)]
    for i in range(n):
        kind = i % 8
        if kind == 0:
            sig = os.urandom(32).hex().encode()  # the right shape
        elif kind == 1:
            sig = os.urandom(rng.randrange(1, 40)).hex().encode()  # shorter hex
        elif kind == 2:
            sig = os.urandom(rng.randrange(1, 600))  # any bytes
        elif kind == 3:
            sig = b"a" * rng.choice([1025, 5000])  # oversized
        elif kind == 4:
            sig = captured[0]  # the genuine signature over forged frames
            yield [sig, *captured[1:4], rng.choice(bodies)]
            continue
        elif kind == 5:
            yield list(captured)  # a replay
            continue
        elif kind == 6:
            sig = b""
        else:
            sig = os.urandom(32).hex().upper().encode()
        yield [sig, *captured[1:4], rng.choice(bodies)]


def test_a_flood_of_refused_messages_over_a_socket_evicts_nothing(impl):
    # 100,000 refused messages over TCP (received as bytes and as zmq.Frame in turn): the
    # history does not change at all, and the message captured before the flood is still
    # refused when replayed after it
    size = 1000
    sender, receiver = ss.Session(key=KEY), ss.Session(key=KEY, digest_history_size=size)
    accepted = [_wire(sender, i) for i in range(size)]
    for wire in accepted:
        receiver.deserialize(list(wire))
    captured = accepted[0]  # the oldest, the first to go if anything were pushed in
    before = list(receiver.digest_history)
    nbytes = receiver.digest_history.nbytes
    assert len(before) == size

    ctx = zmq.Context()
    push, pull = ctx.socket(zmq.PUSH), ctx.socket(zmq.PULL)
    port = pull.bind_to_random_port("tcp://127.0.0.1")
    push.connect(f"tcp://127.0.0.1:{port}")
    rng = random.Random(11)
    send = ss._send_frames  # the sender's speed is not under test: the leanest send there is
    refused = 0
    try:
        frames = _flood_frames(rng, captured, 100_000)
        done = False
        while not done:
            batch = 0
            for wire in frames:
                send(push, [b"peer", ss.DELIM, *wire])
                batch += 1
                if batch == 500:
                    break
            else:
                done = True
            for i in range(batch):
                try:
                    receiver.recv(pull, mode=0, copy=i % 2 == 0)
                except (ValueError, TypeError):
                    refused += 1
        assert refused == 100_000
        assert list(receiver.digest_history) == before
        assert receiver.digest_history.nbytes == nbytes
        for copy in (True, False):
            push.send_multipart([b"peer", ss.DELIM, *captured])
            with pytest.raises(ValueError, match="Duplicate Signature"):
                receiver.recv(pull, mode=0, copy=copy)
        # genuine traffic still gets through, and culls oldest first within the bound
        fresh = [_wire(sender, i) for i in range(size, size + 150)]
        for i, wire in enumerate(fresh):
            push.send_multipart([b"peer", ss.DELIM, *wire])
            assert receiver.recv(pull, mode=0, copy=i % 2 == 0)[1]["msg_type"] == "execute_request"
        history = receiver.digest_history
        assert len(history) <= size and fresh[-1][0] in history and captured[0] not in history
        assert history.nbytes <= nbytes * (1 if impl.name == "compiled" else 2)
    finally:
        push.close(linger=0)
        pull.close(linger=0)
        ctx.term()


def test_a_peek_is_checked_but_not_remembered(impl):
    sender, receiver = ss.Session(key=KEY), ss.Session(key=KEY)
    wire = _wire(sender, 1)
    assert receiver.deserialize(list(wire), content=False)["content"] == b'{"i":1}'
    assert len(receiver.digest_history) == 0
    receiver.deserialize(list(wire))
    with pytest.raises(ValueError, match="Duplicate Signature"):
        receiver.deserialize(list(wire), content=False)


def test_history_off_accepts_replays(impl):
    sender, receiver = ss.Session(key=KEY), ss.Session(key=KEY, digest_history_size=0)
    wire = _wire(sender, 1)
    for _ in range(3):
        assert receiver.deserialize(list(wire))["content"] == {"i": 1}
    assert len(receiver.digest_history) == 0
