"""The command line: ``python -m jsession.bench [--section NAMES] [--quick] [--json FILE]
[--plot FILE.png]``."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from jsession.bench import memory
from jsession.bench.impls import IMPLS
from jsession.bench.report import machine_info, tables, to_json
from jsession.bench.runner import Progress, Settings, quick_settings, run
from jsession.bench.sections import CASES, SECTIONS, UNAVAILABLE, select


def _sections(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in SECTIONS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown section {', '.join(unknown)} (choose from {', '.join(SECTIONS)})"
        )
    return names


def _load() -> str:
    """The 1-minute load average: other work on the machine skews every figure."""
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:
        return "?"


def _list() -> str:
    lines = []
    for section in SECTIONS.values():
        default = "" if section.default else " (not run by default)"
        lines.append(f"{section.name}: {section.title}{default}")
        lines += [f"  {case.name}: {case.label.format(size='1 GiB')}" for case in section.cases]
    lines += [f"{name}: unavailable ({why})" for name, why in UNAVAILABLE.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m jsession.bench",
        description="Time jsession, jupyter_client 8.10 and raw pyzmq on the same cases, in turns.",
    )
    parser.add_argument(
        "--section",
        type=_sections,
        metavar="NAMES",
        help=f"run these sections, comma-separated ({', '.join(SECTIONS)}; default: "
        f"{','.join(s.name for s in SECTIONS.values() if s.default)})",
    )
    parser.add_argument(
        "--case", action="append", choices=list(CASES), help="run only this case (repeatable)"
    )
    parser.add_argument("--list", action="store_true", help="list the sections and their cases")
    parser.add_argument("--quick", action="store_true", help="fewer, shorter repeats (under 20 s)")
    parser.add_argument("--json", metavar="FILE", help="write the figures to FILE")
    parser.add_argument(
        "--plot", metavar="FILE.png", help="draw a bar chart of the ratios (needs matplotlib)"
    )
    parser.add_argument(
        "--runs",
        type=int,
        default=1,
        metavar="N",
        help="run everything N times: the table shows the last run, and the range of each "
        "target's figure over the N runs",
    )
    parser.add_argument("--repeats", type=int, help="timed batches per implementation and case")
    parser.add_argument("--batch", type=float, metavar="SECONDS", help="length of one timed batch")
    parser.add_argument("--big-size", type=int, metavar="BYTES", help="buffer size of the RSS case (1 GiB)")
    parser.add_argument("--python-twin", action="store_true", help="also time jsession's pure-Python core")
    parser.add_argument("--no-progress", action="store_true", help="no progress on stderr")
    parser.add_argument(
        "--crossover",
        action="store_true",
        help="time copy against zero copy for one frame of 16 KiB .. 8 MiB, and say where "
        "zero copy starts to win",
    )
    parser.add_argument(
        "--transport",
        choices=("ipc", "tcp", "inproc"),
        default="ipc",
        help="the transport --crossover measures (default: ipc)",
    )
    parser.add_argument(
        "--cold-malloc",
        action="store_true",
        help="do not warm the C allocator first (see jsession.bench.env.warm_allocator)",
    )
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        role, impl_name, addr, size = args.child
        (memory.child_receive if role == "receive" else memory.child_send)(impl_name, addr, int(size))
        return 0
    if args.list:
        print(_list())
        return 0

    settings = quick_settings() if args.quick else Settings()
    if args.repeats:
        settings.repeats = args.repeats
    if args.batch:
        settings.batch_seconds = args.batch
    if args.big_size:
        settings.big_size = args.big_size
    if args.cold_malloc:
        settings.warm_malloc = False
    if args.python_twin:
        settings.skip = settings.skip - {"jsession-python"}
    if not IMPLS["jupyter_client"].available():
        print("jupyter_client is not installed: timing jsession and pyzmq only", file=sys.stderr)

    if args.crossover:
        from jsession.bench import crossover

        measured = crossover.measure(settings, Progress(quiet=args.no_progress), args.transport)
        print(crossover.table(measured, args.transport, settings.warm_malloc))
        return 0

    cases = select(args.section, args.case)
    load_before = _load()
    start = time.perf_counter()
    every_run = []
    for number in range(args.runs):
        progress = Progress(quiet=args.no_progress)
        if args.runs > 1:
            progress.done(f"run {number + 1} of {args.runs}")
        every_run.append(run(settings, cases, progress))
    seconds = time.perf_counter() - start
    results = every_run[-1]

    info = machine_info()
    runs = f"; the last of {args.runs} runs, with the range over all" if args.runs > 1 else ""
    print(
        f"jsession {info['jsession']} ({info['jsession_core']} core), jupyter_client "
        f"{info['jupyter_client']}, pyzmq {info['pyzmq']} (libzmq {info['libzmq']}), "
        f"Python {info['python']}, {info['cpus']} CPUs, load average {load_before} -> {_load()}; "
        f"best of {settings.repeats} interleaved repeats{runs}, {seconds:.0f} s"
    )
    print("\n\n".join(tables(results, every_run if args.runs > 1 else None)))
    if args.json:
        data = to_json(results, settings, seconds)
        data["earlier_runs"] = [to_json(r, settings, seconds)["cases"] for r in every_run[:-1]]
        with open(args.json, "w") as f:
            json.dump(data, f, indent=2)
    if args.plot:
        from jsession.bench.chart import plot

        plot(results, args.plot)
    return 0
