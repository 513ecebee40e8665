"""The runner: implementations take turns on each case, in timed batches of calibrated length,
and each one's best batch is kept."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Any

from jsession import _backend
from jsession.bench.case import Case, Op, Target
from jsession.bench.env import Env, warm_allocator
from jsession.bench.impls import IMPLS, Impl
from jsession.bench.payloads import GiB, MiB


@dataclass
class Settings:
    repeats: int = 9
    batch_seconds: float = 0.12
    big_size: int = GiB
    quick: bool = False
    #: implementations never timed (jsession's pure-Python twin unless asked for)
    skip: frozenset[str] = frozenset({"jsession-python"})
    #: whether to warm the C allocator first (see env.warm_allocator)
    warm_malloc: bool = True


def quick_settings() -> Settings:
    # --quick receives 256 MiB instead of 1 GiB: moving 1 GiB through ipc takes seconds
    return Settings(repeats=3, batch_seconds=0.02, big_size=256 * MiB, quick=True)


@dataclass
class CaseResult:
    case: Case
    best: dict[str, float] = field(default_factory=dict)  # seconds per op, or a ratio
    runs: dict[str, list[float]] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    size: int = 0  # the buffer size, for the RSS case

    @property
    def label(self) -> str:
        size = f"{self.size / GiB:g} GiB" if self.size >= GiB else f"{self.size // MiB} MiB"
        return self.case.label.format(size=size)

    def floor(self) -> tuple[str, float] | None:
        """The fastest of the case's floor implementations: (name, seconds)."""
        timed = [(self.best[name], name) for name in self.case.floor if name in self.best]
        if not timed:
            return None
        seconds, name = min(timed)
        return name, seconds

    def ratios(self) -> dict[str, float | None]:
        """``vs_baseline``: baseline time over subject time (a speedup); ``vs_floor``: subject
        time over the floor's."""
        if self.case.unit != "seconds per operation":
            return {"vs_baseline": None, "vs_floor": None}
        subject = self.best.get(self.case.subject)
        baseline = self.best.get(self.case.baseline) if self.case.baseline else None
        floor = self.floor()
        return {
            "vs_baseline": baseline / subject if subject and baseline else None,
            "vs_floor": subject / floor[1] if subject and floor else None,
        }

    def figure(self, target: Target) -> float | None:
        """The figure a target bounds."""
        if target.kind == "speedup":
            return self.ratios()["vs_baseline"]
        if target.kind == "vs_floor":
            return self.ratios()["vs_floor"]
        return self.best.get(self.case.subject)

    def target_met(self, target: Target) -> bool | None:
        value = self.figure(target)
        if value is None:
            return None
        if target.kind == "speedup":
            return value >= target.bound
        if target.kind == "abs_max":
            return value < target.bound
        return value <= target.bound

    def met(self) -> bool | None:
        """Whether every target is met (None when one could not be measured)."""
        verdicts = [self.target_met(t) for t in self.case.targets]
        if any(v is None for v in verdicts):
            return None
        return all(verdicts)


class Progress:
    def __init__(self, stream: Any = sys.stderr, quiet: bool = False) -> None:
        self.stream = stream
        self.quiet = quiet
        self.live = hasattr(stream, "isatty") and stream.isatty()

    def update(self, text: str) -> None:
        # a log (not a terminal) gets only the finished cases
        if self.live and not self.quiet:
            self.stream.write("\r\x1b[2K" + text)
            self.stream.flush()

    def done(self, text: str) -> None:
        if self.quiet:
            return
        self.stream.write(("\r\x1b[2K" if self.live else "") + text + "\n")
        self.stream.flush()


def fmt_time(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def fmt_value(result: CaseResult, value: float | None) -> str:
    if value is None:
        return "-"
    if result.case.unit == "ratio":
        return f"{value:.3f}x"
    return fmt_time(value)


def calibrate(op: Op, seconds: float) -> int:
    """Calls per batch so that a batch's timed part lasts about ``seconds`` (and the whole
    batch, untimed preparation included, at most about three times that)."""
    calls = 1
    while True:
        elapsed = op.time(calls)
        spent = max(elapsed, op.wall / 3, 1e-9)
        if spent >= seconds / 4 or calls >= op.max_calls:
            break
        calls = min(op.max_calls, calls * max(2, min(50, int(seconds / 4 / spent))))
    return max(1, min(op.max_calls, round(calls * seconds / spent)))


def run_timed_case(
    case: Case, impls: list[Impl], env: Env, settings: Settings, progress: Progress
) -> CaseResult:
    """Every implementation's Op, timed in turns: ``settings.repeats`` batches each."""
    assert case.make is not None, case.name
    result = CaseResult(case)
    ops: dict[str, Op] = {}
    try:
        for impl in impls:
            progress.update(f"{case.name}: setting up {impl.name}")
            ops[impl.name] = case.make(impl, env)
        for name, op in ops.items():
            progress.update(f"{case.name}: calibrating {name}")
            IMPLS[name].activate()
            op.time(1)  # warm up
            result.calls[name] = calibrate(op, settings.batch_seconds)
            result.runs[name] = []
        names = list(ops)
        for repeat in range(settings.repeats):
            shift = repeat % len(names)
            for name in names[shift:] + names[:shift]:  # a rotating order: no one always goes first
                IMPLS[name].activate()
                op, calls = ops[name], result.calls[name]
                result.runs[name].append(op.time(calls) / (calls * op.per_call))
            best = "  ".join(f"{n} {fmt_time(min(result.runs[n]))}" for n in names)
            progress.update(f"{case.name} [{repeat + 1}/{settings.repeats}]  {best}")
    finally:
        for op in ops.values():
            if op.close is not None:
                op.close()
    result.best = {name: min(runs) for name, runs in result.runs.items()}
    return result


def run(settings: Settings, cases: list[Case], progress: Progress | None = None) -> list[CaseResult]:
    """Run the cases in order, each over the implementations taking part that can run here."""
    progress = progress or Progress()
    before = _backend.IMPLEMENTATION
    if settings.warm_malloc:
        warm_allocator()
    env = Env(quick=settings.quick)
    results = []
    try:
        for index, case in enumerate(cases):
            taking_part = [IMPLS[n] for n in case.impls if n not in settings.skip and IMPLS[n].available()]
            start = time.perf_counter()
            runner = case.run or run_timed_case
            result = runner(case, taking_part, env, settings, progress)
            results.append(result)
            shown = "  ".join(f"{n} {fmt_value(result, v)}" for n, v in result.best.items())
            took = time.perf_counter() - start
            progress.done(f"[{index + 1}/{len(cases)}] {case.name}: {shown}  ({took:.1f} s)")
    finally:
        env.close()
        _backend.use(before)
    return results
