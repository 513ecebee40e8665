"""Shared fixtures: every test that takes ``impl`` runs over both implementations."""

from __future__ import annotations

import pytest

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
