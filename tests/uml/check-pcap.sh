#!/usr/bin/env bash
# Checks a pcap of the model's wire with tshark (Wireshark's own decoders, checksum
# validation on): every frame decodes (no malformed frame), no IPv4 header, TCP, UDP or
# ICMP checksum is wrong, and the file holds exactly the frames fbnic-emu counted on its
# wires (both directions, every NIC: the "wire:" lines of its final counters).
#
#   tests/uml/check-pcap.sh PCAP EMU_LOG
#
# First proves on a pcap of its own that the same tshark queries do catch a bad UDP
# checksum, a bad IPv4 header checksum and a truncated frame (a check that cannot fail
# would prove nothing). Prints one line: what it found; exits 0 only if all holds.
set -euo pipefail
pcap=$1
emu_log=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# tshark with checksum validation on (-n: no name resolution; its "running as root"
# warning goes to stderr). TCP sequence analysis and stream reassembly stay off: they check
# nothing asked here and, with many retransmissions, took minutes instead of seconds.
checked() {  # FILE ARGS...
  local f=$1
  shift
  tshark -n -r "$f" -o ip.check_checksum:TRUE -o tcp.check_checksum:TRUE \
    -o udp.check_checksum:TRUE -o tcp.analyze_sequence_numbers:FALSE \
    -o tcp.desegment_tcp_streams:FALSE "$@" 2>/dev/null
}

# One pass per file: per frame, whether it is malformed, the IPv4, TCP, UDP and ICMP
# checksum verdicts (0 = bad; a field repeats, comma-separated, for inner headers), the
# protocol stack, its direction (1: into the model, 2: out of it) and the TCP checksum as
# sent and as computed.
#
# One verdict is set apart: a TCP checksum of 0xffff where 0x0000 is due. The two are the
# same number in ones' complement (the segment verifies), but RFC 1624 asks for 0x0000 and
# tshark marks 0xffff bad. Linux's software checksum (skb_checksum_help, used for a TAP
# without offloads) writes 0xffff whenever the result is 0 (CSUM_MANGLED_0), so about one
# segment in 65536 from the namespace's kernel has it. Counted apart when it comes from
# the kernel's side; from the model it stays a failure.
#
# Prints: frames malformed bad tcp udp icmp arp negzero.
survey() {  # FILE
  checked "$1" -T fields -e _ws.malformed -e ip.checksum.status \
    -e tcp.checksum.status -e udp.checksum.status -e icmp.checksum.status \
    -e frame.protocols -e frame.packet_flags_direction -e tcp.checksum \
    -e tcp.checksum_calculated |
    awk -F'\t' '{ n++; if ($1 != "") m++
      negzero_in = $3 == "0" && $7 ~ /1$/ && $8 == "0xffff" && $9 == "0x0000"
      if (negzero_in) z++
      for (i = 2; i <= 5; i++) if ($i ~ /(^|,)0(,|$)/ && !(i == 3 && negzero_in)) { b++; break }
      if ($6 ~ /:tcp/) t++; if ($6 ~ /:udp/) u++; if ($6 ~ /:icmp/) c++; if ($6 ~ /:arp/) a++ }
      END { print n + 0, m + 0, b + 0, t + 0, u + 0, c + 0, a + 0, z + 0 }'
}

# The self-check: a good UDP frame, one with a bad UDP checksum, one with a bad IPv4
# header checksum, one cut off inside its IPv4 header, and a TCP segment with 0xffff for
# 0x0000 (no direction in this file: it must count as bad).
python3 - "$work/self.pcap" <<'PY'
import struct, sys
def csum(b):
    b += b"\0" * (len(b) % 2)
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF
def frame(bad_udp=False, bad_ip=False):
    src, dst, payload = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]), b"fbnic"
    udp = struct.pack("!HHHH", 1234, 5678, 8 + len(payload), 0) + payload
    c = csum(src + dst + struct.pack("!BBH", 0, 17, len(udp)) + udp) ^ (0x5A5A if bad_udp else 0)
    udp = udp[:6] + struct.pack("!H", c) + udp[8:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip) ^ (0x1111 if bad_ip else 0)) + ip[12:]
    return bytes.fromhex("020000000002020000000001") + b"\x08\x00" + ip + udp
def negzero_tcp():
    src, dst = bytes([10, 0, 0, 2]), bytes([10, 0, 0, 1])
    tcp = bytearray(struct.pack("!HHIIBBHHH", 5201, 40000, 1, 1, 0x50, 0x10, 512, 0, 0) + b"\0\0")
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp))
    s = 0xFFFF - (~csum(pseudo + bytes(tcp)) & 0xFFFF)  # the last word makes the sum 0xffff
    tcp[20:22] = struct.pack("!H", s)
    assert csum(pseudo + bytes(tcp)) == 0
    tcp[16:18] = b"\xff\xff"
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0, 64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return bytes.fromhex("020000000001020000000002") + b"\x08\x00" + ip + bytes(tcp)
frames = [frame(), frame(bad_udp=True), frame(bad_ip=True), frame()[:20], negzero_tcp()]
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    for i, fr in enumerate(frames):
        f.write(struct.pack("<IIII", i, 0, len(fr), len(fr)) + fr)
PY
read -r self_frames self_malformed self_bad _ <<<"$(survey "$work/self.pcap")"
if [ "$self_frames" != 5 ] || [ "$self_bad" != 3 ] || [ "$self_malformed" != 1 ]; then
  echo "tshark's checks are broken: a pcap with 3 bad checksums and 1 truncated frame gave" \
    "$self_bad and $self_malformed"
  exit 1
fi

[ -s "$pcap" ] || { echo "no pcap at $pcap"; exit 1; }
read -r frames malformed bad tcp udp icmp arp negzero <<<"$(survey "$pcap")"
# The model's wire counters at the end of the run.
read -r to from <<<"$(grep -a '^fbnic-emu\[nic[0-9]*\] wire: to-wire' "$emu_log" |
  awk '{ t += $4; f += $6 } END { print t + 0, f + 0 }')"
detail="$frames frames ($tcp TCP, $udp UDP, $icmp ICMP, $arp ARP); model's wire: $to out +"
detail="$detail $from in; $malformed malformed, $bad bad IPv4/TCP/UDP/ICMP checksums"
if [ "$negzero" != 0 ]; then
  detail="$detail (and $negzero TCP checksums 0xffff for 0x0000 from the namespace's kernel:"
  detail="$detail Linux's CSUM_MANGLED_0, which tshark marks under RFC 1624)"
fi
echo "$detail"
if [ "$malformed" != 0 ] || [ "$bad" != 0 ]; then
  # The first offenders, with their direction on the wire (1 in to the model, 2 out of it).
  checked "$pcap" -Y '_ws.malformed || ip.checksum.status == "Bad" ||
      tcp.checksum.status == "Bad" || udp.checksum.status == "Bad" ||
      icmp.checksum.status == "Bad"' -T fields -e frame.number \
    -e frame.packet_flags_direction -e frame.len -e _ws.col.Protocol -e _ws.col.Info |
    head -n 5 | sed 's/^/  frame /'
fi
[ "$malformed" = 0 ] && [ "$bad" = 0 ] && [ "$frames" = $((to + from)) ] && [ "$frames" -gt 0 ]
