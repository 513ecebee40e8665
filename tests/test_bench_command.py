"""``python -m jsession.bench --quick --json FILE`` runs and writes sane figures.

Only that the command works is checked here: no timing is asserted (the benchmarks report
speed, they do not test it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import jsession
from jsession import bench
from jsession.bench.sections import select

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the command's ipc cases are measured on Linux"
)


def test_quick_run_writes_every_case(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    # the same jsession as this test imports, from outside the source tree
    root = os.path.dirname(os.path.dirname(os.path.abspath(jsession.__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, (root, os.environ.get("PYTHONPATH")))))
    proc = subprocess.run(
        [sys.executable, "-m", "jsession.bench", "--quick", "--json", str(out)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,  # two kernels start for the kernels section
    )
    assert proc.returncode == 0, proc.stderr
    assert "| case" in proc.stdout  # the table
    n = len(select(None, None))
    assert f"[{n}/{n}]" in proc.stderr  # progress, one line per finished case

    data = json.loads(out.read_text())
    assert data["settings"]["quick"] is True
    assert data["machine"]["python"]
    assert set(data["cases"]) == {c.name for c in select(None, None)}  # the default sections
    have_jc = bench.IMPLS["jupyter_client"].available()
    for name, case in data["cases"].items():
        expected = set(bench.CASES[name].impls) - {"jsession-python"}
        if not have_jc:
            expected.discard("jupyter_client")
        assert set(case["best"]) == expected, name
        for impl, best in case["best"].items():
            assert best > 0 and len(case["runs"][impl]) >= 1, (name, impl)
        assert case["met"] in (True, False), name
        assert case["targets"] and all(t["kind"] in bench.TARGET_KINDS for t in case["targets"]), name
        assert case["section"] in bench.SECTIONS, name
        if bench.CASES[name].floor:  # the floor is the fastest of the floor implementations
            floor = case["floor"]
            assert floor["impl"] in bench.CASES[name].floor, name
            assert floor["seconds"] == min(case["best"][n] for n in bench.CASES[name].floor), name
    growth = data["cases"]["recv_1gib"]["best"]["jsession"]
    assert 0.5 < growth < 3  # peak RSS growth over the buffer size: a ratio near 1


def test_stack_section_times_stock_and_switched(tmp_path: Path) -> None:
    # the stack section's cheapest case: python -c pass, stock and with run's environment
    out = tmp_path / "stack.json"
    root = os.path.dirname(os.path.dirname(os.path.abspath(jsession.__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, (root, os.environ.get("PYTHONPATH")))))
    proc = subprocess.run(
        [sys.executable, "-m", "jsession.bench", "--quick", "--case", "stack_startup", "--json", str(out)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    case = json.loads(out.read_text())["cases"]["stack_startup"]
    assert case["section"] == "stack" and not bench.SECTIONS["stack"].default
    assert set(case["best"]) == {"stack-stock", "stack-switched"}
    assert all(len(runs) == 10 and min(runs) > 0 for runs in case["runs"].values())


def test_sections_partition_the_cases() -> None:
    # every case belongs to exactly one section, and the default run is the default sections
    named = [case.name for section in bench.SECTIONS.values() for case in section.cases]
    assert sorted(named) == sorted(bench.CASES)
    assert len(named) == len(set(named))
    default = [c.name for s in bench.SECTIONS.values() if s.default for c in s.cases]
    assert [c.name for c in select(None, None)] == default
    assert [c.name for c in select(["transport"], None)] == [
        c.name for c in bench.SECTIONS["transport"].cases
    ]
    assert [c.name for c in select(["transport"], ["sign"])] == ["sign"]  # a named case wins


def test_unknown_section_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        bench.main(["--section", "session,nonesuch"])
    assert exc.value.code == 2
    assert "nonesuch" in capsys.readouterr().err


def test_list_names_every_case(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(["--list"]) == 0
    out = capsys.readouterr().out
    for name in bench.CASES:
        assert f"  {name}: " in out


def _timed(case: bench.Case, **best: float) -> bench.CaseResult:
    return bench.CaseResult(case, best={name.replace("_", "-"): v for name, v in best.items()})


def test_crossover_is_where_zero_copy_wins_from_then_on() -> None:
    from jsession.bench import crossover

    def results(ratios: list[float]) -> list[bench.CaseResult]:
        out = []
        for size, ratio in zip(crossover.SIZES, ratios, strict=True):
            case = bench.Case(f"frame_{size}", "", crossover.IMPLS, None, ())
            out.append(_timed(case, pyzmq_copy=1.0, pyzmq_zerocopy=ratio))
        return out

    # a win at 32 KiB that does not last does not count; from 512 KiB on it does
    wins = results([1.5, 0.9, 1.2, 1.1, 1.0, 0.8, 0.5, 0.4, 0.3, 0.2])
    assert crossover.crossover(wins) == 512 * 1024
    assert crossover.crossover(results([1.1] * 10)) is None
    text = crossover.table({"one at a time": wins}, "ipc")
    assert "zero copy is faster one at a time: from 512 KiB" in text
    assert "| 4 MiB " in text


def test_range_over_runs_and_the_floor_is_the_faster_way() -> None:
    from jsession.bench.report import table

    case = bench.CASES["stream_64k"]
    runs = [
        [_timed(case, jsession=1.3, jupyter_client=3.0, pyzmq_copy=1.0, pyzmq_zerocopy=1.1)],
        [_timed(case, jsession=1.2, jupyter_client=3.0, pyzmq_copy=1.1, pyzmq_zerocopy=1.0)],
    ]
    assert runs[0][0].floor() == ("pyzmq-copy", 1.0)
    assert runs[1][0].floor() == ("pyzmq-zerocopy", 1.0)
    text = table(runs[-1], runs)
    assert "range over 2 runs" in text
    assert "1.20-1.30x" in text  # jsession over the floor, in each run
    assert "(zero copy)" in text  # the floor of the run shown, named
