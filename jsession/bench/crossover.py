"""Copy or zero copy: where sending a frame without a copy starts to pay, on this machine.

``python -m jsession.bench --crossover`` times pyzmq sending one frame of each size and
receiving it (copy=False), with the frame copied (``send(copy=True)``) or not (a
``zmq.Frame(copy=False)``), in two patterns: one message at a time, and 16 sent before the
16 are received (a stream). Both ways take turns, as in every case. ``Session.send``'s
measured default (``jsession.session.ZERO_COPY_MIN``) comes from this table.
"""

from __future__ import annotations

import os

import zmq

from jsession.bench.case import Case, Op
from jsession.bench.env import Env, warm_allocator
from jsession.bench.impls import Impl
from jsession.bench.runner import CaseResult, Progress, Settings, fmt_time, run_timed_case

KiB = 1 << 10
SIZES = tuple(KiB << n for n in range(4, 14))  # 16 KiB .. 8 MiB
PATTERNS = {"one at a time": 1, "16 in flight": 16}
IMPLS = ("pyzmq-copy", "pyzmq-zerocopy")


def _size(n: int) -> str:
    return f"{n >> 20} MiB" if n >= 1 << 20 else f"{n >> 10} KiB"


def _make(size: int, in_flight: int, transport: str):  # type: ignore[no-untyped-def]
    data = os.urandom(size)

    def make(impl: Impl, env: Env) -> Op:
        a, b = env.pair(transport)
        a.copy_threshold = 0  # pyzmq's own rule would copy a zero-copy frame under 64 KiB
        send, recv = a.send, b.recv
        if impl.name == "pyzmq-copy":

            def fn() -> None:
                for _ in range(in_flight):
                    send(data, 0, True)
                for _ in range(in_flight):
                    recv(0, False)

        else:
            Frame = zmq.Frame

            def fn() -> None:
                for _ in range(in_flight):
                    send(Frame(data, copy=False), 0, False)
                for _ in range(in_flight):
                    recv(0, False)

        return Op(fn, per_call=in_flight)

    return make


def measure(settings: Settings, progress: Progress, transport: str = "ipc") -> dict[str, list[CaseResult]]:
    """pattern -> one result per size (best seconds per message, copy and zero copy)."""
    if settings.warm_malloc:
        warm_allocator()
    env = Env(quick=settings.quick)
    results: dict[str, list[CaseResult]] = {}
    try:
        for pattern, in_flight in PATTERNS.items():
            for size in SIZES:
                case = Case(
                    f"frame_{size}",
                    f"send+recv one {_size(size)} frame, {transport}, {pattern}",
                    IMPLS,
                    _make(size, in_flight, transport),
                    (),
                    subject="pyzmq-zerocopy",
                    baseline="pyzmq-copy",
                )
                result = run_timed_case(case, [_impl(n) for n in IMPLS], env, settings, progress)
                results.setdefault(pattern, []).append(result)
                ratio = result.best["pyzmq-zerocopy"] / result.best["pyzmq-copy"]
                progress.done(f"{case.label}: zero copy / copy {ratio:.2f}")
    finally:
        env.close()
    return results


def _impl(name: str) -> Impl:
    from jsession.bench.impls import IMPLS as registry

    return registry[name]


def crossover(results: list[CaseResult]) -> int | None:
    """The smallest size from which zero copy is faster at that size and every larger one."""
    found = None
    for r in reversed(results):
        if r.best["pyzmq-zerocopy"] < r.best["pyzmq-copy"]:
            found = r
        else:
            break
    return None if found is None else int(found.case.name.split("_")[1])


def table(results: dict[str, list[CaseResult]], transport: str, warm: bool = True) -> str:
    patterns = list(results)
    head = ["frame size"]
    for p in patterns:
        head += [f"{p}: copy", "zero copy", "zero copy / copy"]
    rows = []
    for i, size in enumerate(SIZES):
        row = [_size(size)]
        for p in patterns:
            best = results[p][i].best
            copy, zero = best["pyzmq-copy"], best["pyzmq-zerocopy"]
            row += [fmt_time(copy), fmt_time(zero), f"{zero / copy:.2f}"]
        rows.append(row)
    widths = [max(len(x) for x in col) for col in zip(head, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    found = []
    for p in patterns:
        at = crossover(results[p])
        found.append(f"{p}: {'never' if at is None else 'from ' + _size(at)}")
    state = "warmed" if warm else "cold (--cold-malloc)"
    summary = (
        f"send+recv of one frame over {transport}, C allocator {state}; zero copy is faster "
        + "; ".join(found)
    )
    return "\n".join([summary, "", line(head), sep, *(line(r) for r in rows)])
