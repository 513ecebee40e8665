"""Choosing the core: the compiled one when it imports, the fallback with a warning when it does not.

Each case imports jsession in a fresh interpreter with every warning shown (``-W always``),
from the installed package or from a copy of it without its compiled modules (what a source
checkout without an in-place build looks like), with or without a wheel's metadata beside it.
"""

from __future__ import annotations

import platform
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import jsession
from conftest import HAVE_COMPILED, subprocess_env
from jsession import _backend

PACKAGE = Path(jsession.__file__).resolve().parent
CPYTHON = platform.python_implementation() == "CPython"
WARNING = "jsession: the compiled core could not be imported"
PROBE = "import jsession; print(jsession.IMPLEMENTATION)"
# a compiled module that fails to load, as when the libcrypto it links to is missing
BROKEN = """
import sys
class Broken:
    def find_spec(self, name, path=None, target=None):
        if name == "jsession._c.signing":
            raise ImportError("libcrypto.so.3: cannot open shared object file: No such file or directory")
sys.meta_path.insert(0, Broken())
import jsession
from jsession import _backend, session
_backend.use("python")
print(jsession.IMPLEMENTATION)
"""


def run(code: str, cwd: Path | None = None, **env: str) -> tuple[str, str]:
    """Run code in a fresh interpreter showing every warning; return (stdout, stderr)."""
    # a copy in cwd comes first on sys.path (python -c), before PYTHONPATH: as in a checkout
    environ = subprocess_env(**env)
    if "JSESSION_PURE_PYTHON" not in env:
        environ.pop("JSESSION_PURE_PYTHON", None)
    done = subprocess.run(
        [sys.executable, "-W", "always", "-c", code],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip(), done.stderr


def source_copy(tmp_path: Path, checkout: bool = True) -> Path:
    """A copy of the package without compiled modules; with setup.py beside it when ``checkout``."""
    shutil.copytree(
        PACKAGE, tmp_path / "jsession", ignore=shutil.ignore_patterns("*.so", "*.pyd", "__pycache__")
    )
    if checkout:
        (tmp_path / "setup.py").write_text("# a source checkout\n")
        (tmp_path / "jsession" / "_c" / "signing.pyx").write_text("# the Cython source\n")
    return tmp_path


def wheel_metadata(root: Path, purelib: bool) -> None:
    info = root / f"jsession-{jsession.__version__}.dist-info"
    info.mkdir()
    tag = "py3-none-any" if purelib else "cp3-cp3-linux_x86_64"
    (info / "WHEEL").write_text(
        f"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: {str(purelib).lower()}\nTag: {tag}\n"
    )


def test_the_installed_package_imports_without_a_warning():
    out, err = run(PROBE)
    assert out == ("compiled" if HAVE_COMPILED else "python")
    assert WARNING not in err


@pytest.mark.skipif(not CPYTHON, reason="the compiled core exists on CPython only")
def test_a_checkout_without_compiled_modules_warns_once_and_says_how_to_fix(tmp_path):
    root = source_copy(tmp_path)
    out, err = run(PROBE + "; from jsession import session, jsonutil, adapter", cwd=root)
    assert out == "python"
    assert err.count(WARNING) == 1, err
    assert "ModuleNotFoundError: No module named 'jsession._c.signing'" in err
    assert f"pip install -e {root}" in err and "JSESSION_PURE_PYTHON=1" in err


@pytest.mark.skipif(not CPYTHON, reason="the compiled core exists on CPython only")
def test_a_compiled_install_whose_core_fails_to_load_names_the_error(tmp_path):
    root = source_copy(tmp_path, checkout=False)
    wheel_metadata(root, purelib=False)
    out, err = run(PROBE, cwd=root)
    assert out == "python"
    assert err.count(WARNING) == 1, err
    assert "Reinstall jsession" in err and "pip install -e" not in err


@pytest.mark.skipif(not (CPYTHON and HAVE_COMPILED), reason="needs the compiled core installed")
def test_a_broken_compiled_module_is_named_and_warned_about_once():
    out, err = run(BROKEN)
    assert out == "python"
    assert err.count(WARNING) == 1, err
    assert "ImportError: libcrypto.so.3: cannot open shared object file" in err


def test_a_pure_python_wheel_falls_back_silently(tmp_path):
    root = source_copy(tmp_path, checkout=False)
    wheel_metadata(root, purelib=True)
    out, err = run(PROBE, cwd=root)
    assert out == "python"
    assert WARNING not in err


@pytest.mark.parametrize("value", ["1", "yes"])
def test_asking_for_the_fallback_is_silent(tmp_path, value):
    out, err = run(PROBE, cwd=source_copy(tmp_path), JSESSION_PURE_PYTHON=value)
    assert out == "python"
    assert WARNING not in err


@pytest.mark.skipif(not CPYTHON, reason="the compiled core exists on CPython only")
def test_zero_does_not_ask_for_the_fallback(tmp_path):
    out, err = run(PROBE, cwd=source_copy(tmp_path), JSESSION_PURE_PYTHON="0")
    assert out == "python"
    assert err.count(WARNING) == 1, err


def test_other_interpreters_never_warn(monkeypatch, tmp_path):
    monkeypatch.setattr(platform, "python_implementation", lambda: "PyPy")
    assert _backend.fallback_warning(ImportError("no"), str(source_copy(tmp_path) / "jsession")) is None


@pytest.mark.skipif(not CPYTHON, reason="the compiled core exists on CPython only")
def test_only_a_wheel_that_says_purelib_counts_as_a_pure_build(tmp_path):
    package = str(source_copy(tmp_path, checkout=False) / "jsession")
    assert _backend.fallback_warning(ImportError("no"), package) is not None  # no metadata at all
    wheel_metadata(tmp_path, purelib=False)
    assert _backend.fallback_warning(ImportError("no"), package) is not None
