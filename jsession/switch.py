"""The switch: every ``jupyter_client.session`` user in this process on jsession.

``install()`` makes ``jupyter_client.session.Session`` jsession's (``jsession.kernel.Session``,
a jsession Session that is also a subclass of jupyter_client's), together with the module-level
names that callers compare by identity: the packer and unpacker functions (``Session(packer=
"json").pack is json_packer``), the ``DONE`` tracker, ``Message``. Modules that imported those
names already get jsession's in their place; modules imported later find them in
``jupyter_client.session``. When jupyter_client is not imported yet, nothing is imported now:
the swap happens the moment jupyter_client finishes importing.

This module imports only the standard library until the swap runs, so that ``jsession.install``
costs nothing in a process that never uses Jupyter (``python -m jsession run`` calls it in
every Python process it starts).

With ``JSESSION_AUDIT=FILE`` in the environment, the swap also records in FILE (one JSON line
each) the first jsession Session a process builds and every Session it builds that is not
jsession's: how ``scripts/stack_suites.py`` proves that a whole test run was on jsession.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import json
import os
import sys
import threading
import traceback
import types
import typing as t

from ._version import protocol_version

__all__ = ["AUDIT_ENV", "install", "installed"]

#: Environment variable naming a file where Session constructions are recorded.
AUDIT_ENV = "JSESSION_AUDIT"

# the module-level names of jupyter_client.session that callers compare by identity
SWAPPED_NAMES = (
    "Session",
    "Message",
    "DONE",
    "json_packer",
    "json_unpacker",
    "orjson_packer",
    "orjson_unpacker",
    "pickle_packer",
    "pickle_unpacker",
    "msgpack_packer",
    "msgpack_unpacker",
)

_lock = threading.RLock()
_swapped = False  # jupyter_client.session's names are jsession's
_pending: _AfterImport | None = None  # waiting for jupyter_client to be imported


def installed() -> bool:
    """Whether the switch is active in this process (also while it waits for jupyter_client)."""
    return _swapped or _pending is not None or _bootstrap_pending()


def install() -> None:
    """Put ``jupyter_client.session`` on jsession in this process, now or as soon as
    jupyter_client is imported. Calling it again does nothing."""
    global _pending
    with _lock:
        if _swapped or _pending is not None:
            return
        if "jupyter_client" in sys.modules:
            _swap()
            return
        _pending = _AfterImport("jupyter_client", _swap_after_import)
        sys.meta_path.insert(0, _pending)


def _bootstrap_pending() -> bool:
    # ``python -m jsession run``'s sitecustomize waits for jupyter_client without importing this
    return any(getattr(finder, "jsession_switch", False) for finder in sys.meta_path)


def _swap_after_import() -> None:
    global _pending
    with _lock:
        if _pending is not None and _pending in sys.meta_path:
            sys.meta_path.remove(_pending)
        _pending = None
        _swap()


def _swap() -> None:
    """Replace the reference objects, in jupyter_client.session and wherever they were imported."""
    global _swapped
    if _swapped:
        return
    import jupyter_client.session as reference

    import jsession.session as core
    from jsession.kernel.session import Session

    original = reference.Session
    replacements = {"Session": Session}
    for name in SWAPPED_NAMES[1:]:
        if hasattr(reference, name) and hasattr(core, name):
            replacements[name] = getattr(core, name)
    # reference object's id -> (the reference object, jsession's); the object is kept so
    # that its id stays its own while the scan runs
    by_id = {
        id(getattr(reference, name)): (getattr(reference, name), new) for name, new in replacements.items()
    }
    for name, new in replacements.items():
        setattr(reference, name, new)
    for module in list(sys.modules.values()):
        if isinstance(module, types.ModuleType) and module is not reference:
            _rebind(module, by_id)
    # ipyparallel turns date parsing off by assigning jupyter_client.session.extract_dates
    _follow_extract_dates(reference.extract_dates)
    reference.__class__ = _ReferenceModule
    if os.environ.get(AUDIT_ENV):
        _audit(os.environ[AUDIT_ENV], original)
    _swapped = True


class _ReferenceModule(types.ModuleType):
    """jupyter_client.session once switched: notices a new ``extract_dates``, which the
    reference's deserialize looks up on every message."""

    def __setattr__(self, name: str, value: t.Any) -> None:
        super().__setattr__(name, value)
        if name == "extract_dates":
            _follow_extract_dates(value)


def _follow_extract_dates(extract_dates: t.Callable[[t.Any], t.Any]) -> None:
    """Make the installed Session's deserialize apply ``extract_dates`` to headers as the
    reference's does, when it is not the stock one."""
    from jupyter_client import jsonutil

    import jsession.session as core
    from jsession.kernel.session import Session

    if extract_dates is jsonutil.extract_dates:
        if "deserialize" in Session.__dict__:
            del Session.deserialize
        return
    core_deserialize = core.Session.deserialize

    def deserialize(
        self: t.Any, msg_list: list[t.Any], content: bool = True, copy: bool = True
    ) -> dict[str, t.Any]:
        message = core_deserialize(self, msg_list, content=content, copy=copy)
        header = message["header"]
        if header.get("version") == protocol_version:  # not adapted: headers as sent
            message["header"] = header = extract_dates(self.unpack(bytes(msg_list[1])))
            message["parent_header"] = extract_dates(self.unpack(bytes(msg_list[2])))
        return message

    deserialize.__doc__ = core_deserialize.__doc__
    Session.deserialize = deserialize  # type: ignore[method-assign]


def _rebind(module: types.ModuleType, by_id: dict[int, tuple[t.Any, t.Any]]) -> None:
    """Rebind a module's globals that are reference objects (``from jupyter_client.session
    import Session`` done before the switch)."""
    name = getattr(module, "__name__", "")
    if not isinstance(name, str) or name == "jsession" or name.startswith("jsession."):
        return
    try:
        namespace = vars(module)
    except TypeError:
        return
    for key, value in list(namespace.items()):
        found = by_id.get(id(value))
        if found is not None and found[0] is value:
            namespace[key] = found[1]


class _AfterImport(importlib.abc.MetaPathFinder):
    """Runs ``callback`` once the named module has finished importing: finds the module's
    spec with the finders after this one and has its loader call back after executing it."""

    def __init__(self, name: str, callback: t.Callable[[], None]) -> None:
        self.name = name
        self.callback = callback

    def find_spec(
        self, fullname: str, path: t.Sequence[str] | None = None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != self.name:
            return None
        finders = sys.meta_path[sys.meta_path.index(self) + 1 :] if self in sys.meta_path else sys.meta_path
        for finder in finders:
            find = getattr(finder, "find_spec", None)
            spec = find(fullname, path, target) if find is not None else None
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        exec_module = getattr(loader, "exec_module", None)
        if exec_module is None:
            return spec
        callback = self.callback

        def exec_then_callback(module: types.ModuleType) -> None:
            exec_module(module)
            # the module is in sys.modules from here on, complete
            del loader.__dict__["exec_module"]
            callback()

        # an instance attribute: the loader stays the finder's own object, of its own class
        try:
            loader.exec_module = exec_then_callback
        except AttributeError:  # a loader that takes no attributes: no switch
            return spec
        return spec


def _audit(path: str, original_class: type) -> None:
    """Record Session constructions in ``path``: the first jsession one of this process, and
    every one that is not jsession's (an instance of jupyter_client's own ``original_class``)."""
    from jsession.kernel import session as kernel_session

    recorded_in = [0]  # the pid that recorded its first jsession Session (a fork records its own)

    def record(kind: str, cls: type) -> None:
        entry = {
            "pid": os.getpid(),
            "argv": sys.argv[:4],
            "kind": kind,
            "class": f"{cls.__module__}.{cls.__qualname__}",
        }
        if kind != "jsession":
            entry["stack"] = traceback.format_stack(limit=8)[:-2]
        with open(path, "a", encoding="utf8") as f:
            f.write(json.dumps(entry) + "\n")

    reference_init = original_class.__dict__["__init__"]

    def reference_session_init(self: t.Any, *args: t.Any, **kwargs: t.Any) -> None:
        record("reference", type(self))
        reference_init(self, *args, **kwargs)

    jsession_init = kernel_session._ReferenceWithoutInit.__dict__["__init__"]

    def jsession_session_init(self: t.Any, **kwargs: t.Any) -> None:
        if recorded_in[0] != os.getpid():
            recorded_in[0] = os.getpid()
            record("jsession", type(self))
        jsession_init(self, **kwargs)

    type.__setattr__(original_class, "__init__", reference_session_init)
    type.__setattr__(kernel_session._ReferenceWithoutInit, "__init__", jsession_session_init)
