"""What a benchmark case is: the operation timed, its target, and the section it belongs to."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jsession.bench.env import Env
    from jsession.bench.impls import Impl
    from jsession.bench.runner import CaseResult, Progress, Settings


@dataclass
class Op:
    """One benchmarked operation.

    ``fn()`` does ``per_call`` operations. With ``prepare``, each call is ``fn(prepare())``
    and only ``fn`` is timed (the pytest suite uses ``benchmark.pedantic`` with a setup).
    ``before`` runs untimed before each batch (clearing replay histories, for instance).
    ``batch(n)`` may be given to time n operations some other way.
    """

    fn: Callable[..., Any]
    prepare: Callable[[], Any] | None = None
    before: Callable[[], Any] | None = None
    per_call: int = 1
    batch: Callable[[int], float] | None = None
    close: Callable[[], Any] | None = None
    max_calls: int = 1_000_000
    wall: float = 0.0

    def time(self, calls: int) -> float:
        """Seconds taken by ``calls`` calls of fn (with gc off, as timeit does).

        ``wall`` is set to the whole batch's duration, untimed preparation included.
        """
        wall_start = time.perf_counter()
        try:
            if self.before is not None:
                self.before()
            if self.batch is not None:
                return self.batch(calls)
            return self._loop(calls)
        finally:
            self.wall = time.perf_counter() - wall_start

    def _loop(self, calls: int) -> float:
        fn, prepare = self.fn, self.prepare
        gc_was_on = gc.isenabled()
        gc.disable()
        try:
            if prepare is None:
                start = time.perf_counter()
                for _ in range(calls):
                    fn()
                return time.perf_counter() - start
            total = 0.0
            clock = time.perf_counter
            for _ in range(calls):
                arg = prepare()
                start = clock()
                result = fn(arg)
                total += clock() - start
                del result, arg
            return total
        finally:
            if gc_was_on:
                gc.enable()


# kind -> what is compared
TARGET_KINDS = {
    "speedup": "baseline time / subject time >= {:g}",
    "vs_floor": "subject time / floor time <= {:g}",
    "abs_max": "subject time < {:g} s",
    "rss_max": "peak RSS growth / buffer size <= {:g}",
}


@dataclass(frozen=True)
class Target:
    """A bound on one figure of a case: see ``TARGET_KINDS``."""

    kind: str
    bound: float

    def __post_init__(self) -> None:
        if self.kind not in TARGET_KINDS:
            raise ValueError(f"unknown target kind {self.kind!r}")

    def text(self) -> str:
        return TARGET_KINDS[self.kind].format(self.bound)


# a case's own way of producing its result, when it is not a timed Op (a measurement in
# processes of its own, for instance)
CaseRunner = Callable[["Case", "list[Impl]", "Env", "Settings", "Progress"], "CaseResult"]


@dataclass
class Case:
    """One benchmark case.

    ``impls`` take part in it; ``subject`` is the one the targets judge, ``baseline`` the one
    its speedup is measured against, and ``floor`` the implementations whose fastest is the
    floor under it (the least any implementation of the same work could take).
    ``make(impl, env)`` returns the Op to time; ``run``, when given, replaces the timing.
    """

    name: str
    label: str
    impls: tuple[str, ...]
    make: Callable[[Impl, Env], Op] | None
    targets: tuple[Target, ...]
    note: str = ""
    subject: str = "jsession"
    baseline: str | None = "jupyter_client"
    floor: tuple[str, ...] = ()
    unit: str = "seconds per operation"
    run: CaseRunner | None = None


@dataclass
class Section:
    """A group of cases chosen together on the command line (``--section NAME``).

    Sections with the same ``table`` are shown in one table; ``default`` ones run when no
    section is named.
    """

    name: str
    title: str
    cases: tuple[Case, ...]
    default: bool = True
    table: str = "main"
    notes: list[str] = field(default_factory=list)
