"""Coverage-guided fuzzing of ``Session.feed_identities`` + ``Session.deserialize`` (atheris).

Every input runs through both twins (compiled and pure Python), with bytes frames
(``copy=True``) or ``zmq.Frame`` frames (``copy=False``), and is checked for:

- RAW:    arbitrary frames to a Session keyed with a key no input is signed with: always a
          ValueError, never accepted, nothing unpacked.
- TAMPER: a message signed with the key, then mutated (bit flips, cuts, drops, swaps,
          duplicated delimiters, replaced frames): unless the signature and the bytes of the
          4 signed frames arrive intact, a ValueError before anything is unpacked. (The HMAC
          covers the frames' concatenation: the same bytes split at other boundaries keep a
          valid signature, in jupyter_client too; such inputs are judged as SIGNED ones.)
- SIGNED: arbitrary bytes as the 4 parts, correctly signed (a peer holding the key), and
- NOKEY:  arbitrary frames to a Session without a key (signing off):
          the outcome must be jupyter_client 8.10's for the same frames (same exception type,
          or an equal message), and the twins must agree exactly (type and message).
          Exceptions other than ValueError/TypeError/KeyError that the reference raises too
          (AttributeError from ``adapt``, RecursionError from deep JSON) are counted as
          "parity"; ``--strict`` makes them crashes.

- MECH (flag 0x10): the mechanisms under Session, called directly on each twin with the
          same (mutated) frames: find_delimiter, frame_sizes, Signer.verify, extract_dates
          and unpack_message (any frame count, every way of handing parts over). The twins
          must agree exactly: the same result, or the same exception type and message.

Input layout: ``flags, op count, 4 bytes per op, frames joined by SEP``.

Run with jsession installed (``pip install -e .`` in a clone builds the compiled core in place)
and ``pip install atheris``; the jsession fuzzed is the one ``import jsession`` finds:

    python fuzz/fuzz_session.py -atheris_runs=1000000 /tmp/jsession-corpus fuzz/corpus

New corpus entries go to the first directory; fuzz/corpus holds the seeds (rebuilt with
``python fuzz/fuzz_session.py --make-corpus fuzz/corpus``). Without atheris,
``python fuzz/fuzz_session.py --mutate 100000 fuzz/corpus`` runs a plain random-mutation loop
over the same checks.
"""

from __future__ import annotations

import atexit
import json
import math
import os
import random
import sys
import time
import warnings
from datetime import datetime, timezone

HERE = os.path.dirname(os.path.abspath(__file__))

KEY = b"fuzz-key-2b7e151628aed2a6"
# RAW mode's receiver: no input is ever signed with this one (seeds are signed with KEY)
RAW_KEY = b"raw-mode-key-c35d0a91e4f8"
SEP = b"\xfe\xff"
RAW, TAMPER, SIGNED, NOKEY = range(4)
MODES = ("raw", "tamper", "signed", "nokey")
MECHANISMS = ("find_delimiter", "frame_sizes", "verify", "extract_dates", "unpack_message")
DOCUMENTED = (ValueError, TypeError, KeyError)
OPS = ("flip", "cut", "append", "drop", "dup", "swap", "delim", "replace", "upper", "nothing")

STRICT = False
stats = {
    "inputs": 0,
    "accepted": 0,
    "refused": 0,
    "reframed": 0,
    "mechanisms": 0,
    "parity": {},
    "by_mode": [0, 0, 0, 0],
}
ss = backend = reference = zmq = orjson = None  # imported in main(), under instrumentation


class Finding(AssertionError):
    """A property broken: the fuzzer records the input as a crash."""


class RecordingUnpacker:
    def __init__(self, unpack):
        self.unpack = unpack
        self.calls = 0

    def __call__(self, data):
        self.calls += 1
        return self.unpack(data)


# ---------------------------------------------------------------- input format


def encode(mode: int, frames: list[bytes], ops=(), frame_objects=False, peek=False, mech=None) -> bytes:
    """An input for TestOneInput (used to write the seed corpus); mech: parts_as, MECH mode."""
    flags = mode | (4 if frame_objects else 0) | (8 if peek else 0)
    if mech is not None:
        flags |= 0x10 | (mech << 5)
    out = bytes([flags, len(ops)])
    for op in ops:
        out += bytes(op)
    return out + SEP.join(frames)


def decode(data: bytes):
    if len(data) < 2:
        return None
    flags, nops = data[0], data[1] % 9
    ops = [tuple(data[2 + 4 * i : 6 + 4 * i]) for i in range(nops)]
    ops = [op for op in ops if len(op) == 4]
    frames = data[2 + 4 * nops :].split(SEP)
    return flags & 3, bool(flags & 4), bool(flags & 8), ops, frames, flags


def _call(function, *args):
    """("ok", comparable result) or ("error", type, message) of a call."""
    try:
        return ("ok", _canon(function(*args)))
    except Exception as e:
        return ("error", type(e), str(e)[:200])


def _json_or_none(frame: bytes):
    try:
        return json.loads(frame.decode("utf8", "replace"))
    except Exception:
        return None


def _mechanisms(wire, frame_objects, peek, parts_as) -> None:
    """MECH mode: every twin's mechanisms over the same frames must agree exactly."""
    items = [zmq.Frame(f) for f in wire] if frame_objects and parts_as else wire
    header = _json_or_none(wire[1]) if len(wire) > 1 else None
    dated = len(wire) < 2 or _has_date(wire[1])

    def unpack(m):
        msg = m.unpack_message(
            list(items), parts_as, orjson.loads, ss.orjson_unpacker, ss.parse_date, not peek, ss.adapt
        )
        if not dated and isinstance(msg.get("header"), dict):
            msg["header"].pop("date", None)  # filled in with "now": differs per call
        return msg

    outcomes = []
    for twin in TWINS:
        m = twin.mechanisms
        outcomes.append(
            [
                _call(m.find_delimiter, items),
                _call(m.frames.frame_sizes, items),
                _call(twin.signer.verify, items[0] if items else b"", items[1:5]),
                _call(m.extract_dates, header, _slow_parse),
                _call(unpack, m),
            ]
        )
    for other in outcomes[1:]:
        for name, a, b in zip(MECHANISMS, outcomes[0], other, strict=True):
            if a != b:
                raise Finding(f"the twins' {name} disagree: {a!r} != {b!r} for {wire!r}")
    stats["mechanisms"] += 1


def _slow_parse(s):
    return ss.parse_date(s)


def mutate(wire: list[bytes], ops) -> list[bytes]:
    wire = list(wire)
    for kind, a, b, c in ops:
        name = OPS[kind % len(OPS)]
        if not wire and name != "delim":
            continue
        i = a % max(len(wire), 1)
        pos = b | (c << 8)
        if name == "flip" and wire[i]:
            frame = bytearray(wire[i])
            frame[pos % len(frame)] ^= 1 << (c % 8)
            wire[i] = bytes(frame)
        elif name == "cut":
            wire[i] = wire[i][: pos % (len(wire[i]) + 1)]
        elif name == "append":
            wire[i] = wire[i] + bytes([b]) * (1 + c % 4)
        elif name == "drop":
            del wire[i]
        elif name == "dup":
            wire.insert(i, wire[i])
        elif name == "swap":
            j = b % len(wire)
            wire[i], wire[j] = wire[j], wire[i]
        elif name == "delim":
            wire.insert(a % (len(wire) + 1), ss.DELIM)
        elif name == "replace":
            wire[i] = bytes([b, c])[: c % 3]
        elif name == "upper":
            wire[i] = wire[i].upper()
    return wire


# ---------------------------------------------------------------- oracles


def _canon(obj):
    """A comparable form: aware datetimes by instant, NaN equal to itself."""
    if isinstance(obj, dict):
        return {k: _canon(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_canon(v) for v in obj]
    if isinstance(obj, datetime):
        if obj.tzinfo is not None:
            return ("datetime", obj.astimezone(timezone.utc).isoformat())
        return ("datetime", obj.isoformat())
    if isinstance(obj, float) and math.isnan(obj):
        return ("nan",)
    if isinstance(obj, (memoryview, bytearray)):
        return bytes(obj)
    return obj


def _has_date(header: bytes) -> bool:
    try:
        value = json.loads(header.decode("utf8", "replace"))
    except Exception:
        return True
    return not isinstance(value, dict) or "date" in value


def _outcome(call, dated: bool):
    """("ok", canonical message) or ("error", type, message) of a deserialize call."""
    try:
        msg = call()
    except Exception as e:
        return ("error", type(e), str(e)[:200])
    if not dated and isinstance(msg.get("header"), dict):
        msg["header"].pop("date", None)  # filled in with "now" by adapt: differs per call
    keys = ("header", "msg_id", "msg_type", "parent_header", "metadata", "content", "buffers")
    return ("ok", _canon({k: msg[k] for k in keys}), list(msg))


def _receive(session, wire, frame_objects, peek):
    if frame_objects:
        frames = [zmq.Frame(f) for f in wire]
        _, rest = session.feed_identities(frames, copy=False)
        return session.deserialize(rest, content=not peek, copy=False)
    _, rest = session.feed_identities(list(wire), copy=True)
    return session.deserialize(rest, content=not peek, copy=True)


class Twin:
    """The Sessions of one implementation, made once (construction is slow)."""

    def __init__(self, name: str):
        backend.use(name)
        self.name = name
        self.keyed = ss.Session(key=KEY)
        self.recorder = RecordingUnpacker(self.keyed.unpack)
        self.watched = ss.Session(key=RAW_KEY)
        self.tamper_watched = ss.Session(key=KEY)
        self.tamper_watched.unpack = self.recorder
        self.watched.unpack = self.recorder
        self.sender = ss.Session(key=KEY)
        self.open = ss.Session(key=b"")
        self.mechanisms = backend.load(name)
        self.signer = self.mechanisms.Signer(KEY, "sha256")


def _clear(*sessions):
    for s in sessions:
        s.digest_history.clear()


def _check_refused(twin: Twin, wire, frame_objects, peek, why: str):
    session = twin.watched if why == "an unsigned" else twin.tamper_watched
    _clear(session)
    twin.recorder.calls = 0
    try:
        _receive(session, wire, frame_objects, peek)
    except ValueError:
        pass
    else:
        raise Finding(f"{twin.name}: {why} message accepted: {wire!r}")
    if twin.recorder.calls:
        raise Finding(f"{twin.name}: unpacked before the signature was verified: {wire!r}")


def _check_against_reference(results, ref_result, wire):
    first = results[0]
    for other in results[1:]:
        if other != first:
            raise Finding(f"the twins disagree: {first!r} != {other!r} for {wire!r}")
    ours, theirs = first, ref_result
    if ours[0] != theirs[0] or (ours[0] == "error" and ours[1] is not theirs[1]):
        raise Finding(f"differs from jupyter_client: {ours!r} != {theirs!r} for {wire!r}")
    if ours[0] == "ok":
        if ours[1] != theirs[1] or ours[2] != theirs[2]:
            raise Finding(f"message differs from jupyter_client: {ours!r} != {theirs!r}")
        stats["accepted"] += 1
        return
    stats["refused"] += 1
    kind = ours[1]
    if not issubclass(kind, DOCUMENTED):
        stats["parity"][kind.__name__] = stats["parity"].get(kind.__name__, 0) + 1
        if STRICT:
            raise Finding(f"undocumented exception {kind.__name__} (the reference raises it too): {ours[2]}")


def TestOneInput(data: bytes) -> None:
    decoded = decode(data)
    if decoded is None:
        return
    mode, frame_objects, peek, ops, frames, flags = decoded
    stats["inputs"] += 1
    if stats["inputs"] % 100_000 == 0:
        _write_stats()
    if flags & 0x10:
        _mechanisms(mutate(frames, ops), frame_objects, peek, (flags >> 5) % 3)
        return
    stats["by_mode"][mode] += 1

    if mode == RAW:
        wire = mutate(frames, ops)
        for twin in TWINS:
            _check_refused(twin, wire, frame_objects, peek, "an unsigned")
        stats["refused"] += 1
        return

    if mode == TAMPER:
        parts = (frames + [b"{}"] * 4)[:4]
        signature = TWINS[0].sender.sign(parts)
        wire = [b"id", ss.DELIM, signature, *parts, *frames[4:]]
        tampered = mutate(wire, ops)
        try:
            d = tampered.index(ss.DELIM)
            signed = tampered[d + 1 : d + 6]
        except ValueError:
            signed = []
        # The protocol's HMAC covers the 4 frames' concatenation, not their boundaries: a
        # message re-split at other points keeps a valid signature (as in jupyter_client).
        authentic = signed[:1] == [signature] and b"".join(signed[1:]) == b"".join(parts)
        if not authentic:
            for twin in TWINS:
                _check_refused(twin, tampered, frame_objects, peek, "a tampered")
            stats["refused"] += 1
            return
        if signed[1:] != parts:
            stats["reframed"] += 1
        mode, wire = SIGNED, tampered  # authentic: judged as a signed message
    elif mode == SIGNED:
        parts = (frames + [b"{}"] * 4)[:4]
        wire = [ss.DELIM, TWINS[0].sender.sign(parts), *parts, *mutate(frames[4:], ops)]
    else:
        wire = mutate(frames, ops)

    dated = True
    if ss.DELIM in wire:
        rest = wire[wire.index(ss.DELIM) + 1 :]
        dated = len(rest) < 2 or _has_date(rest[1])
    results = []
    for twin in TWINS:
        session = twin.keyed if mode == SIGNED else twin.open
        _clear(session)
        results.append(_outcome(lambda s=session: _receive(s, wire, frame_objects, peek), dated))
    oracle = REF_KEYED if mode == SIGNED else REF_OPEN
    _clear(oracle)
    ref_result = _outcome(lambda: _receive(oracle, wire, False, peek), dated)
    _check_against_reference(results, ref_result, wire)


# ---------------------------------------------------------------- driver


def _write_stats() -> None:
    path = os.environ.get("FUZZ_STATS")
    summary = dict(stats, by_mode=dict(zip(MODES, stats["by_mode"], strict=True)), time=time.time())
    text = json.dumps(summary, sort_keys=True)
    if path:
        with open(path, "w") as f:
            f.write(text + "\n")
    else:
        print("fuzz stats:", text, file=sys.stderr, flush=True)


def _setup(instrument: bool) -> None:
    global ss, backend, reference, zmq, orjson, TWINS, REF_KEYED, REF_OPEN
    warnings.simplefilter("ignore")  # naive dates, deprecations: the same in both
    import logging

    logging.disable(logging.WARNING)  # "Message signing is disabled" on every Session
    if instrument:
        import atheris

        with atheris.instrument_imports(include=["jsession"]):
            import jsession._py.dates
            import jsession._py.frames
            import jsession._py.messages
            import jsession._py.signing
            import jsession.session  # noqa: F401
    import orjson as _orjson
    import zmq as _zmq
    from jupyter_client import session as _reference

    from jsession import _backend
    from jsession import session as _ss

    ss, backend, reference, zmq, orjson = _ss, _backend, _reference, _zmq, _orjson
    names = ["compiled", "python"]
    try:
        backend.load("compiled")
    except ImportError:
        print("jsession's compiled core is not built: fuzzing the pure-Python twin only", file=sys.stderr)
        names = ["python"]
    print(f"fuzzing jsession from {os.path.dirname(ss.__file__)}: {', '.join(names)}", file=sys.stderr)
    TWINS = [Twin(name) for name in names]
    REF_KEYED = reference.Session(key=KEY)
    REF_OPEN = reference.Session(key=b"")
    atexit.register(_write_stats)


def make_corpus(directory: str) -> None:
    _setup(instrument=False)
    os.makedirs(directory, exist_ok=True)
    sender = ss.Session(key=KEY, username="seed")
    parent = sender.msg("execute_request", content={"code": "print(1)", "silent": False})
    msgs = [
        sender.msg("execute_reply", content={"status": "ok", "execution_count": 1}, parent=parent),
        sender.msg("status", content={"execution_state": "idle"}, metadata={"t": "2024-01-01T00:00:00Z"}),
        {  # a v4 message: no version, adapted on receipt
            "header": {"msg_id": "a", "msg_type": "execute_request", "username": "u", "session": "s"},
            "parent_header": {},
            "metadata": {},
            "content": {"code": "x", "silent": False},
        },
    ]
    seeds = {}
    for n, msg in enumerate(msgs):
        wire = sender.serialize(msg, ident=b"id")
        parts = wire[3:7]
        seeds[f"raw-{n}"] = encode(RAW, wire + [b"buffer"])
        seeds[f"raw-frames-{n}"] = encode(RAW, wire, frame_objects=True)
        seeds[f"tamper-intact-{n}"] = encode(TAMPER, parts + [b"buf"])
        seeds[f"tamper-flip-{n}"] = encode(TAMPER, parts, ops=[(0, 4, 7, 1)], frame_objects=True)
        seeds[f"tamper-swap-{n}"] = encode(TAMPER, parts, ops=[(5, 3, 4, 0), (6, 2, 0, 0)])
        seeds[f"signed-{n}"] = encode(SIGNED, parts + [b"buf"], frame_objects=n % 2 == 0)
        seeds[f"signed-peek-{n}"] = encode(SIGNED, parts, peek=True)
        seeds[f"nokey-{n}"] = encode(NOKEY, [b"id", ss.DELIM, b"", *parts])
    seeds["nokey-short"] = encode(NOKEY, [ss.DELIM, b"", b"{}"])
    for parts_as in range(3):
        seeds[f"mech-{parts_as}"] = encode(0, wire[2:] + [b"buf"], frame_objects=True, mech=parts_as)
    seeds["mech-short"] = encode(0, wire[2:5], mech=1)
    seeds["signed-dates"] = encode(
        SIGNED,
        [
            b'{"msg_id":"m","msg_type":"t","version":"5.3","date":"2024-02-29T23:59:59.999999+05:30"}',
            b'{"date":"2013-07-03T16:34:52.249482-0800"}',
            b"{}",
            b'{"a":[1,2.5,null,"2013-07-03T16:34:52"]}',
        ],
    )
    for name, data in seeds.items():
        with open(os.path.join(directory, name), "wb") as f:
            f.write(data)
    print(f"wrote {len(seeds)} seeds to {directory}")


def mutate_loop(count: int, directories: list[str], seed: int = 0) -> None:
    """A plain random-mutation loop (no coverage feedback), for when atheris is missing."""
    _setup(instrument=False)
    rng = random.Random(seed)
    paths = [os.path.join(d, name) for d in directories for name in sorted(os.listdir(d))]
    seeds = []
    for path in paths:
        with open(path, "rb") as f:
            seeds.append(f.read())
    seeds = seeds or [b"\x00\x00"]
    for _ in range(count):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 8)):
            choice = rng.random()
            pos = rng.randrange(len(data) + 1)
            if choice < 0.4 and data:
                data[pos % len(data)] ^= 1 << rng.randrange(8)
            elif choice < 0.6:
                data[pos:pos] = rng.randbytes(rng.randint(1, 8))
            elif choice < 0.8 and data:
                del data[pos : pos + rng.randint(1, 8)]
            else:
                data[pos:pos] = rng.choice([SEP, b'"2024-01-01T00:00:00Z"', b"<IDS|MSG>", b"[", b"{"])
        TestOneInput(bytes(data))


def main(argv: list[str]) -> None:
    global STRICT
    if "--strict" in argv:
        STRICT = True
        argv = [a for a in argv if a != "--strict"]
    if len(argv) > 2 and argv[1] == "--make-corpus":
        make_corpus(argv[2])
        return
    if len(argv) > 2 and argv[1] == "--mutate":
        mutate_loop(int(argv[2]), argv[3:])
        return
    import atheris

    _setup(instrument=True)
    atheris.Setup(argv, TestOneInput)
    atheris.Fuzz()


TWINS: list[Twin] = []
REF_KEYED = REF_OPEN = None

if __name__ == "__main__":
    main(sys.argv)
