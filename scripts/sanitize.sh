#!/usr/bin/env bash
# Run the whole test suite against extensions built with AddressSanitizer + UBSan.
#
#   bash scripts/sanitize.sh                 # every test
#   bash scripts/sanitize.sh tests/test_hostile.py -x     # pytest arguments pass through
#
# The extensions are built with JSESSION_SANITIZE=1 (setup.py: -fsanitize=address,undefined
# -fno-sanitize-recover=undefined) in a scratch copy of the source tree, so the in-place build
# others use is left alone; SANITIZE_DIR=DIR picks the copy's place (default: a temp dir).
# CPython itself is not instrumented, so libasan is preloaded; PYTHONMALLOC=malloc routes
# Python's allocations through ASan too, so overruns of bytes/Frames jsession reads are caught.
# Leak detection is off (CPython leaves its own allocations at exit; scripts/valgrind.sh checks
# jsession's leaks). Every sanitizer report, from pytest or from any subprocess a test starts,
# goes to a log file: any log at all fails the run.
#
# Needs: gcc with libasan/libubsan (Debian: apt-get install gcc; they come with it), the
# OpenSSL headers (apt-get install libssl-dev), and the test dependencies (pip install '.[test]'
# minus jsession itself); setuptools>=77 and Cython come from PyPI into a build environment
# when the Python here has an older setuptools (see scratch_build.sh).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python}"
# the interpreter itself, not a wrapper script (pyenv shims are shell scripts)
PYTHON="$("$PYTHON" -c 'import sys; print(sys.executable)')"
CC="${CC:-gcc}"
WORK="${SANITIZE_DIR:-$(mktemp -d -t jsession-sanitize-XXXXXX)}"
SRC="$WORK/src"
LOGS="$WORK/logs"

libasan="$("$CC" -print-file-name=libasan.so)"
if [[ "$libasan" != /* || ! -e "$libasan" ]]; then
    echo "sanitize.sh: libasan not found for $CC (Debian/Ubuntu: apt-get install gcc libasan8)" >&2
    exit 2
fi

rm -rf "$LOGS"
mkdir -p "$LOGS"
# shellcheck source=scripts/scratch_build.sh
source "$ROOT/scripts/scratch_build.sh"
scratch_build "$SRC" CC="$CC" JSESSION_SANITIZE=1
for so in "$SRC"/jsession/_c/*.so; do
    if ! nm -D "$so" | grep __asan_init >/dev/null; then
        echo "sanitize.sh: $so is not instrumented with ASan" >&2
        exit 2
    fi
done

export LD_PRELOAD="$libasan${LD_PRELOAD:+:$LD_PRELOAD}"
export PYTHONMALLOC=malloc
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:halt_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1:log_path=$LOGS/asan"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$LOGS/ubsan"
export JSESSION_PURE_PYTHON=0
# the instrumented build made above, whatever else is installed
export PYTHONPATH="$SRC"

cd "$SRC"
"$PYTHON" - <<'EOF'
import jsession, jsession._c.signing as s, os
assert jsession.IMPLEMENTATION == "compiled", jsession.IMPLEMENTATION
assert s.__file__.startswith(os.getcwd()), s.__file__
print("== testing", os.path.dirname(s.__file__), "under ASan+UBSan")
EOF

status=0
"$PYTHON" -m pytest -p no:cacheprovider -q -rs "${@:-tests}" || status=$?

if compgen -G "$LOGS/*" >/dev/null; then
    echo "== sanitizer reports:" >&2
    for log in "$LOGS"/*; do
        echo "--- $log" >&2
        cat "$log" >&2
    done
    status=1
else
    echo "== no ASan or UBSan report"
fi
echo "== pytest and sanitizers: exit status $status (scratch copy kept in $WORK)"
exit "$status"
