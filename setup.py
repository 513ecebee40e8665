"""Build the compiled core of jsession.

Environment variables read here:

JSESSION_NO_EXTENSIONS=1   build a pure-Python package (the fallback); also automatic on PyPy
JSESSION_OPENSSL_DIR=DIR   OpenSSL to compile and link against (DIR/include, DIR/lib)
JSESSION_SANITIZE=1        build the extensions with AddressSanitizer and UBSan (debug builds)
JSESSION_CYTHON_TRACE=1    line tracing for coverage and profilers
JSESSION_BUILD_ONLY=a,b    build only these modules of jsession._c (development)
"""

import os
import platform
import sys

from setuptools import Extension, setup

MODULES = ("signing", "frames", "dates", "messages", "replay")


def _flag(name):
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _extensions():
    if _flag("JSESSION_NO_EXTENSIONS") or platform.python_implementation() != "CPython":
        return []
    from Cython.Build import cythonize

    include_dirs, library_dirs = [], []
    openssl = os.environ.get("JSESSION_OPENSSL_DIR") or os.environ.get("OPENSSL_DIR")
    if openssl:
        include_dirs.append(os.path.join(openssl, "include"))
        for sub in ("lib64", "lib"):
            if os.path.isdir(os.path.join(openssl, sub)):
                library_dirs.append(os.path.join(openssl, sub))
    crypto = ["libcrypto"] if sys.platform == "win32" else ["crypto"]

    compile_args, link_args = [], []
    macros = []
    directives = {"language_level": "3", "embedsignature": True}
    if sys.platform != "win32":
        compile_args += ["-O3"]
    if _flag("JSESSION_SANITIZE"):
        san = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=undefined"]
        compile_args = ["-O1", "-g"] + san
        link_args += san
    if _flag("JSESSION_CYTHON_TRACE"):
        directives["linetrace"] = True
        macros.append(("CYTHON_TRACE_NOGIL", "1"))

    only = [m for m in os.environ.get("JSESSION_BUILD_ONLY", "").split(",") if m]
    exts = []
    for name in only or MODULES:
        exts.append(
            Extension(
                f"jsession._c.{name}",
                [f"jsession/_c/{name}.pyx"],
                include_dirs=include_dirs + ["jsession/_c"],
                library_dirs=library_dirs,
                libraries=crypto if name == "signing" else [],
                define_macros=macros,
                extra_compile_args=compile_args,
                extra_link_args=link_args,
            )
        )
    return cythonize(exts, compiler_directives=directives, quiet=True)


setup(ext_modules=_extensions())
