#!/bin/sh
# The core, and the bare-metal backend that firmware builds with it, may include only
# standard headers that work in a freestanding (UEFI) build.
# The list is the measured one in ../shared/reference/uefi-toolchain.md.
set -eu
root=${1:-$(dirname "$0")/..}
allowed='cstddef|cstdint|climits|cstdarg|type_traits|concepts|compare|initializer_list|utility|array|span|bit|limits|numeric|optional|tuple|variant|new'
dirs="$root/include/fbnic $root/backends/bare/include/fbnic"
# shellcheck disable=SC2086
bad=$(grep -rhoE '#include <[^>]+>' $dirs | sed 's/#include <\(.*\)>/\1/' \
      | grep -vE "^(fbnic/.*|($allowed))$" | sort -u || true)
if [ -n "$bad" ]; then
  echo "core headers include what a freestanding build lacks: $bad"
  exit 1
fi
if grep -rnE '\bthrow\b|\bnew [A-Za-z_]|\bmalloc\(|\bprintf\(|\btypeid\b|dynamic_cast' $dirs; then
  echo "core uses exceptions, heap, printf or RTTI"
  exit 1
fi
echo "core and bare backend headers: freestanding only"
