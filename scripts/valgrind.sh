#!/usr/bin/env bash
# Valgrind memcheck over jsession's compiled paths: no invalid read or write anywhere, no use of
# uninitialised memory and no definite leak in jsession's code.
#
#   bash scripts/valgrind.sh                  # the focused driver, then a selection of tests
#   bash scripts/valgrind.sh --driver-only
#   VALGRIND_TESTS="tests/test_session.py -k compiled" bash scripts/valgrind.sh
#
# The extensions are built (with -g) in a scratch copy of the source tree (VALGRIND_DIR, default
# a temp dir), so the in-place build others use is left alone. PYTHONMALLOC=malloc makes every
# Python allocation visible to memcheck. CPython's own noise (what it leaves allocated at exit,
# its address-space probing) is not suppressed by a hand-kept list: each report is attributed
# by its stack instead. The run fails on
#   - any invalid read/write/free or overlapping copy, wherever it is;
#   - uninitialised values used, or memory definitely lost, by jsession's C code: a frame of
#     jsession/_c/*.so on the stack below the first interpreter frame (further out, it is Python
#     code or the garbage collector running during a jsession call).
# Everything else memcheck says is counted and listed in the summary, not failed on.
#
# Needs: valgrind (apt-get install valgrind), gcc and the OpenSSL headers (libssl-dev), and the
# test dependencies; see scratch_build.sh for setuptools and Cython.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python}"
# the interpreter itself, not a wrapper script (pyenv shims are shell scripts)
PYTHON="$("$PYTHON" -c 'import sys; print(sys.executable)')"
WORK="${VALGRIND_DIR:-$(mktemp -d -t jsession-valgrind-XXXXXX)}"
SRC="$WORK/src"
# the compiled core's tests; a test timing a child process's receive cannot keep its timeout
TESTS="${VALGRIND_TESTS:-tests/test_signing.py tests/test_hostile.py tests/test_threads.py tests/test_session.py tests/test_transport.py -k compiled and not costs_no_extra_memory}"
DRIVER_ROUNDS="${VALGRIND_ROUNDS:-3}"

if ! command -v valgrind >/dev/null; then
    echo "valgrind.sh: valgrind is not installed (Debian/Ubuntu: apt-get install -y valgrind)" >&2
    exit 2
fi

# shellcheck source=scripts/scratch_build.sh
source "$ROOT/scripts/scratch_build.sh"
scratch_build "$SRC" CFLAGS="-g -fno-omit-frame-pointer"
cd "$SRC"
# the build made above, whatever else is installed
export PYTHONPATH="$SRC"
mkdir -p "$WORK/xml"
rm -f "$WORK"/xml/*.xml

export PYTHONMALLOC=malloc
export JSESSION_PURE_PYTHON=0
VALGRIND=(valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite
    --errors-for-leak-kinds=definite --track-origins=yes --num-callers=40 --error-limit=no
    --suppressions="$ROOT/scripts/valgrind.supp" --xml=yes)

# one XML file per process (%p): a test that forks must not interleave two reports
status=0
echo "== driver: scripts/valgrind_driver.py $DRIVER_ROUNDS (under memcheck)"
"${VALGRIND[@]}" --xml-file="$WORK/xml/driver.%p.xml" \
    "$PYTHON" scripts/valgrind_driver.py "$DRIVER_ROUNDS" || status=$?

if [[ "${1:-}" != "--driver-only" ]]; then
    echo "== tests: $TESTS (under memcheck)"
    # pytest arguments, then whatever follows -k as one expression
    read -r -a test_args <<<"${TESTS%% -k *}"
    [[ "$TESTS" != *" -k "* ]] || test_args+=(-k "${TESTS#* -k }")
    "${VALGRIND[@]}" --xml-file="$WORK/xml/tests.%p.xml" \
        "$PYTHON" -m pytest -p no:cacheprovider -q -o timeout=3000 "${test_args[@]}" || status=$?
fi
[[ $status == 0 ]] || echo "== a program under memcheck failed (exit status $status)" >&2

echo "== memcheck reports"
"$PYTHON" - "$WORK"/xml/*.xml <<'EOF' || status=1
import collections
import sys
import xml.etree.ElementTree as ET

ALWAYS_FATAL = {"InvalidRead", "InvalidWrite", "InvalidFree", "MismatchedFree", "Overlap",
                "InvalidJump", "InvalidMemPool", "FishyValue"}
FATAL_IN_OURS = {"UninitCondition", "UninitValue", "SyscallParam", "Leak_DefinitelyLost"}

def ours(error) -> bool:
    """Whether jsession's C code made the access (or the allocation, for a leak): a frame of
    jsession/_c/*.so on the error's stack below the first interpreter frame. A jsession frame
    further out only means Python code called back from jsession (slow_parse, an unpacker,
    the garbage collector) did it."""
    for frame in error.find("stack").iter("frame"):
        if "/jsession/_c/" in (frame.findtext("obj") or ""):
            return True
        if (frame.findtext("fn") or "").startswith("_PyEval_EvalFrame"):
            return False
    return False

failed = False
for path in sys.argv[1:]:
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError:  # a child that exec'd or ended abruptly: keep its complete reports
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        end = text.rfind("</error>")
        complete = text[: end + len("</error>")] if end >= 0 else ""
        root = ET.fromstring("<valgrindoutput>" + complete[complete.find("<error>"):] + "</valgrindoutput>"
                             if complete else "<valgrindoutput/>")
    counts = collections.Counter()
    bad = []
    for error in root.iter("error"):
        kind = error.findtext("kind")
        mine = ours(error)
        counts[(kind, "jsession" if mine else "elsewhere")] += 1
        if kind in ALWAYS_FATAL or (mine and kind in FATAL_IN_OURS):
            bad.append(error)
    print(f"{path}: " + (", ".join(f"{k} in {w}: {n}" for (k, w), n in sorted(counts.items())) or "no reports"))
    for error in bad:
        failed = True
        what = error.findtext("what") or error.findtext("xwhat/text")
        print(f"  FAIL {error.findtext('kind')}: {what}")
        for frame in list(error.find("stack").iter("frame"))[:15]:
            print(f"      {frame.findtext('fn') or '?'}  {frame.findtext('file') or frame.findtext('obj') or ''}:{frame.findtext('line') or ''}")
sys.exit(1 if failed else 0)
EOF
if [[ $status == 0 ]]; then
    echo "== no invalid access anywhere, no uninitialised use or definite leak in jsession (logs: $WORK/xml)"
fi
exit "$status"
