"""libzmq's functions in the library pyzmq itself loaded, found by name, for the compiled
modules that call libzmq directly (``transport``, ``zerocopy``): nothing is linked at build
time, and a socket pyzmq made is used by the very library it lives in.
"""

from __future__ import annotations

import zmq

__all__ = ["functions"]


def functions(names: tuple[str, ...]) -> dict[str, int] | None:
    """{name: address} of each of libzmq's functions named, or None where they cannot be
    found (pyzmq's CFFI backend, a platform whose dlsym does not search a module's
    dependencies) or are not pyzmq's (another libzmq version, a pyzmq whose sockets lack
    what its own send checks)."""
    try:
        import ctypes

        from zmq.backend.cython import _zmq

        # dlopen of a loaded module is that module; dlsym searches it, then what it links
        lib = ctypes.CDLL(_zmq.__file__)
        found = {name: ctypes.cast(getattr(lib, name), ctypes.c_void_p).value for name in names}
        major, minor, patch = ctypes.c_int(), ctypes.c_int(), ctypes.c_int()
        lib.zmq_version(ctypes.byref(major), ctypes.byref(minor), ctypes.byref(patch))
    except Exception:
        return None
    if (major.value, minor.value, patch.value) != zmq.zmq_version_info() or major.value < 4:
        return None  # not the library pyzmq's sockets live in
    if not hasattr(zmq.backend.Socket, "_closed"):
        return None  # what pyzmq's send checks before it calls libzmq
    if not all(found.values()):
        return None
    return found  # type: ignore[return-value]
