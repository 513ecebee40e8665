"""A focused workout of jsession's compiled paths, for scripts/valgrind.sh (memcheck).

Every C function of jsession._c is driven through its normal and its failing paths, many
times over, so that an invalid read or write shows up and a leak adds up to something
memcheck reports as definitely lost: Signer construction (every digest, short and long keys),
sign/verify over bytes, bytearray, memoryview and zmq.Frame (and the GIL-released path for
large totals), refused buffers and signatures; delimiter search, frame assembly, buffer
checks and sizes; date extraction over good, odd and malformed strings and deep nesting;
message building and unpacking (every way of handing parts over, malformed parts);
the replay history (raw and fingerprinted entries, culling, growing, resizing, snapshots,
copies, clearing, freeing); whole messages straight on libzmq (transport: good and refused
frames, closed sockets); Session round trips over inproc sockets, with and without copies,
genuine and tampered.

    python scripts/valgrind_driver.py [rounds]

It drives the jsession that ``import jsession`` finds (scripts/valgrind.sh points PYTHONPATH at
its own build, made with -g) and says which one.
"""

from __future__ import annotations

import array
import gc
import os
import pickle
import sys
import warnings

import zmq

from jsession import _backend
from jsession import session as ss
from jsession.jsonutil import parse_date

c = _backend.load("compiled")
DIGESTS = [
    "md5",
    "sha1",
    "sha224",
    "sha256",
    "sha384",
    "sha512",
    "sha3_224",
    "sha3_256",
    "sha3_512",
    "blake2b",
    "blake2s",
]
KEYS = [b"k", b"0123456789" * 4, os.urandom(200)]  # 200 bytes: longer than any block, hashed


def expect(exc, call, *args):
    try:
        call(*args)
    except exc:
        return
    raise AssertionError(f"{call} did not raise {exc}")


def signing(rounds: int) -> None:
    big = os.urandom(300_000)  # over the threshold for hashing without the GIL
    frames_kinds = [
        [b"header", b"{}", b"{}", b"content"],
        [bytearray(b"header"), memoryview(b"{}"), array.array("B", b"{}"), zmq.Frame(b"content")],
        [zmq.Frame(big), b"", memoryview(big)[1000:2000]],
        [b"x"] * 20,  # more views than fit on the stack
        [],
    ]
    for _ in range(rounds):
        for digest in DIGESTS:
            for key in KEYS:
                signer = c.Signer(key, digest)
                for frames in frames_kinds:
                    sig = signer.sign(frames)
                    assert signer.verify(sig, frames)
                    assert signer.verify(zmq.Frame(sig), frames)
                    assert not signer.verify(sig[:-1], frames)
                    assert not signer.verify(sig + b"0", frames)
                    assert not signer.verify(b"", frames)
                    assert not signer.verify(sig.upper(), frames)
                del signer
        signer = c.Signer(bytearray(b"key"), "sha256")
        expect(TypeError, signer.sign, [b"ok", "not a buffer"])
        expect(ValueError, signer.sign, [b"ok", memoryview(b"abcdef")[::2]])
        expect(TypeError, signer.sign, 42)
        expect(TypeError, signer.verify, "sig", [b"x"])
        expect(ValueError, signer.verify, memoryview(b"abcdef")[::2], [b"x"])
        released = memoryview(b"gone")
        released.release()
        expect(ValueError, signer.sign, [released])
        expect(ValueError, c.Signer, b"", "sha256")
        expect(TypeError, c.Signer, "str key", "sha256")
        expect(AttributeError, c.Signer, b"k", "no_such_digest")
        expect(TypeError, c.Signer, b"k", None)
        expect(ValueError, c.Signer, b"k", "shake_128")  # hmac refuses it: the fallback path
        expect(TypeError, pickle.dumps, signer)


def frames(rounds: int) -> None:
    delim = c.frames.DELIM
    huge = b"i" * 2_000_000
    lists = [
        [b"id", delim, b"sig", b"h"],
        [zmq.Frame(b"id"), zmq.Frame(delim), zmq.Frame(b"sig")],
        [huge, memoryview(huge), bytearray(delim)],
        [1, "str", None, memoryview(b"abcdef")[::2], delim],
        [b"no", b"delimiter"],
        [],
    ]
    for _ in range(rounds):
        for frame_list in lists:
            c.find_delimiter(frame_list)
            c.find_delimiter(iter(frame_list))
        c.frames.build_frames([b"a", b"b"], b"sig", [b"1", b"2", b"3", b"4"])
        c.frames.build_frames(b"a", b"sig", (b"1", b"2"))
        c.frames.build_frames(None, b"", [])
        c.frames.check_buffers([b"x", bytearray(10), memoryview(b"abc"), zmq.Frame(b"f"), huge])
        expect(TypeError, c.frames.check_buffers, [b"x", 1])
        expect(ValueError, c.frames.check_buffers, [memoryview(b"abcdef")[::2]])
        c.frames.frame_sizes([b"x", bytearray(10), zmq.Frame(huge), memoryview(huge)[5:]])
        expect(TypeError, c.frames.frame_sizes, [b"x", 1.5])
        expect(ValueError, c.frames.frame_sizes, [memoryview(b"abcdef")[::2]])


class Dict(dict):
    pass


def dates(rounds: int) -> None:
    strings = [
        "2024-05-01T10:00:00Z",
        "2024-05-01T10:00:00.123456Z",
        "2024-05-01T10:00:00.1+05:30",
        "2024-05-01T10:00:00-0800",
        "2024-02-29T23:59:59.999999+23:59",
        "2023-02-29T00:00:00Z",  # not a day: slow path, which raises
        "2024-05-01T10:00:00",  # naive: slow path warns
        "2024-05-01T24:00:00Z",
        "2024-05-01T10:00:00.1234567Z",
        "2024-05-01T10:00:00+24:00",
        "2024-05-01T10:00:00Zjunk",
        "2024-05-01T10:00:00é",
        "2024-05-01T10:00:00\U0001f600",
        "2024-05-01X10:00:00Z",
        "0000-01-01T00:00:00Z",
        "9999-12-31T23:59:59.999999Z",
        "x" * 19,
        "x" * 40,
        "",
    ]
    nested = {
        "a": strings,
        "b": {"c": tuple(strings), "d": [1, 2.5, None, True, {"e": strings[0]}]},
        "f": Dict(g=strings[1], h=[Dict(i=strings[2])]),
    }
    deep: list = []
    for _ in range(5000):
        deep = [deep]

    def slow(s):
        try:
            return parse_date(s)
        except ValueError:
            return s

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(rounds):
            for s in strings:
                c.extract_dates(s, slow)
            c.extract_dates(nested, slow)
            c.extract_dates([nested, nested], lambda s: s)
            expect(RecursionError, c.extract_dates, deep, slow)
            expect(ZeroDivisionError, c.extract_dates, {"x": strings[5]}, lambda s: 1 / 0)


def messages(rounds: int) -> None:
    import orjson

    from jsession.adapter import adapt
    from jsession.session import extract_header, json_unpacker

    builder = c.MessageBuilder("session-id", "user", 1234, extract_header)
    header = b'{"msg_id":"m","msg_type":"t","version":"5.4","date":"2024-05-01T10:00:00Z"}'
    frame_lists = [
        [b"sig", header, b"{}", b'{"a":1}', b'{"c":[1,2]}', b"buffer", bytearray(100)],
        [b"sig", zmq.Frame(header), zmq.Frame(b"{}"), zmq.Frame(b"{}"), zmq.Frame(b"{}")],
        [b"sig", b'{"msg_id":"m","msg_type":"execute_request"}', b"{}", b"{}", b'{"code":"x"}'],
    ]
    broken = [
        [b"sig", b"[1]", b"{}", b"{}", b"{}"],  # TypeError: not a header
        [b"sig", b"{}", b"{}", b"{}", b"{}"],  # KeyError: no msg_id
        [b"sig", b"{", b"{}", b"{}", b"{}"],  # ValueError: not JSON
        [b"sig", header, b"{}"],  # too short: IndexError
    ]
    for _ in range(rounds * 20):
        builder.header("status")
        builder.message("x", {"a": 1}, {"header": {"msg_id": "p"}}, None, {"m": 1}, {"n": 2})
        builder.message(
            "x", None, {"msg_id": "p", "msg_type": "y"}, {"msg_id": "h", "msg_type": "x"}, {}, None
        )
        builder.message("x", None, None, None, {}, None)
        builder.session = "other"
        builder.count += 1
        for frames_ in frame_lists:
            for parts_as in (1, 2) if isinstance(frames_[1], zmq.Frame) else (0, 1, 2):
                for content in (True, False):
                    try:
                        c.unpack_message(
                            frames_, parts_as, orjson.loads, json_unpacker, parse_date, content, adapt
                        )
                    except AttributeError:  # adapting a v4 message whose content stays packed
                        assert not content
                    c.unpack_message(
                        frames_, parts_as, orjson.loads, json_unpacker, parse_date, content, None
                    )
        for frames_ in broken:
            try:
                c.unpack_message(frames_, 1, orjson.loads, json_unpacker, parse_date, True, adapt)
            except (ValueError, TypeError, KeyError, IndexError):
                pass
            else:
                raise AssertionError("malformed frames unpacked")


def replay(rounds: int) -> None:
    sizes = [0, 1, 2, 7, 64, 65, 300]
    for _ in range(rounds):
        for size in sizes:
            h = c.ReplayHistory(size)
            for i in range(3 * size + 70):
                item = os.urandom(32).hex().encode() if i % 3 else (f"s{i}" if i % 2 else b"%d" % i)
                h.add(item)
                h.add(item)  # a duplicate
                assert (item in h) == (size > 0 and len(h) > 0 and item in list(h))
                if i % 50 == 0:
                    h.cull()
            assert len(h) <= size
            copy = h.copy()
            assert copy == h and pickle.loads(pickle.dumps(h)) == h and h.nbytes >= 0
            h.size = size // 2
            h.size = size * 2
            h.update([bytearray(b"ab"), memoryview(b"cd"), b"odd", "\u00e9"])
            expect(TypeError, h.add, 5)
            assert 5 not in h and None not in h
            h.clear()
            del h, copy
        c.replay.fingerprint(b"ab" * 40)
    gc.collect()


def sessions(rounds: int) -> None:
    _backend.use("compiled")
    key = os.urandom(32)
    alice, bob = ss.Session(key=key), ss.Session(key=key, digest_history_size=50)
    ctx = zmq.Context()
    a, b = ctx.socket(zmq.PAIR), ctx.socket(zmq.PAIR)
    a.bind("inproc://valgrind")
    b.connect("inproc://valgrind")
    large = os.urandom(200_000)
    for i in range(rounds * 20):
        alice.send(
            a, "x", content={"i": i, "t": "2024-05-01T10:00:00Z"}, ident=[b"id"], buffers=[b"small", large]
        )
        idents, msg = bob.recv(b, mode=0, copy=i % 2 == 0)
        assert msg["content"]["i"] == i and msg["buffers"][1] == large
        del msg
        wire = alice.serialize(alice.msg("y", content={"i": i}), ident=b"r")
        for tampered in (
            wire[:-1] + [b'{"i": -1}'],
            wire[:3] + [b""] + wire[4:],
            wire[:2] + [b"f" * 2000] + wire[3:],
        ):
            try:
                bob.feed_identities([zmq.Frame(f) for f in tampered], copy=False)
                _, rest = bob.feed_identities(tampered)
                bob.deserialize(rest)
            except ValueError:
                pass
            else:
                raise AssertionError("tampered message accepted")
    a.close(linger=0)
    b.close(linger=0)
    ctx.term()


def transport(rounds: int) -> None:
    ctx = zmq.Context()
    a, b = ctx.socket(zmq.PAIR), ctx.socket(zmq.PAIR)
    a.bind("inproc://valgrind-transport")
    b.connect("inproc://valgrind-transport")
    t = c.transport
    many = [bytes([i]) * i for i in range(40)]  # more frames than fit on the stack, one empty
    for _ in range(rounds * 50):
        assert t.send_copied(a, [b"x", bytearray(b"y" * 1000), memoryview(b"zz")], 1 << 20)
        assert t.recv_copied(b, 0) == [b"x", b"y" * 1000, b"zz"]
        assert t.send_copied(a, many, 1 << 20)
        assert t.recv_copied(b, 0) == many
        assert t.send_copied(a, [b"f", zmq.Frame(b"frame")], 1 << 20)  # left to pyzmq
        assert t.recv_copied(b, 0) == [b"f", b"frame"]
        assert t.send_copied(a, [b"x", b"big" * 100], 10) is False
        expect(TypeError, t.send_copied, a, [b"x", "str"], 1 << 20)
        expect(ValueError, t.send_copied, a, [b"x", memoryview(b"abcd")[::2]], 1 << 20)
        expect(ValueError, t.send_copied, a, [], 1 << 20)
        expect(zmq.Again, t.recv_copied, b, zmq.NOBLOCK)
    a.close(linger=0)
    b.close(linger=0)
    expect(zmq.ZMQError, t.send_copied, a, [b"x"], 10)
    expect(zmq.ZMQError, t.recv_copied, b, 0)
    ctx.term()


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    print(f"driving {os.path.dirname(c.signing.__file__)}, {rounds} rounds", flush=True)
    for step in (signing, frames, dates, messages, replay, transport, sessions):
        step(rounds)
        gc.collect()
        print(f"{step.__name__}: {rounds} rounds done", flush=True)


if __name__ == "__main__":
    main()
