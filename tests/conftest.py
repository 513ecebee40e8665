"""Shared fixtures: every test that takes ``impl`` runs over both implementations."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import jsession
from jsession import _backend

try:
    _backend.load("compiled")
    HAVE_COMPILED = True
except ImportError:  # a pure-Python install (PyPy, JSESSION_NO_EXTENSIONS=1)
    HAVE_COMPILED = False

IMPLS = [
    pytest.param(
        "compiled",
        marks=pytest.mark.skipif(not HAVE_COMPILED, reason="compiled core not built"),
    ),
    "python",
]


@pytest.fixture(params=IMPLS)
def impl(request):
    """The mechanisms of one implementation, made active for the test's duration."""
    before = _backend.IMPLEMENTATION
    _backend.use(request.param)
    try:
        yield _backend.load(request.param)
    finally:
        _backend.use(before)


@pytest.fixture(autouse=True, scope="session")
def _subprocesses_run_outside_the_source_tree(tmp_path_factory):
    """Run the session from an empty directory.

    ``python -c`` and ``python -m`` put the working directory first on sys.path: started
    from a source checkout, a kernel or a child test run would import the unbuilt
    ``jsession/`` folder instead of the package under test. Tests that start Python
    processes pass the tested package's location in PYTHONPATH instead.
    """
    before = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("cwd"))
    try:
        yield
    finally:
        os.chdir(before)


@pytest.fixture
def pair_sockets():
    """Two connected PAIR sockets over inproc: (a, b)."""
    import zmq

    ctx = zmq.Context()
    a, b = ctx.socket(zmq.PAIR), ctx.socket(zmq.PAIR)
    a.bind("inproc://jsession-tests")
    b.connect("inproc://jsession-tests")
    yield a, b
    a.close(linger=0)
    b.close(linger=0)
    ctx.term()


def subprocess_env(**overrides: str) -> dict[str, str]:
    """The environment for a Python child process that must import this same jsession."""
    env = dict(os.environ, **overrides)
    where = str(Path(jsession.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (where, env.get("PYTHONPATH")) if p)
    return env
