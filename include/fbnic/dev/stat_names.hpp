// Statistics as name/value pairs, the way `ethtool -S` lists them, for tools and logs:
//
//   for_each_stat(stats, [](const char* name, std::uint64_t value) { ... });
//   find_stat(stats, "rpc_unkn_etype")   -> Result<std::uint64_t>
//
// Names are those of the upstream driver: its ethtool -S strings (rpc_*, rxb_*,
// rde_%u_*), its per-queue ring statistics (tx_queue_%u_*, rx_queue_%u_*), and the
// standard groups as `ethtool -S --all-groups` prints them (eth-mac-*, eth-ctrl-*,
// eth-phy-*, rmon-*), with the pause and FEC statistics (ethtool -I -a, --show-fec)
// prefixed by their group. Where this library adds a counter the upstream driver has no
// string for, it is named in the same style (rpc_ovr_size_err, tx_queue_%u_busy,
// rx_queue_%u_alloc_failed). docs/stats.md lists every name.
#pragma once

#include <cstddef>
#include <cstdint>

#include "fbnic/base/result.hpp"
#include "fbnic/dev/stats.hpp"

namespace fbnic {

namespace detail {

template <class S>
struct NamedStat {
  const char* name;  // "%u" stands for the queue, FIFO or interface index
  std::uint64_t S::*field;
};

inline constexpr NamedStat<TxQueueStats> kTxQueueNames[] = {
    {"tx_queue_%u_packets", &TxQueueStats::packets},
    {"tx_queue_%u_bytes", &TxQueueStats::bytes},
    {"tx_queue_%u_dropped", &TxQueueStats::dropped},
    {"tx_queue_%u_busy", &TxQueueStats::busy},
};
inline constexpr NamedStat<RxQueueStats> kRxQueueNames[] = {
    {"rx_queue_%u_packets", &RxQueueStats::packets},
    {"rx_queue_%u_bytes", &RxQueueStats::bytes},
    {"rx_queue_%u_dropped", &RxQueueStats::dropped},
    {"rx_queue_%u_alloc_failed", &RxQueueStats::alloc_failed},
    {"rde_%u_pkt_err", &RxQueueStats::rde_pkt_err},
    {"rde_%u_pkt_cq_drop", &RxQueueStats::rde_pkt_cq_drop},
    {"rde_%u_pkt_bdq_drop", &RxQueueStats::rde_pkt_bdq_drop},
};
inline constexpr NamedStat<MacStats> kMacNames[] = {
    {"eth-mac-FramesTransmittedOK", &MacStats::frames_transmitted_ok},
    {"eth-mac-FramesReceivedOK", &MacStats::frames_received_ok},
    {"eth-mac-FrameCheckSequenceErrors", &MacStats::frame_check_sequence_errors},
    {"eth-mac-AlignmentErrors", &MacStats::alignment_errors},
    {"eth-mac-OctetsTransmittedOK", &MacStats::octets_transmitted_ok},
    {"eth-mac-FramesLostDueToIntMACXmitError", &MacStats::frames_lost_due_to_int_mac_xmit_error},
    {"eth-mac-OctetsReceivedOK", &MacStats::octets_received_ok},
    {"eth-mac-FramesLostDueToIntMACRcvError", &MacStats::frames_lost_due_to_int_mac_rcv_error},
    {"eth-mac-MulticastFramesXmittedOK", &MacStats::multicast_frames_xmitted_ok},
    {"eth-mac-BroadcastFramesXmittedOK", &MacStats::broadcast_frames_xmitted_ok},
    {"eth-mac-MulticastFramesReceivedOK", &MacStats::multicast_frames_received_ok},
    {"eth-mac-BroadcastFramesReceivedOK", &MacStats::broadcast_frames_received_ok},
    {"eth-mac-FrameTooLongErrors", &MacStats::frame_too_long_errors},
    {"eth-ctrl-MACControlFramesTransmitted", &MacStats::mac_control_frames_transmitted},
    {"eth-ctrl-MACControlFramesReceived", &MacStats::mac_control_frames_received},
    {"rmon-etherStatsUndersizePkts", &MacStats::undersize_pkts},
    {"rmon-etherStatsOversizePkts", &MacStats::oversize_pkts},
    {"rmon-etherStatsFragments", &MacStats::fragments},
    {"rmon-etherStatsJabbers", &MacStats::jabbers},
    {"pause-tx_pause_frames", &MacStats::tx_pause_frames},
    {"pause-rx_pause_frames", &MacStats::rx_pause_frames},
};
inline constexpr NamedStat<PhyStats> kPhyNames[] = {
    {"fec-corrected_blocks", &PhyStats::fec_corrected_blocks},
    {"fec-uncorrectable_blocks", &PhyStats::fec_uncorrectable_blocks},
    {"eth-phy-SymbolErrorDuringCarrier", &PhyStats::symbol_errors},
};
inline constexpr NamedStat<RpcStats> kRpcNames[] = {
    {"rpc_unkn_etype", &RpcStats::unkn_etype},
    {"rpc_unkn_ext_hdr", &RpcStats::unkn_ext_hdr},
    {"rpc_ipv4_frag", &RpcStats::ipv4_frag},
    {"rpc_ipv6_frag", &RpcStats::ipv6_frag},
    {"rpc_ipv4_esp", &RpcStats::ipv4_esp},
    {"rpc_ipv6_esp", &RpcStats::ipv6_esp},
    {"rpc_tcp_opt_err", &RpcStats::tcp_opt_err},
    {"rpc_out_of_hdr_err", &RpcStats::out_of_hdr_err},
    {"rpc_ovr_size_err", &RpcStats::ovr_size_err},
    {"rpc_macda_miss", &RpcStats::macda_miss},
    {"rpc_tcam_act_miss", &RpcStats::tcam_act_miss},
};
inline constexpr NamedStat<RxbEnqueueStats> kRxbEnqueueNames[] = {
    {"rxb_integrity_err%u", &RxbEnqueueStats::integrity_err},
    {"rxb_mac_err%u", &RxbEnqueueStats::mac_err},
    {"rxb_parser_err%u", &RxbEnqueueStats::parser_err},
    {"rxb_frm_err%u", &RxbEnqueueStats::frm_err},
    {"rxb_drbo%u_frames", &RxbEnqueueStats::drbo_frames},
    {"rxb_drbo%u_bytes", &RxbEnqueueStats::drbo_bytes},
};
inline constexpr NamedStat<RxbFifoStats> kRxbFifoNames[] = {
    {"rxb_fifo%u_drop", &RxbFifoStats::drop},
    {"rxb_fifo%u_dropped_frames", &RxbFifoStats::dropped_frames},
    {"rxb_fifo%u_ecn", &RxbFifoStats::ecn},
    {"rxb_fifo%u_level", &RxbFifoStats::level},
};
inline constexpr NamedStat<RxbDequeueStats> kRxbDequeueNames[] = {
    {"rxb_intf%u_frames", &RxbDequeueStats::intf_frames},
    {"rxb_intf%u_bytes", &RxbDequeueStats::intf_bytes},
    {"rxb_pbuf%u_frames", &RxbDequeueStats::pbuf_frames},
    {"rxb_pbuf%u_bytes", &RxbDequeueStats::pbuf_bytes},
};

// A name with its index put in for "%u".
class StatName {
 public:
  static constexpr std::size_t kCapacity = 48;
  constexpr StatName(const char* pattern, std::uint32_t index) {
    for (const char* p = pattern; *p != '\0'; ++p) {
      if (p[0] == '%' && p[1] == 'u') {
        put_number(index);
        ++p;
      } else {
        put(*p);
      }
    }
  }
  [[nodiscard]] constexpr const char* c_str() const { return buf_; }

 private:
  constexpr void put(char c) {
    if (len_ + 1 < kCapacity) {
      buf_[len_++] = c;
      buf_[len_] = '\0';
    }
  }
  constexpr void put_number(std::uint32_t v) {
    char digits[10] = {};
    std::size_t n = 0;
    do {
      digits[n++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0);
    while (n > 0) put(digits[--n]);
  }
  char buf_[kCapacity] = {};
  std::size_t len_ = 0;
};

template <class S, std::size_t N, class Fn>
void each_named(const NamedStat<S> (&names)[N], const S& s, std::uint32_t index, Fn& fn) {
  for (const NamedStat<S>& n : names) fn(StatName(n.name, index).c_str(), s.*(n.field));
}

template <class S, std::size_t N>
constexpr std::size_t count_of(const NamedStat<S> (&)[N]) {
  return N;
}

constexpr bool same_name(const char* a, const char* b) {
  while (*a != '\0' && *a == *b) {
    ++a;
    ++b;
  }
  return *a == *b;
}

}  // namespace detail

// Calls fn(name, value) for every statistic, queues first, then MAC, PHY, RPC and RXB.
template <std::uint32_t T, std::uint32_t R, class Fn>
void for_each_stat(const Stats<T, R>& s, Fn&& fn) {
  using namespace detail;
  for (std::uint32_t q = 0; q < T && q < s.tx_queues; ++q)
    each_named(kTxQueueNames, s.tx[q], q, fn);
  for (std::uint32_t q = 0; q < R && q < s.rx_queues; ++q)
    each_named(kRxQueueNames, s.rx[q], q, fn);
  each_named(kMacNames, s.mac, 0, fn);
  each_named(kPhyNames, s.phy, 0, fn);
  each_named(kRpcNames, s.rpc, 0, fn);
  for (std::uint32_t i = 0; i < regs::kRxbInterfaces; ++i)
    each_named(kRxbEnqueueNames, s.rxb.enqueue[i], i, fn);
  for (std::uint32_t i = 0; i < regs::kRxbFifos; ++i)
    each_named(kRxbFifoNames, s.rxb.fifo[i], i, fn);
  for (std::uint32_t i = 0; i < regs::kRxbInterfaces; ++i)
    each_named(kRxbDequeueNames, s.rxb.dequeue[i], i, fn);
}

// How many statistics for_each_stat reports for this shape of Stats with every queue open
// (for a Stats from Device::stats(), stat_count(s)).
template <std::uint32_t T, std::uint32_t R>
constexpr std::size_t stat_count() {
  using namespace detail;
  return T * count_of(kTxQueueNames) + R * count_of(kRxQueueNames) + count_of(kMacNames) +
         count_of(kPhyNames) + count_of(kRpcNames) +
         regs::kRxbInterfaces * (count_of(kRxbEnqueueNames) + count_of(kRxbDequeueNames)) +
         regs::kRxbFifos * count_of(kRxbFifoNames);
}

// How many statistics for_each_stat reports for s (its open queues).
template <std::uint32_t T, std::uint32_t R>
constexpr std::size_t stat_count(const Stats<T, R>& s) {
  using namespace detail;
  const std::uint32_t t = s.tx_queues < T ? s.tx_queues : T;
  const std::uint32_t r = s.rx_queues < R ? s.rx_queues : R;
  return stat_count<T, R>() - (T - t) * count_of(kTxQueueNames) - (R - r) * count_of(kRxQueueNames);
}

// The value of the statistic with this name; kNotFound for a name it does not have.
template <std::uint32_t T, std::uint32_t R>
Result<std::uint64_t> find_stat(const Stats<T, R>& s, const char* name) {
  bool found = false;
  std::uint64_t value = 0;
  for_each_stat(s, [&](const char* n, std::uint64_t v) {
    if (!found && detail::same_name(n, name)) {
      found = true;
      value = v;
    }
  });
  if (!found) return Error::kNotFound;
  return value;
}

}  // namespace fbnic
