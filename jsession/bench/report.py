"""The report: the results as Markdown tables (one per table of sections), as JSON, and the
machine they were measured on."""

from __future__ import annotations

import os
import platform
from typing import Any

import zmq

import jsession
from jsession import _backend
from jsession.bench.case import Case, Target
from jsession.bench.impls import IMPLS
from jsession.bench.runner import CaseResult, Settings, fmt_time, fmt_value
from jsession.bench.sections import section_of


def _short(name: str | None) -> str:
    if name is None:
        return "-"
    return IMPLS[name].short or name


def _floor_name(case: Case) -> str:
    return "floor"


def fmt_target(case: Case, target: Target) -> str:
    return {
        "speedup": lambda b: f">= {b:g}x faster than {_short(case.baseline)}",
        "vs_floor": lambda b: f"<= {b:g}x {_floor_name(case)}",
        "abs_max": lambda b: f"< {fmt_time(b)}",
        "rss_max": lambda b: f"<= {b:g}x buffer size",
    }[target.kind](target.bound)


def _ratio_headings(results: list[CaseResult]) -> tuple[str, str]:
    vs_baseline = vs_floor = None
    for r in results:
        if vs_baseline is None and r.case.baseline:
            vs_baseline = f"{_short(r.case.baseline)} / {_short(r.case.subject)}"
        if vs_floor is None and r.case.floor:
            vs_floor = f"{_short(r.case.subject)} / {_floor_name(r.case)}"
    return vs_baseline or "speedup", vs_floor or "over floor"


def fmt_figure(result: CaseResult, target: Target, value: float | None) -> str:
    if value is None:
        return "?"
    if target.kind == "abs_max":
        return fmt_time(value)
    return f"{value:.3f}x" if target.kind == "rss_max" else f"{value:.2f}x"


def _range(case: Case, history: list[list[CaseResult]]) -> str:
    """Each target's figure over several runs: lowest-highest."""
    cells = []
    for target in case.targets:
        runs = [r for results in history for r in results if r.case.name == case.name]
        values = [v for v in (r.figure(target) for r in runs) if v is not None]
        if not values:
            cells.append("?")
            continue
        low, high = min(values), max(values)
        text = fmt_figure(runs[0], target, low)
        if fmt_figure(runs[0], target, high) != text:
            text = text.rstrip("x") + "-" + fmt_figure(runs[0], target, high)
        cells.append(text)
    return "; ".join(cells)


def table(results: list[CaseResult], history: list[list[CaseResult]] | None = None) -> str:
    """Results as a Markdown table: time per operation of each implementation, the ratios,
    the targets and whether they are met; with ``history`` (several runs' results), the
    range of each target's figure over them."""
    shown = [n for n in IMPLS if IMPLS[n].column and any(n in r.best for r in results)]
    floors = any(r.case.floor for r in results)
    head = [
        "case",
        *(IMPLS[n].label for n in shown),
        *(["floor (the faster)"] if floors else []),
        *_ratio_headings(results),
        "target",
        "met",
        *([f"range over {len(history)} runs"] if history else []),
    ]
    rows = []
    for r in results:
        ratios = r.ratios()
        vs_baseline, vs_floor = ratios["vs_baseline"], ratios["vs_floor"]
        verdicts = [r.target_met(t) for t in r.case.targets]
        floor = r.floor()
        floor_cell = "-" if floor is None else f"{fmt_value(r, floor[1])} ({_short(floor[0])})"
        rows.append(
            [
                r.label,
                *(fmt_value(r, r.best.get(n)) for n in shown),
                *([floor_cell] if floors else []),
                "-" if vs_baseline is None else f"{vs_baseline:.2f}x",
                "-" if vs_floor is None else f"{vs_floor:.2f}x",
                "; ".join(fmt_target(r.case, t) for t in r.case.targets),
                ", ".join("?" if v is None else "yes" if v else "**no**" for v in verdicts),
                *([_range(r.case, history)] if history else []),
            ]
        )
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(head), sep, *(line(r) for r in rows)])


def tables(results: list[CaseResult], history: list[list[CaseResult]] | None = None) -> list[str]:
    """One table per group of sections sharing a ``table``, in the order they ran."""
    groups: dict[str, list[CaseResult]] = {}
    for r in results:
        groups.setdefault(section_of(r.case.name).table, []).append(r)
    return [table(group, history) for group in groups.values()]


def machine_info() -> dict[str, Any]:
    import ssl

    info: dict[str, Any] = {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "jsession": jsession.__version__,
        "jsession_core": _backend.IMPLEMENTATION,
        "pyzmq": zmq.pyzmq_version(),
        "libzmq": zmq.zmq_version(),
        "openssl (python)": ssl.OPENSSL_VERSION,
    }
    try:
        info["load_average"] = os.getloadavg()
    except OSError:
        info["load_average"] = None
    for name in ("jupyter_client", "orjson"):
        try:
            from importlib.metadata import version

            info[name] = version(name)
        except Exception:
            info[name] = None
    return info


def to_json(results: list[CaseResult], settings: Settings, seconds: float) -> dict[str, Any]:
    cases = {}
    for r in results:
        floor = r.floor()
        cases[r.case.name] = {
            "label": r.label,
            "section": section_of(r.case.name).name,
            "unit": r.case.unit,
            "best": r.best,
            "runs": r.runs,
            "calls_per_batch": r.calls,
            "ratios": r.ratios(),
            "floor": None if floor is None else {"impl": floor[0], "seconds": floor[1]},
            "targets": [
                {
                    "kind": t.kind,
                    "bound": t.bound,
                    "text": t.text(),
                    "figure": r.figure(t),
                    "met": r.target_met(t),
                }
                for t in r.case.targets
            ],
            "met": r.met(),
            "note": r.case.note,
            **({"details": r.extra} if r.extra else {}),
        }
    return {
        "machine": machine_info(),
        "settings": {
            "repeats": settings.repeats,
            "batch_seconds": settings.batch_seconds,
            "big_size": settings.big_size,
            "quick": settings.quick,
        },
        "wall_seconds": seconds,
        "cases": cases,
    }
