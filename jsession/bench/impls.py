"""The implementations under test, by name: jsession's cores, jupyter_client, raw pyzmq.

A section that measures something else (kernel processes, say) registers its own with
``register``; the table shows one column per implementation, in registration order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jsession import _backend
from jsession.session import Session

KEY = b"jsession-bench-0123456789abcdef0123456789"
USERNAME = "bench"


def jupyter_client_session() -> type | None:
    try:
        from jupyter_client.session import Session as JCSession
    except ImportError:
        return None
    return JCSession


def compiled_available() -> bool:
    try:
        _backend.load("compiled")
    except ImportError:
        return False
    return True


@dataclass(frozen=True)
class Impl:
    """One implementation under test.

    ``kind``: "session" (a Session class) or anything else (raw pyzmq, a floor, a process);
    ``short`` names it in the ratio columns' headings and in a floor's cell; ``probe`` says
    whether it can run here; ``column``: whether the table gives it a column of its own (a
    floor implementation is shown in the floor column instead).
    """

    name: str
    label: str
    kind: str
    backend: str | None = None  # jsession's core to make active ("compiled" / "python")
    short: str = ""
    probe: Callable[[], bool] | None = None
    column: bool = True

    def available(self) -> bool:
        if self.probe is not None:
            return self.probe()
        if self.backend == "compiled":
            return compiled_available()
        return True

    def activate(self) -> None:
        """Make this implementation's jsession core the active one (a no-op for others)."""
        if self.backend is not None and self.backend != _backend.IMPLEMENTATION:
            _backend.use(self.backend)

    def session(self, **kwargs: Any) -> Any:
        """A new Session of this implementation, keyed with the shared benchmark key."""
        self.activate()
        cls = jupyter_client_session() if self.name == "jupyter_client" else Session
        if cls is None or self.kind != "session":
            raise RuntimeError(f"{self.name} has no Session")
        kwargs.setdefault("key", KEY)
        kwargs.setdefault("username", USERNAME)
        return cls(**kwargs)


IMPLS: dict[str, Impl] = {}


def register(*impls: Impl) -> None:
    for impl in impls:
        IMPLS[impl.name] = impl


register(
    # "jsession" is the active core: compiled, unless not built (PyPy, a pure wheel) or
    # JSESSION_PURE_PYTHON=1 chose the fallback
    Impl("jsession", "jsession", "session", _backend.IMPLEMENTATION, short="jsession"),
    Impl("jsession-python", "jsession (pure Python)", "session", "python", short="jsession (py)"),
    Impl(
        "jupyter_client",
        "jupyter_client 8.10",
        "session",
        short="jc",
        probe=lambda: jupyter_client_session() is not None,
    ),
    # pyzmq's own API on the same frames, copying or not as jupyter_client does (the floor
    # until it proved not to be one: for reference)
    Impl("pyzmq", "pyzmq multipart", "pyzmq", short="pyzmq"),
    # the transport floors: pyzmq moving the same frames through its barest loops, every
    # frame copied, or sent with copy=False (frames from the socket's copy_threshold, 64 KiB,
    # then go without a copy)
    Impl("pyzmq-copy", "pyzmq, copy", "pyzmq", short="copy", column=False),
    Impl("pyzmq-zerocopy", "pyzmq, zero copy", "pyzmq", short="zero copy", column=False),
    # and libzmq called directly, a whole copied message in one call (what jsession's
    # compiled transport does, faster than any pyzmq call): where it is available
    Impl(
        "libzmq-copy",
        "libzmq directly, copy",
        "pyzmq",
        short="libzmq",
        column=False,
        probe=lambda: direct_transport() is not None,
    ),
)


def direct_transport() -> Any:
    """jsession's compiled transport when it reaches libzmq directly, else None."""
    try:
        from jsession._c import transport
    except ImportError:
        return None
    return transport if transport.available else None


def serializing_session() -> Any:
    """A Session to make the frames raw pyzmq sends (the compiled core when built)."""
    return (IMPLS["jsession"] if compiled_available() else IMPLS["jsession-python"]).session()
