# shellcheck shell=bash
# Sourced by sanitize.sh and valgrind.sh: copy the working tree to a scratch directory and build
# the extensions there, leaving the in-place build others use alone.
#
#   scratch_build SRC [VAR=value ...]   -> builds in SRC with those environment variables
#
# Builds with $PYTHON; when its setuptools is older than 77 (which cannot read pyproject.toml's
# SPDX license string), a virtual environment beside SRC gets a newer setuptools and Cython
# (from PyPI) for the build only: $PYTHON, which the caller runs the tests with (its own
# packages, a virtual environment's included), is left as it is.

scratch_build() {
    local src="$1"
    shift
    local root
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    rm -rf "$src"
    mkdir -p "$src"
    if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        # tracked files and new ones not ignored: the working tree as it is, no build output
        (cd "$root" && git ls-files -z --cached --others --exclude-standard \
            | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done \
            | tar --null -T - -cf -) | tar -xf - -C "$src"
    else
        (cd "$root" && tar --exclude=./build --exclude='*.so' --exclude='jsession/_c/*.c' \
            --exclude=./.git --exclude=./.hypothesis --exclude=./.venv -cf - .) | tar -xf - -C "$src"
    fi
    # the build may need a newer setuptools than the Python the tests run on; only the
    # build uses that environment ($PYTHON, and its packages, stay the caller's)
    local build_python="$PYTHON"
    if ! "$PYTHON" -c 'import sys, setuptools; sys.exit(int(setuptools.__version__.split(".")[0]) < 77)'; then
        local venv
        venv="$(dirname "$src")/buildenv"
        echo "== setuptools < 77 here: a build environment in $venv"
        [ -x "$venv/bin/python" ] || "$PYTHON" -m venv --system-site-packages "$venv"
        "$venv/bin/python" -m pip install -q 'setuptools>=77' 'Cython>=3'
        build_python="$venv/bin/python"
    fi
    echo "== build in $src ($*)"
    (cd "$src" && env "$@" "$build_python" setup.py -q build_ext --inplace) >"$src/.build.log" 2>&1 || {
        cat "$src/.build.log" >&2
        echo "scratch_build: the build failed" >&2
        return 1
    }
    ls "$src"/jsession/_c/*.so
}
