# The UEFI toolchain both tests/uefi/build.sh and tests/uefi/run.sh use (sourced, with
# $root set): Debian's clang++ (CXX_UEFI overrides) and its LLVM tools, and the compile
# flags for a freestanding PE image.
# shellcheck shell=bash disable=SC2034  # the variables are for the scripts that source this

cxx=${CXX_UEFI:-clang++}
ld_lld=$($cxx -print-prog-name=ld.lld)
objdump=$($cxx -print-prog-name=llvm-objdump)
readobj=$($cxx -print-prog-name=llvm-readobj)
dwarfdump=$($cxx -print-prog-name=llvm-dwarfdump)
cxxfilt=$($cxx -print-prog-name=llvm-cxxfilt)
resource_dir=$($cxx -print-resource-dir)
# libstdc++'s headers (only the freestanding-safe ones are used; see CONTRIBUTING.md). Its
# x86_64-linux-gnu configuration header serves every target.
gcc_ver=$(find /usr/include/c++ -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -1)

# The -gnu (MinGW) triple, not the MSVC one: clang 14's Microsoft mangler gives every
# `template <auto Member>` instantiation over a pointer to data member the same name
# (see docs/uefi.md), and the core's TLV schemas are made of those. The object format, the
# calling convention and the linker (lld-link) are the same. It also defines __STRICT_ANSI__
# for -std=c++20, which libstdc++ needs. -nostdinc keeps /usr/include (glibc) out.
common=(-std=c++20 -ffreestanding -fno-exceptions -fno-rtti -fshort-wchar -mno-stack-arg-probe
        -ffunction-sections -fdata-sections
        -Wall -Wextra -Wpedantic -Wconversion -Wshadow -Werror
        -nostdinc -isystem "$resource_dir/include" -isystem "/usr/include/c++/$gcc_ver"
        -isystem "/usr/include/x86_64-linux-gnu/c++/$gcc_ver" -isystem "$root/tests/uefi/shim"
        -I"$root/include" -I"$root/backends/mock/include" -I"$root/backends/bare/include")
# shellcheck disable=SC2206
extra=(${FBNIC_UEFI_CXXFLAGS:-})

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
