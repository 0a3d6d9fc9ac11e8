#!/usr/bin/env bash
# fbnic-emu as a PCI device in stock QEMU (Debian 12's qemu-system-x86_64 7.2, TCG), through
# QEMU's multi-process protocol (x-pci-proxy-dev). See docs/emulator.md.
#
#   tests/qemu/run.sh [--emu PATH] [--build-dir DIR] [--keep] [uefi] [linux]
#
#   uefi    OVMF: the UEFI shell's `pci` lists 1d9b:0013 with its BARs assigned and `mm`
#           reaches the model through BAR0 (tests/qemu/uefi_test.py drives the shell)
#   linux   Debian's kernel (as tests/vm/vfio boots it) with two fbnic-emu NICs (cabled to
#           each other) and an ivshmem doorbell: `lspci -nn` lists them, vfio-pci binds them,
#           and tests/qemu/guest_probe.cpp measures a BAR read and rings the doorbell
#
#   --emu PATH       the fbnic-emu to use (default: built in --build-dir, default build-emu)
#   --keep           keep the scratch directory (consoles, fbnic-emu logs)
#
# Every run checks fbnic-emu's own output too: no rejected message, no model fault, no
# sanitizer report. Prints "QEMU-DEVICE PASS" (exit 0) or "QEMU-DEVICE FAIL".
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build_dir=$repo/build-emu
emu=""
keep=0
phases=()
while [ $# -gt 0 ]; do
  case $1 in
    --emu) emu=$(realpath "$2"); shift ;;
    --build-dir) build_dir=$(realpath -m "$2"); shift ;;
    --keep) keep=1 ;;
    uefi | linux) phases+=("$1") ;;
    -h | --help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
[ ${#phases[@]} -gt 0 ] || phases=(uefi linux)

t_start=$(date +%s%N)
elapsed() { awk -v a="$t_start" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }'; }
say() { echo "[$(elapsed)s] $*"; }
die() { echo "run.sh: $*" >&2; echo "QEMU-DEVICE FAIL"; exit 1; }

for tool in qemu-system-x86_64 python3 cmake; do
  command -v "$tool" >/dev/null || die "missing $tool (tools/deps.sh installs it)"
done
[ -f /usr/share/OVMF/OVMF_CODE_4M.fd ] || die "missing OVMF (apt-get install ovmf)"
qemu-system-x86_64 -device help 2>/dev/null | grep -q '"x-pci-proxy-dev"' ||
  die "this qemu-system-x86_64 has no x-pci-proxy-dev (Debian 12's 7.2 has it)"

scratch=$(mktemp -d "${TMPDIR:-/tmp}/fbnic-qemu-emu.XXXXXX")
cleanup() {
  if [ "$keep" = 1 ]; then echo "run.sh: kept $scratch"; else rm -rf "$scratch"; fi
}
trap cleanup EXIT

if [ -z "$emu" ]; then
  if [ ! -f "$build_dir/CMakeCache.txt" ]; then
    gen=()
    command -v ninja >/dev/null && gen=(-G Ninja)
    cmake -S "$repo" -B "$build_dir" "${gen[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DFBNIC_BUILD_TESTS=OFF -DFBNIC_BUILD_BENCHMARKS=OFF -DFBNIC_BUILD_EXAMPLES=OFF \
      -DFBNIC_BUILD_VFIO=OFF -DFBNIC_BUILD_EMU=ON >/dev/null
  fi
  cmake --build "$build_dir" --target fbnic-emu >/dev/null
  emu=$build_dir/backends/emu/fbnic-emu
fi
[ -x "$emu" ] || die "no fbnic-emu at $emu"

failed=0
# fbnic-emu's side of a run: its counters, and nothing it should not have printed.
check_emu() {  # LOG
  local log=$1 bad
  sed 's/^/  emu| /' "$log"
  bad=$(grep -aE 'ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer' "$log" || true)
  if [ -n "$bad" ]; then say "FAIL: sanitizer report in fbnic-emu's output"; failed=1; fi
  if grep -aqE 'rejected [1-9]|model faults [1-9]' "$log"; then
    say "FAIL: fbnic-emu rejected a message or the model saw a fault"
    failed=1
  fi
  grep -aq ' final: ' "$log" || { say "FAIL: fbnic-emu printed no final counters"; failed=1; }
}

# Guest RAM shared with fbnic-emu (DMA); TCG only, never KVM.
qemu_common=(qemu-system-x86_64 -accel tcg -nodefaults -display none -monitor none -no-reboot
  -serial stdio -m 256M -object memory-backend-memfd,id=mem,size=256M,share=on)

phase_uefi() {
  local dir=$scratch/uefi
  mkdir -p "$dir"
  cp /usr/share/OVMF/OVMF_VARS_4M.fd "$dir/vars.fd"
  say "uefi: OVMF + fbnic-emu at 00:03.0 (x-pci-proxy-dev)"
  local t0 rc=0
  t0=$(date +%s%N)
  # The commas are QEMU's option syntax.
  # shellcheck disable=SC2054
  PYTHONPATH=$here python3 "$here/uefi_test.py" --transcript "$dir/console.log" -- \
    "$emu" qemu --log "$dir/emu.log" -- "${qemu_common[@]}" \
    -machine q35,memory-backend=mem \
    -drive if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd \
    -drive "if=pflash,format=raw,unit=1,file=$dir/vars.fd" \
    -device x-pci-proxy-dev,id=fbnic0,fd=@FD@,addr=0x3 | sed 's/^/  /' || rc=$?
  [ "$rc" = 0 ] || failed=1
  check_emu "$dir/emu.log"
  say "uefi: $([ "$rc" = 0 ] && echo PASS || echo FAIL) in $(awk -v a="$t0" -v b="$(date +%s%N)" \
    'BEGIN { printf "%.1f", (b - a) / 1e9 }') s"
}

# lspci (pciutils, with its libraries and pci.ids) from Debian's .debs for the guest.
lspci_specs() {  # prints DEST=SOURCE:MODE lines for guest.py
  local stage=$scratch/pciutils deb lib real
  mkdir -p "$stage"
  for p in pciutils libpci3 pci.ids; do
    deb=$("$repo/tools/uml/fetch-deb.sh" "$p") || return 1
    dpkg-deb -x "$deb" "$stage"
  done
  echo "usr/bin/lspci=$stage/usr/bin/lspci:755"
  echo "usr/share/misc/pci.ids=$stage/usr/share/misc/pci.ids:644"
  LD_LIBRARY_PATH=$stage/lib/x86_64-linux-gnu:$stage/usr/lib/x86_64-linux-gnu \
    ldd "$stage/usr/bin/lspci" >"$stage/ldd"
  if grep -q 'not found' "$stage/ldd"; then cat "$stage/ldd" >&2; return 1; fi
  awk '/=> \// { print $1, $3 } /^\t\/lib64\// { print "ld-linux-x86-64.so.2", $1 }' "$stage/ldd" |
    while read -r lib real; do
      case $lib in
        ld-linux-x86-64.so.2) echo "lib64/$lib=$(readlink -f "$real"):755" ;;
        *) echo "lib/x86_64-linux-gnu/$lib=$(readlink -f "$real"):644" ;;
      esac
    done
}

phase_linux() {
  local dir=$scratch/linux kernel pkg kdir busybox_bin
  mkdir -p "$dir"
  busybox_bin=$(command -v busybox) || die "missing busybox (apt-get install busybox-static)"
  kernel=$("$repo/tests/vm/kernel.sh") || die "no guest kernel"
  pkg=$(sed -n 's/^PKG=//p' <<<"$kernel")
  kdir=$(sed -n 's/^KDIR=//p' <<<"$kernel")
  local build=${FBNIC_VFIO_VM_BUILD:-$repo/build/vm-vfio}
  if [ ! -f "$build/CMakeCache.txt" ]; then
    local gen=()
    command -v ninja >/dev/null && gen=(-G Ninja)
    cmake -S "$repo" -B "$build" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DFBNIC_VFIO_VM_TEST=ON \
      -DFBNIC_BUILD_TESTS=OFF -DFBNIC_BUILD_EXAMPLES=OFF -DFBNIC_BUILD_BENCHMARKS=OFF \
      -DFBNIC_INSTALL=OFF -DFBNIC_WERROR=ON >/dev/null
  fi
  cmake --build "$build" --target qemu_guest_probe -j "${FBNIC_JOBS:-2}" >"$dir/build.log" 2>&1 ||
    { cat "$dir/build.log"; die "building qemu_guest_probe failed"; }
  strip -o "$dir/qemu_guest_probe" "$build/tests/qemu/qemu_guest_probe"
  local specs=("bin/busybox=$busybox_bin:755" "init=$here/init.sh:755"
    "qemu_guest_probe=$dir/qemu_guest_probe:755" "modules/order=$kdir/modules/order:644")
  for ko in "$kdir"/modules/*.ko; do specs+=("modules/$(basename "$ko")=$ko:644"); done
  mapfile -t -O "${#specs[@]}" specs < <(lspci_specs) || die "no lspci for the guest"
  python3 "$repo/tests/vm/guest.py" initramfs "$dir/initramfs.cpio" "${specs[@]}"
  say "linux: kernel $pkg, initramfs $(stat -c %s "$dir/initramfs.cpio") bytes (busybox, lspci," \
    "vfio modules, qemu_guest_probe)"
  say "linux: q35 + intel-iommu, fbnic-emu NICs at 00:03.0 and 00:04.0 (cabled), doorbell at 00:05.0"
  local t0 rc=0
  t0=$(date +%s%N)
  # shellcheck disable=SC2054
  timeout -k 5 "${FBNIC_QEMU_TIMEOUT:-300}" "$emu" qemu --cable --log "$dir/emu.log" -- \
    "${qemu_common[@]}" -machine q35,memory-backend=mem -smp 1 \
    -device intel-iommu,intremap=on \
    -device x-pci-proxy-dev,id=fbnic0,fd=@FD0@,addr=0x3 \
    -device x-pci-proxy-dev,id=fbnic1,fd=@FD1@,addr=0x4 \
    -chardev socket,path=@DOORBELL0@,id=bell0 \
    -device ivshmem-doorbell,chardev=bell0,vectors=4,addr=0x5 \
    -kernel "$kdir/vmlinux" -initrd "$dir/initramfs.cpio" \
    -append "console=ttyS0 panic=-1 quiet intel_iommu=on BAR_READS=5000" \
    </dev/null >"$dir/console.log" 2>&1 || rc=$?
  local took
  took=$(awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')
  grep -aE '^(GUEST|ok  |FAIL|BAR-READ|QEMU-GUEST|qemu-system)' "$dir/console.log" | tr -d '\r' |
    sed 's/^/  /' || true
  check_emu "$dir/emu.log"
  if [ "$rc" = 0 ] && grep -aq '^GUEST-RESULT: PASS' "$dir/console.log" &&
    ! grep -aq '^FAIL' "$dir/console.log"; then
    say "linux: PASS in $took s (QEMU start to power-off)"
  else
    say "linux: FAIL in $took s (exit $rc); console tail:"
    tail -n 40 "$dir/console.log" | tr -d '\r' | sed 's/^/  | /'
    failed=1
  fi
}

for phase in "${phases[@]}"; do "phase_$phase"; done
say "total"
if [ "$failed" = 0 ]; then echo "QEMU-DEVICE PASS"; else echo "QEMU-DEVICE FAIL"; exit 1; fi
