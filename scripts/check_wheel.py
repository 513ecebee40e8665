"""Checks of an installed jsession wheel, run by cibuildwheel before the test suite.

- the compiled core is the one in use (run with ``-W error``: jsession's warning about a compiled
  core that failed to import is then a failure too);
- on a free-threaded CPython, importing jsession's compiled modules leaves the GIL disabled
  (a module that does not declare itself free-threading safe turns it back on);
- on Linux, the libcrypto the wheel bundles (``jsession.libs/``) is the one loaded, and it is
  OpenSSL 3 (its version is printed).

    python -W error scripts/check_wheel.py
"""

from __future__ import annotations

import ctypes
import os
import platform
import sys
import sysconfig

import jsession
import jsession._c.dates
import jsession._c.decoding
import jsession._c.frames
import jsession._c.messages
import jsession._c.signing
import jsession._c.transport


def main() -> None:
    where = os.path.dirname(jsession.__file__)
    print(f"jsession {jsession.__version__} ({jsession.IMPLEMENTATION}) from {where}")
    assert jsession.IMPLEMENTATION == "compiled", jsession.IMPLEMENTATION
    if sysconfig.get_config_var("Py_GIL_DISABLED"):
        assert not sys._is_gil_enabled(), "a compiled module of jsession turned the GIL back on"
        print("free-threaded: the GIL stays disabled")
    if sys.platform.startswith("linux"):
        with open("/proc/self/maps") as maps:
            libs = {line.split()[-1] for line in maps if "libcrypto" in line}
        # Python's own _hashlib may have loaded another one (privately: RTLD_LOCAL)
        bundled = [lib for lib in libs if f"jsession.libs{os.sep}libcrypto" in lib]
        assert len(bundled) == 1, f"the libcrypto bundled in the wheel is not loaded: {libs}"
        crypto = ctypes.CDLL(bundled[0])
        crypto.OpenSSL_version.restype = ctypes.c_char_p
        version = crypto.OpenSSL_version(0).decode()
        print(f"libcrypto: {bundled[0]} ({version})")
        assert version.startswith("OpenSSL 3."), version
    direct = jsession._c.transport.available
    print(f"copied messages straight on pyzmq's libzmq: {direct}")
    if platform.libc_ver()[0] == "glibc":
        assert direct, "jsession._c.transport did not find the libzmq pyzmq loaded"


if __name__ == "__main__":
    main()
