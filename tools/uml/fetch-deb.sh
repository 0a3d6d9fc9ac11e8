#!/usr/bin/env bash
# Prints the path of a Debian package's .deb in $FBNIC_CACHE/debs, downloading it there with
# `apt-get download` (never installed) when the cache has no copy.
#
#   tools/uml/fetch-deb.sh PACKAGE
set -euo pipefail
pkg=$1
debs=${FBNIC_CACHE:-$HOME/.cache/fbnic}/debs
mkdir -p "$debs"
found=$(ls -t "$debs/${pkg}"_*.deb 2>/dev/null | head -n1 || true)
if [ -z "$found" ]; then
  echo "fetch-deb: downloading $pkg" >&2
  # A machine that never ran apt-get update has no package lists yet.
  (cd "$debs" && apt-get download "$pkg" >&2) ||
    { apt-get update >&2 && (cd "$debs" && apt-get download "$pkg" >&2); }
  found=$(ls -t "$debs/${pkg}"_*.deb | head -n1)
fi
echo "$found"
