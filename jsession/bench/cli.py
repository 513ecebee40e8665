"""The command line: ``python -m jsession.bench [--section NAMES] [--quick] [--json FILE]
[--plot FILE.png]``."""

from __future__ import annotations

import argparse
import json
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


def _list() -> str:
    lines = []
    for section in SECTIONS.values():
        default = "" if section.default else " (not run by default)"
        lines.append(f"{section.name}: {section.title}{default}")
        lines += [f"  {case.name}: {case.label}" for case in section.cases]
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
    parser.add_argument("--repeats", type=int, help="timed batches per implementation and case")
    parser.add_argument("--batch", type=float, metavar="SECONDS", help="length of one timed batch")
    parser.add_argument("--big-size", type=int, metavar="BYTES", help="buffer size of the RSS case (1 GiB)")
    parser.add_argument("--python-twin", action="store_true", help="also time jsession's pure-Python core")
    parser.add_argument("--no-progress", action="store_true", help="no progress on stderr")
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
    if args.python_twin:
        settings.skip = settings.skip - {"jsession-python"}
    if not IMPLS["jupyter_client"].available():
        print("jupyter_client is not installed: timing jsession and pyzmq only", file=sys.stderr)

    cases = select(args.section, args.case)
    start = time.perf_counter()
    results = run(settings, cases, Progress(quiet=args.no_progress))
    seconds = time.perf_counter() - start

    info = machine_info()
    print(
        f"jsession {info['jsession']} ({info['jsession_core']} core), jupyter_client "
        f"{info['jupyter_client']}, pyzmq {info['pyzmq']} (libzmq {info['libzmq']}), "
        f"Python {info['python']}, {info['cpus']} CPUs; best of {settings.repeats} "
        f"interleaved repeats, {seconds:.0f} s"
    )
    print("\n\n".join(tables(results)))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(to_json(results, settings, seconds), f, indent=2)
    if args.plot:
        from jsession.bench.chart import plot

        plot(results, args.plot)
    return 0
