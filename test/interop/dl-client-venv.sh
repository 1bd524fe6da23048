#!/usr/bin/env bash
# Makes the virtualenv the DL client interop test (dl-client.test.ts) runs the Descartes Labs
# Python client in, or keeps the one there when it was made from the same client tarball by
# this same script (so a second run costs a checksum).
#
#   bash test/interop/dl-client-venv.sh [<venv dir>]   (default node_modules/.cache/dl-client-venv)
#
# The client (descarteslabs 1.12.1) is read from ../shared/dl-client/ beside the repository,
# never copied into it. Its pinned dependencies are old, so it is installed with --no-deps, and
# what its vectors and storage modules import comes from the package index pip is set up with.
# A module that index does not have is replaced by its stand-in from ../shared/dl-client/stubs/
# (the list of what was stubbed is written to <venv>/stubbed.txt): a working settings loader
# for `dynaconf` and a working `lazy_object_proxy.Proxy`, which the client's configuration
# uses, and empty `blosc`, `affine`, `tifffile`, `mercantile`, which its raster and catalog
# modules import when the package loads and which no export or storage call reaches.
#
# Exit status: 0 ready, 3 when ../shared/dl-client is missing (the test then skips, saying so),
# anything else a failure (pip's output is printed).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="${1:-$root/node_modules/.cache/dl-client-venv}"
shared="$(cd "$root/.." && pwd)/shared/dl-client"
tarball="$shared/descarteslabs-1.12.1-src.tgz"

if [ ! -f "$tarball" ]; then
  echo "dl-client-venv: no DL client tarball at $tarball (the shared folder beside the repository is missing)" >&2
  exit 3
fi

fingerprint="$(cat "$tarball" "${BASH_SOURCE[0]}" | sha256sum | cut -d' ' -f1)"
if [ -x "$venv/bin/python" ] && [ "$(cat "$venv/.fingerprint" 2>/dev/null || true)" = "$fingerprint" ]; then
  exit 0
fi

rm -rf "$venv"
mkdir -p "$(dirname "$venv")"
python3 -m venv "$venv"
log="$venv/pip.log"
pip() {
  # --retries 0: an index that cannot be reached is passed over at once instead of retried.
  "$venv/bin/python" -m pip --disable-pip-version-check install --retries 0 "$@" >>"$log" 2>&1
}
fail() {
  cat "$log" >&2
  echo "dl-client-venv: $1" >&2
  exit 1
}

# What the vectors and storage modules import (and `wheel`, which the client's setup.py needs).
pip wheel requests shapely geojson six cachetools pytz tqdm numpy pillow ||
  fail "pip could not install the client's dependencies (requests, shapely, geojson, six, cachetools, pytz, tqdm, numpy, pillow)"

# Modules the package imports when it loads: the real one where the index has it, else the stand-in.
site="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
: >"$venv/stubbed.txt"
for pair in dynaconf:dynaconf lazy-object-proxy:lazy_object_proxy blosc:blosc affine:affine tifffile:tifffile mercantile:mercantile; do
  name="${pair%%:*}"
  module="${pair##*:}"
  if ! pip "$name"; then
    [ -d "$shared/stubs/$module" ] || fail "pip could not install $name and there is no stand-in for it in $shared/stubs"
    cp -R "$shared/stubs/$module" "$site/"
    echo "$module" >>"$venv/stubbed.txt"
  fi
done

unpacked="$(mktemp -d)"
trap 'rm -rf "$unpacked"' EXIT
tar -xzf "$tarball" -C "$unpacked"
pip --no-deps --no-build-isolation "$unpacked" || fail "pip could not install the DL client from $tarball"

echo "$fingerprint" >"$venv/.fingerprint"
