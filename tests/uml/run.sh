#!/usr/bin/env bash
# Runs the unmodified upstream Linux fbnic driver (Linux 6.12, User-Mode Linux) against the
# device model served by fbnic-emu, and checks what it does. See docs/emulator.md.
#
#   tests/uml/run.sh [--build-dir DIR] [--emu PATH] [--pair | --tap] [--timeout S]
#                    [--cycles N] [--heartbeat S] [--iperf S] [--keep]
#
#   --build-dir DIR  CMake build tree for fbnic-emu (default: build-emu; configured if new)
#   --emu PATH       use this fbnic-emu binary instead of building one
#   --pair           two guests cabled through the model ping each other (default: one
#                    guest and a responder on the model's wire)
#   --tap            the model's wire on a TAP in a network namespace this script makes
#                    (root): ping both ways, iperf3 TCP and UDP each way, a pcap of the
#                    wire that tshark must decode cleanly and count as the model did
#   --iperf S        seconds per iperf3 run with --tap (default 2)
#   --timeout S      bound on each UML run (default 240)
#   --cycles N       link flaps and interface down/up cycles (default 3)
#   --heartbeat S    how long the heartbeat scenario idles with the link up (default 12)
#   --keep           keep the scratch directory (console logs, emulator output, pcap)
#
# Prints one line per scenario (result, time, MMIO and mailbox counts) and "N passed,
# M failed"; exits 0 only if every scenario passed. Kernel and initramfs come from
# tools/uml/build-kernel.sh (built once, then cached in ${FBNIC_CACHE:-~/.cache/fbnic}).
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/lib/netns.sh
. "$repo/tests/lib/netns.sh"
build_dir=$repo/build-emu
emu=""
pair=0
tap=0
iperf_s=2
run_timeout=240
cycles=3
heartbeat=12
keep=0
while [ $# -gt 0 ]; do
  case $1 in
    --build-dir) build_dir=$(realpath -m "$2"); shift ;;
    --emu) emu=$(realpath "$2"); shift ;;
    --pair) pair=1 ;;
    --tap) tap=1 ;;
    --iperf) iperf_s=$2; shift ;;
    --timeout) run_timeout=$2; shift ;;
    --cycles) cycles=$2; shift ;;
    --heartbeat) heartbeat=$2; shift ;;
    --keep) keep=1 ;;
    -h | --help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

[ "$pair" = 1 ] && [ "$tap" = 1 ] && { echo "run.sh: --pair or --tap, not both" >&2; exit 2; }
if [ "$tap" = 1 ]; then
  [ "$(id -u)" = 0 ] || { echo "run.sh: --tap makes a network namespace: run as root" >&2; exit 2; }
  for tool in ip tshark iperf3 python3; do
    command -v "$tool" >/dev/null ||
      { echo "run.sh: --tap needs $tool (tools/deps.sh installs it)" >&2; exit 2; }
  done
fi

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
log() { echo "uml: $*"; }
started=$(now)

# --- kernel, initramfs, emulator ---------------------------------------------------------
t=$(now)
artifacts=$("$repo/tools/uml/build-kernel.sh")
kernel=$(sed -n 's/^KERNEL=//p' <<<"$artifacts")
initramfs=$(sed -n 's/^INITRAMFS=//p' <<<"$artifacts")
[ -x "$kernel" ] && [ -s "$initramfs" ] || { log "no kernel or initramfs"; exit 1; }
log "kernel and initramfs ready in $(secs "$t") s"

if [ -z "$emu" ]; then
  t=$(now)
  emu=$("$repo/tools/build-emu.sh" "$build_dir")
  log "fbnic-emu built in $(secs "$t") s: $emu"
fi
[ -x "$emu" ] || { log "no fbnic-emu"; exit 1; }

scratch=$(mktemp -d "${TMPDIR:-/tmp}/fbnic-uml.XXXXXX")
pids=()
netns=""
stop_all() { # TERM, a moment to exit, then KILL: nothing outlives the run
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    local alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ $alive = 1 ] || break
    sleep 0.2
  done
  # A guest runs under `timeout`, which leads a process group of its own with the UML
  # kernel and its helper processes in it: the whole group goes (killing only timeout
  # would leave a UML guest that ignored the TERM running on).
  for p in "${pids[@]}"; do
    kill -KILL -- "-$p" 2>/dev/null || true
    kill -KILL "$p" 2>/dev/null || true
  done
  wait 2>/dev/null || true
}
cleanup() {
  stop_all
  # The namespace takes its TAP with it; nothing outside it was touched.
  if [ -n "$netns" ]; then fbnic_netns_delete "$netns"; fi
  if [ "$keep" = 1 ]; then log "kept $scratch"; else rm -rf "$scratch"; fi
}
trap cleanup EXIT

# --- the guests' initramfs: the base one plus /init and its configuration ----------------
dsn=001122fffe556677
mac_of_dsn() { # bytes 7,6,5 and 2,1,0 of the serial number
  local d=$1
  echo "${d:0:2}:${d:2:2}:${d:4:2}:${d:10:2}:${d:12:2}:${d:14:2}"
}
serial_of_dsn() { echo "$1" | sed 's/../&-/g; s/-$//'; }

make_initrd() { # out role self_ip peer_ip dsn
  local out=$1 role=$2 self_ip=$3 peer_ip=$4 d=$5 dir
  dir=$(mktemp -d "$scratch/init.XXXXXX")
  mkdir -p "$dir/etc"
  install -m 0755 "$repo/tests/uml/guest-init.sh" "$dir/init"
  cat >"$dir/etc/fbnic-test.conf" <<EOF
ROLE=$role
SELF_IP=$self_ip
PEER_IP=$peer_ip
EXPECT_MAC=$(mac_of_dsn "$d")
EXPECT_SERIAL=$(serial_of_dsn "$d")
CYCLES=$cycles
HEARTBEAT_S=$heartbeat
PEER_STAY_S=$run_timeout
WIRE=$([ "$tap" = 1 ] && echo tap || echo model)
HOST_PINGS=5
IPERF_S=$iperf_s
IPERF_UDP=10M
EOF
  (cd "$dir" && find . | cpio -o -H newc -R 0:0 --quiet | gzip -n) >"$dir.cpio.gz"
  cat "$initramfs" "$dir.cpio.gz" >"$out"
}

emu_args=(--socket "$scratch/nic0.sock" --dsn "$dsn")
peer_ip=10.0.0.2
in_ns=()
if [ "$pair" = 1 ]; then
  emu_args+=(--socket "$scratch/nic1.sock" --cable)
elif [ "$tap" = 1 ]; then
  # The far end of the wire: a TAP in a namespace of this run's own, 10.0.0.2, with iperf3.
  netns=fbnic-uml-tap-$$
  fbnic_netns_create "$netns" fbtap0 10.0.0.2/24 || { log "cannot make namespace $netns"; exit 1; }
  in_ns=(ip netns exec "$netns")
  emu_args+=(--wire tap:fbtap0 --pcap "$scratch/wire.pcapng")
  "${in_ns[@]}" iperf3 -s -B 10.0.0.2 >"$scratch/iperf3-server.log" 2>&1 &
  pids+=($!)
  log "namespace $netns: fbtap0 10.0.0.2/24 (IPv6 off), iperf3 server"
else
  emu_args+=(--responder 10.0.0.2)
fi
make_initrd "$scratch/main.cpio.gz" main 10.0.0.1 "$peer_ip" "$dsn"

# --- run ---------------------------------------------------------------------------------
"${in_ns[@]}" "$emu" "${emu_args[@]}" >"$scratch/emu.log" 2>&1 &
emu_pid=$!
pids+=("$emu_pid")
n=0
until grep -q "listening on $scratch/nic0.sock" "$scratch/emu.log"; do
  kill -0 "$emu_pid" 2>/dev/null || { cat "$scratch/emu.log"; log "fbnic-emu died"; exit 1; }
  [ $n -lt 100 ] || { log "fbnic-emu never listened"; exit 1; }
  sleep 0.05
  n=$((n + 1))
done

mkdir -p "$scratch/tmp"
boot() { # socket initrd console-log; the UML guest, bounded by the run timeout
  TMPDIR=$scratch/tmp exec timeout -k 5 "$run_timeout" "$kernel" mem=256M initrd="$2" \
    con=null con0=null,fd:1 ssl=null "virtio_uml.device=$1:1234" \
    virt_pci.max_delay_us=2000000 loglevel=7 >"$3" 2>&1 </dev/null
}

if [ "$pair" = 1 ]; then
  # 0x..77 + 1: the second NIC's default serial number.
  make_initrd "$scratch/peer.cpio.gz" peer 10.0.0.2 10.0.0.2 001122fffe556678
  (boot "$scratch/nic1.sock" "$scratch/peer.cpio.gz" "$scratch/peer.log") &
  pids+=($!)
  n=0
  until grep -q "guest: peer up" "$scratch/peer.log" 2>/dev/null; do
    [ $n -lt 600 ] || { log "peer guest did not come up"; tail -n 20 "$scratch/peer.log"; exit 1; }
    sleep 0.05
    n=$((n + 1))
  done
fi

if [ "$tap" = 1 ]; then
  # Pings the guest from the namespace when the guest asks (HOSTPING), once.
  (
    for _ in $(seq 3000); do
      if grep -aq '^@@ HOSTPING' "$scratch/console.log" 2>/dev/null; then
        "${in_ns[@]}" ping -c 5 -i 0.2 -W 2 10.0.0.1 >"$scratch/host-ping.log" 2>&1
        echo "exit $?" >>"$scratch/host-ping.log"
        exit 0
      fi
      sleep 0.1
    done
  ) &
  pids+=($!)
fi

t=$(now)
# In the background and in pids, so that a run.sh stopped by a signal stops it too.
(boot "$scratch/nic0.sock" "$scratch/main.cpio.gz" "$scratch/console.log") &
main_pid=$!
pids+=("$main_pid")
set +e
wait "$main_pid"
rc=$?
set -e
guest_s=$(secs "$t")
stop_all  # the peer guest (if any), then the emulator prints its summary and exits

boot_ms=$(sed -n 's/^guest: booted in \([0-9]*\) ms.*/\1/p' "$scratch/console.log")
log "guest ran ${guest_s} s (exit $rc), booted to /init in ${boot_ms:-?} ms"

# --- report ------------------------------------------------------------------------------
printf '\n%-14s %-5s %7s %8s %8s %7s %7s %6s %5s %5s  %s\n' scenario result time \
  "BAR0 rd" "BAR0 wr" "BAR4 rd" "BAR4 wr" "mbx>fw" "<fw" "MSI" "detail"
passed=0
failed=0
skipped=0
declare -A counts=() reported=()
while read -r _ kind name rest; do
  case $kind in
    COUNTS) counts[${name}]=$rest ;;
    RESULT)
      reported[$name]=$((${reported[$name]:-0} + 1))
      read -r verdict ms detail <<<"$rest"
      read -r c0 c1 c2 c3 c4 c5 c6 _ <<<"${counts[$name]:-- - - - - - -}"
      printf '%-14s %-5s %6.1fs %8s %8s %7s %7s %6s %5s %5s  %s\n' "$name" "$verdict" \
        "$(awk -v m="$ms" 'BEGIN { print m / 1000 }')" "$c0" "$c1" "$c2" "$c3" "$c4" "$c5" "$c6" \
        "$detail"
      case $verdict in
        PASS) passed=$((passed + 1)) ;;
        SKIP) skipped=$((skipped + 1)) ;;
        *) failed=$((failed + 1)) ;;
      esac
      ;;
  esac
done < <(grep -a '^@@ ' "$scratch/console.log" | sed 's/\r$//')
# Every scenario of guest-init.sh (each "begin NAME") reports exactly once; a missing
# RESULT line is a failure.
while read -r name; do
  case ${reported[$name]:-0} in
    1) ;;
    0)
      printf '%-14s %-5s %7s  %s\n' "$name" FAIL "" "no RESULT line from the guest"
      failed=$((failed + 1))
      ;;
    *)
      log "scenario $name reported ${reported[$name]} times"
      failed=$((failed + 1))
      ;;
  esac
  unset "reported[$name]"
done < <(sed -n 's/^\(begin\|iperf\) \([a-z0-9-]*\)\( .*\)\{0,1\}$/\2/p' "$repo/tests/uml/guest-init.sh")
for name in "${!reported[@]}"; do
  log "unexpected scenario $name"
  failed=$((failed + 1))
done
# With a TAP every scenario runs: a skipped one is a failure.
if [ "$tap" = 1 ] && [ "$skipped" != 0 ]; then
  log "$skipped scenarios skipped with a TAP wire"
  failed=$((failed + skipped))
fi
# The guest's own verdict: "DONE 0" when every scenario passed.
done_line=$(grep -a '^@@ DONE' "$scratch/console.log" | sed 's/\r$//' | tail -n 1 || true)
if [ -z "$done_line" ]; then
  failed=$((failed + 1))
  log "the guest did not finish its scenarios; console tail:"
  tail -n 30 "$scratch/console.log" | sed 's/^/  | /'
elif [ "$done_line" != "@@ DONE 0" ] && [ "$failed" = 0 ]; then
  failed=$((failed + 1))
  log "the guest reported a failure ($done_line) that no scenario line shows"
fi
# The model's own verdict on the driver (faults: a DMA outside mapped memory, a doorbell
# beyond a ring...) and the emulator's health (a sanitizer report when built with one).
faults=$(sed -n 's/.* final: .*model faults \([0-9]*\) .*/\1/p' "$scratch/emu.log" |
  awk '{ n += $1 } END { print n + 0 }')
finals=$(grep -ac ' final: ' "$scratch/emu.log" || true)
if grep -aqE 'ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer' "$scratch/emu.log"; then
  verdict=FAIL detail="sanitizer report in the emulator's output"
elif [ "$finals" = 0 ]; then
  verdict=FAIL detail="the emulator printed no final counters"
elif [ "$faults" != 0 ]; then
  verdict=FAIL detail="$faults driver errors reported by the model"
else
  verdict=PASS detail="0 faults reported by the model, no sanitizer report"
fi
printf '%-14s %-5s %7s  %s\n' model-clean "$verdict" "" "$detail"
if [ "$verdict" = PASS ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi

if [ "$tap" = 1 ]; then
  # The namespace's side of the ping.
  if grep -q ' 0% packet loss' "$scratch/host-ping.log" 2>/dev/null; then
    verdict=PASS
    detail="5 of 5 from the namespace: $(sed -n 's/.*= //p' "$scratch/host-ping.log" | head -n 1)"
  else
    verdict=FAIL
    detail="$(tail -n 3 "$scratch/host-ping.log" 2>/dev/null | tr '\n' ' ')"
  fi
  printf '%-14s %-5s %7s  %s\n' ns-ping "$verdict" "" "$detail"
  if [ "$verdict" = PASS ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
  # The wire as tshark reads it: every frame decoded, every checksum right, and as many
  # frames as the model counted on its wire (both directions).
  t=$(now)
  if ! verdict_line=$("$repo/tests/uml/check-pcap.sh" "$scratch/wire.pcapng" "$scratch/emu.log"); then
    failed=$((failed + 1))
    printf '%-14s %-5s %6.1fs  %s\n' pcap FAIL "$(secs "$t")" "$verdict_line"
  else
    passed=$((passed + 1))
    printf '%-14s %-5s %6.1fs  %s\n' pcap PASS "$(secs "$t")" "$verdict_line"
  fi
fi
echo
grep -a '^fbnic-emu\[' "$scratch/emu.log" | grep -v 'at disconnect' | sed 's/^/  /' || true
grep -aE -A3 'ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer' "$scratch/emu.log" |
  head -n 40 | sed 's/^/  | /' || true
log "total $(secs "$started") s"
if [ "$tap" = 1 ] || [ "$skipped" = 0 ]; then
  echo "uml: $passed passed, $failed failed"
else
  echo "uml: $passed passed, $failed failed, $skipped skipped (they need a TAP wire: --tap)"
fi
[ "$failed" = 0 ]
