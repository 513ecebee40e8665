"""The Jupyter stack's own test suites, stock and under ``python -m jsession run``.

Runs the test suites of jupyter_client 8.10.0, ipykernel 7.4.0 and nbclient 0.11.0, taken from
their sdists on PyPI at run time (cached in ~/.cache/jsession-tests, never committed), once as
they are and once switched, and prints every test whose outcome differs. Tests that differ are
run again in both modes (``--reruns``) to tell a real difference from a flaky test.

Switched, every process started beneath the run (pytest, and each kernel it starts) records in
an audit file (``JSESSION_AUDIT``) the first jsession Session it builds and any Session that is
not jsession's; the run fails unless no such Session was built and jsession Sessions were.

    pip install '.[suites]'
    python scripts/stack_suites.py                     # all three suites, about 20-30 minutes
    python scripts/stack_suites.py nbclient -- -k execute  # one suite; pytest arguments after --
    python scripts/stack_suites.py --json out.json

Exit status 0 when no outcome differs and the audit is clean.
"""

from __future__ import annotations

import argparse
import collections
import importlib.util
import json
import os
import subprocess
import sys
import tarfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

SUITES = {
    "jupyter_client": "8.10.0",
    "ipykernel": "7.4.0",
    "nbclient": "0.11.0",
}
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "jsession-tests"
# the suites' own pytest settings, less colour (the output is read) and the cache; newer
# pytest-asyncio warns (an error under their filterwarnings) unless its loop scope is set
PYTEST = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--color=no", "-q"]
if importlib.util.find_spec("pytest_asyncio"):
    PYTEST += ["-o", "asyncio_default_fixture_loop_scope=function"]


def sdist(name: str, version: str) -> Path:
    """The suite's sdist, downloaded once into the cache."""
    found = sorted(CACHE.glob(f"{name}-{version}.tar.gz"))
    if found:
        return found[0]
    CACHE.mkdir(parents=True, exist_ok=True)
    pip = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", name]
    subprocess.run([*pip, "-d", str(CACHE), f"{name}=={version}"], check=True)
    return CACHE / f"{name}-{version}.tar.gz"


def unpack(name: str, version: str, workdir: Path) -> Path:
    root = workdir / f"{name}-{version}"
    if not root.exists():
        with tarfile.open(sdist(name, version)) as tar:
            tar.extractall(workdir, filter="data")
    return root


def outcomes(junit: Path) -> dict[str, str]:
    """test id -> passed, failed, error or skipped (a test that fails and errors in teardown
    counts as failed)."""
    result: dict[str, str] = {}
    if not junit.exists():
        return result
    rank = {"passed": 0, "skipped": 1, "error": 2, "failed": 3}
    for case in ET.parse(junit).getroot().iter("testcase"):
        test_id = f"{case.get('classname')}::{case.get('name')}"
        outcome = "passed"
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                found = {"failure": "failed", "error": "error", "skipped": "skipped"}[child.tag]
                outcome = found if rank[found] > rank[outcome] else outcome
        previous = result.get(test_id)
        result[test_id] = outcome if previous is None or rank[outcome] > rank[previous] else previous
    return result


def run_suite(root: Path, switched: bool, audit: Path, junit: Path, args: list[str]) -> float:
    """One run of the suite in its source tree; returns the wall time."""
    env = dict(os.environ)
    env.pop("JSESSION_AUDIT", None)
    command = [*PYTEST, f"--junitxml={junit}", *args]
    if switched:
        env["JSESSION_AUDIT"] = str(audit)
        command = [sys.executable, "-m", "jsession", "run", *command]
    junit.unlink(missing_ok=True)
    start = time.monotonic()
    log = junit.with_suffix(".log")
    with open(log, "w") as out:
        subprocess.run(command, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT, check=False)
    elapsed = time.monotonic() - start
    tail = log.read_text(errors="replace").strip().splitlines()[-1:]
    print(f"    {'switched' if switched else 'stock':8} {elapsed:6.0f} s  {' '.join(tail)}", flush=True)
    return elapsed


def read_audit(audit: Path) -> dict[str, object]:
    """What the switched processes recorded: jsession Sessions built, and any other."""
    entries = [json.loads(line) for line in audit.read_text().splitlines()] if audit.exists() else []
    jsession_pids = {e["pid"] for e in entries if e["kind"] == "jsession"}
    kernels = {
        e["pid"] for e in entries if e["kind"] == "jsession" and any("kernel" in str(a) for a in e["argv"])
    }
    others = [e for e in entries if e["kind"] != "jsession"]
    return {
        "processes_on_jsession": len(jsession_pids),
        "kernels_on_jsession": len(kernels),
        "not_jsession": others,
    }


def compare(name: str, version: str, workdir: Path, args: list[str], reruns: int) -> dict[str, object]:
    root = unpack(name, version, workdir)
    print(f"{name} {version} ({root})", flush=True)
    results = {}
    audit = workdir / f"{name}.audit.jsonl"
    audit.unlink(missing_ok=True)
    times = {}
    for switched in (False, True):
        junit = workdir / f"{name}.{'switched' if switched else 'stock'}.xml"
        times[switched] = run_suite(root, switched, audit, junit, args)
        results[switched] = outcomes(junit)
    stock, switched = results[False], results[True]
    differ = sorted(t for t in stock.keys() | switched.keys() if stock.get(t) != switched.get(t))
    flaky = []
    for attempt in range(reruns):
        if not differ:
            break
        print(f"    {len(differ)} differ; running them again in both modes (rerun {attempt + 1})", flush=True)
        ids = [_node_id(root, t) for t in differ]
        again = {}
        for mode in (False, True):
            junit = workdir / f"{name}.rerun.{'switched' if mode else 'stock'}.xml"
            run_suite(root, mode, audit, junit, [*args, *ids])
            again[mode] = outcomes(junit)
        still = [t for t in differ if again[False].get(t) != again[True].get(t)]
        flaky += [t for t in differ if t not in still]
        differ = still
    counts = {mode: dict(collections.Counter(results[mode].values())) for mode in (False, True)}
    report = {
        "suite": f"{name} {version}",
        "stock": counts[False],
        "switched": counts[True],
        "seconds": {"stock": round(times[False]), "switched": round(times[True])},
        "differ": [{"test": t, "stock": stock.get(t), "switched": switched.get(t)} for t in differ],
        "flaky": flaky,
        "audit": read_audit(audit),
    }
    return report


def _node_id(root: Path, test_id: str) -> str:
    """junit's classname::name back to a pytest node id (tests.test_x.TestY::name ->
    tests/test_x.py::TestY::name)."""
    classname, name = test_id.split("::", 1)
    parts = classname.split(".")
    for i in range(len(parts), 0, -1):
        path = "/".join(parts[:i]) + ".py"
        if (root / path).exists():
            return "::".join([path, *parts[i:], name])
    return test_id


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("suites", nargs="*", help=f"some of {', '.join(SUITES)} (default: all three)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/jsession-stack-suites"))
    parser.add_argument("--reruns", type=int, default=2, help="rerun differing tests this many times")
    parser.add_argument("--json", type=Path, help="write the report here")
    argv = sys.argv[1:]
    split = argv.index("--") if "--" in argv else len(argv)
    options = parser.parse_args(argv[:split])
    pytest_args = argv[split + 1 :]
    unknown = set(options.suites) - set(SUITES)
    if unknown:
        parser.error(f"unknown suites {sorted(unknown)}: choose from {', '.join(SUITES)}")
    options.workdir.mkdir(parents=True, exist_ok=True)
    reports = []
    for name in options.suites or SUITES:
        reports.append(compare(name, SUITES[name], options.workdir, pytest_args, options.reruns))
    ok = True
    print()
    for report in reports:
        audit = report["audit"]
        print(f"{report['suite']}: stock {report['stock']}, switched {report['switched']}")
        print(
            f"  audit: {audit['processes_on_jsession']} processes built jsession Sessions "
            f"({audit['kernels_on_jsession']} kernels), "
            f"{len(audit['not_jsession'])} Sessions were not jsession's"
        )
        for entry in audit["not_jsession"][:5]:
            where = "".join(entry.get("stack", [])[-2:]).strip()
            print(f"    NOT JSESSION: pid {entry['pid']} {entry['argv']}: {entry['class']}\n      {where}")
        for d in report["differ"]:
            print(f"  DIFFERS: {d['test']}: stock {d['stock']}, switched {d['switched']}")
        for t in report["flaky"]:
            print(f"  flaky (differed once, not on rerun): {t}")
        if report["differ"] or audit["not_jsession"] or not audit["processes_on_jsession"]:
            ok = False
    if options.json:
        options.json.write_text(json.dumps(reports, indent=2))
    print("no outcome differs; every Session built was jsession's" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
