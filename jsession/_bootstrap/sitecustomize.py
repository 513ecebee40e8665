"""Turns the jsession switch on in this Python process (``python -m jsession run`` put this
directory on PYTHONPATH and set ``JSESSION_SWITCH=1``), then runs the ``sitecustomize`` that
this one shadows, if there is one.

Only ``os`` and ``sys`` are imported here (not even ``typing``), and nothing else happens until
jupyter_client is imported: a Python process that never imports it pays for a few lines
(startup time matters to every command beneath ``run``). jsession is imported then, and
``jsession.switch.install()`` swaps jupyter_client's Session as jupyter_client finishes importing.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing is not imported: it costs milliseconds at every startup
if TYPE_CHECKING:
    from collections.abc import Sequence
    from importlib.machinery import ModuleSpec
    from types import ModuleType

_HERE = os.path.dirname(os.path.abspath(__file__))


class _Trampoline:
    """Waits for the import of jupyter_client, then hands over to ``jsession.switch``."""

    # jsession.installed() looks for this mark: the switch is on before jsession is imported
    jsession_switch = True

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname != "jupyter_client":
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        try:
            from jsession import switch
        except ImportError as e:  # a Python without jsession beneath the command: left stock
            _audit_missing(e)
            return None
        switch.install()
        finder = switch._pending
        return finder.find_spec(fullname, path, target) if finder is not None else None


def _audit_missing(error: ImportError) -> None:
    path = os.environ.get("JSESSION_AUDIT")
    if path:
        import json

        entry = {"pid": os.getpid(), "argv": sys.argv[:4], "kind": "no-jsession", "error": str(error)}
        with open(path, "a", encoding="utf8") as f:
            f.write(json.dumps(entry) + "\n")


def _chain() -> None:
    """Run the sitecustomize module this one hides (a distribution's or a virtualenv's): import
    it again with this directory off the path (importlib.util would cost milliseconds)."""
    ours = sys.modules.pop("sitecustomize", None)
    saved = sys.path[:]
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]
    try:
        __import__("sitecustomize")  # the next one on the path, if any
    except ImportError as e:
        if e.name != "sitecustomize":
            raise
        if ours is not None:
            sys.modules["sitecustomize"] = ours
    finally:
        sys.path[:] = saved


if os.environ.get("JSESSION_SWITCH") == "1" and "jupyter_client" not in sys.modules:
    sys.meta_path.insert(0, _Trampoline())
_chain()
