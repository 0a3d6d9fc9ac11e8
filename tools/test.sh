#!/usr/bin/env bash
# Builds and runs every test of fbnic. Needs what tools/deps.sh installs.
#
#   0. clang-format over the tree
#   1. g++, warnings as errors: unit, model, freestanding, package and doc tests
#   2. clang++, warnings as errors, ASan + UBSan: the same tests, and the fuzzers (TLV parser
#      60 s; Rx ring, Tx ring and mailbox on the hostile model, 30 s each)
#   3. the VFIO backend against real vfio-pci, IOMMU DMA and MSI-X in a QEMU VM
#   4. the library in a UEFI application booted in QEMU with OVMF (x86_64) and AAVMF (aarch64)
#   5. the unmodified upstream Linux driver (User-Mode Linux) on the device model, through
#      fbnic-emu built with ASan and UBSan (the first run builds the UML kernel, ~4 min)
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
started=$(date +%s)
stage() { printf '\n=== [%ss] %s\n' "$(($(date +%s) - started))" "$*"; }

stage "format: the tree matches .clang-format (clang-tidy: tools/lint.sh, about 4 minutes)"
tools/lint.sh format

stage "g++: build (-Werror) and test"
cmake -S . -B build/gcc -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=g++ \
      -DFBNIC_WERROR=ON >/dev/null
cmake --build build/gcc -j "$jobs"
ctest --test-dir build/gcc --output-on-failure -j "$jobs"

stage "clang++ with ASan and UBSan: build (-Werror) and test"
cmake -S . -B build/clang-san -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
      -DFBNIC_WERROR=ON -DFBNIC_SANITIZE=ON -DFBNIC_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build build/clang-san -j "$jobs"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build/clang-san --output-on-failure -j "$jobs" -LE consumer

stage "VFIO backend against real vfio-pci in a VM (QEMU TCG, intel-iommu)"
tests/vm/vfio/run.sh

stage "UEFI: the library inside OVMF and AAVMF firmware (QEMU TCG, x86_64 and aarch64)"
tests/uefi/run.sh

stage "upstream Linux fbnic driver (User-Mode Linux 6.12) on the device model"
tests/uml/run.sh --emu build/clang-san/backends/emu/fbnic-emu

stage "all tests passed"
