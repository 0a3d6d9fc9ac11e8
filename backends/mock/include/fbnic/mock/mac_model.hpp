// The MAC and PCS as the host sees them: link state per mode and FEC, the latched PCS
// signal registers, link-change interrupts (cause 34), MAC enables, loopback, counters.
//
// Link comes up when a cable is plugged, both ends run the same speed and FEC, and (if
// configured) the PHY has trained; MAC loopback is always up. Lane lock masks follow
// what the upstream driver checks for each mode.
#pragma once

#include <cstdint>
#include <span>

#include "fbnic/fw/messages.hpp"
#include "fbnic/mock/wire.hpp"
#include "fbnic/regs/intr.hpp"
#include "fbnic/regs/mac.hpp"
#include "fbnic/regs/mac_stats.hpp"

namespace fbnic::mock {

struct MacCounters {
  std::uint64_t tx_frames = 0;
  std::uint64_t tx_dropped_link = 0;  // transmitted while the link or TX_ENA was down
  std::uint64_t rx_frames = 0;
  std::uint64_t rx_dropped_link = 0;  // arrived while the link or RX_ENA was down
  std::uint64_t link_changes = 0;
};

// Whether a (speed, FEC) pair is one the PHY can run.
constexpr bool valid_mode(LinkMode m) {
  using S = fw::LinkSpeed;
  using F = fw::LinkFec;
  const auto s = static_cast<S>(m.speed);
  const auto f = static_cast<F>(m.fec);
  if (s == S::k50gR1 || s == S::k100gR2) return f == F::kRs;  // PAM4: RS(544) only
  if (s == S::k25gR1 || s == S::k50gR2) return f == F::kNone || f == F::kRs || f == F::kBaseR;
  return false;
}

// SIG_PCS_OUT0 / OUT1 while the link is up in mode m.
struct PcsSignals {
  std::uint32_t out0 = 0;
  std::uint32_t out1 = 0;
};
constexpr PcsSignals pcs_signals_up(LinkMode m) {
  using S = fw::LinkSpeed;
  using F = fw::LinkFec;
  const auto s = static_cast<S>(m.speed);
  const auto f = static_cast<F>(m.fec);
  std::uint32_t lanes = 0;
  switch (s) {
    case S::k100gR2: lanes = 0xF; break;
    case S::k50gR1: lanes = 0x3; break;
    case S::k50gR2: lanes = f == F::kNone ? 0x63 : (f == F::kRs ? 0x5 : 0xF); break;
    case S::k25gR1: lanes = 0x1; break;
    default: return {};
  }
  auto out0 = regs::SigPcsOut0{}.set(regs::SigPcsOut0::kLink, 1);
  auto out1 = regs::SigPcsOut1{};
  if (f == F::kNone) out0.set(regs::SigPcsOut0::kBlockLock, lanes);
  if (f == F::kRs) out0.set(regs::SigPcsOut0::kAmpsLock, lanes);
  if (f == F::kBaseR) out1.set(regs::SigPcsOut1::kFcfecLock, lanes);
  return {out0.raw(), out1.raw()};
}

template <class RegFileT, class IntrT>
class MacModel {
 public:
  enum class TxResult : std::uint8_t { kWire, kLoopback, kDropped };

  MacModel(RegFileT& regs, IntrT& intr) : regs_(regs), intr_(intr) {}

  void reset() {
    up_ = false;
    latched_down_ = false;
    counters_ = {};
  }

  // --- the PHY side, driven by the firmware and by tests ---
  void set_mode(LinkMode m) { mode_ = m; }
  [[nodiscard]] const LinkMode& mode() const { return mode_; }
  void plug(FarEnd far) { far_ = far; }
  void unplug() { far_ = {}; }
  [[nodiscard]] bool plugged() const { return far_.sink.connected(); }
  // How long the PHY trains before the link comes up (0 = at once).
  void set_training_ns(std::uint64_t ns) { train_ns_ = ns; }

  [[nodiscard]] bool link_up() const { return up_; }
  [[nodiscard]] const MacCounters& counters() const { return counters_; }

  // Re-evaluates the link at time now; on a change latches the PCS status and raises the
  // link interrupt cause.
  void update(std::uint64_t now) {
    const bool possible = loopback() || (plugged() && far_.mode != nullptr &&
                                         *far_.mode == mode_ && valid_mode(mode_));
    if (!possible) {
      ready_at_ = 0;
      set_link(false);
      return;
    }
    if (loopback()) {
      set_link(true);
      return;
    }
    if (ready_at_ == 0) ready_at_ = now + train_ns_ + 1;
    if (now + 1 >= ready_at_) set_link(true);
  }
  [[nodiscard]] std::uint64_t next_event_ns() const {
    return !up_ && ready_at_ != 0 ? ready_at_ - 1 : ~std::uint64_t{0};
  }

  // --- frames ---
  TxResult transmit(std::span<const std::uint8_t> frame) {
    const auto cfg = regs_.template get<regs::MacCommandConfig>();
    if (cfg.get(regs::MacCommandConfig::kTxEna) == 0 || !up_) {
      ++counters_.tx_dropped_link;
      return TxResult::kDropped;
    }
    ++counters_.tx_frames;
    count<regs::MacStatTxTransmittedOk>(1);
    count<regs::MacStatTxByteCount>(frame.size());
    if (frame.size() >= 6 && (frame[0] & 1u) != 0) {
      if (is_broadcast(frame)) count<regs::MacStatTxBroadcast>(1);
      else count<regs::MacStatTxMulticast>(1);
    }
    if (loopback()) return TxResult::kLoopback;
    far_.sink(frame);
    return TxResult::kWire;
  }

  // A frame arriving from the wire (or looped back): true if the MAC takes it.
  bool accept(std::span<const std::uint8_t> frame) {
    const auto cfg = regs_.template get<regs::MacCommandConfig>();
    if (cfg.get(regs::MacCommandConfig::kRxEna) == 0 || !up_) {
      ++counters_.rx_dropped_link;
      return false;
    }
    ++counters_.rx_frames;
    count<regs::MacStatRxReceivedOk>(1);
    count<regs::MacStatRxByteCount>(frame.size());
    if (frame.size() >= 6 && (frame[0] & 1u) != 0) {
      if (is_broadcast(frame)) count<regs::MacStatRxBroadcast>(1);
      else count<regs::MacStatRxMulticast>(1);
    }
    return true;
  }

  // --- registers ---
  // Writes with side effects; true when consumed here.
  bool write(std::uint32_t offset, std::uint32_t value) {
    if (offset == regs::SigPcsOut0::kOffset || offset == regs::SigPcsOut1::kOffset) {
      // Write-1-to-clear of latched bits; bits whose condition holds set again at once.
      if (offset == regs::SigPcsOut0::kOffset) latched_down_ = false;
      refresh_pcs();
      return true;
    }
    if (offset == regs::SigPcsIntrSts::kOffset) {
      const auto sts = regs_.template get<regs::SigPcsIntrSts>().raw();
      regs_.put(regs::SigPcsIntrSts::from_raw(sts & ~value));
      return true;
    }
    if (offset == regs::SigPcsIntrMask::kOffset) {
      regs_.put(regs::SigPcsIntrMask::from_raw(value));
      signal_interrupt();
      return true;
    }
    return false;
  }

 private:
  [[nodiscard]] bool loopback() const {
    return regs_.template get<regs::MacCommandConfig>().get(regs::MacCommandConfig::kLoopbackEn) != 0;
  }
  static bool is_broadcast(std::span<const std::uint8_t> f) {
    for (int i = 0; i < 6; ++i) {
      if (f[static_cast<std::size_t>(i)] != 0xFF) return false;
    }
    return true;
  }

  template <class Stat>
  void count(std::uint64_t n) {
    auto* lo = regs_.word(Stat::kBar, Stat::kOffset);
    auto* hi = regs_.word(Stat::kBar, Stat::kHighOffset);
    if (lo == nullptr || hi == nullptr) return;
    const std::uint64_t v = ((std::uint64_t{*hi} << 32) | *lo) + n;
    *lo = static_cast<std::uint32_t>(v);
    *hi = static_cast<std::uint32_t>(v >> 32);
  }

  void set_link(bool up) {
    if (up == up_) {
      refresh_pcs();
      return;
    }
    up_ = up;
    ++counters_.link_changes;
    if (!up) latched_down_ = true;
    refresh_pcs();
    auto sts = regs_.template get<regs::SigPcsIntrSts>();
    if (up) {
      sts.set(regs::SigPcsIntrSts::kLinkUp, 1);
    } else {
      sts.set(regs::SigPcsIntrSts::kLinkDown, 1);
    }
    regs_.put(sts);
    signal_interrupt();
  }

  // The latched status reads low after a loss until software clears it.
  void refresh_pcs() {
    const PcsSignals s = up_ && !latched_down_ ? pcs_signals_up(mode_) : PcsSignals{};
    regs_.put(regs::SigPcsOut0::from_raw(s.out0));
    regs_.put(regs::SigPcsOut1::from_raw(s.out1));
  }

  void signal_interrupt() {
    const auto sts = regs_.template get<regs::SigPcsIntrSts>().raw();
    const auto mask = regs_.template get<regs::SigPcsIntrMask>().raw();
    if ((sts & ~mask & 0x3u) != 0) intr_.raise_cause(regs::kCausePcs);
  }

  RegFileT& regs_;
  IntrT& intr_;
  LinkMode mode_{};
  FarEnd far_{};
  bool up_ = false;
  bool latched_down_ = false;
  std::uint64_t train_ns_ = 0;
  std::uint64_t ready_at_ = 0;
  MacCounters counters_{};
};

}  // namespace fbnic::mock
