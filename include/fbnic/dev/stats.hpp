// Statistics: what the device and the library counted, in one struct, named like
// `ethtool -S` and its standard groups (dev/stat_names.hpp walks them as name/value pairs).
//
//   per queue  the library's Tx and Rx rings (packets, bytes, drops), and the device's
//              Rx DMA engine per queue (frames in error, dropped for a full completion
//              queue, dropped for want of buffers)
//   mac        the IEEE 802.3 MAC counters (eth-mac, eth-ctrl), RMON size errors, pause
//   phy        RS-FEC corrected and uncorrectable codewords, PCS symbol errors
//   rpc        the Rx parser (unknown EtherType, fragments, ESP, TCP option errors,
//              oversize frames ...) and the classifier's misses (unmatched frames)
//   rxb        the Rx buffer: frames and bytes in and out per interface, enqueue errors,
//              FIFO drops, drop and ECN state transitions, fill levels
//
// The device's counters are read only on request (Device::stats(), HwCounters::read()),
// never on the data path; Device::service() refreshes the 32-bit ones so that none wraps
// unseen between requests. Totals count from the first Device::open() (HwCounters::start)
// and carry on across close and open, as the upstream driver's do across resets.
#pragma once

#include <array>
#include <cstdint>

#include "fbnic/base/result.hpp"
#include "fbnic/hw/counter.hpp"
#include "fbnic/hw/io.hpp"
#include "fbnic/regs/mac_stats.hpp"
#include "fbnic/regs/pcs.hpp"
#include "fbnic/regs/queue.hpp"
#include "fbnic/regs/rpc.hpp"
#include "fbnic/regs/rxb.hpp"

namespace fbnic {

// The library's own per-queue counters (no device access).
struct TxQueueStats {
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
  std::uint64_t dropped = 0;  // packets send() refused
  std::uint64_t busy = 0;     // batches cut short by a full ring
};
struct RxQueueStats {
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
  std::uint64_t dropped = 0;       // frames the device delivered flagged in error
  std::uint64_t alloc_failed = 0;  // refills cut short by an empty page pool (not drops)
  // The device's Rx DMA engine for this queue.
  std::uint64_t rde_pkt_err = 0;       // frames with a MAC, parser or truncation error
  std::uint64_t rde_pkt_cq_drop = 0;   // dropped: the completion queue was full
  std::uint64_t rde_pkt_bdq_drop = 0;  // dropped: no header or payload buffer posted
};

struct MacStats {
  // eth-mac (IEEE 802.3 30.3.1.1)
  std::uint64_t frames_transmitted_ok = 0;
  std::uint64_t frames_received_ok = 0;
  std::uint64_t frame_check_sequence_errors = 0;
  std::uint64_t alignment_errors = 0;
  std::uint64_t octets_transmitted_ok = 0;
  std::uint64_t frames_lost_due_to_int_mac_xmit_error = 0;
  std::uint64_t octets_received_ok = 0;
  std::uint64_t frames_lost_due_to_int_mac_rcv_error = 0;
  std::uint64_t multicast_frames_xmitted_ok = 0;
  std::uint64_t broadcast_frames_xmitted_ok = 0;
  std::uint64_t multicast_frames_received_ok = 0;
  std::uint64_t broadcast_frames_received_ok = 0;
  std::uint64_t frame_too_long_errors = 0;
  // eth-ctrl
  std::uint64_t mac_control_frames_transmitted = 0;
  std::uint64_t mac_control_frames_received = 0;
  // rmon
  std::uint64_t undersize_pkts = 0;
  std::uint64_t oversize_pkts = 0;
  std::uint64_t fragments = 0;
  std::uint64_t jabbers = 0;
  // pause
  std::uint64_t tx_pause_frames = 0;
  std::uint64_t rx_pause_frames = 0;
};

struct PhyStats {
  std::uint64_t fec_corrected_blocks = 0;      // RS-FEC codewords corrected
  std::uint64_t fec_uncorrectable_blocks = 0;  // RS-FEC codewords beyond repair
  std::uint64_t symbol_errors = 0;             // PCS, all lanes (SymbolErrorDuringCarrier)
};

struct RpcStats {
  std::uint64_t unkn_etype = 0;    // EtherType the parser does not know
  std::uint64_t unkn_ext_hdr = 0;  // IPv6 extension header the parser does not know
  std::uint64_t ipv4_frag = 0;
  std::uint64_t ipv6_frag = 0;
  std::uint64_t ipv4_esp = 0;
  std::uint64_t ipv6_esp = 0;
  std::uint64_t tcp_opt_err = 0;     // TCP options that do not parse
  std::uint64_t out_of_hdr_err = 0;  // headers beyond what the parser can reach
  std::uint64_t ovr_size_err = 0;    // frames longer than the parser's MTU
  std::uint64_t macda_miss = 0;      // destination MAC matched no MAC DA entry
  std::uint64_t tcam_act_miss = 0;   // matched no rule: took the default action (drop)
};

struct RxbFifoStats {
  std::uint64_t drop = 0;            // transitions into the drop state
  std::uint64_t dropped_frames = 0;  // frames dropped at this FIFO
  std::uint64_t ecn = 0;             // transitions into the ECN-marking state
  std::uint64_t level = 0;           // fill level now (a gauge, not a total)
};
struct RxbEnqueueStats {
  std::uint64_t integrity_err = 0;  // e.g. multi-bit ECC errors
  std::uint64_t mac_err = 0;        // MAC end-of-frame errors (bad FCS)
  std::uint64_t parser_err = 0;
  std::uint64_t frm_err = 0;      // framing signals missing
  std::uint64_t drbo_frames = 0;  // frames in
  std::uint64_t drbo_bytes = 0;
};
struct RxbDequeueStats {
  std::uint64_t intf_frames = 0;  // frames out to this interface
  std::uint64_t intf_bytes = 0;
  std::uint64_t pbuf_frames = 0;  // the same, as the packet buffer counts them
  std::uint64_t pbuf_bytes = 0;
};
struct RxbStats {
  std::array<RxbFifoStats, regs::kRxbFifos> fifo{};             // 4 network to host
  std::array<RxbEnqueueStats, regs::kRxbInterfaces> enqueue{};  // 0 network, 1 BMC
  std::array<RxbDequeueStats, regs::kRxbInterfaces> dequeue{};  // 2 BMC, 3 host
};

template <std::uint32_t TxQueues, std::uint32_t RxQueues>
struct Stats {
  static constexpr std::uint32_t kTxQueues = TxQueues;
  static constexpr std::uint32_t kRxQueues = RxQueues;
  // How many of the queues below were open (Device::stats() sets it; for_each_stat lists
  // only those).
  std::uint32_t tx_queues = TxQueues;
  std::uint32_t rx_queues = RxQueues;
  std::array<TxQueueStats, TxQueues> tx{};
  std::array<RxQueueStats, RxQueues> rx{};
  MacStats mac{};
  PhyStats phy{};
  RpcStats rpc{};
  RxbStats rxb{};
};

namespace detail {

// Which register each device counter is, in one place. The order of the calls is the order
// of the counter table below; each kind of counter (32-bit, split 64-bit, clear on read,
// gauge) has its own.
template <std::uint32_t RxQueues>
struct CounterMap {
  template <class V>
  static constexpr void each(V& v, Stats<0, RxQueues>& t) {
    using namespace regs;
    for (std::uint32_t q = 0; q < RxQueues; ++q) {
      v.c32(RdePktErrCnt::at(q), t.rx[q].rde_pkt_err);
      v.c32(RdeCqDropCnt::at(q), t.rx[q].rde_pkt_cq_drop);
      v.c32(RdeBdqDropCnt::at(q), t.rx[q].rde_pkt_bdq_drop);
    }

    MacStats& m = t.mac;
    v.c64(MacStatTxTransmittedOk::addr(), m.frames_transmitted_ok);
    v.c64(MacStatRxReceivedOk::addr(), m.frames_received_ok);
    v.c64(MacStatRxPacketBadFcs::addr(), m.frame_check_sequence_errors);
    v.c64(MacStatRxAlignError::addr(), m.alignment_errors);
    v.c64(MacStatTxByteCount::addr(), m.octets_transmitted_ok);
    v.c64(MacStatTxIfOutErrors::addr(), m.frames_lost_due_to_int_mac_xmit_error);
    v.c64(MacStatRxByteCount::addr(), m.octets_received_ok);
    v.c64(MacStatRxIfInErrors::addr(), m.frames_lost_due_to_int_mac_rcv_error);
    v.c64(MacStatTxMulticast::addr(), m.multicast_frames_xmitted_ok);
    v.c64(MacStatTxBroadcast::addr(), m.broadcast_frames_xmitted_ok);
    v.c64(MacStatRxMulticast::addr(), m.multicast_frames_received_ok);
    v.c64(MacStatRxBroadcast::addr(), m.broadcast_frames_received_ok);
    v.c64(MacStatRxToolong::addr(), m.frame_too_long_errors);
    v.c64(MacStatTxControlFrames::addr(), m.mac_control_frames_transmitted);
    v.c64(MacStatRxControlFrames::addr(), m.mac_control_frames_received);
    v.c64(MacStatRxUndersize::addr(), m.undersize_pkts);
    v.c64(MacStatRxOversize::addr(), m.oversize_pkts);
    v.c64(MacStatRxFragment::addr(), m.fragments);
    v.c64(MacStatRxJabber::addr(), m.jabbers);
    v.c64(MacStatTxXoffStb::addr(), m.tx_pause_frames);
    v.c64(MacStatRxXoffStb::addr(), m.rx_pause_frames);

    // RS-FEC engine 0 is the one in use; symbol errors add up over the four lanes.
    PhyStats& p = t.phy;
    v.cleared_on_read(RsfecCcwLo::at(0), RsfecCcwHi::at(0), p.fec_corrected_blocks);
    v.cleared_on_read(RsfecNccwLo::at(0), RsfecNccwHi::at(0), p.fec_uncorrectable_blocks);
    for (std::uint32_t lane = 0; lane < 4; ++lane) {
      v.cleared_on_read(PcsSymblErrLo::at(lane), PcsSymblErrHi::at(lane), p.symbol_errors);
    }

    RpcStats& r = t.rpc;
    v.c32(RpcCntrUnknEtype::addr(), r.unkn_etype);
    v.c32(RpcCntrUnknExtHdr::addr(), r.unkn_ext_hdr);
    v.c32(RpcCntrIpv4Frag::addr(), r.ipv4_frag);
    v.c32(RpcCntrIpv6Frag::addr(), r.ipv6_frag);
    v.c32(RpcCntrIpv4Esp::addr(), r.ipv4_esp);
    v.c32(RpcCntrIpv6Esp::addr(), r.ipv6_esp);
    v.c32(RpcCntrTcpOptErr::addr(), r.tcp_opt_err);
    v.c32(RpcCntrOutOfHdrErr::addr(), r.out_of_hdr_err);
    v.c32(RpcCntrOvrSizeErr::addr(), r.ovr_size_err);
    v.c32(RpcTcamMacdaMissCnt::addr(), r.macda_miss);
    v.c32(RpcTcamActMissCnt::addr(), r.tcam_act_miss);

    RxbStats& b = t.rxb;
    for (std::uint32_t i = 0; i < kRxbFifos; ++i) {
      v.c32(RxbTransDropSts::at(i), b.fifo[i].drop);
      v.c32(RxbDropFrmsSts::at(i), b.fifo[i].dropped_frames);
      v.c32(RxbTransEcnSts::at(i), b.fifo[i].ecn);
      v.gauge(RxbPbufFifoLevel::at(i), b.fifo[i].level);
    }
    for (std::uint32_t i = 0; i < kRxbInterfaces; ++i) {
      RxbEnqueueStats& e = b.enqueue[i];
      v.c32(RxbIntegrityErr::at(i), e.integrity_err);
      v.c32(RxbMacErr::at(i), e.mac_err);
      v.c32(RxbParserErr::at(i), e.parser_err);
      v.c32(RxbFrmErr::at(i), e.frm_err);
      v.c32(RxbDrboFrmCntSrc::at(i), e.drbo_frames);
      v.c64(RxbDrboByteCntSrc::at(i), e.drbo_bytes);
      RxbDequeueStats& d = b.dequeue[i];
      v.c32(RxbIntfFrmCntDst::at(i), d.intf_frames);
      v.c64(RxbIntfByteCntDst::at(i), d.intf_bytes);
      v.c32(RxbPbufFrmCntDst::at(i), d.pbuf_frames);
      v.c64(RxbPbufByteCntDst::at(i), d.pbuf_bytes);
    }
  }
};

struct CounterSizes {
  std::uint32_t n32 = 0;
  std::uint32_t n64 = 0;
  std::uint32_t ncor = 0;
  std::uint32_t ngauge = 0;
  template <class R>
  constexpr void c32(regs::RegAddr<R>, std::uint64_t&) {
    ++n32;
  }
  template <class R>
  constexpr void c64(regs::RegAddr<R>, std::uint64_t&) {
    ++n64;
  }
  template <class Lo, class Hi>
  constexpr void cleared_on_read(regs::RegAddr<Lo>, regs::RegAddr<Hi>, std::uint64_t&) {
    ++ncor;
  }
  template <class R>
  constexpr void gauge(regs::RegAddr<R>, std::uint64_t&) {
    ++ngauge;
  }
};
template <std::uint32_t RxQueues>
constexpr CounterSizes counter_sizes() {
  CounterSizes n;
  Stats<0, RxQueues> t{};
  CounterMap<RxQueues>::each(n, t);
  return n;
}
template <std::uint32_t RxQueues>
inline constexpr CounterSizes kCounterSizes = counter_sizes<RxQueues>();

// Byte offsets in BAR0: one per 32-bit counter and gauge, a low and a high one per split
// 64-bit and per clear-on-read counter.
template <std::uint32_t RxQueues>
struct CounterTable {
  static constexpr CounterSizes kN = kCounterSizes<RxQueues>;
  std::array<std::uint32_t, kN.n32> c32{};
  std::array<std::uint32_t, 2 * kN.n64> c64{};
  std::array<std::uint32_t, 2 * kN.ncor> cor{};
  std::array<std::uint32_t, kN.ngauge> gauge{};
};
template <std::uint32_t RxQueues>
struct CounterRecord {
  CounterTable<RxQueues> t{};
  std::uint32_t n32 = 0;
  std::uint32_t n64 = 0;
  std::uint32_t ncor = 0;
  std::uint32_t ngauge = 0;
  template <class R>
  constexpr void c32(regs::RegAddr<R> a, std::uint64_t&) {
    t.c32[n32++] = a.offset;
  }
  template <class R>
  constexpr void c64(regs::RegAddr<R> a, std::uint64_t&) {
    t.c64[n64++] = a.offset;
    t.c64[n64++] = R::high(a).offset;
  }
  template <class Lo, class Hi>
  constexpr void cleared_on_read(regs::RegAddr<Lo> lo, regs::RegAddr<Hi> hi, std::uint64_t&) {
    t.cor[ncor++] = lo.offset;
    t.cor[ncor++] = hi.offset;
  }
  template <class R>
  constexpr void gauge(regs::RegAddr<R> a, std::uint64_t&) {
    t.gauge[ngauge++] = a.offset;
  }
};
template <std::uint32_t RxQueues>
constexpr CounterTable<RxQueues> counter_table() {
  CounterRecord<RxQueues> r;
  Stats<0, RxQueues> t{};
  CounterMap<RxQueues>::each(r, t);
  return r.t;
}
template <std::uint32_t RxQueues>
inline constexpr CounterTable<RxQueues> kCounterTable = counter_table<RxQueues>();

}  // namespace detail

// The device's counters for RxQueues Rx queues, kept as running totals. A tool that never
// calls start() reads the counters as the device holds them (since its reset); the
// clear-on-read ones count since their last read either way.
//
// Which register each counter is lives in one place, detail::CounterMap; from it a table
// of register offsets is built at compile time, and start() and refresh32(), which a driver
// runs, are loops over that table (a firmware image carries no code per counter). Only
// read() walks the map at run time, to fill in the named fields.
template <Platform P, std::uint32_t RxQueues>
class HwCounters {
 public:
  explicit HwCounters(Io<P>& io) : io_(io) {}

  // From now on, totals count what the device counts (the totals so far are kept).
  Status start() {
    FBNIC_TRY(pass(Mode::kStart));
    started_ = true;
    return ok_status();
  }
  [[nodiscard]] bool started() const { return started_; }

  // Brings the 32-bit and the clear-on-read counters up to date (every few seconds at
  // most: Device::service() does it once a call).
  Status refresh32() { return pass(Mode::kUpdate32); }

  // The running total of one 32-bit counter (e.g. a queue's RDE_PKT_BDQ_DROP) as of the last
  // pass; 0 for a register this table does not hold.
  template <class R>
  [[nodiscard]] std::uint64_t total32(regs::RegAddr<R> counter) const {
    for (std::uint32_t i = 0; i < kN.n32; ++i) {
      if (counter.valid && kTable.c32[i] == counter.offset) return total32_[i];
    }
    return 0;
  }

  // Brings every counter up to date and copies the totals into the device's parts of out.
  template <std::uint32_t TxQueues>
  Status read(Stats<TxQueues, RxQueues>& out) {
    FBNIC_TRY(pass(Mode::kUpdateAll));
    Stats<0, RxQueues> t{};
    Fill fill{*this};
    Map::each(fill, t);
    for (std::uint32_t q = 0; q < RxQueues; ++q) {
      out.rx[q].rde_pkt_err = t.rx[q].rde_pkt_err;
      out.rx[q].rde_pkt_cq_drop = t.rx[q].rde_pkt_cq_drop;
      out.rx[q].rde_pkt_bdq_drop = t.rx[q].rde_pkt_bdq_drop;
    }
    out.mac = t.mac;
    out.phy = t.phy;
    out.rpc = t.rpc;
    out.rxb = t.rxb;
    return ok_status();
  }

 private:
  using Map = detail::CounterMap<RxQueues>;
  static constexpr detail::CounterSizes kN = detail::kCounterSizes<RxQueues>;
  static constexpr const detail::CounterTable<RxQueues>& kTable = detail::kCounterTable<RxQueues>;

  // Copies the totals, in table order, into the named fields.
  struct Fill {
    const HwCounters& self;
    std::uint32_t n32 = 0, n64 = 0, ncor = 0, ngauge = 0;
    template <class R>
    void c32(regs::RegAddr<R>, std::uint64_t& field) {
      field = self.total32_[n32++];
    }
    template <class R>
    void c64(regs::RegAddr<R>, std::uint64_t& field) {
      field = self.total64_[n64++];
    }
    template <class Lo, class Hi>
    void cleared_on_read(regs::RegAddr<Lo>, regs::RegAddr<Hi>, std::uint64_t& field) {
      field += self.total_cor_[ncor++];  // lanes add up into one field
    }
    template <class R>
    void gauge(regs::RegAddr<R>, std::uint64_t& field) {
      field = self.gauge_[ngauge++];
    }
  };

  enum class Mode : std::uint8_t { kStart, kUpdate32, kUpdateAll };

  static constexpr regs::RegAddr<regs::CsrWord> word(std::uint32_t offset) {
    return {offset, true};
  }

  // One pass over the table: start takes the raw values as the zero, update adds what
  // the counters counted since the last pass.
  Status pass(Mode mode) {
    using W = regs::CsrWord;
    for (std::uint32_t i = 0; i < kN.n32; ++i) {
      FBNIC_TRY_ASSIGN(const W r, io_.read(word(kTable.c32[i])));
      Count32 c{total32_[i], last32_[i]};
      if (mode == Mode::kStart) {
        c.start(r.get(W::kValue));
      } else {
        c.update(r.get(W::kValue));
      }
      total32_[i] = c.value;
      last32_[i] = c.last;
    }
    for (std::uint32_t i = 0; i < kN.ncor; ++i) {
      using C = regs::CsrCount16;
      const regs::RegAddr<C> lo{kTable.cor[2 * i], true};
      const regs::RegAddr<C> hi{kTable.cor[2 * i + 1], true};
      FBNIC_TRY_ASSIGN(const std::uint32_t v, take_clear_on_read(io_, lo, hi));
      if (mode != Mode::kStart) total_cor_[i] += v;
    }
    if (mode == Mode::kUpdate32) return ok_status();
    for (std::uint32_t i = 0; i < kN.n64; ++i) {
      FBNIC_TRY_ASSIGN(const std::uint64_t raw,
                       read_split64(io_, word(kTable.c64[2 * i]), word(kTable.c64[2 * i + 1])));
      Count64 c{total64_[i], last64_[i]};
      if (mode == Mode::kStart) {
        c.start(raw);
      } else {
        c.update(raw);
      }
      total64_[i] = c.value;
      last64_[i] = c.last;
    }
    for (std::uint32_t i = 0; i < kN.ngauge; ++i) {
      FBNIC_TRY_ASSIGN(const W r, io_.read(word(kTable.gauge[i])));
      gauge_[i] = r.get(W::kValue);
    }
    return ok_status();
  }

  Io<P>& io_;
  std::array<std::uint64_t, kN.n32> total32_{};
  std::array<std::uint32_t, kN.n32> last32_{};
  std::array<std::uint64_t, kN.n64> total64_{};
  std::array<std::uint64_t, kN.n64> last64_{};
  std::array<std::uint64_t, kN.ncor> total_cor_{};
  std::array<std::uint64_t, kN.ngauge> gauge_{};
  bool started_ = false;
};

}  // namespace fbnic
