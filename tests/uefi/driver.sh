#!/usr/bin/env bash
# fbnic.efi, the UEFI driver, in real firmware: OVMF (Debian's, x86_64, QEMU TCG) with
# fbnic-emu as the PCI device (x-pci-proxy-dev) and the model's wire on a TAP in a network
# namespace this script makes, where dnsmasq (DHCP and TFTP) and Linux answer.
#
#   tests/uefi/driver.sh [--emu PATH] [--keep] [shell] [pxe] [unplug] [silent-firmware] [removed]
#                        [no-link] [aarch64]
#
#   shell            the UEFI shell: load fbnic.efi, connect -r, ifconfig -s eth0 dhcp (the
#                    lease in ifconfig -l and in dnsmasq's log), ping the namespace, drivers
#                    and dh -d (the driver manages the controller and its child), a second
#                    connect (nothing changes), disconnect (bus mastering off, no DMA after),
#                    unload (no handle of the driver left); then bcfg driver add (a Driver####
#                    load option in this run's copy of the variable store) and reset, and
#   pxe              OVMF's own "UEFI PXEv4" boot option gets a lease and pxe.efi over TFTP
#                    from dnsmasq, which prints a PASS line after ExitBootServices
#   unplug           the device is removed while the driver runs (SIGUSR2 to fbnic-emu):
#                    ping fails, the shell goes on, disconnect and unload still work
#   silent-firmware, removed, no-link
#                    the variable store from the PXE run (the Driver#### option in it) with a
#                    device whose firmware never answers, whose BARs read all ones, or whose
#                    cable is unplugged: the driver refuses the controller (or reports no
#                    media) within a bounded time and OVMF goes on to its next boot option
#   aarch64          AAVMF (qemu-system-aarch64, no fbnic: it has no proxy device) loads the
#                    aarch64 fbnic.efi, which installs, manages nothing and unloads
#
#   --emu PATH   fbnic-emu (default: build/clang-san's, else built in build-emu)
#   --keep       keep the scratch directory (consoles, fbnic-emu and dnsmasq logs, pcap)
#
# The images come from tests/uefi/build.sh, run first unless FBNIC_UEFI_NO_BUILD=1
# (the CI stage before this one built them), in ${FBNIC_UEFI_BUILD:-build/uefi}.
#
# Needs root (network namespace, TAP), qemu-system-x86 7.2, ovmf, dnsmasq-base, python3; for
# aarch64 qemu-system-arm and qemu-efi-aarch64.
# Prints one line per check and "UEFI-DRIVER PASS" (exit 0) or "UEFI-DRIVER FAIL".
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
emu=""
keep=0
phases=()
while [ $# -gt 0 ]; do
  case $1 in
    --emu) emu=$(realpath "$2"); shift ;;
    --keep) keep=1 ;;
    shell | pxe | unplug | silent-firmware | removed | no-link | aarch64) phases+=("$1") ;;
    -h | --help) sed -n '2,35p' "$0"; exit 0 ;;
    *) echo "driver.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
[ ${#phases[@]} -gt 0 ] || phases=(shell pxe unplug silent-firmware removed no-link aarch64)
want() { [[ " ${phases[*]} " == *" $1 "* ]]; }
# The PXE run continues the shell run (same QEMU), and the bad-input runs start from its
# variable store.
if want silent-firmware || want removed || want no-link; then
  want pxe || phases+=(pxe)
fi
if want pxe; then
  want shell || phases=(shell "${phases[@]}")
fi

t_start=$(date +%s%N)
elapsed() { awk -v a="$t_start" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }'; }
say() { echo "[$(elapsed)s] $*"; }
die() { echo "driver.sh: $*" >&2; echo "UEFI-DRIVER FAIL"; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (a network namespace and a TAP)"
for tool in qemu-system-x86_64 python3 dnsmasq ip; do
  command -v "$tool" >/dev/null || die "missing $tool (tools/deps.sh installs it)"
done
[ -f /usr/share/OVMF/OVMF_CODE_4M.fd ] || die "missing OVMF (apt-get install ovmf)"

if [ -z "$emu" ]; then
  if [ -x "$repo/build/clang-san/backends/emu/fbnic-emu" ]; then
    emu=$repo/build/clang-san/backends/emu/fbnic-emu
  else
    emu=$("$repo/tools/build-emu.sh")
  fi
fi
[ -x "$emu" ] || die "no fbnic-emu at $emu"

uefi_out=${FBNIC_UEFI_BUILD:-$repo/build/uefi}
if [ "${FBNIC_UEFI_NO_BUILD:-0}" != 1 ]; then
  # The size limit is the build stage's check (tests/uefi/build.sh exits 3 on it alone).
  rc=0
  mkdir -p "$uefi_out"
  FBNIC_UEFI_BUILD=$uefi_out "$here/build.sh" >"$uefi_out/build.log" 2>&1 || rc=$?
  grep -E '^\[(x86_64|aarch64)\] (built|fbnic.efi:|fbnic.efi is|FAIL)' "$uefi_out/build.log" || true
  [ "$rc" = 0 ] || [ "$rc" = 3 ] || { cat "$uefi_out/build.log"; die "building fbnic.efi failed"; }
fi
for f in x86_64/fbnic.efi x86_64/pxe.efi aarch64/fbnic.efi; do
  [ -f "$uefi_out/$f" ] || die "no $uefi_out/$f"
done

# shellcheck source=tests/lib/netns.sh
. "$repo/tests/lib/netns.sh"
ns=fbnic-uefi-$$
tap=fbuefi0
scratch=$(mktemp -d "${TMPDIR:-/tmp}/fbnic-uefi-driver.XXXXXX")
dnsmasq_pid=""
cleanup() {
  [ -n "$dnsmasq_pid" ] && kill "$dnsmasq_pid" 2>/dev/null && wait "$dnsmasq_pid" 2>/dev/null
  fbnic_netns_delete "$ns"
  if [ "$keep" = 1 ]; then echo "driver.sh: kept $scratch"; else rm -rf "$scratch"; fi
}
trap cleanup EXIT

mkdir -p "$scratch/esp" "$scratch/tftp"
cp "$uefi_out/x86_64/fbnic.efi" "$scratch/esp/"
cp "$uefi_out/x86_64/pxe.efi" "$scratch/tftp/"
fbnic_netns_create "$ns" "$tap" 10.72.0.1/24 || die "cannot make network namespace $ns"
# DHCP and TFTP only (port 0: no DNS); its own lease file and log; root keeps it able to
# read the TFTP directory and write the log in the scratch directory.
ip netns exec "$ns" dnsmasq --no-daemon --conf-file=/dev/null --user=root --group=root \
  --port=0 --interface="$tap" --bind-interfaces --dhcp-range=10.72.0.10,10.72.0.50,1h \
  --dhcp-leasefile="$scratch/leases" --enable-tftp --tftp-root="$scratch/tftp" \
  --dhcp-boot=pxe.efi --log-dhcp --log-facility="$scratch/dnsmasq.log" \
  >"$scratch/dnsmasq.out" 2>&1 &
dnsmasq_pid=$!
for _ in $(seq 50); do
  grep -q 'DHCP, IP range' "$scratch/dnsmasq.log" 2>/dev/null && break
  sleep 0.1
done
grep -q 'DHCP, IP range' "$scratch/dnsmasq.log" 2>/dev/null ||
  { cat "$scratch/dnsmasq.out" "$scratch/dnsmasq.log" 2>/dev/null; die "dnsmasq did not start"; }
say "namespace $ns: $tap 10.72.0.1/24, dnsmasq (pid $dnsmasq_pid) serving DHCP and TFTP (pxe.efi)"

# A run that fails leaves this file (runs may go in the background).
failed() { touch "$scratch/failed"; }
check_emu() {  # LOG: fbnic-emu's counters, and nothing it should not have printed
  local log=$1
  sed 's/^/  emu| /' "$log"
  if grep -aqE 'ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer' "$log"; then
    say "FAIL: sanitizer report in fbnic-emu's output"; failed
  fi
  if grep -aqE 'rejected [1-9]|model faults [1-9]' "$log"; then
    say "FAIL: fbnic-emu rejected a message or the model saw a fault"; failed
  fi
  grep -aq ' final: ' "$log" || { say "FAIL: fbnic-emu printed no final counters"; failed; }
  # Until QEMU ended: after Stop, ExitBootServices or a refused Start, the device must not
  # have reached memory.
  if grep -a ' final: ' "$log" | grep -aqv 'while bus mastering was off 0 '; then
    say "FAIL: the device attempted DMA while bus mastering was off"; failed
  fi
}

# One QEMU: q35 with guest RAM shared for DMA, OVMF from pflash with this run's variable
# store, the ESP as a directory of its own (vvfat gives every one the same disk signature,
# so a Driver#### path made in one run finds the driver in another), fbnic-emu's NIC at
# 00:03.0. No -no-reboot: the shell run resets into the PXE boot.
run() {  # run NAME VARS WIRE EMU_OPTIONS... -- TEST_OPTIONS...
  local name=$1 vars=$2 wire=$3 emu_opts=() test_opts=()
  shift 3
  while [ $# -gt 0 ] && [ "$1" != -- ]; do emu_opts+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  test_opts=("$@")
  local t0 rc=0
  t0=$(date +%s%N)
  cp -r "$scratch/esp" "$scratch/esp-$name"
  # The commas are QEMU's option syntax.
  # shellcheck disable=SC2054
  PYTHONPATH=$repo/tests/qemu python3 "$here/driver_test.py" "${test_opts[@]}" \
    --transcript "$scratch/$name.console.log" --dnsmasq-log "$scratch/dnsmasq.log" -- \
    ip netns exec "$ns" "$emu" qemu --log "$scratch/$name.emu.log" --wire "$wire" \
    --pcap "$scratch/$name.pcapng" "${emu_opts[@]}" -- \
    qemu-system-x86_64 -accel tcg -nodefaults -display none -monitor none -serial stdio \
    -m 256M -object memory-backend-memfd,id=mem,size=256M,share=on \
    -machine q35,memory-backend=mem \
    -drive if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd \
    -drive "if=pflash,format=raw,unit=1,file=$vars" \
    -drive "format=raw,file=fat:rw:$scratch/esp-$name" \
    -device x-pci-proxy-dev,id=fbnic0,fd=@FD@,addr=0x3 | sed 's/^/  /' || rc=$?
  [ "$rc" = 0 ] || failed
  check_emu "$scratch/$name.emu.log"
  say "$name: $([ "$rc" = 0 ] && echo PASS || echo FAIL) in $(awk -v a="$t0" -v b="$(date +%s%N)" \
    'BEGIN { printf "%.1f", (b - a) / 1e9 }') s"
}

if want shell; then
  cp /usr/share/OVMF/OVMF_VARS_4M.fd "$scratch/vars.fd"
  shell_opts=(--scenario shell)
  want pxe && shell_opts+=(--then-pxe)
  run shell "$scratch/vars.fd" "tap:$tap" -- "${shell_opts[@]}"
  cp "$scratch/vars.fd" "$scratch/vars-driver.fd"  # with Driver0000 (and the PXE boot option)
fi
if want unplug; then
  cp /usr/share/OVMF/OVMF_VARS_4M.fd "$scratch/vars-unplug.fd"
  run unplug "$scratch/vars-unplug.fd" "tap:$tap" -- --scenario unplug
fi
# The bad-input runs need no wire (the cable is unplugged: no link for no-link, nothing
# to reach for the others) and mostly wait (for the firmware's timeout, the link): they
# run side by side, each printing its report when all are done.
bad_pids=()
for bad in silent-firmware removed no-link; do
  want "$bad" || continue
  cp "$scratch/vars-driver.fd" "$scratch/vars-$bad.fd"
  case $bad in
    silent-firmware) opts=(--misbehave firmware-silent) ;;
    removed) opts=(--misbehave removed) ;;
    no-link) opts=() ;;
  esac
  run "$bad" "$scratch/vars-$bad.fd" none "${opts[@]}" -- --scenario "$bad" \
    >"$scratch/$bad.report" 2>&1 &
  bad_pids+=($!)
done
if want aarch64; then
  mkdir -p "$scratch/esp-aarch64"
  cp "$uefi_out/aarch64/fbnic.efi" "$scratch/esp-aarch64/"
  (
    t0=$(date +%s%N)
    rc=0
    # shellcheck disable=SC2054 # the commas are QEMU's option syntax
    PYTHONPATH=$repo/tests/qemu python3 "$here/driver_test.py" --scenario aarch64 \
      --transcript "$scratch/aarch64.console.log" -- \
      qemu-system-aarch64 -machine virt -cpu cortex-a57 -accel tcg -m 256 -nodefaults \
      -display none -serial stdio -net none -bios /usr/share/qemu-efi-aarch64/QEMU_EFI.fd \
      -drive "if=none,id=esp,format=raw,file=fat:rw:$scratch/esp-aarch64" \
      -device virtio-blk-device,drive=esp | sed 's/^/  /' || rc=$?
    [ "$rc" = 0 ] || failed
    say "aarch64: $([ "$rc" = 0 ] && echo PASS || echo FAIL) in $(awk -v a="$t0" \
      -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }') s"
  ) >"$scratch/aarch64.report" 2>&1 &
  bad_pids+=($!)
fi
if [ ${#bad_pids[@]} -gt 0 ]; then
  say "bad input and aarch64: ${#bad_pids[@]} runs side by side"
  wait "${bad_pids[@]}" || true
  for bad in silent-firmware removed no-link aarch64; do
    [ -f "$scratch/$bad.report" ] && cat "$scratch/$bad.report"
  done
fi

echo "  dnsmasq:"
grep -aE 'DHCPACK|sent .*pxe.efi|TFTP' "$scratch/dnsmasq.log" | sed 's/^/  | /' || true
say "total"
if [ ! -e "$scratch/failed" ]; then echo "UEFI-DRIVER PASS"; else echo "UEFI-DRIVER FAIL"; exit 1; fi
