#!/usr/bin/env bash
# The library on other CPUs: builds the unit, model, TLV, mailbox, data-path and bare-platform
# test suites with Debian's cross compilers and runs them under qemu-user (no binfmt: each
# binary runs as `qemu-ARCH -L /usr/TRIPLE`), for
#
#   aarch64  arm64, weakly ordered
#   riscv64  RVWMO, device and memory ordering apart (fence i/o vs r/w)
#   s390x    big-endian: every descriptor, TLV and register layout is little-endian
#   armhf    32-bit ARMv7: 32-bit size_t and pointers, 64-bit atomics by LDREXD
#
# GoogleTest is built for each from Debian's source package (/usr/src/googletest) and cached in
# ~/.cache/fbnic/gtest/ARCH-KEY, KEY a hash of the compiler's version, GoogleTest's version,
# the flags and this recipe. Then the freestanding -nostdlib umbrella-header program
# (tests/freestanding/main.cpp) is linked and run for each of them and for i386 and ppc64le
# (clang 14) and loongarch64 (clang 19), each under qemu-user.
#
#   tests/cross/run.sh [all|aarch64|riscv64|s390x|armhf|freestanding]     (default all)
#
# Environment: FBNIC_CROSS_BUILD (default build/cross), FBNIC_CACHE (default ~/.cache/fbnic),
# FBNIC_CROSS_CXXFLAGS (default -O1 -Wno-psabi: the suites' build dominates the time, and -O1
# costs far less than -O2 while still inlining what the hot paths inline; -Wno-psabi quiets
# g++'s note on armhf that an ABI changed in GCC 7.1).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
out=${FBNIC_CROSS_BUILD:-$root/build/cross}
cache=${FBNIC_CACHE:-$HOME/.cache/fbnic}/gtest
flags=${FBNIC_CROSS_CXXFLAGS:--O1 -Wno-psabi}
which_arch=${1:-all}
jobs=$(nproc)
suites=(regs_test model_test tlv_test fw_test datapath_test offload_test link_test rpc_test
        bare_test)

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
# timed FILE CMD...: runs CMD; FILE gets "wall s, CPU s" (CPU time is what a busy machine
# does not inflate: about twice the wall time the 2-core CI machine needs when idle).
timed() {
  local file=$1; shift
  /usr/bin/time -o "$file.raw" -f '%e %U %S' "$@" || { local rc=$?; rm -f "$file.raw"; return $rc; }
  awk '{ printf "%.1f s wall, %.1f s CPU", $1, $2 + $3 }' "$file.raw" >"$file"
}

triple_of() {
  case $1 in
    aarch64) echo aarch64-linux-gnu ;;
    riscv64) echo riscv64-linux-gnu ;;
    s390x) echo s390x-linux-gnu ;;
    armhf) echo arm-linux-gnueabihf ;;
  esac
}
qemu_of() {
  case $1 in
    armhf) echo qemu-arm ;;
    *) echo "qemu-$1" ;;
  esac
}
processor_of() {
  case $1 in
    armhf) echo arm ;;
    *) echo "$1" ;;
  esac
}

toolchain() {  # toolchain ARCH FILE: a CMake toolchain file for the cross compiler and qemu
  local arch=$1 triple; triple=$(triple_of "$1")
  cat >"$2" <<EOF
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR $(processor_of "$arch"))
set(CMAKE_C_COMPILER $triple-gcc)
set(CMAKE_CXX_COMPILER $triple-g++)
set(CMAKE_CROSSCOMPILING_EMULATOR $(qemu_of "$arch");-L;/usr/$triple)
set(CMAKE_FIND_ROOT_PATH /usr/$triple)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
EOF
}

gtest_version() {
  dpkg-query -W -f '${Version}' googletest 2>/dev/null ||
    sha256sum /usr/src/googletest/googletest/include/gtest/gtest.h | cut -c1-16
}

gtest() {  # gtest ARCH: prints the prefix of a GoogleTest built for ARCH (cached)
  local arch=$1 triple key prefix work
  triple=$(triple_of "$arch")
  # Bump the recipe tag when the build below changes.
  key=$( { echo recipe=1; "$triple-g++" --version | head -1; gtest_version; echo "$flags"; } |
        sha256sum | cut -c1-16)
  prefix=$cache/$arch-$key
  if [ -f "$prefix/.complete" ]; then
    echo "[$arch] GoogleTest $(gtest_version): cached ($prefix)" >&2
    echo "$prefix"; return
  fi
  work=$out/$arch/gtest-build
  rm -rf "$work" "$cache/$arch"-*  # builds for older inputs are never used again
  mkdir -p "$work"
  toolchain "$arch" "$work/toolchain.cmake"
  cmake -S /usr/src/googletest -B "$work" -G Ninja -DCMAKE_TOOLCHAIN_FILE="$work/toolchain.cmake" \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS="$flags" -DBUILD_GMOCK=OFF \
    -DCMAKE_INSTALL_PREFIX="$prefix" >"$work/configure.log"
  timed "$work/time" cmake --build "$work" -j "$jobs" >"$work/build.log"
  cmake --install "$work" >"$work/install.log"
  touch "$prefix/.complete"
  echo "[$arch] GoogleTest $(gtest_version): built in $(cat "$work/time") (cold; cached in $prefix)" >&2
  echo "$prefix"
}

suite() {  # suite ARCH: build the suites, run them under qemu-user; 0 if all pass
  local arch=$1 dir=$out/$1/fbnic prefix t0 rc=0
  prefix=$(gtest "$arch")
  mkdir -p "$dir"
  toolchain "$arch" "$out/$arch/toolchain.cmake"
  t0=$(now)
  cmake -S "$root" -B "$dir" -G Ninja -DCMAKE_TOOLCHAIN_FILE="$out/$arch/toolchain.cmake" \
    -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS="$flags" -DFBNIC_WERROR=ON \
    -DFBNIC_BUILD_VFIO=OFF -DFBNIC_BUILD_EMU=OFF -DFBNIC_BUILD_EXAMPLES=OFF \
    -DFBNIC_BUILD_BENCHMARKS=OFF -DFBNIC_INSTALL=OFF -DGTest_DIR="$prefix/lib/cmake/GTest" \
    >"$dir/configure.log"
  if ! timed "$dir/build-time" cmake --build "$dir" -j "$jobs" --target "${suites[@]}"; then
    echo "[$arch] FAIL: the suites do not build"
    return 1
  fi
  echo "[$arch] suites built in $(cat "$dir/build-time") ($(triple_of "$arch")-g++ $flags)"
  t0=$(now)
  rm -f "$dir/run-time"
  local regex; regex="^($(IFS='|'; echo "${suites[*]}"))\$"
  # A million packets through the rings take 40-80 s per CPU under qemu-user, for what the
  # native runs already show (the rings wrap within a few hundred packets in the other tests).
  GTEST_FILTER=-DataPath.MillionPacketsWrapTheRingsAndEveryByteArrives \
    timed "$dir/run-time" ctest --test-dir "$dir" -R "$regex" --output-on-failure -j "$jobs" ||
    rc=$?
  echo "[$arch] suites ran in $(cat "$dir/run-time" 2>/dev/null || echo "$(since "$t0") s") under" \
    "$(qemu_of "$arch") ($([ $rc = 0 ] && echo PASS || echo FAIL))"
  return "$rc"
}

# --- freestanding: the umbrella header with no runtime at all, on every CPU with a barrier ---
freestanding_flags=(-std=c++20 -ffreestanding -fno-exceptions -fno-rtti -fno-stack-protector
                    -nostdlib -static -O2 -Wall -Wextra -Wpedantic -Wconversion -Wshadow -Werror
                    -I"$root/include")

freestanding_one() {  # freestanding_one NAME QEMU COMPILER-AND-FLAGS...
  local name=$1 qemu=$2; shift 2
  local bin=$out/freestanding/$name t0 rc=0
  mkdir -p "$out/freestanding"
  t0=$(now)
  if ! "$@" "${freestanding_flags[@]}" "$root/tests/freestanding/main.cpp" -o "$bin"; then
    echo "[$name] freestanding -nostdlib: FAIL (does not build)"
    return 1
  fi
  "$qemu" "$bin" || rc=$?
  if [ "$rc" = 0 ]; then
    echo "[$name] freestanding -nostdlib: linked ($(stat -c %s "$bin") bytes) and ran under $qemu: PASS ($(since "$t0") s)"
  else
    echo "[$name] freestanding -nostdlib: FAIL (exit $rc under $qemu)"
  fi
  return "$rc"
}

freestanding() {
  local status=0 arch gcc_ver resource
  for arch in aarch64 riscv64 s390x armhf; do
    local -a extra=()
    # No C runtime sets up the global pointer, so the linker must not relax accesses onto it.
    [ "$arch" = riscv64 ] && extra=(-Wl,--no-relax)
    freestanding_one "$arch" "$(qemu_of "$arch")" "$(triple_of "$arch")-g++" "${extra[@]}" ||
      status=1
  done
  # Targets without a Debian 12 cross g++: clang with libstdc++'s headers (only the
  # freestanding-safe ones are used); glibc's <features.h> is stood in for by the UEFI shim.
  gcc_ver=$(find /usr/include/c++ -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -1)
  local -a libstdcxx=(-nostdinc -isystem "/usr/include/c++/$gcc_ver"
                      -isystem "/usr/include/x86_64-linux-gnu/c++/$gcc_ver"
                      -isystem "$root/tests/uefi/shim" -fuse-ld=lld)
  resource=$(clang++ -print-resource-dir)
  freestanding_one i386 qemu-i386 clang++ --target=i386-linux-gnu -isystem "$resource/include" \
    "${libstdcxx[@]}" || status=1
  freestanding_one ppc64le qemu-ppc64le clang++ --target=powerpc64le-linux-gnu \
    -isystem "$resource/include" "${libstdcxx[@]}" || status=1
  # LoongArch needs LLVM 19: clang 14 has no LoongArch target, and lld 16 cannot link it.
  resource=$(clang++-19 -print-resource-dir)
  # QEMU 7.2 has no LSX, the 128-bit vector extension clang 19 uses by default.
  freestanding_one loongarch64 qemu-loongarch64 clang++-19 --target=loongarch64-linux-gnu -mno-lsx \
    -isystem "$resource/include" "${libstdcxx[@]}" --ld-path=/usr/lib/llvm-19/bin/ld.lld ||
    status=1
  return "$status"
}

status=0
started=$(now)
for arch in aarch64 riscv64 s390x armhf; do
  [ "$which_arch" = all ] || [ "$which_arch" = "$arch" ] || continue
  t_arch=$(now)
  suite "$arch" || status=1
  echo "[$arch] total $(since "$t_arch") s"
done
if [ "$which_arch" = all ] || [ "$which_arch" = freestanding ]; then
  freestanding || status=1
fi
echo "cross: $(since "$started") s in all ($([ $status = 0 ] && echo PASS || echo FAIL))"
exit "$status"
