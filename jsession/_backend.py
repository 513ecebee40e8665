"""The one place that chooses between the compiled core and its pure-Python twin.

``jsession._c`` (Cython, OpenSSL) and ``jsession._py`` (pure Python) export the same
mechanisms under the same names: ``Signer`` (signing), ``find_delimiter`` (frames),
``extract_dates`` (dates), ``MessageBuilder`` and ``unpack_message`` (messages),
``ReplayHistory`` (replay). The
compiled core is used unless it cannot be imported or ``JSESSION_PURE_PYTHON=1`` is set;
``IMPLEMENTATION`` says which one is active.
"""

from __future__ import annotations

import os
import types

__all__ = ["IMPLEMENTATION", "active", "load", "use"]

IMPLEMENTATIONS = ("compiled", "python")


def load(name: str) -> types.SimpleNamespace:
    """Import one implementation's mechanisms ("compiled" or "python")."""
    if name == "compiled":
        from ._c import dates, frames, messages, replay, signing
    elif name == "python":
        from ._py import dates, frames, messages, replay, signing  # type: ignore[no-redef]
    else:
        raise ValueError(f"unknown jsession implementation {name!r}, expected one of {IMPLEMENTATIONS}")
    return types.SimpleNamespace(
        name=name,
        signing=signing,
        frames=frames,
        dates=dates,
        messages=messages,
        replay=replay,
        Signer=signing.Signer,
        MessageBuilder=messages.MessageBuilder,
        unpack_message=messages.unpack_message,
        find_delimiter=frames.find_delimiter,
        extract_dates=dates.extract_dates,
        ReplayHistory=replay.ReplayHistory,
    )


def _choose() -> types.SimpleNamespace:
    if os.environ.get("JSESSION_PURE_PYTHON", "").strip() not in ("", "0"):
        return load("python")
    try:
        return load("compiled")
    except ImportError:
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
