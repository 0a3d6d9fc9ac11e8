#!/bin/sh
# /init of the UML guest that runs the upstream fbnic driver against fbnic-emu.
# Packed by tests/uml/run.sh together with /etc/fbnic-test.conf; busybox sh.
#
# Prints, on the console, one line per scenario for run.sh to collect:
#   @@ RESULT <scenario> <PASS|FAIL|SKIP> <ms> <detail>
# (SKIP: the scenario needs a wire this run does not have, e.g. a TAP for iperf3.)
#   @@ COUNTS <scenario> <BAR0 reads> <BAR0 writes> <BAR4 reads> <BAR4 writes> \
#             <mailbox to-fw> <mailbox to-host> <MSIs>
# The counts come from the emulator's vendor-specific capability in config space (ID 0x09
# at 0x40, see docs/emulator.md): latched before and after each scenario, printed as
# differences.

export PATH=/sbin:/bin:/usr/sbin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
. /etc/fbnic-test.conf

BDF=0000:00:00.0
CFG=/sys/bus/pci/devices/$BDF/config
IF=eth0
VSEC=0x40
results=0

say() { echo "@@ $*"; }
uptime_ms() { awk '{ printf "%d", $1 * 1000 }' /proc/uptime; }

# --- the emulator's VSEC: commands and latched counters ------------------------------
cfg_dword() { # offset -> unsigned value
  dd if=$CFG bs=4 skip=$(($1 / 4)) count=1 2>/dev/null | od -A n -t u4 | tr -d ' '
}
have_vsec() {
  [ -r $CFG ] || return 1
  [ "$(($(cfg_dword $VSEC) & 0xFF))" = 9 ] && [ "$(($(cfg_dword $((VSEC + 4))) & 0xFFFF))" = 64284 ]
}
vsec_cmd() { # opcode [argument] -> result code (0 ok, 1 unsupported, 2 unknown)
  v=$(($1 | (${2:-0} << 8)))
  # shellcheck disable=SC2059
  printf "$(printf '\\%03o\\%03o\\%03o\\%03o' $((v & 255)) $(((v >> 8) & 255)) \
    $(((v >> 16) & 255)) $(((v >> 24) & 255)))" |
    dd of=$CFG bs=4 seek=$(((VSEC + 8) / 4)) count=1 conv=notrunc 2>/dev/null
  echo $(($(cfg_dword $((VSEC + 12))) & 255))
}
# Latches and prints the counters we report: BAR0 r/w, BAR4 r/w, mbx fw/host, MSIs.
latch() {
  if ! have_vsec; then echo "- - - - - - -"; return; fi
  vsec_cmd 1 "${1:-0}" >/dev/null
  dd if=$CFG bs=4 skip=$(((VSEC + 16) / 4)) count=14 2>/dev/null | od -A n -t u4 -v |
    tr -s ' \n' '  ' | awk '{ for (i = 0; i < 7; i++) printf "%.0f ", $(2*i+1) + $(2*i+2) * 4294967296; print "" }'
}
diff_counts() { # before after
  echo "$1 $2" | awk '{ if ($1 == "-") { print "- - - - - - -"; exit }
    for (i = 1; i <= 7; i++) printf "%.0f ", $(i+7) - $i; print "" }'
}

# --- scenario bookkeeping ---------------------------------------------------------------
mark=0
begin() {
  name=$1
  mark=$((mark + 1))
  t0=$(uptime_ms)
  c0=$(latch $mark)
  # The probe happened during boot: its counts are those since power-on.
  if [ $mark = 1 ] && [ "${c0#-}" = "$c0" ]; then c0="0 0 0 0 0 0 0"; fi
}
end() { # PASS|FAIL|SKIP detail...
  verdict=$1
  shift
  c1=$(latch $mark)
  say "COUNTS $name $(diff_counts "$c0" "$c1")"
  say "RESULT $name $verdict $(($(uptime_ms) - t0)) $*"
  [ "$verdict" = FAIL ] && results=1
  return 0
}

wait_carrier() { # 0|1 timeout_s
  n=0
  while [ $n -lt $(($2 * 10)) ]; do
    [ "$(cat /sys/class/net/$IF/carrier 2>/dev/null)" = "$1" ] && return 0
    sleep 0.1
    n=$((n + 1))
  done
  return 1
}
mac_of() { cat /sys/class/net/$IF/address 2>/dev/null; }
fw_version() { ethtool -i $IF 2>/dev/null | sed -n 's/^firmware-version: //p'; }
fbnic_log() { dmesg | grep -E "^fbnic |fbnic [0-9a-f]{4}:|\(fbnic\)|$IF: "; }

echo "guest: booted in $(uptime_ms) ms, role $ROLE"

if [ "$ROLE" = peer ]; then
  # The far end of a cable: bring the port up and stay until powered off by run.sh.
  ip addr add "$PEER_IP/24" dev $IF && ip link set $IF up
  wait_carrier 1 20 && echo "guest: peer up at $PEER_IP"
  sleep "$PEER_STAY_S"
  poweroff -f
fi

# 1. probe: the driver bound, eth0 exists with the MAC derived from the DSN.
begin probe
if [ ! -d /sys/class/net/$IF ]; then
  end FAIL "no $IF: $(fbnic_log | tail -n 3 | tr '\n' '|')"
elif [ "$(mac_of)" != "$EXPECT_MAC" ]; then
  end FAIL "MAC $(mac_of), expected $EXPECT_MAC"
else
  end PASS "$IF $(mac_of)"
fi

# 2. firmware handshake: capabilities answered (the version is no longer the
#    placeholder 00.00.00-001), with the management commit string.
begin fw-handshake
fw=$(fw_version)
case $fw in
  "" | 00.00.00-001*) end FAIL "firmware-version '$fw' (no FW_CAP_RESP)" ;;
  *_*) end PASS "firmware-version $fw" ;;
  *) end FAIL "firmware-version '$fw' without commit" ;;
esac

# 3. ifup reaches carrier (ownership request answered, PCS link up).
begin ifup-carrier
ip addr add "$SELF_IP/24" dev $IF 2>/dev/null
if ! timeout 15 ip link set $IF up; then
  end FAIL "ip link set up failed"
elif ! wait_carrier 1 10; then
  end FAIL "no carrier after 10 s: $(ip -o link show $IF | cut -c1-80)"
else
  end PASS "carrier up"
fi

# 4. ping over the model's wire.
begin ping
if [ -z "$PEER_IP" ]; then
  end FAIL "nobody on the model's wire (no PEER_IP)"
else
  out=$(ping -c 5 -W 2 "$PEER_IP" 2>&1)
  if echo "$out" | grep -q " 0% packet loss"; then
    end PASS "$(echo "$out" | grep -E 'round-trip|rtt' | sed 's/.*= //')"
  else
    end FAIL "$(echo "$out" | tail -n 2 | tr '\n' ' ')"
  fi
fi

# 4a. ping from the other side: with a TAP wire, run.sh pings this guest from the
#     namespace's Linux stack once it sees HOSTPING; the guest counts the echoes it answered.
icmp_count() { # InEchos|OutEchoReps
  awk -v want="$1" '/^Icmp:/ { if (!n) { for (i = 1; i <= NF; i++) col[$i] = i; n = 1 }
    else print $col[want] }' /proc/net/snmp
}
begin host-ping
if [ "$WIRE" != tap ]; then
  end SKIP "no Linux stack on the model's wire (responder or cable)"
else
  in0=$(icmp_count InEchos)
  out0=$(icmp_count OutEchoReps)
  say "HOSTPING $SELF_IP"
  n=0
  while [ $(($(icmp_count OutEchoReps) - out0)) -lt "$HOST_PINGS" ] && [ $n -lt 200 ]; do
    sleep 0.1
    n=$((n + 1))
  done
  got_in=$(($(icmp_count InEchos) - in0))
  got_out=$(($(icmp_count OutEchoReps) - out0))
  if [ "$got_out" -ge "$HOST_PINGS" ]; then
    end PASS "$got_in echo requests from the namespace answered ($got_out replies)"
  else
    end FAIL "$got_in echo requests, $got_out replies within 20 s (expected $HOST_PINGS)"
  fi
fi

# 4b. iperf3 against the namespace's iperf3 server: TCP and UDP, each way, IPERF_S seconds.
iperf() { # name args...: the receiver's summary line as "<Mbit/s> <detail>"
  name=$1
  shift
  begin "$name"
  if [ "$WIRE" != tap ]; then
    end SKIP "no iperf3 server on the model's wire"
    return
  fi
  out=$(iperf3 -c "$PEER_IP" -t "$IPERF_S" -f m "$@" 2>&1)
  rc=$?
  line=$(echo "$out" | grep ' receiver$' | tail -n 1)
  mbit=$(echo "$line" | awk '{ for (i = 1; i < NF; i++) if ($(i+1) == "Mbits/sec") print $i }')
  loss=$(echo "$line" | sed -n 's/.* \([0-9]*\/[0-9]*\) (\(.*\)).*/\1 lost (\2)/p')
  if [ $rc = 0 ] && [ -n "$mbit" ]; then
    end PASS "$mbit Mbit/s${loss:+, $loss}"
  else
    end FAIL "iperf3 exit $rc: $(echo "$out" | tail -n 2 | tr '\n' ' ')"
  fi
}
iperf iperf3-tcp-tx
iperf iperf3-tcp-rx -R
iperf iperf3-udp-tx -u -b "$IPERF_UDP"
iperf iperf3-udp-rx -u -b "$IPERF_UDP" -R

# 4c. the driver's error counters after the traffic (all expected 0).
begin driver-errors
stats=/sys/class/net/$IF/statistics
detail=""
bad=0
for c in rx_errors tx_errors rx_dropped tx_dropped rx_crc_errors rx_frame_errors \
  rx_fifo_errors rx_missed_errors rx_length_errors tx_fifo_errors tx_aborted_errors; do
  v=$(cat "$stats/$c" 2>/dev/null || echo 0)
  detail="$detail $c=$v"
  [ "$v" = 0 ] || bad=1
done
rx=$(cat "$stats/rx_packets")
tx=$(cat "$stats/tx_packets")
if [ $bad = 0 ]; then
  end PASS "rx_packets=$rx tx_packets=$tx,$detail"
else
  end FAIL "rx_packets=$rx tx_packets=$tx,$detail"
fi

# 5. ethtool: 6.12 has only eth-mac standard stats (netlink STATS_GET), no string set.
begin ethtool-stats
plain=$(ethtool -S $IF 2>&1 | head -n 1)
out=$(ethtool -S $IF --groups eth-mac 2>&1)
tx=$(echo "$out" | sed -n 's/.*eth-mac-FramesTransmittedOK: //p')
if [ -z "$tx" ]; then
  end FAIL "ethtool -S --groups eth-mac: $(echo "$out" | head -n 2 | tr '\n' ' ')"
elif [ -n "$PEER_IP" ] && [ "$tx" -eq 0 ]; then
  end FAIL "FramesTransmittedOK 0 after traffic"
else
  end PASS "eth-mac FramesTransmittedOK $tx; plain -S: $plain"
fi

# 6. devlink dev info: versions from the capabilities, serial number from the DSN.
begin devlink-info
out=$(devlink dev info 2>&1)
if ! echo "$out" | grep -q "serial_number $EXPECT_SERIAL"; then
  end FAIL "$(echo "$out" | head -n 3 | tr '\n' ' ')"
else
  end PASS "serial_number $EXPECT_SERIAL, fw $(echo "$out" | awk '/^ *fw / { print $2; exit }')"
fi

# 7. heartbeat: the driver checks and re-sends its heartbeat every 10 s while up.
begin heartbeat
before=$(dmesg | grep -c -i heartbeat)
sleep "$HEARTBEAT_S"
after=$(dmesg | grep -c -i heartbeat)
if [ "$after" != "$before" ]; then
  end FAIL "$(dmesg | grep -i heartbeat | tail -n 1)"
elif [ "$(cat /sys/class/net/$IF/carrier)" != 1 ]; then
  end FAIL "carrier lost while idle"
else
  end PASS "${HEARTBEAT_S} s up, no heartbeat complaint"
fi

# 8. link flaps driven by the model (cable pulled and plugged).
begin link-flap
detail=""
i=0
while [ $i -lt "$CYCLES" ]; do
  r=$(vsec_cmd 2)
  if [ "$r" != 0 ]; then detail="model cannot pull its cable (result $r)"; break; fi
  wait_carrier 0 5 || { detail="cycle $i: carrier stayed up after cable pull"; break; }
  vsec_cmd 3 >/dev/null
  wait_carrier 1 10 || { detail="cycle $i: no carrier after cable plug"; break; }
  i=$((i + 1))
done
if [ -z "$detail" ] && [ -n "$PEER_IP" ] && ! ping -c 2 -W 2 "$PEER_IP" >/dev/null 2>&1; then
  detail="no ping after $CYCLES flaps"
fi
if [ -z "$detail" ]; then
  end PASS "$CYCLES cable pull/plug cycles"
else
  end FAIL "$detail"
fi

# 9. interface down/up cycles (rings freed and re-allocated each time).
begin ifdown-up
detail=""
i=0
while [ $i -lt "$CYCLES" ]; do
  timeout 15 ip link set $IF down || { detail="cycle $i: down failed"; break; }
  timeout 15 ip link set $IF up || { detail="cycle $i: up failed"; break; }
  wait_carrier 1 10 || { detail="cycle $i: no carrier"; break; }
  i=$((i + 1))
done
if [ -z "$detail" ] && [ -n "$PEER_IP" ] && ! ping -c 2 -W 2 "$PEER_IP" >/dev/null 2>&1; then
  detail="no ping after $CYCLES down/up cycles"
fi
if [ -z "$detail" ]; then end PASS "$CYCLES down/up cycles"; else end FAIL "$detail"; fi

# 10. unbind and bind the driver: remove (mailbox shut down) and a second probe.
begin rebind
ip link set $IF down 2>/dev/null
echo $BDF >/sys/bus/pci/drivers/fbnic/unbind 2>/dev/null
gone=no
[ -d /sys/class/net/$IF ] || gone=yes
echo $BDF >/sys/bus/pci/drivers/fbnic/bind 2>/dev/null
n=0
while [ ! -d /sys/class/net/$IF ] && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
if [ $gone != yes ]; then
  end FAIL "$IF still there after unbind"
elif [ "$(mac_of)" != "$EXPECT_MAC" ]; then
  end FAIL "no $IF with $EXPECT_MAC after bind"
else
  end PASS "removed and probed again"
fi

# 11. no warnings or errors from the driver or the kernel.
begin dmesg-clean
bad=$(dmesg | grep -E "WARNING:|BUG:|Call Trace|hw csum failure|NETDEV WATCHDOG|stalled pool|\
virt-pci: command ring full" ; fbnic_log | grep -i -E "error|fail|timed out|timeout|invalid|\
mismatch|unable|did not|older than|inconsistent")
if [ -n "$bad" ]; then
  end FAIL "$(echo "$bad" | head -n 4 | tr '\n' '|')"
else
  end PASS "$(fbnic_log | wc -l) driver lines, none a warning or error"
fi

echo "guest: dmesg of the driver:"
fbnic_log | sed 's/^/guest:   /'
# Remove the driver before power-off: at shutdown virt-pci tears the device down in an
# order that makes fbnic's remove free an already-freed IRQ (a WARN unrelated to the model).
echo $BDF >/sys/bus/pci/drivers/fbnic/unbind 2>/dev/null
say "DONE $results"
poweroff -f
