"""The transport section: send + recv over ipc sockets, against raw pyzmq moving the same
frames, and the peak memory of a 1 GiB receive."""

from __future__ import annotations

import random

from jsession.bench.case import Case, Op, Section, Target
from jsession.bench.env import Env
from jsession.bench.impls import Impl, serializing_session
from jsession.bench.memory import run_big_case
from jsession.bench.payloads import COMM_CONTENT, EXECUTE_REQUEST, MiB, display_data_content

IMPLS = ("jsession", "jsession-python", "jupyter_client", "pyzmq")
FLOOR = ("pyzmq",)

#: jupyter_client's (and pyzmq's) size from which a frame is sent without a copy.
COPY_THRESHOLD = 1 << 16


def _round_trip(
    impl: Impl,
    env: Env,
    msg_type: str,
    content: dict,
    buffers: list | None,
    copy: bool,
    per_call: int = 1,
) -> Op:
    """send + recv of ``per_call`` messages over an ipc PAIR (one thread, sends first)."""
    a, b = env.pair()
    if impl.kind == "pyzmq":
        s = serializing_session()
        frames = s.serialize(s.msg(msg_type, content=content)) + list(buffers or ())
        # the same frames, and the same whole-message copy rule as jupyter_client's send
        send_copy = max(len(memoryview(f)) for f in frames) < COPY_THRESHOLD
        send_multipart, recv_multipart = a.send_multipart, b.recv_multipart

        def raw_fn() -> None:
            for _ in range(per_call):
                send_multipart(frames, 0, send_copy)
            for _ in range(per_call):
                recv_multipart(0, copy)

        return Op(raw_fn, per_call=per_call)

    sender, receiver = impl.session(), impl.session()
    send, recv = sender.send, receiver.recv

    def fn() -> None:
        for _ in range(per_call):
            send(a, msg_type, content=content, buffers=buffers)
        for _ in range(per_call):
            recv(b, mode=0, copy=copy)

    return Op(fn, before=lambda: receiver.digest_history.clear(), per_call=per_call)


def make_roundtrip_small(impl: Impl, env: Env) -> Op:
    return _round_trip(impl, env, "execute_request", EXECUTE_REQUEST, None, copy=True)


def make_stream_64k(impl: Impl, env: Env) -> Op:
    buffer = random.Random(1).randbytes(64 * 1024)
    return _round_trip(impl, env, "comm_msg", COMM_CONTENT, [buffer], copy=False, per_call=16)


def make_roundtrip_4mib(impl: Impl, env: Env) -> Op:
    content = display_data_content(4 * MiB)
    return _round_trip(impl, env, "display_data", content, None, copy=False)


SECTION = Section(
    "transport",
    "send + recv over ipc",
    (
        Case(
            "roundtrip_small",
            "send+recv execute_request, ipc",
            IMPLS,
            make_roundtrip_small,
            (Target("vs_floor", 1.3),),
            floor=FLOOR,
        ),
        Case(
            "stream_64k",
            "stream, 64 KiB buffer each, ipc",
            IMPLS,
            make_stream_64k,
            (Target("vs_floor", 1.2),),
            note="per message; 16 sent, then 16 received (copy=False)",
            floor=FLOOR,
        ),
        Case(
            "roundtrip_4mib",
            "send+recv display_data, 4 MiB JSON, ipc",
            IMPLS,
            make_roundtrip_4mib,
            (Target("speedup", 1.2),),
            note="recv(copy=False)",
            floor=FLOOR,
        ),
        Case(
            "recv_1gib",
            "recv {size} buffer copy=False: RSS growth",
            IMPLS,
            None,
            (Target("rss_max", 1.05),),
            note="receiver and sender in processes of their own",
            unit="ratio",
            run=run_big_case,
        ),
    ),
)
