#!/usr/bin/env bash
# Run the test suite on every CPython this machine has, and print the counts per version.
#
#   bash scripts/test_pythons.sh              # every interpreter found
#   bash scripts/test_pythons.sh 3.13 3.15    # only these versions
#   bash scripts/test_pythons.sh --list       # only say which interpreters would run
#   PYTEST_ARGS="-x tests/test_session.py" bash scripts/test_pythons.sh 3.14
#
# Interpreters: python3.10 ... python3.15 and python3 on PATH, /usr/bin's and /usr/local/bin's, pyenv's ($PYENV_ROOT/versions),
# and those of the Debian "sid" root made by make-root.sh (PYTHONS_ROOT, default
# /var/tmp/pythons-sid), run inside it with its run.sh (PYTHONS_RUN, default
# ../shared/pythons/run.sh beside this checkout; needs root). The same binary found twice runs once.
#
# For each one: a copy of the work tree (tracked and untracked-but-not-ignored files: no build
# output) in WORKDIR (default: a new temporary directory; TEST_PYTHONS_DIR=DIR to choose), a fresh
# venv, `pip install '.[test]'` there, a check from outside the copy that the installed package
# runs the compiled core, then pytest from the copy's root as the README says. Nothing is built
# in this checkout. Exit status 1 when any interpreter failed.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHONS_ROOT="${PYTHONS_ROOT:-/var/tmp/pythons-sid}"
PYTHONS_RUN="${PYTHONS_RUN:-$ROOT/../shared/pythons/run.sh}"
WORK="${TEST_PYTHONS_DIR:-$(mktemp -d -t jsession-pythons-XXXXXX)}"
PYTEST_ARGS="${PYTEST_ARGS:-}"
LIST=0
WANTED=()
for arg in "$@"; do
    case "$arg" in
    --list) LIST=1 ;;
    *) WANTED+=("$arg") ;;
    esac
done
mkdir -p "$WORK"
WORK="$(cd "$WORK" && pwd)"

# what a venv, the build and the tests run with: nothing inherited that changes them
unset JSESSION_NO_EXTENSIONS JSESSION_BUILD_ONLY JSESSION_SANITIZE JSESSION_CYTHON_TRACE JSESSION_PURE_PYTHON
unset PYTHONPATH VIRTUAL_ENV
export PIP_DISABLE_PIP_VERSION_CHECK=1

wanted() { # VERSION -> whether it was asked for (all when none were)
    [[ ${#WANTED[@]} == 0 ]] && return 0
    local w
    for w in "${WANTED[@]}"; do [[ "$1" == "$w" || "$1" == "$w".* ]] && return 0; done
    return 1
}

# "KIND PATH" lines: local interpreters by real path, then the root's
declare -A seen=()
found=()
candidates=()
for v in 10 11 12 13 14 15; do
    p="$(command -v "python3.$v" 2>/dev/null)" && candidates+=("$p")
done
p="$(command -v python3 2>/dev/null)" && candidates+=("$p")
for p in /usr/bin/python3.1[0-9] /usr/local/bin/python3.1[0-9]; do [[ -x "$p" ]] && candidates+=("$p"); done
[[ -d "${PYENV_ROOT:-$HOME/.pyenv}/versions" ]] && candidates+=("${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.*/bin/python3)
for p in "${candidates[@]}"; do
    # the interpreter itself, not a shim; skip what does not run or is older than 3.10
    exe="$("$p" -c 'import sys; assert sys.version_info >= (3, 10); print(sys.executable)' 2>/dev/null)" || continue
    real="$(readlink -f "$exe")"
    [[ -n "${seen[$real]:-}" ]] && continue
    seen[$real]=1
    found+=("local $exe")
done
if [[ -x "$PYTHONS_ROOT/usr/bin/python3.15" && -x "$PYTHONS_RUN" ]]; then
    for p in "$PYTHONS_ROOT"/usr/bin/python3.1[0-9]; do
        found+=("root /usr/bin/$(basename "$p")")
    done
fi

versions=()
runs=()
for entry in "${found[@]}"; do
    kind="${entry%% *}" exe="${entry#* }"
    if [[ $kind == root ]]; then
        version="$(chroot "$PYTHONS_ROOT" "$exe" -c 'import sys; print(sys.version.split()[0])')"
    else
        version="$("$exe" -c 'import sys; print(sys.version.split()[0])')"
    fi
    wanted "$version" || continue
    versions+=("$version")
    runs+=("$entry")
    printf '%-8s %s%s\n' "$version" "$exe" "$([[ $kind == root ]] && echo " (in $PYTHONS_ROOT)")"
done
[[ $LIST == 1 ]] && exit 0
[[ ${#runs[@]} -gt 0 ]] || { echo "test_pythons: no interpreter found" >&2; exit 2; }

# the steps, run in the copy by bash (here, or inside the root)
STEPS='set -euo pipefail
py="$1"; venv="$2"; shift 2
rm -rf "$venv" build && "$py" -m venv "$venv"
"$venv/bin/pip" install -q ".[test]" >pip.log 2>&1 || { tail -30 pip.log; exit 3; }
(cd "$(dirname "$venv")" && "$venv/bin/python" -c "import jsession, sys
print(\"jsession\", jsession.__version__, jsession.IMPLEMENTATION, \"from\", jsession.__file__)
sys.exit(jsession.IMPLEMENTATION != \"compiled\")") || { echo "the compiled core is not in use"; exit 4; }
exec "$venv/bin/pytest" -p no:cacheprovider -q "$@"'

copy_tree() { # DEST: the work tree as a fresh clone plus uncommitted files would have it
    rm -rf "$1" && mkdir -p "$1"
    (cd "$ROOT" && git ls-files -z --cached --others --exclude-standard \
        | while IFS= read -r -d '' f; do [[ -f "$f" ]] && printf '%s\0' "$f"; done \
        | tar --null -T - -cf -) | tar -xf - -C "$1"
}

results=()
status=0
for i in "${!runs[@]}"; do
    entry="${runs[$i]}" version="${versions[$i]}"
    kind="${entry%% *}" exe="${entry#* }"
    echo
    echo "=== Python $version ($exe)"
    start=$SECONDS
    # shellcheck disable=SC2086 # PYTEST_ARGS is a list of words
    if [[ $kind == root ]]; then
        # inside the root: the copy lives under its /tmp so that nothing is mounted over a checkout
        dir="$PYTHONS_ROOT/tmp/jsession-pythons/$version"
        copy_tree "$dir/src"
        (cd "$dir/src" && "$PYTHONS_RUN" bash -c "$STEPS" steps "$exe" "/tmp/jsession-pythons/$version/venv" $PYTEST_ARGS) \
            2>&1 | tee "$WORK/$version.log"
        rc=${PIPESTATUS[0]}
    else
        dir="$WORK/$version"
        copy_tree "$dir/src"
        (cd "$dir/src" && bash -c "$STEPS" steps "$exe" "$dir/venv" $PYTEST_ARGS) 2>&1 | tee "$WORK/$version.log"
        rc=${PIPESTATUS[0]}
    fi
    summary="$(grep -E '^(=+ )?[0-9]+ (passed|failed|error)' "$WORK/$version.log" | tail -1 | tr -d '=' | xargs)"
    [[ $rc == 0 ]] || status=1
    results+=("$(printf '%-8s %-5s %-70s %4ss  %s' "$version" "$([[ $rc == 0 ]] && echo ok || echo FAIL)" \
        "${summary:-no pytest summary (exit $rc)}" "$((SECONDS - start))" "$exe")")
done

echo
echo "=== per version (logs in $WORK)"
printf '%s\n' "${results[@]}"
exit "$status"
