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
  std::uint64_t alloc_failed = 0;  // refills cut short by an empty page pool
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
  std::array<TxQueueStats, TxQueues> tx{};
  std::array<RxQueueStats, RxQueues> rx{};
  MacStats mac{};
  PhyStats phy{};
  RpcStats rpc{};
  RxbStats rxb{};
};

// The device's counters for RxQueues Rx queues, kept as running totals. A tool that never
// calls start() reads the counters as the device holds them (since its reset); the
// clear-on-read ones count since their last read either way.
template <Platform P, std::uint32_t RxQueues>
class HwCounters {
 public:
  explicit HwCounters(Io<P>& io) : io_(io) {}

  // From now on, totals count what the device counts (the values so far are kept).
  Status start() {
    Visit v{*this, Mode::kStart};
    FBNIC_TRY(visit(v));
    started_ = true;
    return ok_status();
  }
  [[nodiscard]] bool started() const { return started_; }

  // Brings the 32-bit and the clear-on-read counters up to date (every few seconds at
  // most: Device::service() does it once a call).
  Status refresh32() {
    Visit v{*this, Mode::kUpdate32};
    return visit(v);
  }

  // Brings every counter up to date and copies the totals into the device's parts of out.
  template <std::uint32_t TxQueues>
  Status read(Stats<TxQueues, RxQueues>& out) {
    Visit v{*this, Mode::kUpdateAll};
    FBNIC_TRY(visit(v));
    for (std::uint32_t q = 0; q < RxQueues; ++q) {
      out.rx[q].rde_pkt_err = totals_.rx[q].rde_pkt_err;
      out.rx[q].rde_pkt_cq_drop = totals_.rx[q].rde_pkt_cq_drop;
      out.rx[q].rde_pkt_bdq_drop = totals_.rx[q].rde_pkt_bdq_drop;
    }
    out.mac = totals_.mac;
    out.phy = totals_.phy;
    out.rpc = totals_.rpc;
    out.rxb = totals_.rxb;
    return ok_status();
  }

 private:
  static constexpr std::uint32_t kCount32 = 63 + 3 * RxQueues;
  static constexpr std::uint32_t kCount64 = 33;

  enum class Mode : std::uint8_t { kStart, kUpdate32, kUpdateAll };
  using Word = regs::RegAddr<regs::CsrWord>;

  // One pass over every counter; the visit order fixes which last_ slot each one uses.
  // One function per kind of counter, whatever its register type: firmware images carry
  // the reading code once.
  struct Visit {
    HwCounters& self;
    Mode mode;
    std::uint32_t n32 = 0;
    std::uint32_t n64 = 0;

    [[gnu::noinline]] Status c32(Word a, std::uint64_t& total) {
      if (n32 >= kCount32) return Error::kOutOfRange;
      FBNIC_TRY_ASSIGN(const regs::CsrWord r, self.io_.read(a));
      Count32 c{total, self.last32_[n32]};
      const std::uint32_t raw = r.get(regs::CsrWord::kValue);
      if (mode == Mode::kStart) {
        c.start(raw);
      } else {
        c.update(raw);
      }
      total = c.value;
      self.last32_[n32++] = c.last;
      return ok_status();
    }
    [[gnu::noinline]] Status c64(Word low, Word high, std::uint64_t& total) {
      if (n64 >= kCount64) return Error::kOutOfRange;
      if (mode != Mode::kUpdate32) {
        FBNIC_TRY_ASSIGN(const std::uint64_t raw, read_split64(self.io_, low, high));
        Count64 c{total, self.last64_[n64]};
        if (mode == Mode::kStart) {
          c.start(raw);
        } else {
          c.update(raw);
        }
        total = c.value;
        self.last64_[n64] = c.last;
      }
      ++n64;
      return ok_status();
    }
    template <class R>
    Status c64(regs::RegAddr<R> low, std::uint64_t& total) {
      return c64(regs::as_word(low), regs::as_word(R::high(low)), total);
    }
    // Clear on read: starting reads and drops what was there.
    template <class Lo, class Hi>
    Status cleared_on_read(regs::RegAddr<Lo> lo, regs::RegAddr<Hi> hi, std::uint64_t& total) {
      FBNIC_TRY_ASSIGN(const std::uint32_t v, take_clear_on_read(self.io_, lo, hi));
      if (mode != Mode::kStart) total += v;
      return ok_status();
    }
    [[gnu::noinline]] Status gauge(Word a, std::uint64_t& now) {
      if (mode == Mode::kUpdate32) return ok_status();
      FBNIC_TRY_ASSIGN(const regs::CsrWord r, self.io_.read(a));
      now = r.get(regs::CsrWord::kValue);
      return ok_status();
    }
    [[nodiscard]] Status done() const {
      return n32 == kCount32 && n64 == kCount64 ? ok_status() : Status(Error::kOutOfRange);
    }
  };

  Status visit(Visit& v) {
    using namespace regs;
    Stats<0, RxQueues>& t = totals_;
    for (std::uint32_t q = 0; q < RxQueues; ++q) {
      FBNIC_TRY(v.c32(as_word(RdePktErrCnt::at(q)), t.rx[q].rde_pkt_err));
      FBNIC_TRY(v.c32(as_word(RdeCqDropCnt::at(q)), t.rx[q].rde_pkt_cq_drop));
      FBNIC_TRY(v.c32(as_word(RdeBdqDropCnt::at(q)), t.rx[q].rde_pkt_bdq_drop));
    }

    MacStats& m = t.mac;
    FBNIC_TRY(v.c64(MacStatTxTransmittedOk::addr(), m.frames_transmitted_ok));
    FBNIC_TRY(v.c64(MacStatRxReceivedOk::addr(), m.frames_received_ok));
    FBNIC_TRY(v.c64(MacStatRxPacketBadFcs::addr(), m.frame_check_sequence_errors));
    FBNIC_TRY(v.c64(MacStatRxAlignError::addr(), m.alignment_errors));
    FBNIC_TRY(v.c64(MacStatTxByteCount::addr(), m.octets_transmitted_ok));
    FBNIC_TRY(v.c64(MacStatTxIfOutErrors::addr(), m.frames_lost_due_to_int_mac_xmit_error));
    FBNIC_TRY(v.c64(MacStatRxByteCount::addr(), m.octets_received_ok));
    FBNIC_TRY(v.c64(MacStatRxIfInErrors::addr(), m.frames_lost_due_to_int_mac_rcv_error));
    FBNIC_TRY(v.c64(MacStatTxMulticast::addr(), m.multicast_frames_xmitted_ok));
    FBNIC_TRY(v.c64(MacStatTxBroadcast::addr(), m.broadcast_frames_xmitted_ok));
    FBNIC_TRY(v.c64(MacStatRxMulticast::addr(), m.multicast_frames_received_ok));
    FBNIC_TRY(v.c64(MacStatRxBroadcast::addr(), m.broadcast_frames_received_ok));
    FBNIC_TRY(v.c64(MacStatRxToolong::addr(), m.frame_too_long_errors));
    FBNIC_TRY(v.c64(MacStatTxControlFrames::addr(), m.mac_control_frames_transmitted));
    FBNIC_TRY(v.c64(MacStatRxControlFrames::addr(), m.mac_control_frames_received));
    FBNIC_TRY(v.c64(MacStatRxUndersize::addr(), m.undersize_pkts));
    FBNIC_TRY(v.c64(MacStatRxOversize::addr(), m.oversize_pkts));
    FBNIC_TRY(v.c64(MacStatRxFragment::addr(), m.fragments));
    FBNIC_TRY(v.c64(MacStatRxJabber::addr(), m.jabbers));
    FBNIC_TRY(v.c64(MacStatTxXoffStb::addr(), m.tx_pause_frames));
    FBNIC_TRY(v.c64(MacStatRxXoffStb::addr(), m.rx_pause_frames));

    // RS-FEC engine 0 is the one in use; symbol errors add up over the four lanes.
    PhyStats& p = t.phy;
    FBNIC_TRY(v.cleared_on_read(RsfecCcwLo::at(0), RsfecCcwHi::at(0), p.fec_corrected_blocks));
    FBNIC_TRY(
        v.cleared_on_read(RsfecNccwLo::at(0), RsfecNccwHi::at(0), p.fec_uncorrectable_blocks));
    for (std::uint32_t lane = 0; lane < 4; ++lane) {
      FBNIC_TRY(
          v.cleared_on_read(PcsSymblErrLo::at(lane), PcsSymblErrHi::at(lane), p.symbol_errors));
    }

    RpcStats& r = t.rpc;
    FBNIC_TRY(v.c32(as_word(RpcCntrUnknEtype::addr()), r.unkn_etype));
    FBNIC_TRY(v.c32(as_word(RpcCntrUnknExtHdr::addr()), r.unkn_ext_hdr));
    FBNIC_TRY(v.c32(as_word(RpcCntrIpv4Frag::addr()), r.ipv4_frag));
    FBNIC_TRY(v.c32(as_word(RpcCntrIpv6Frag::addr()), r.ipv6_frag));
    FBNIC_TRY(v.c32(as_word(RpcCntrIpv4Esp::addr()), r.ipv4_esp));
    FBNIC_TRY(v.c32(as_word(RpcCntrIpv6Esp::addr()), r.ipv6_esp));
    FBNIC_TRY(v.c32(as_word(RpcCntrTcpOptErr::addr()), r.tcp_opt_err));
    FBNIC_TRY(v.c32(as_word(RpcCntrOutOfHdrErr::addr()), r.out_of_hdr_err));
    FBNIC_TRY(v.c32(as_word(RpcCntrOvrSizeErr::addr()), r.ovr_size_err));
    FBNIC_TRY(v.c32(as_word(RpcTcamMacdaMissCnt::addr()), r.macda_miss));
    FBNIC_TRY(v.c32(as_word(RpcTcamActMissCnt::addr()), r.tcam_act_miss));

    RxbStats& b = t.rxb;
    for (std::uint32_t i = 0; i < kRxbFifos; ++i) {
      FBNIC_TRY(v.c32(as_word(RxbTransDropSts::at(i)), b.fifo[i].drop));
      FBNIC_TRY(v.c32(as_word(RxbDropFrmsSts::at(i)), b.fifo[i].dropped_frames));
      FBNIC_TRY(v.c32(as_word(RxbTransEcnSts::at(i)), b.fifo[i].ecn));
      FBNIC_TRY(v.gauge(as_word(RxbPbufFifoLevel::at(i)), b.fifo[i].level));
    }
    for (std::uint32_t i = 0; i < kRxbInterfaces; ++i) {
      RxbEnqueueStats& e = b.enqueue[i];
      FBNIC_TRY(v.c32(as_word(RxbIntegrityErr::at(i)), e.integrity_err));
      FBNIC_TRY(v.c32(as_word(RxbMacErr::at(i)), e.mac_err));
      FBNIC_TRY(v.c32(as_word(RxbParserErr::at(i)), e.parser_err));
      FBNIC_TRY(v.c32(as_word(RxbFrmErr::at(i)), e.frm_err));
      FBNIC_TRY(v.c32(as_word(RxbDrboFrmCntSrc::at(i)), e.drbo_frames));
      FBNIC_TRY(v.c64(RxbDrboByteCntSrc::at(i), e.drbo_bytes));
      RxbDequeueStats& d = b.dequeue[i];
      FBNIC_TRY(v.c32(as_word(RxbIntfFrmCntDst::at(i)), d.intf_frames));
      FBNIC_TRY(v.c64(RxbIntfByteCntDst::at(i), d.intf_bytes));
      FBNIC_TRY(v.c32(as_word(RxbPbufFrmCntDst::at(i)), d.pbuf_frames));
      FBNIC_TRY(v.c64(RxbPbufByteCntDst::at(i), d.pbuf_bytes));
    }
    return v.done();
  }

  Io<P>& io_;
  Stats<0, RxQueues> totals_{};
  std::array<std::uint32_t, kCount32> last32_{};
  std::array<std::uint64_t, kCount64> last64_{};
  bool started_ = false;
};

}  // namespace fbnic
