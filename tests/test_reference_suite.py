"""jupyter_client 8.10's own session, jsonutil and adapter tests, run against jsession.

The tests are not part of this repository: they are taken from jupyter_client's sdist on
PyPI at test time, and only their import lines are changed to point at jsession. They run
in a subprocess, once over the compiled core and once over the pure-Python fallback.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from conftest import HAVE_COMPILED, subprocess_env

VERSION = "8.10.0"
FILES = ("conftest.py", "test_session.py", "test_jsonutil.py", "test_adapter.py")
IMPORTS = [
    (r"^from jupyter_client import jsonutil$", "from jsession import jsonutil"),
    (r"^from jupyter_client import session as ss$", "from jsession import session as ss"),
    (r"^from jupyter_client\.session import utcnow$", "from jsession.session import utcnow"),
    (r"^from jupyter_client\.session import Session$", "from jsession.session import Session"),
    (
        r"^from jupyter_client\.adapter import V4toV5, adapt, code_to_line$",
        "from jsession.adapter import V4toV5, adapt, code_to_line",
    ),
]
PYTEST_INI = """\
[pytest]
addopts = -p no:cacheprovider -q
filterwarnings =
    error
    ignore:datetime.datetime.utcfromtimestamp:DeprecationWarning
    ignore:datetime.datetime.utcnow:DeprecationWarning
    ignore:The configuration option "asyncio_default_fixture_loop_scope" is unset
"""


def _sdist(cache: Path) -> Path:
    sdist = cache / f"jupyter_client-{VERSION}.tar.gz"
    if not sdist.exists():
        cache.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:"]
        subprocess.run([*cmd, "-d", str(cache), f"jupyter_client=={VERSION}"], check=True)
    return sdist


@pytest.fixture(scope="module")
def reference_tests(tmp_path_factory) -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "jsession-tests"
    try:
        sdist = _sdist(cache)
    except subprocess.CalledProcessError as e:  # pragma: no cover - needs PyPI
        pytest.fail(f"could not download jupyter_client {VERSION}'s sdist from PyPI: {e}")
    out = tmp_path_factory.mktemp("reference")
    with tarfile.open(sdist) as tar:
        for name in FILES:
            member = tar.getmember(f"jupyter_client-{VERSION}/tests/{name}")
            text = tar.extractfile(member).read().decode()
            for pattern, replacement in IMPORTS:
                text = re.sub(pattern, replacement, text, flags=re.M)
            left = re.findall(r"^(?:from|import) jupyter_client.*$", text, flags=re.M)
            assert not left, f"imports of jupyter_client left in {name}: {left}"
            (out / name).write_text(text)
    (out / "pytest.ini").write_text(PYTEST_INI)
    return out


@pytest.mark.parametrize(
    "implementation",
    [pytest.param("compiled", marks=pytest.mark.skipif(not HAVE_COMPILED, reason="not built")), "python"],
)
def test_reference_suite_passes(reference_tests, implementation, tmp_path):
    env = subprocess_env(JSESSION_PURE_PYTHON="1" if implementation == "python" else "0")
    probe = "import jsession, jupyter_client.session as r; print(jsession.IMPLEMENTATION)"
    shown = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True)
    assert shown.stdout.strip() == implementation, shown.stderr
    result = subprocess.run(
        # a basetemp of its own: a child pytest that numbers its directories beside this
        # session's keeps only the newest three, and can delete this session's own
        [sys.executable, "-m", "pytest", "--basetemp", str(tmp_path / "basetemp"), *FILES[1:]],
        cwd=reference_tests,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    passed = int(re.search(r"(\d+) passed", summary).group(1))
    assert passed >= 90 and "failed" not in summary and "error" not in summary, summary
