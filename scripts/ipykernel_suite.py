"""ipykernel's own test suite, run against stock ipykernel and against jsession's kernel path.

    python scripts/ipykernel_suite.py [--only stock|jsession] [-- PYTEST_ARGS...]

The tests come from ipykernel's sdist on PyPI (downloaded at run time into the cache
directory, never committed), version as installed. They run twice, in subprocesses:

- stock: as they are, against the installed ipykernel;
- jsession: the kernels the tests start through jupyter_client (kernelspec "python3")
  run ``python -m jsession.kernel`` (a "python3" kernelspec first on JUPYTER_PATH), and
  the tests that build kernel pieces in-process get jsession's: a pytest plugin puts
  ``jsession.kernel.iopub``'s ``IOPubThread`` and ``OutStream`` in ``ipykernel.iostream``
  and ``ipykernel.kernelapp``, so ``IPKernelApp`` (which jsession's ``KernelApp`` only
  extends with those and its Session) publishes through them. Sessions stay
  jupyter_client's in-process: swapping them is ``jsession.install()``'s business.

Prints the counts of each run and every test whose outcome differs. Needs the ``suites``
extra (pytest-asyncio, flaky, ...: what ipykernel's tests import). ``scripts/stack_suites.py``
compares the same suite stock and under ``jsession run`` (jsession's Session everywhere);
this one is about the kernel's publishing path.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

from stack_suites import sdist  # beside this script: the same cache and download

# the in-process side of the jsession run, loaded with -p before any test module
PLUGIN = '''\
"""Put jsession's kernel path where ipykernel's tests look for ipykernel's."""
import ipykernel.iostream
import ipykernel.kernelapp

from jsession.kernel import iopub

# IPKernelApp.init_iopub makes a kernelapp.IOPubThread, init_io an iostream.OutStream
ipykernel.iostream.IOPubThread = iopub.IOPubThread
ipykernel.iostream.OutStream = iopub.OutStream
ipykernel.kernelapp.IOPubThread = iopub.IOPubThread
'''


def extract(path: Path, where: Path, version: str) -> Path:
    """The sdist's tests/ and pyproject.toml (its pytest configuration), not its sources:
    the tests import the installed ipykernel."""
    root = where / f"ipykernel-{version}"
    with tarfile.open(path) as tar:
        members = [
            m
            for m in tar.getmembers()
            if m.name.startswith(f"{root.name}/tests/") or m.name == f"{root.name}/pyproject.toml"
        ]
        tar.extractall(where, members=members, filter="data")
    return root


def jsession_environment(where: Path, base: dict[str, str]) -> dict[str, str]:
    """JUPYTER_PATH with a "python3" kernelspec on jsession's kernel; the plugin importable."""
    import jsession.kernel

    jsession.kernel.install(prefix=str(where / "prefix"), name="python3")
    spec = where / "prefix" / "share" / "jupyter"
    (where / "plugin").mkdir()
    (where / "plugin" / "jsession_kernel_path.py").write_text(PLUGIN)
    root = str(Path(jsession.__file__).resolve().parent.parent)
    env = dict(base)
    env["JUPYTER_PATH"] = os.pathsep.join(p for p in (str(spec), env.get("JUPYTER_PATH")) if p)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(where / "plugin"), root, env.get("PYTHONPATH")) if p)
    return env


def run(name: str, root: Path, env: dict[str, str], args: list[str], plugin: bool) -> dict[str, str]:
    """Run the suite; {test id: outcome}."""
    report = root.parent / f"{name}.xml"
    cmd = [sys.executable, "-m", "pytest", "tests", "-p", "no:cacheprovider", f"--junitxml={report}", "-q"]
    cmd += ["-o", "addopts=", "-o", "asyncio_default_fixture_loop_scope=function"]
    if plugin:
        cmd += ["-p", "jsession_kernel_path"]
    started = time.perf_counter()
    print(f"[{name}] {' '.join(cmd[1:])}", file=sys.stderr, flush=True)
    done = subprocess.run(cmd + args, cwd=root, env=env, capture_output=True, text=True)
    tail = done.stdout.strip().splitlines()[-1:] or [done.stderr.strip()[-500:]]
    print(f"[{name}] {tail[0]} ({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
    (root.parent / f"{name}.log").write_text(done.stdout + done.stderr)
    outcomes: dict[str, str] = {}
    if not report.exists():
        return outcomes
    for case in ET.parse(report).getroot().iter("testcase"):
        test = f"{case.get('classname')}::{case.get('name')}"
        outcome = "passed"
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}[child.tag]
                if child.tag == "skipped" and child.get("type") == "pytest.xfail":
                    outcome = "xfailed"
                break
        outcomes[test] = outcome
    return outcomes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=("stock", "jsession"))
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, reports)")
    parser.add_argument("--json", metavar="FILE", help="write both runs' outcomes to FILE")
    parser.add_argument("pytest_args", nargs="*", help="after --: passed to pytest")
    args = parser.parse_args()
    import ipykernel

    version = ipykernel.__version__
    where = Path(tempfile.mkdtemp(prefix="ipykernel-suite-"))
    root = extract(sdist("ipykernel", version), where, version)
    base = dict(os.environ, IPYTHONDIR=str(where / "ipython"), PYDEVD_DISABLE_FILE_VALIDATION="1")
    results: dict[str, dict[str, str]] = {}
    if args.only in (None, "stock"):
        results["stock"] = run("stock", root, base, args.pytest_args, plugin=False)
    if args.only in (None, "jsession"):
        env = jsession_environment(where, base)
        probe = (
            "from jupyter_client.kernelspec import KernelSpecManager as M;"
            "print(M().get_kernel_spec('python3').argv)"
        )
        argv = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True).stdout
        print(f"[jsession] kernelspec python3 runs {argv.strip()}", file=sys.stderr, flush=True)
        results["jsession"] = run("jsession", root, env, args.pytest_args, plugin=True)
    print(f"ipykernel {version}'s test suite ({where})")
    for name, outcomes in results.items():
        counts = Counter(outcomes.values())
        print(f"  {name:9} " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())))
    if len(results) == 2:
        stock, ours = results["stock"], results["jsession"]
        differ = sorted(t for t in stock.keys() | ours.keys() if stock.get(t) != ours.get(t))
        print(f"  {len(differ)} tests differ" + (":" if differ else ""))
        for test in differ:
            print(f"    {test}: stock {stock.get(test, 'absent')}, jsession {ours.get(test, 'absent')}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, sort_keys=True))
    if args.keep:
        print(f"  logs and reports: {where}")
    else:
        shutil.rmtree(where, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
