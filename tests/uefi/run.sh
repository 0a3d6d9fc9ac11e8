#!/usr/bin/env bash
# The library inside real UEFI firmware: builds examples/uefi into a freestanding .efi with
# Debian's clang++ and lld-link, boots it headless in QEMU (TCG, never KVM) with OVMF, and
# checks the one result line the application prints on the serial console. The same for
# aarch64 (AAVMF) and riscv64 (OpenSBI and U-Boot's UEFI; the image is a PIE ELF that
# tools/elf2pe.py turns into PE32+, as no Debian 12 linker writes riscv64 PE) when their QEMU
# and firmware are installed. Also links core_only.efi (the library and the bare platform,
# no device model) and reports sizes.
#
#   tests/uefi/run.sh [all|x86_64|aarch64|riscv64]     (default all)
#
# Exits 0 only if every architecture that ran printed `FBNIC-UEFI: PASS` (QEMU's own exit
# status says nothing: an ACPI power-off is 0 whatever the application decided).
# Environment: FBNIC_UEFI_BUILD (default build/uefi), FBNIC_UEFI_TIMEOUT (seconds per boot,
# default 300), FBNIC_UEFI_SIZES=1 to list the 25 largest functions of each image,
# FBNIC_UEFI_CXXFLAGS for extra compiler flags (e.g. -DFBNIC_UEFI_PACKETS=100, or
# -DFBNIC_UEFI_INJECT_MISMATCH, which must make the run fail).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
out=${FBNIC_UEFI_BUILD:-$root/build/uefi}
boot_timeout=${FBNIC_UEFI_TIMEOUT:-300}
which_arch=${1:-all}

# shellcheck source=tests/uefi/toolchain.sh
source "$root/tests/uefi/toolchain.sh"
common+=(-Os)

# section NAME FILE: bytes in the file (raw) and in memory (virtual)
section() {
  local raw virt
  read -r raw virt <<<"$("$readobj" --sections "$2" | awk -v want="$1" '
    /Name: /         { name = $2 }
    /VirtualSize: /  { if (name == want) virt = $2 }
    /RawDataSize: /  { if (name == want) raw = $2 }
    END              { print raw + 0, (virt == "" ? "0x0" : virt) }')"
  echo "$raw $((virt))"
}
kib() { awk -v n="$1" 'BEGIN { printf "%.1f", n / 1024 }'; }

largest() {  # the 25 largest functions of an object built with -ffunction-sections
  # (.text$NAME in COFF, .text.NAME in ELF)
  "$objdump" -h "$1" | awk '$2 ~ /^\.text[$.]/ { print $3, substr($2, 7) }' |
    while read -r hex name; do echo "$((16#$hex)) $name"; done | sort -rn | sed -n 1,25p |
    while read -r size name; do
      printf '    %6d  %s\n' "$size" "$(echo "$name" | "$cxxfilt" | cut -c1-150)"
    done
}

# elf2pe.py's own check: what a PE base relocation cannot express is refused, not converted.
# A pointer to a global with default visibility is a symbol relocation in a -shared link,
# and a -static link is at a fixed address.
elf2pe_refuses() {  # elf2pe_refuses DIR
  local dir=$1 how
  printf 'int value = 1;\nint* pointer = &value;\nextern "C" int efi_main() { return *pointer; }\n' \
    >"$dir/refuse.cpp"
  "$cxx" -target riscv64-unknown-elf -march=rv64imac -mabi=lp64 -mno-relax -fPIC \
    -c "$dir/refuse.cpp" -o "$dir/refuse.o"
  for how in "-shared:relocation type 2 (symbol" "-static:not position-independent"; do
    "$ld_lld" "${how%%:*}" --no-dynamic-linker -T "$root/tools/elf2pe.ld" -o "$dir/refuse.elf" \
      "$dir/refuse.o"
    if python3 "$root/tools/elf2pe.py" "$dir/refuse.elf" "$dir/refuse.efi" 2>"$dir/refuse.log" ||
       ! grep -qF "${how#*:}" "$dir/refuse.log"; then
      echo "[riscv64] FAIL: elf2pe.py did not refuse a ${how%%:*} link: $(cat "$dir/refuse.log")"
      return 1
    fi
  done
  echo "[riscv64] elf2pe.py refuses a symbol relocation (-shared) and a fixed-address ELF (-static)"
}

build() {  # build ARCH: BOOT*.EFI and core_only.efi under $out/ARCH
  local arch=$1 dir=$out/$1 target machine boot
  case $arch in
    x86_64) target=(-target x86_64-unknown-windows-gnu -mno-red-zone); machine=x64; boot=BOOTX64.EFI ;;
    aarch64) target=(-target aarch64-unknown-windows-gnu); machine=arm64; boot=BOOTAA64.EFI ;;
    # A position-independent ELF, without floating point (the firmware need not enable the
    # FPU), no linker relaxation (lld 14 has none) and every symbol local, so that the only
    # dynamic relocations are R_RISCV_RELATIVE, which elf2pe.py makes PE base relocations.
    riscv64) target=(-target riscv64-unknown-elf -march=rv64imac -mabi=lp64 -mcmodel=medany
                     -mno-relax -fPIE -fvisibility=hidden -fno-asynchronous-unwind-tables)
             boot=BOOTRISCV64.EFI ;;
  esac
  mkdir -p "$dir"
  local t0; t0=$(now)
  # runtime.cpp (the functions the compiler emits calls to) is shared with fbnic.efi.
  for src in examples/uefi/main drivers/uefi/runtime examples/uefi/core_only; do
    "$cxx" "${target[@]}" "${common[@]}" "${extra[@]}" -c "$root/$src.cpp" -o "$dir/${src##*/}.obj"
  done
  if [ "$arch" = riscv64 ]; then
    elf2pe_refuses "$dir"
    local link=("$ld_lld" -pie --no-dynamic-linker -z text -z norelro --gc-sections
                -T "$root/tools/elf2pe.ld")
    "${link[@]}" -o "$dir/main.elf" "$dir/main.obj" "$dir/runtime.obj"
    "${link[@]}" -o "$dir/core_only.elf" "$dir/core_only.obj" "$dir/runtime.obj"
    python3 "$root/tools/elf2pe.py" "$dir/main.elf" "$dir/$boot"
    python3 "$root/tools/elf2pe.py" "$dir/core_only.elf" "$dir/core_only.efi"
    echo "[$arch] built in $(since "$t0") s ($cxx $($cxx -dumpversion), ld.lld -pie, tools/elf2pe.py, -Os)"
  else
    local link=(lld-link /subsystem:efi_application /entry:efi_main /nodefaultlib
                "/machine:$machine" /opt:ref)
    "${link[@]}" "/out:$dir/$boot" "$dir/main.obj" "$dir/runtime.obj"
    "${link[@]}" "/out:$dir/core_only.efi" "$dir/core_only.obj" "$dir/runtime.obj"
    echo "[$arch] built in $(since "$t0") s ($cxx $($cxx -dumpversion), lld-link, -Os)"
  fi

  local size text rdata data core_text core_size
  size=$(stat -c %s "$dir/$boot")
  # Code and constants as linked (virtual sizes; the file pads each to 512 bytes).
  read -r _ text <<<"$(section .text "$dir/$boot")"
  read -r _ rdata <<<"$(section .rdata "$dir/$boot")"
  read -r _ data <<<"$(section .data "$dir/$boot")"
  core_size=$(stat -c %s "$dir/core_only.efi")
  read -r _ core_text <<<"$(section .text "$dir/core_only.efi")"
  printf '[%s] %s: %d bytes (%s KiB): .text %d, .rdata %d; zeroed statics %d (not in the file)\n' \
    "$arch" "$boot" "$size" "$(kib "$size")" "$text" "$rdata" "$data"
  printf '[%s] core_only.efi (core + bare platform, no model): %d bytes, .text %d (%s KiB)\n' \
    "$arch" "$core_size" "$core_text" "$(kib "$core_text")"
  if [ "${FBNIC_UEFI_SIZES:-0}" = 1 ]; then
    echo "[$arch] largest functions of $boot:"; largest "$dir/main.obj"
    echo "[$arch] largest functions of core_only.efi:"; largest "$dir/core_only.obj"
  fi
}

boot() {  # boot ARCH: 0 on PASS
  local arch=$1 dir=$out/$1 esp qemu t0 rc=0
  esp=$dir/esp
  rm -rf "$esp" && mkdir -p "$esp/EFI/BOOT"
  case $arch in
    x86_64)
      cp "$dir/BOOTX64.EFI" "$esp/EFI/BOOT/"
      qemu=(qemu-system-x86_64 -machine pc -accel tcg -m 256 -bios /usr/share/ovmf/OVMF.fd
            -drive "format=raw,file=fat:rw:$esp") ;;
    aarch64)
      cp "$dir/BOOTAA64.EFI" "$esp/EFI/BOOT/"
      # shellcheck disable=SC2054 # the commas are QEMU's option syntax
      qemu=(qemu-system-aarch64 -machine virt -cpu cortex-a57 -accel tcg -m 256
            -bios /usr/share/qemu-efi-aarch64/QEMU_EFI.fd
            -drive "if=none,id=esp,format=raw,file=fat:rw:$esp" -device virtio-blk-device,drive=esp) ;;
    riscv64)
      # OpenSBI (M-mode) starts U-Boot in S-mode; U-Boot's distro boot finds
      # EFI/BOOT/BOOTRISCV64.EFI on the virtio disk after its 2 s autoboot countdown.
      cp "$dir/BOOTRISCV64.EFI" "$esp/EFI/BOOT/"
      # shellcheck disable=SC2054 # the commas are QEMU's option syntax
      qemu=(qemu-system-riscv64 -machine virt -accel tcg -m 256 -bios "$riscv_opensbi"
            -kernel "$riscv_uboot"
            -drive "if=none,id=esp,format=raw,file=fat:rw:$esp" -device virtio-blk-device,drive=esp) ;;
  esac
  t0=$(now)
  timeout "$boot_timeout" "${qemu[@]}" -net none -no-reboot -nographic \
    </dev/null >"$dir/serial.log" 2>"$dir/qemu.log" || rc=$?
  local took; took=$(since "$t0")
  # OVMF writes ANSI escapes and CRLF; the application's lines start with FBNIC-UEFI.
  sed 's/\x1b\[[0-9;?]*[A-Za-z]//g' "$dir/serial.log" | tr -d '\r' | grep -a '^FBNIC-UEFI' \
    >"$dir/result.log" || true
  sed "s/^/[$arch]   /" "$dir/result.log"
  local results; results=$(grep -c -E '^FBNIC-UEFI: (PASS|FAIL)' "$dir/result.log" || true)
  if [ "$rc" = 124 ]; then
    echo "[$arch] FAIL: QEMU did not power off within ${boot_timeout} s (serial log: $dir/serial.log)"
    return 1
  fi
  if [ "$results" != 1 ] || ! grep -q '^FBNIC-UEFI: PASS' "$dir/result.log"; then
    echo "[$arch] FAIL after $took s (serial log: $dir/serial.log, QEMU: $dir/qemu.log)"
    return 1
  fi
  echo "[$arch] PASS: boot to power-off in $took s (QEMU TCG)"
}

riscv_opensbi=/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin
riscv_uboot=/usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin

missing() {  # missing ARCH: the Debian packages ARCH's boot needs that are not installed
  case $1 in
    aarch64)
      command -v qemu-system-aarch64 >/dev/null || echo qemu-system-arm
      [ -f /usr/share/qemu-efi-aarch64/QEMU_EFI.fd ] || echo qemu-efi-aarch64 ;;
    riscv64)
      command -v qemu-system-riscv64 >/dev/null || echo qemu-system-misc
      [ -f "$riscv_opensbi" ] || echo opensbi
      [ -f "$riscv_uboot" ] || echo u-boot-qemu ;;
  esac
}

status=0
ran=0
for arch in x86_64 aarch64 riscv64; do
  [ "$which_arch" = all ] || [ "$which_arch" = "$arch" ] || continue
  need=$(missing "$arch" | paste -sd' ' -)
  if [ -n "$need" ]; then
    if [ "$which_arch" = "$arch" ]; then
      echo "[$arch] FAIL: needs $need"; status=1
    else
      echo "[$arch] skipped: $need not installed"
    fi
    continue
  fi
  build "$arch"
  boot "$arch" || status=1
  ran=$((ran + 1))
done
[ "$ran" -gt 0 ] || status=1
exit "$status"
