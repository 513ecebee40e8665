"""Build the compiled core of jsession.

Environment variables read here:

JSESSION_NO_EXTENSIONS=1   build a pure-Python package (the fallback); also automatic on PyPy
JSESSION_OPENSSL_DIR=DIR   OpenSSL to compile and link against (DIR/include, DIR/lib)
JSESSION_SANITIZE=1        build the extensions with AddressSanitizer and UBSan (debug builds)
JSESSION_CYTHON_TRACE=1    line tracing for coverage and profilers
JSESSION_BUILD_ONLY=a,b    build only these modules of jsession._c (development)

Rebuilds are cheap: each compiled module is kept in build/ext-cache/ under a digest of
everything that goes into it (the Cython sources, Cython's version and directives, the
interpreter, compiler, flags and OpenSSL headers), so `pip install .` or `pip install -e .`
again after an unrelated change reuses it instead of running Cython and the C compiler.
Generated C goes to build/cython/, never beside the sources. `rm -rf build` empties both.
"""

import glob
import hashlib
import os
import pathlib
import platform
import shutil
import sys
import sysconfig

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

MODULES = ("signing", "frames", "dates", "messages", "replay", "decoding", "transport", "zerocopy")
HERE = os.path.dirname(os.path.abspath(__file__))
CACHE = os.path.join("build", "ext-cache")
KEEP_PER_MODULE = 3  # cached builds kept per module and interpreter ABI (the newest)
# what distutils compiles and links with, besides the Extension's own fields
BUILD_ENV = (
    "CC",
    "CXX",
    "CFLAGS",
    "CPPFLAGS",
    "LDFLAGS",
    "LDSHARED",
    "ARCHFLAGS",
    "MACOSX_DEPLOYMENT_TARGET",
)
BUILD_CONFIG = ("CC", "CFLAGS", "CCSHARED", "LDSHARED", "LDFLAGS", "CPPFLAGS", "EXT_SUFFIX", "SOABI")


def _flag(name):
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _directives():
    directives = {"language_level": "3", "embedsignature": True}
    if _flag("JSESSION_CYTHON_TRACE"):
        directives["linetrace"] = True
    return directives


def _extensions():
    if _flag("JSESSION_NO_EXTENSIONS") or platform.python_implementation() != "CPython":
        return []
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
    if sys.platform != "win32":
        compile_args += ["-O3"]
    if _flag("JSESSION_SANITIZE"):
        san = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=undefined"]
        compile_args = ["-O1", "-g"] + san
        link_args += san
    if _flag("JSESSION_CYTHON_TRACE"):
        macros.append(("CYTHON_TRACE_NOGIL", "1"))

    only = [m for m in os.environ.get("JSESSION_BUILD_ONLY", "").split(",") if m]
    return [
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
        for name in only or MODULES
    ]


def _digest(*parts):
    h = hashlib.sha256()
    for part in parts:
        h.update(part if isinstance(part, bytes) else repr(part).encode())
        h.update(b"\0")
    return h.hexdigest()[:24]


def _cython_key(cython_version, directives):
    """What the generated C depends on: every Cython source, declaration and header of jsession._c."""
    sources = sorted(
        p
        for ext in ("pyx", "pxd", "pxi", "h")
        for p in glob.glob(os.path.join(HERE, "jsession", "_c", "*." + ext))
    )
    contents = [(os.path.basename(p), pathlib.Path(p).read_bytes()) for p in sources]
    return _digest(cython_version, sorted(directives.items()), contents)


def _openssl_headers(include_dirs):
    """The opensslv.h the compiler will find first (its version is part of the build's identity)."""
    for d in [*include_dirs, "/usr/local/include", "/usr/include"]:
        path = os.path.join(d, "openssl", "opensslv.h")
        if os.path.isfile(path):
            with open(path, "rb") as f:
                return f.read()
    return b""


class CachedBuildExt(build_ext):
    """Cythonize and compile a module only when no identical build of it is in build/ext-cache."""

    def build_extension(self, ext):
        from Cython import __version__ as cython_version
        from Cython.Build import cythonize

        directives = _directives()
        ckey = _cython_key(cython_version, directives)
        key = _digest(
            ckey,
            ext.name,
            sys.version,
            sys.executable,
            sysconfig.get_paths()["include"],
            [sysconfig.get_config_var(v) for v in BUILD_CONFIG],
            [os.environ.get(v) for v in BUILD_ENV],
            ext.include_dirs,
            ext.library_dirs,
            ext.libraries,
            ext.define_macros,
            ext.extra_compile_args,
            ext.extra_link_args,
            _openssl_headers(ext.include_dirs),
        )
        target = self.get_ext_fullpath(ext.name)
        cached = os.path.join(CACHE, key, os.path.basename(target))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if os.path.isfile(cached):
            print(f"{ext.name}: unchanged, reusing {cached}")
            shutil.copy2(cached, target)
            os.utime(cached)  # recently used: the last to be pruned
            return
        # the generated C lives in a directory named for its inputs: present means current
        (cythonized,) = cythonize(
            [ext], compiler_directives=directives, build_dir=os.path.join("build", "cython", ckey), quiet=True
        )
        ext.sources = cythonized.sources  # the same Extension: setuptools has annotated it
        super().build_extension(ext)
        os.makedirs(os.path.dirname(cached), exist_ok=True)
        partial = f"{cached}.{os.getpid()}.part"  # another build may be storing the same module
        shutil.copy2(target, partial)
        os.replace(partial, cached)
        self._prune(os.path.basename(target))

    @staticmethod
    def _prune(filename):
        builds = sorted(glob.glob(os.path.join(CACHE, "*", filename)), key=os.path.getmtime, reverse=True)
        for old in builds[KEEP_PER_MODULE:]:
            shutil.rmtree(os.path.dirname(old), ignore_errors=True)


setup(ext_modules=_extensions(), cmdclass={"build_ext": CachedBuildExt})
