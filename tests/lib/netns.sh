# A network namespace with a TAP, for tests that put fbnic-emu's wire on a real Linux stack
# (source it from bash; needs root and iproute2). Nothing outside the namespace is touched,
# and deleting the namespace takes the TAP with it.
#
#   fbnic_netns_create NS TAP CIDR   namespace NS (lo up, IPv6 off so that a capture holds
#                                    only the test's traffic), TAP in it with CIDR, up
#   fbnic_netns_delete NS            removes NS (and its TAP); quiet if it is gone
#
# Then run fbnic-emu (and whatever serves the wire: iperf3, dnsmasq, ping) inside it with
# `ip netns exec NS ...`, with --wire tap:TAP. Name NS after the test and its PID.
fbnic_netns_create() {
  local ns=$1 tap=$2 cidr=$3
  ip netns add "$ns" || return 1
  ip -n "$ns" link set lo up &&
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
      net.ipv6.conf.default.disable_ipv6=1 &&
    ip netns exec "$ns" ip tuntap add dev "$tap" mode tap &&
    ip -n "$ns" addr add "$cidr" dev "$tap" &&
    ip -n "$ns" link set "$tap" up && return 0
  ip netns del "$ns" 2>/dev/null
  return 1
}

fbnic_netns_delete() {
  ip netns del "$1" 2>/dev/null || true
}
