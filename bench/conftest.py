"""pytest-benchmark suite: ``pytest bench --benchmark-only`` (run from the repository root).

Every case is defined once, in ``jsession.bench`` (the module behind ``python -m
jsession.bench``), and timed here over each implementation that takes part in it: jsession's
compiled core, its pure-Python twin, jupyter_client 8.10 when installed, and raw pyzmq for the
transport cases. Compare them with ``--benchmark-group-by=group`` (the default groups by case).
"""

from __future__ import annotations

import pytest

from jsession import _backend
from jsession import bench as jb


def pytest_collect_file(file_path, parent):
    # the files here are named bench_*.py, which pytest does not collect by default
    if file_path.suffix == ".py" and file_path.name.startswith("bench_"):
        return pytest.Module.from_parent(parent, path=file_path)
    return None


@pytest.fixture(scope="session")
def env():
    """The zmq context and ipc folder shared by the cases."""
    shared = jb.Env(quick=True)
    yield shared
    shared.close()


@pytest.fixture(autouse=True)
def _restore_backend():
    before = _backend.IMPLEMENTATION
    yield
    _backend.use(before)
