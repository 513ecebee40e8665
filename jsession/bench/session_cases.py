"""The session section: Session's own work (build, serialize, sign, deserialize, identities),
jsession against jupyter_client, no sockets."""

from __future__ import annotations

import gc
import time
from typing import Any

import zmq

from jsession.bench.case import Case, Op, Section, Target
from jsession.bench.env import Env
from jsession.bench.impls import Impl
from jsession.bench.payloads import EXECUTE_REPLY, EXECUTE_REQUEST, REPLY_METADATA, MiB
from jsession.session import DELIM

IMPLS = ("jsession", "jsession-python", "jupyter_client")


def _reply_parts(impl: Impl) -> tuple[Any, dict, dict]:
    s = impl.session()
    request = s.msg("execute_request", content=EXECUTE_REQUEST)
    reply = s.msg("execute_reply", content=EXECUTE_REPLY, parent=request, metadata=REPLY_METADATA)
    return s, request, reply


def make_msg(impl: Impl, env: Env) -> Op:
    s, request, _ = _reply_parts(impl)
    msg = s.msg
    return Op(lambda: msg("execute_reply", EXECUTE_REPLY, request, None, REPLY_METADATA))


def make_serialize(impl: Impl, env: Env) -> Op:
    s, _, reply = _reply_parts(impl)
    serialize = s.serialize
    return Op(lambda: serialize(reply))


def make_sign(impl: Impl, env: Env) -> Op:
    s, _, reply = _reply_parts(impl)
    frames = s.serialize(reply)
    parts = frames[frames.index(DELIM) + 2 :]
    sign = s.sign
    return Op(lambda: sign(parts))


def make_deserialize(impl: Impl, env: Env) -> Op:
    s = impl.session()
    pool = env.deserialize_pool()
    deserialize = s.deserialize
    position = 0

    def fn() -> Any:
        # one distinct message a call; a replay is refused, so start over with a clean history
        nonlocal position
        if position == len(pool):
            s.digest_history.clear()
            position = 0
        position += 1
        return deserialize(pool[position - 1])

    def batch(calls: int) -> float:
        # the same work without fn's bookkeeping: timed slices of the pool
        nonlocal position
        total = 0.0
        gc.disable()
        try:
            while calls > 0:
                s.digest_history.clear()
                chunk = pool[: min(calls, len(pool))]
                start = time.perf_counter()
                for frames in chunk:
                    deserialize(frames)
                total += time.perf_counter() - start
                calls -= len(chunk)
        finally:
            gc.enable()
            s.digest_history.clear()
            position = 0
        return total

    return Op(fn, batch=batch, max_calls=len(pool))


def make_feed_identities(impl: Impl, env: Env) -> Op:
    s = impl.session()
    ident = b"i" * (64 * MiB)
    frames = s.serialize(s.msg("execute_request", content=EXECUTE_REQUEST))
    feed = s.feed_identities

    def prepare() -> list[zmq.Frame]:
        # fresh frames each time, as received: pyzmq caches Frame.bytes after a first copy
        return [zmq.Frame(ident, copy=False)] + [zmq.Frame(f) for f in frames]

    return Op(lambda msg_list: feed(msg_list, copy=False), prepare=prepare)


SECTION = Section(
    "session",
    "Session, in memory",
    (
        Case("msg", "msg (build an execute_reply)", IMPLS, make_msg, (Target("speedup", 2.5),)),
        Case("serialize", "serialize (execute_reply)", IMPLS, make_serialize, (Target("speedup", 2.0),)),
        Case("sign", "sign (4 frames, ~600 B)", IMPLS, make_sign, (Target("speedup", 3.5),)),
        Case(
            "deserialize",
            "deserialize (distinct messages)",
            IMPLS,
            make_deserialize,
            (Target("speedup", 8.0),),
        ),
        Case(
            "feed_identities",
            "feed_identities(copy=False), 64 MiB ident",
            IMPLS,
            make_feed_identities,
            (Target("abs_max", 5e-6),),
        ),
    ),
)
