#!/usr/bin/env bash
# Builds and runs every test of fbnic. Needs what tools/deps.sh installs.
#
#   0. clang-format over the tree
#   1. g++, warnings as errors: unit, model, freestanding, package and doc tests
#   2. clang++, warnings as errors, ASan + UBSan: the same tests, and the fuzzers (TLV parser
#      60 s; Rx ring, Tx ring and mailbox on the hostile model, 30 s each)
#   3. other CPUs: the suites cross-built and run under qemu-user on aarch64, riscv64, s390x
#      (big-endian) and armhf (32-bit); the freestanding program on those and i386, ppc64le,
#      loongarch64 (GoogleTest per CPU is cached in ~/.cache/fbnic)
#   4. the VFIO backend against real vfio-pci, IOMMU DMA and MSI-X in a QEMU VM
#   5. the library in a UEFI application booted in QEMU with OVMF (x86_64), AAVMF (aarch64)
#      and U-Boot's UEFI (riscv64); the UEFI driver fbnic.efi built for x86_64 (at most
#      48 KiB) and aarch64, then loaded in OVMF with fbnic-emu (ASan and UBSan) as its PCI
#      device and its wire on a TAP where dnsmasq serves DHCP and TFTP: the shell's DHCP and
#      ping, a PXE boot, a device removed mid-run, a silent firmware, a removed device, no link
#   6. fbnic-emu (ASan and UBSan) as a PCI device in stock QEMU: OVMF's shell, a Linux
#      guest's lspci and vfio-pci, then the VFIO tools in a guest with four NICs
#      (fbnic-info, fbnic-pktgen, fbnic-fwd: 100,000 frames each, polling and through
#      interrupts, and their bad input)
#   7. the unmodified upstream Linux driver (User-Mode Linux) on the device model, through
#      fbnic-emu built with ASan and UBSan (the first run builds the UML kernel, ~4 min):
#      its wire on a TAP in a network namespace (ping, iperf3, a pcap tshark checks), then
#      two guests cabled through the model, then the built-in responder
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
started=$(date +%s)
stage() { printf '\n=== [%ss] %s\n' "$(($(date +%s) - started))" "$*"; }

stage "format: the tree matches .clang-format (clang-tidy: tools/lint.sh, about 4 minutes)"
tools/lint.sh format

stage "g++: build (-Werror) and test"
# Line tables only (-g1): full debug info costs a quarter of this stage's compile time.
cmake -S . -B build/gcc -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=g++ \
      "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG" -DFBNIC_WERROR=ON >/dev/null
cmake --build build/gcc -j "$jobs"
ctest --test-dir build/gcc --output-on-failure -j "$jobs"

stage "clang++ with ASan and UBSan: build (-Werror) and test"
# Debug at -O0 with line tables: instrumented code compiles in a third of the time it takes
# at -O2; the emulator and the fuzzers, which run against the clock, still get -O1
# (fbnic_timed in CMakeLists.txt).
cmake -S . -B build/clang-san -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_COMPILER=clang++ \
      "-DCMAKE_CXX_FLAGS_DEBUG=-O0 -gline-tables-only" -DFBNIC_WERROR=ON -DFBNIC_SANITIZE=ON \
      -DFBNIC_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build build/clang-san -j "$jobs"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build/clang-san --output-on-failure -j "$jobs" -LE consumer

stage "other CPUs: cross-built suites under qemu-user (aarch64, riscv64, s390x, armhf), freestanding on 7"
tests/cross/run.sh

stage "VFIO backend against real vfio-pci in a VM (QEMU TCG, intel-iommu)"
tests/vm/vfio/run.sh

stage "UEFI: the library inside OVMF, AAVMF and U-Boot (QEMU TCG, x86_64, aarch64, riscv64)"
tests/uefi/run.sh

stage "UEFI driver fbnic.efi: x86_64 at most 48 KiB, aarch64, where the bytes go"
tests/uefi/build.sh

stage "UEFI driver fbnic.efi in OVMF on fbnic-emu: shell, DHCP, ping, PXE boot, removal, bad input"
FBNIC_UEFI_NO_BUILD=1 tests/uefi/driver.sh --emu build/clang-san/backends/emu/fbnic-emu

stage "fbnic-emu as a PCI device in QEMU (x-pci-proxy-dev): OVMF, Linux with vfio-pci, the VFIO tools"
tests/qemu/run.sh --emu build/clang-san/backends/emu/fbnic-emu

stage "upstream Linux fbnic driver (User-Mode Linux 6.12) on the device model, wire on a TAP"
tests/uml/run.sh --emu build/clang-san/backends/emu/fbnic-emu --tap

stage "upstream Linux fbnic driver: two guests cabled through the model, then the responder"
tests/uml/run.sh --emu build/clang-san/backends/emu/fbnic-emu --pair --heartbeat 2 --cycles 1
tests/uml/run.sh --emu build/clang-san/backends/emu/fbnic-emu --heartbeat 2 --cycles 1

stage "all tests passed"
