#!/usr/bin/env bash
# fbnic-emu as a PCI device in stock QEMU (Debian 12's qemu-system-x86_64 7.2, TCG), through
# QEMU's multi-process protocol (x-pci-proxy-dev). See docs/emulator.md.
#
#   tests/qemu/run.sh [--emu PATH] [--build-dir DIR] [--keep] [uefi] [linux] [tools]
#
#   uefi    OVMF: the UEFI shell's `pci` lists 1d9b:0013 with its BARs assigned and `mm`
#           reaches the model through BAR0 (tests/qemu/uefi_test.py drives the shell)
#   linux   Debian's kernel (as tests/vm/vfio boots it) with two fbnic-emu NICs (cabled to
#           each other) and an ivshmem doorbell: `lspci -nn` lists them, vfio-pci binds them,
#           and tests/qemu/guest_probe.cpp measures a BAR read and rings the doorbell
#   tools   the same kernel with four fbnic-emu NICs, each with a doorbell: fbnic-info,
#           fbnic-pktgen and fbnic-fwd through vfio-pci (FBNIC_TOOLS_FRAMES frames each,
#           default 100,000), polling and interrupt-driven, fbnic-fwd between the queues of
#           one port, then bad input (tests/qemu/tools_init.sh); fbnic-info's values are
#           checked here
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
    uefi | linux | tools) phases+=("$1") ;;
    -h | --help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
[ ${#phases[@]} -gt 0 ] || phases=(uefi linux tools)

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
  emu=$("$repo/tools/build-emu.sh" "$build_dir")
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

# The guest: Debian's kernel (tests/vm/kernel.sh), busybox, the VFIO modules, and the given
# static programs (targets of tests/qemu/CMakeLists.txt). Sets kdir and pkg; writes DIR/initramfs.cpio.
guest_initramfs() {  # DIR INIT TARGET...
  local dir=$1 init=$2 kernel busybox_bin target
  shift 2
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
  cmake --build "$build" --target "$@" -j "${FBNIC_JOBS:-2}" >"$dir/build.log" 2>&1 ||
    { cat "$dir/build.log"; die "building $* failed"; }
  local specs=("bin/busybox=$busybox_bin:755" "init=$init:755"
    "modules/order=$kdir/modules/order:644")
  for target in "$@"; do
    # qemu_fbnic_pktgen becomes /fbnic-pktgen: the tools keep their names in the guest.
    local name=${target/qemu_fbnic_/fbnic-}
    strip -o "$dir/$name" "$build/tests/qemu/$target"
    specs+=("$name=$dir/$name:755")
  done
  for ko in "$kdir"/modules/*.ko; do specs+=("modules/$(basename "$ko")=$ko:644"); done
  mapfile -t -O "${#specs[@]}" specs < <(lspci_specs) || die "no lspci for the guest"
  python3 "$repo/tests/vm/guest.py" initramfs "$dir/initramfs.cpio" "${specs[@]}"
}

phase_linux() {
  local dir=$scratch/linux kdir pkg
  guest_initramfs "$dir" "$here/init.sh" qemu_guest_probe
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

# What the guest's fbnic-info must print for NIC n, as fbnic-emu was told below.
tools_dsn=02aabbfffe000010
tools_fw=26.1.2-7
tools_bmc=02:bb:cc:00:00:01
check_info() {  # CONSOLE
  local log=$1 n bdf dsn mac want
  local bdfs=(0000:00:03.0 0000:00:04.0 0000:00:05.0 0000:00:06.0)
  for n in 0 1 2 3; do
    bdf=${bdfs[$n]}
    dsn=$(printf '%016x' $((0x$tools_dsn + n)))
    mac=$(sed -E 's/^(..)(..)(..)....(..)(..)(..)$/\1:\2:\3:\4:\5:\6/' <<<"$dsn")
    # The lines of this NIC's block: from its heading to the next heading.
    awk -v b="$bdf" '/^  INFO\| 0000:/ { on = index($0, b) > 0 } on' "$log" >"$log.$n"
    for want in "INFO| $bdf  PCI 1d9b:0013" "IOVA physical (its DMA bypasses the IOMMU)" \
      "serial (DSN): $dsn, permanent MAC $mac" "running              ${tools_fw}_mockfw-0001" \
      "stored               ${tools_fw}_mockfw-0001" "BMC: present $tools_bmc" \
      "link: 50 Gb/s, FEC RS, PCS up"; do
      if grep -qF -- "$want" "$log.$n"; then
        echo "  host ok   nic$n ($bdf): $want"
      else
        echo "  host FAIL nic$n ($bdf): fbnic-info did not print '$want'"
        failed=1
      fi
    done
  done
}

phase_tools() {
  local dir=$scratch/tools kdir pkg frames=${FBNIC_TOOLS_FRAMES:-100000}
  guest_initramfs "$dir" "$here/tools_init.sh" qemu_fbnic_info qemu_fbnic_pktgen qemu_fbnic_fwd
  say "tools: kernel $pkg, initramfs $(stat -c %s "$dir/initramfs.cpio") bytes; four fbnic-emu" \
    "NICs (03.0 and 05.0 cabled, 04.0 and 06.0 cabled), each with a doorbell (07.0-0a.0)"
  local t0 rc=0 emu_pid child qemu_pid="" killed=""
  t0=$(date +%s%N)
  # Guest RAM 512 MiB: 64 hugepages of it hold the DMA memory (IOVA = physical address).
  # iommu=pt: with four proxies QEMU 7.2 crashed in 3 of 10 boots without it (a
  # use-after-free after the proxy drops the big lock in its memory listener), in none of 12
  # with it. The devices bound to vfio-pci still get IOMMU domains of their own.
  # fbnic-emu's private directory (its doorbell sockets) goes in the scratch directory: this
  # fbnic-emu is killed, so it cannot remove that directory itself.
  # shellcheck disable=SC2054
  TMPDIR=$dir timeout -k 5 "${FBNIC_QEMU_TIMEOUT:-900}" "$emu" qemu --log "$dir/emu.log" \
    --wire cable:2 --wire cable:3 --wire cable:0 --wire cable:1 --doorbell-vectors 8 \
    --dsn "$tools_dsn" --fw-version "$tools_fw" --bmc "$tools_bmc" -- \
    qemu-system-x86_64 -accel tcg -nodefaults -display none -monitor none -no-reboot \
    -serial stdio -m 512M -object memory-backend-memfd,id=mem,size=512M,share=on \
    -machine q35,memory-backend=mem -smp 1 -device intel-iommu,intremap=on \
    -device x-pci-proxy-dev,id=fbnic0,fd=@FD0@,addr=0x3 \
    -device x-pci-proxy-dev,id=fbnic1,fd=@FD1@,addr=0x4 \
    -device x-pci-proxy-dev,id=fbnic2,fd=@FD2@,addr=0x5 \
    -device x-pci-proxy-dev,id=fbnic3,fd=@FD3@,addr=0x6 \
    -chardev socket,path=@DOORBELL0@,id=bell0 -device ivshmem-doorbell,chardev=bell0,vectors=8,addr=0x7 \
    -chardev socket,path=@DOORBELL1@,id=bell1 -device ivshmem-doorbell,chardev=bell1,vectors=8,addr=0x8 \
    -chardev socket,path=@DOORBELL2@,id=bell2 -device ivshmem-doorbell,chardev=bell2,vectors=8,addr=0x9 \
    -chardev socket,path=@DOORBELL3@,id=bell3 -device ivshmem-doorbell,chardev=bell3,vectors=8,addr=0xa \
    -kernel "$kdir/vmlinux" -initrd "$dir/initramfs.cpio" \
    -append "console=ttyS0 panic=-1 quiet intel_iommu=on iommu=pt frames=$frames" \
    </dev/null >"$dir/console.log" 2>&1 &
  emu_pid=$!
  # The last bad input: fbnic-emu dies under the guest. Its counters first (SIGUSR1), then
  # SIGKILL; QEMU, its child, runs on and powers off when the guest does.
  while kill -0 "$emu_pid" 2>/dev/null; do
    if [ -z "$killed" ] && grep -aq '^TOOLS-KILL-EMU' "$dir/console.log"; then
      qemu_pid=$(sed -n 's/.*started QEMU (pid \([0-9]*\)).*/\1/p' "$dir/emu.log")
      child=$(pgrep -P "$emu_pid" -x fbnic-emu || true)  # timeout's child
      kill -USR1 "$child" 2>/dev/null || true
      sleep 1
      kill -KILL "$child" 2>/dev/null || true
      killed=1
      say "tools: killed fbnic-emu under the running guest (QEMU pid $qemu_pid runs on)"
    fi
    sleep 0.2
  done 2>/dev/null  # bash's "Killed" line for the job: fbnic-emu was killed on purpose
  wait "$emu_pid" 2>/dev/null || rc=$?
  if [ -n "$qemu_pid" ]; then
    for _ in $(seq 300); do kill -0 "$qemu_pid" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$qemu_pid" 2>/dev/null; then
      kill -KILL "$qemu_pid"
      say "tools: FAIL: QEMU did not power off within 60 s of fbnic-emu's end"
      failed=1
    fi
    rc=0  # fbnic-emu was killed on purpose: its status says nothing
  fi
  local took
  took=$(awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')
  tr -d '\r' <"$dir/console.log" >"$dir/console.txt"
  # QEMU's proxy complains at every access to a NIC whose fbnic-emu is gone: counted.
  local dead='qemu-system-x86_64: (Unable to (write to|read from) socket|Failed to perform PCI config)'
  grep -aE '^(GUEST|ok  |FAIL|  [a-z-]+\||TOOLS-|qemu-system)' "$dir/console.txt" |
    grep -avE "^TOOLS-KILL|$dead|^  [a-z-]+\| +[0-9.]+ s  " | sed 's/^/  /'
  say "tools: QEMU reported $(grep -acE "$dead" "$dir/console.txt") failed accesses to the NICs" \
    "after fbnic-emu was killed"
  sed 's/^/  emu| /' "$dir/emu.log"
  if grep -aqE 'rejected [1-9]|model faults [1-9]|ERROR: AddressSanitizer|runtime error:' \
    "$dir/emu.log"; then
    say "tools: FAIL: fbnic-emu rejected a message, the model saw a fault, or a sanitizer spoke"
    failed=1
  fi
  grep -aq ' so far: ' "$dir/emu.log" || { say "tools: FAIL: no counters from fbnic-emu"; failed=1; }
  check_info "$dir/console.txt"
  if [ "$rc" = 0 ] && grep -aq '^GUEST-RESULT: PASS' "$dir/console.txt" &&
    ! grep -aq '^FAIL' "$dir/console.txt"; then
    say "tools: PASS in $took s (QEMU start to power-off)"
  else
    say "tools: FAIL in $took s (exit $rc); console tail:"
    tail -n 40 "$dir/console.txt" | sed 's/^/  | /'
    failed=1
  fi
}

for phase in "${phases[@]}"; do "phase_$phase"; done
say "total"
if [ "$failed" = 0 ]; then echo "QEMU-DEVICE PASS"; else echo "QEMU-DEVICE FAIL"; exit 1; fi
