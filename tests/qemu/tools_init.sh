#!/bin/busybox sh
# /init of the 'tools' boot of tests/qemu/run.sh (busybox-static): the VFIO tools as a user
# runs them, on four fbnic-emu NICs bound to vfio-pci. The wires (fbnic-emu --wire): GEN is
# cabled to A, B to SINK. Each NIC has an ivshmem doorbell for its interrupts.
#
#   fbnic-info     on all four; run.sh checks the values against how it configured the model
#   fbnic-pktgen   FRAMES frames on GEN in MAC loopback, polling, then interrupt-driven
#   fbnic-fwd      A <-> B, zero copy, while fbnic-pktgen sends FRAMES frames GEN -> A and
#                  checks them on SINK <- B; polling, then interrupt-driven; then on A alone
#                  between its 3 queues (queue q to q+1), fbnic-pktgen --queues 3 on GEN
#                  sending FRAMES/10 frames of up to 9000 bytes (jumbo, several Rx pages
#                  each) that come back to GEN (queue counts are chosen at run time)
#   every run      each port's close leaves no DMA mapping and no locked memory
#   bad input      IOVA = physical address without hugepages and without root; a second
#                  process opening a device fbnic-fwd holds; GEN unbound from vfio-pci
#                  during fbnic-pktgen; fbnic-emu killed during fbnic-pktgen (run.sh kills
#                  it when this prints TOOLS-KILL-EMU)
#
# Lines: "ok   ..." / "FAIL ...", "INFO| " (fbnic-info's output), "TOOLS-STAGE name seconds",
# "TOOLS-RATE name frames/s", and last GUEST-RESULT: PASS|FAIL.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /etc
echo "GUEST: booted to /init in $(cut -d' ' -f1 /proc/uptime) s ($(uname -r))"
result=PASS
ok() { echo "ok   $*"; }
fail() { echo "FAIL $*"; result=FAIL; }
check() {  # check WHAT COMMAND...: ok when the command succeeds
  what=$1
  shift
  if "$@"; then ok "$what"; else fail "$what"; fi
}
now_ms() { awk '{ printf "%d", $1 * 1000 }' /proc/uptime; }
stage_t0=$(now_ms)
stage() {  # the time since the previous stage ended
  t=$(now_ms)
  echo "TOOLS-STAGE $1 $(awk -v a="$stage_t0" -v b="$t" 'BEGIN { printf "%.1f", (b - a) / 1000 }')"
  stage_t0=$t
}
rate() {  # rate NAME LOG: the frames/s of the tool's summary line
  echo "TOOLS-RATE $1 $(sed -n 's/.* \([0-9]*\) frames\/s.*/\1/p' "$2" | tail -1)"
}
show() { sed "s/^/  $1| /" "$2"; }
unmapped() {  # unmapped LOG: every port the tool closed left nothing mapped or locked
  grep -q ' closed: ' "$1" &&
    ! grep ' closed: ' "$1" | grep -qv 'closed: 0 DMA mappings left in its IOMMU context, locked memory 0 kB'
}

A=0000:00:03.0
B=0000:00:04.0
GEN=0000:00:05.0
SINK=0000:00:06.0
BELL_A=0000:00:07.0
BELL_B=0000:00:08.0
BELL_GEN=0000:00:09.0
BELL_SINK=0000:00:0a.0
FRAMES=$(sed -n 's/.*frames=\([0-9]*\).*/\1/p' /proc/cmdline)
FRAMES=${FRAMES:-100000}
# Link training as the model does it (4 s like upstream would only add waiting).
T="--training-ms 200"
SIZES="--size 60-1514"

while read -r m; do
  insmod "/modules/$m.ko" || fail "insmod $m"
done < /modules/order
for d in $A $B $GEN $SINK $BELL_A $BELL_B $BELL_GEN $BELL_SINK; do
  echo vfio-pci > "/sys/bus/pci/devices/$d/driver_override"
  echo "$d" > /sys/bus/pci/drivers_probe
  [ "$(basename "$(readlink "/sys/bus/pci/devices/$d/driver")")" = vfio-pci ] ||
    fail "$d not bound to vfio-pci"
done
group() { basename "$(readlink "/sys/bus/pci/devices/$1/iommu_group")"; }
stage setup

# --- fbnic-info ---
/fbnic-info $A $B $GEN $SINK > /tmp/info 2>&1
check "fbnic-info read all four NICs (exit $?)" [ $? = 0 ]
show INFO /tmp/info
stage fbnic-info

# --- IOVA = physical address, without what it needs ---
/fbnic-pktgen --loopback --count 10 $T $GEN > /tmp/out 2>&1
status=$?
show pktgen /tmp/out
check "without hugepages: refused (exit $status) with the fix" \
  grep -q 'no hugepages.*nr_hugepages\|nr_hugepages' /tmp/out
check "  and nothing left mapped" grep -q 'closed: 0 DMA mappings' /tmp/out
# A user who may open the group (as a udev rule would allow) but is not root.
echo 'nobody:x:65534:65534:nobody:/:/bin/sh' > /etc/passwd
chown 65534 "/dev/vfio/$(group $GEN)"
su -s /bin/sh nobody -c "/fbnic-pktgen --loopback --count 10 $T $GEN" > /tmp/out 2>&1
status=$?
chown 0 "/dev/vfio/$(group $GEN)"
show pktgen /tmp/out
check "as uid 65534: refused (exit $status), pagemap needs root, with the fix" \
  grep -q 'pagemap shows them only to root.*' /tmp/out
echo 64 > /proc/sys/vm/nr_hugepages
echo "GUEST: hugepages reserved: $(cat /proc/sys/vm/nr_hugepages)"
stage physical-refusals

# --- fbnic-pktgen in MAC loopback ---
run_pktgen() {  # run_pktgen NAME [--count N] [--size S] ARGS... (default FRAMES, SIZES)
  local run=$1 n=$FRAMES sizes=$SIZES status
  shift
  [ "$1" = --count ] && n=$2 && shift 2
  [ "$1" = --size ] && sizes="--size $2" && shift 2
  /fbnic-pktgen --count "$n" $sizes $T "$@" > "/tmp/$run" 2>&1
  status=$?
  show "$run" "/tmp/$run"
  check "$run: $n sent, $n back, every byte compared (exit $status)" \
    grep -q "sent $n, received $n (0 missing, 0 corrupt, 0 duplicate)" "/tmp/$run"
  check "$run: nothing left mapped or locked" unmapped "/tmp/$run"
  rate "$run" "/tmp/$run"
}
run_pktgen pktgen-poll --loopback $GEN
stage pktgen-poll
run_pktgen pktgen-irq --loopback --irq --doorbell $BELL_GEN $GEN
grep -q 'interrupts: [1-9][0-9]* wakeups' /tmp/pktgen-irq || fail "pktgen-irq: no interrupt woke it"
stage pktgen-irq

# --- fbnic-fwd between A and B, fed by fbnic-pktgen GEN -> SINK ---
run_fwd() {  # run_fwd NAME FRAMES FWD-ARGS -- PKTGEN-ARGS
  local name=$1 n=$2 fwd_args="" fwd status
  shift 2
  while [ "$1" != -- ]; do
    fwd_args="$fwd_args $1"
    shift
  done
  shift
  /fbnic-fwd --count "$n" --duration 300 $T $fwd_args > "/tmp/$name" 2>&1 &
  fwd=$!
  # Wait for both ports to be up, bounded.
  for _ in $(seq 100); do
    grep -q 'forwarding between' "/tmp/$name" && break
    sleep 0.2
  done
  if [ "$name" = fwd-poll ]; then
    /fbnic-info $A > /tmp/busy 2>&1
    status=$?
    show busy /tmp/busy
    check "a second process opening $A, which fbnic-fwd holds: refused (exit $status)" \
      grep -q 'busy.*already open' /tmp/busy
  fi
  run_pktgen "$name-gen" --count "$n" "$@"  # "$@" may start with --size
  kill -TERM "$fwd" 2>/dev/null  # it ends by itself after $n frames
  wait "$fwd"
  show "$name" "/tmp/$name"
  check "$name: $n frames forwarded zero-copy, none dropped" \
    grep -q "forwarded $n frames .* zero-copy, 0 dropped" "/tmp/$name"
  check "$name: every page back, nothing left mapped or locked" unmapped "/tmp/$name"
  rate "$name" "/tmp/$name"
}
run_fwd fwd-poll "$FRAMES" $A $B -- $GEN $SINK
stage fwd-poll
run_fwd fwd-irq "$FRAMES" --irq --doorbell $BELL_A --doorbell $BELL_B $A $B -- \
  --irq --doorbell $BELL_GEN --doorbell $BELL_SINK $GEN $SINK
grep -q 'interrupts: [1-9][0-9]* wakeups' /tmp/fwd-irq || fail "fwd-irq: no interrupt woke it"
stage fwd-irq
# One port, between its queues: GEN -> A (RSS over A's 3 queues) -> A's next queue -> GEN.
run_fwd fwd-queues $((FRAMES / 10)) --queues 3 $A -- --size 60-9000 --queues 3 $GEN
for q in 0 1 2; do
  check "fwd-queues: pktgen's queue $q sent and received frames" \
    grep -q "queue $q: tx [1-9][0-9]*, rx [1-9][0-9]*" /tmp/fwd-queues-gen
done
stage fwd-queues

# --- a device that goes away during fbnic-pktgen ---
removal() {  # removal NAME DEVICE: starts pktgen (its pid in $pktgen), waits until frames move
  /fbnic-pktgen --loopback --count 100000000 --duration 120 $T "$2" > "/tmp/$1" 2>&1 &
  pktgen=$!
  for _ in $(seq 150); do
    grep -q ' s  tx ' "/tmp/$1" && break
    sleep 0.2
  done
}
removed() {  # removed NAME: pktgen reported the removal and left nothing mapped
  show "$1" "/tmp/$1"
  check "$1: kDeviceRemoved reported, exit $2" grep -q ': device removed' "/tmp/$1"
  check "$1: every DMA mapping undone, nothing locked" \
    grep -q 'closed: 0 DMA mappings left in its IOMMU context, locked memory 0 kB' "/tmp/$1"
}
removal unbind $GEN
t0=$(now_ms)
echo $GEN > /sys/bus/pci/drivers/vfio-pci/unbind
t1=$(now_ms)
wait "$pktgen"
status=$?
echo "GUEST: the unbind of $GEN waited $((t1 - t0)) ms for fbnic-pktgen to let go"
removed unbind $status
[ -z "$(readlink "/sys/bus/pci/devices/$GEN/driver")" ] && ok "$GEN is unbound" ||
  fail "$GEN still bound"
stage removal-unbind

removal emu-killed $A
echo TOOLS-KILL-EMU
wait "$pktgen"
removed emu-killed $?
stage removal-emu-killed

echo "GUEST-RESULT: $result"
poweroff -f
