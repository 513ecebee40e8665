#!/usr/bin/env bash
# Build OpenSSL's libcrypto from a release tarball into PREFIX, for wheels whose build image has
# no supported OpenSSL (manylinux_2_28 is AlmaLinux 8: OpenSSL 1.1.1k, past its end of life).
# cibuildwheel runs it in before-all; setup.py then compiles against it (JSESSION_OPENSSL_DIR)
# and auditwheel copies PREFIX/lib/libcrypto.so.3 into the wheel.
#
#   bash scripts/build_openssl.sh PREFIX [TARBALL]
#     PREFIX   where it is installed (PREFIX/include, PREFIX/lib)
#     TARBALL  a local copy of the release tarball; without it, it is downloaded from OpenSSL's
#              GitHub releases. Either way its SHA-256 must be the one pinned here.
#   OPENSSL_VERSION, OPENSSL_SHA256   another release (both, together)
#
# The pinned release is from the 3.5 series, OpenSSL's long-term support release (supported
# until April 2030); its SHA-256 is that of the upstream tarball (Debian ships it unchanged as
# openssl_3.5.7.orig.tar.gz). Bump both lines together for a newer 3.5.x patch release.
#
# Only the libraries and headers are installed (no docs, no tests built); the library directory
# is PREFIX/lib on every architecture. Nothing is done when PREFIX already holds that version.
set -euo pipefail
VERSION="${OPENSSL_VERSION:-3.5.7}"
SHA256="${OPENSSL_SHA256:-a8c0d28a529ca480f9f36cf5792e2cd21984552a3c8e4aa11a24aa31aeac98e8}"
PREFIX="$1"
TARBALL="${2:-}"

if [[ -f "$PREFIX/include/openssl/opensslv.h" ]] \
    && grep -q "OPENSSL_FULL_VERSION_STR \"$VERSION\"" "$PREFIX/include/openssl/opensslv.h"; then
    echo "build_openssl: OpenSSL $VERSION already in $PREFIX"
    exit 0
fi
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
if [[ -z "$TARBALL" ]]; then
    TARBALL="$WORK/openssl-$VERSION.tar.gz"
    curl -fsSL --retry 5 -o "$TARBALL" \
        "https://github.com/openssl/openssl/releases/download/openssl-$VERSION/openssl-$VERSION.tar.gz"
fi
echo "$SHA256  $TARBALL" | sha256sum -c -
tar -xzf "$TARBALL" -C "$WORK"
cd "$WORK/openssl-$VERSION"
# Configure needs perl and a few of its modules, which a minimal AlmaLinux may lack: installed
# by what they provide ("perl(IPC::Cmd)"), whatever the package is called in that release
if command -v dnf >/dev/null; then
    command -v perl >/dev/null || dnf install -y -q perl-interpreter >/dev/null
    for module in IPC::Cmd Time::Piece FindBin File::Compare File::Copy Pod::Usage; do
        perl -M"$module" -e 1 2>/dev/null || dnf install -y -q "perl($module)" >/dev/null
    done
fi
./Configure --prefix="$PREFIX" --openssldir="$PREFIX/ssl" --libdir=lib shared no-tests no-docs >/dev/null
make -s -j"$(nproc)" >/dev/null
make -s install_sw >/dev/null
"$PREFIX/bin/openssl" version
