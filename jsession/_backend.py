"""The one place that chooses between the compiled core and its pure-Python twin.

``jsession._c`` (Cython, OpenSSL) and ``jsession._py`` (pure Python) export the same
mechanisms under the same names: ``Signer`` (signing), ``find_delimiter`` (frames),
``extract_dates`` (dates), ``MessageBuilder`` and ``unpack_message`` (messages),
``ReplayHistory`` (replay), ``loads`` (decoding), ``send`` and ``release`` (zerocopy, the
kernel's IOPub sends). The compiled core is used unless it cannot be imported or
``JSESSION_PURE_PYTHON=1`` is set; ``IMPLEMENTATION`` says which one is active.

When the compiled core cannot be imported on CPython, a RuntimeWarning says why and how to fix
it, once, unless the fallback is what was asked for: ``JSESSION_PURE_PYTHON=1``, or a
pure-Python build (a ``py3-none-any`` wheel, whose metadata beside the package says
``Root-Is-Purelib: true``). Other interpreters (PyPy) never have the compiled core.
"""

from __future__ import annotations

import glob
import importlib
import os
import platform
import types
import warnings

__all__ = ["IMPLEMENTATION", "active", "load", "use"]

IMPLEMENTATIONS = ("compiled", "python")


def load(name: str) -> types.SimpleNamespace:
    """Import one implementation's mechanisms ("compiled" or "python")."""
    if name not in IMPLEMENTATIONS:
        raise ValueError(f"unknown jsession implementation {name!r}, expected one of {IMPLEMENTATIONS}")
    # one module at a time, so that an ImportError names the module that is missing or broken
    where = f"{__package__}._c" if name == "compiled" else f"{__package__}._py"
    signing, frames, dates, messages, replay, decoding, transport, zerocopy = (
        importlib.import_module(f"{where}.{module}")
        for module in (
            "signing",
            "frames",
            "dates",
            "messages",
            "replay",
            "decoding",
            "transport",
            "zerocopy",
        )
    )
    return types.SimpleNamespace(
        name=name,
        signing=signing,
        frames=frames,
        dates=dates,
        messages=messages,
        replay=replay,
        decoding=decoding,
        transport=transport,
        zerocopy=zerocopy,
        Signer=signing.Signer,
        MessageBuilder=messages.MessageBuilder,
        unpack_message=messages.unpack_message,
        find_delimiter=frames.find_delimiter,
        extract_dates=dates.extract_dates,
        ReplayHistory=replay.ReplayHistory,
    )


def _is_pure_build(package: str) -> bool:
    """Whether the package was installed from a pure-Python wheel (built with no extensions)."""
    wheels = glob.glob(os.path.join(os.path.dirname(package), "jsession-*.dist-info", "WHEEL"))
    purelib = []
    for path in wheels:
        with open(path, encoding="utf-8", errors="replace") as f:
            purelib.append(any(line.strip().lower() == "root-is-purelib: true" for line in f))
    return bool(purelib) and all(purelib)


def fallback_warning(error: ImportError, package: str) -> str | None:
    """What to tell the user when the compiled core failed to import, or None if that is expected.

    ``package`` is the directory of the imported ``jsession`` package.
    """
    if platform.python_implementation() != "CPython" or _is_pure_build(package):
        return None
    root = os.path.dirname(package)
    if os.path.isfile(os.path.join(root, "setup.py")) and glob.glob(os.path.join(package, "_c", "*.pyx")):
        where = (
            f"jsession is imported from the source folder {package}, whose compiled modules are not "
            "built (from a checkout, python -m and kernels import the folder in the current "
            f"directory before the installed package). Build them in place with `pip install -e {root}`, "
            "or run from outside the checkout."
        )
    else:
        where = (
            f"Reinstall jsession ({package}) where a C compiler and the OpenSSL headers are "
            "available, or from a wheel for this platform."
        )
    return (
        f"jsession: the compiled core could not be imported ({type(error).__name__}: {error}); "
        f"using the pure-Python fallback, which is slower. {where} Set JSESSION_PURE_PYTHON=1 to "
        "choose the fallback without this warning."
    )


def _choose() -> types.SimpleNamespace:
    if os.environ.get("JSESSION_PURE_PYTHON", "").strip() not in ("", "0"):
        return load("python")
    try:
        return load("compiled")
    except ImportError as error:
        message = fallback_warning(error, os.path.dirname(os.path.abspath(__file__)))
        if message:
            warnings.warn(message, RuntimeWarning, stacklevel=2)
        return load("python")


#: The mechanisms in use. Attributes are read at call time, so ``use`` switches them.
active = _choose()
IMPLEMENTATION: str = active.name


def use(name: str) -> None:
    """Switch the active implementation (for tests and benchmarks).

    Sessions created afterwards use the new mechanisms; existing ones keep the signer
    they were keyed with until their key or scheme changes.
    """
    global IMPLEMENTATION
    chosen = load(name)
    active.__dict__.update(chosen.__dict__)
    IMPLEMENTATION = chosen.name
