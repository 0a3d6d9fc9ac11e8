#!/usr/bin/env bash
# Builds fbnic-emu on its own (RelWithDebInfo, no tests, benchmarks, examples or VFIO) in
# BUILD_DIR, configuring it the first time, and prints the binary's path. For the scripts
# that run the emulator when they are not handed one (--emu).
#
#   tools/build-emu.sh [BUILD_DIR]      (default: build-emu at the top of the tree)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${1:-$repo/build-emu}
if [ ! -f "$build_dir/CMakeCache.txt" ]; then
  gen=()
  command -v ninja >/dev/null && gen=(-G Ninja)
  cmake -S "$repo" -B "$build_dir" "${gen[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DFBNIC_BUILD_TESTS=OFF -DFBNIC_BUILD_BENCHMARKS=OFF -DFBNIC_BUILD_EXAMPLES=OFF \
    -DFBNIC_BUILD_VFIO=OFF -DFBNIC_BUILD_EMU=ON >/dev/null
fi
cmake --build "$build_dir" --target fbnic-emu >/dev/null
echo "$build_dir/backends/emu/fbnic-emu"
