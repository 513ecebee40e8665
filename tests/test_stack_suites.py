"""A slice of jupyter_client 8.10's own test suite, unmodified, under ``python -m jsession run``.

The whole of jupyter_client's, ipykernel's and nbclient's suites, stock against switched, is
``scripts/stack_suites.py`` (tens of minutes); this slice keeps to CI's time: the session tests
(which compare the packers and ``DONE`` by identity with jupyter_client's module-level names)
and the client tests (a real kernel, started beneath the switched pytest). Every test must pass
and every Session built, in pytest and in the kernels, must be jsession's.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import tarfile
from pathlib import Path

import pytest

from conftest import subprocess_env
from switched import assert_all_jsession, run_command, tool
from test_reference_suite import VERSION, _sdist

pytest.importorskip("ipykernel")

SLICE = ("tests/test_session.py", "tests/test_client.py")


@pytest.fixture(scope="module")
def jupyter_client_tree(tmp_path_factory) -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "jsession-tests"
    try:
        sdist = _sdist(cache)
    except subprocess.CalledProcessError as e:  # pragma: no cover - needs PyPI
        pytest.fail(f"could not download jupyter_client {VERSION}'s sdist from PyPI: {e}")
    out = tmp_path_factory.mktemp("jupyter_client")
    with tarfile.open(sdist) as tar:
        tar.extractall(out, filter="data")
    return out / f"jupyter_client-{VERSION}"


@pytest.mark.timeout(400)
def test_jupyter_client_slice_passes_switched(jupyter_client_tree, tmp_path):
    audit = tmp_path / "audit.jsonl"
    env = subprocess_env(JSESSION_AUDIT=str(audit), JUPYTER_PLATFORM_DIRS="1")
    # --basetemp: see test_reference_suite (a child's cleanup can delete this session's tmp)
    basetemp = ["--basetemp", str(tmp_path / "basetemp")]
    command = [tool("python"), "-m", "pytest", "-p", "no:cacheprovider", "--color=no", "-q", *basetemp]
    command += SLICE
    if importlib.util.find_spec("pytest_asyncio"):  # it warns (an error there) unless this is set
        command[3:3] = ["-o", "asyncio_default_fixture_loop_scope=function"]
    result = subprocess.run(
        run_command(*command), cwd=jupyter_client_tree, env=env, capture_output=True, text=True, timeout=380
    )
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    passed = int(re.search(r"(\d+) passed", summary).group(1))
    assert passed >= 80 and "failed" not in summary and "error" not in summary, summary
    records = assert_all_jsession(audit)
    kernels = {r["pid"] for r in records if any("kernel" in a for a in r["argv"])}
    assert kernels, f"no kernel recorded a jsession Session: {records}"
