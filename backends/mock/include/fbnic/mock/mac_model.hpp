// The MAC and PCS as the host sees them: link state per mode and FEC, the latched PCS
// signal registers, link-change interrupts (cause 34), MAC enables, loopback, counters.
//
// Link comes up when a cable is plugged, both ends run the same speed and FEC, and (if
// configured) the PHY has trained; MAC loopback is always up. Lane lock masks follow
// what the upstream driver checks for each mode.
//
// Received frames (the model's frames carry no FCS): one longer than MAC_FRM_LENGTH is
// too long, counted (RX_TOOLONG, RX_OVERSIZE) and dropped; one shorter than 60 bytes is
// counted undersize (RX_UNDERSIZE) and still passed on, because the model's wire also
// carries frames from a TAP, which Linux does not pad (a real sender's MAC would have).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>

#include "fbnic/base/mac_address.hpp"

#include "fbnic/fw/messages.hpp"
#include "fbnic/mock/wire.hpp"
#include "fbnic/regs/intr.hpp"
#include "fbnic/regs/mac.hpp"
#include "fbnic/regs/mac_stats.hpp"
#include "fbnic/regs/pcs.hpp"

namespace fbnic::mock {

struct MacCounters {
  std::uint64_t tx_frames = 0;
  std::uint64_t tx_dropped_link = 0;  // transmitted while the link or TX_ENA was down
  std::uint64_t rx_frames = 0;
  std::uint64_t rx_dropped_link = 0;  // arrived while the link or RX_ENA was down
  std::uint64_t link_changes = 0;
  std::uint64_t pause_sent = 0;
  std::uint64_t pause_received = 0;
  std::uint64_t rx_too_long = 0;  // longer than MAC_FRM_LENGTH: dropped
};

inline constexpr std::uint32_t kMinFrameBytes = 60;  // without FCS

// IEEE 802.3 MAC control: PAUSE frames go to 01:80:C2:00:00:01 with ethertype 0x8808.
inline constexpr std::uint8_t kPauseDa[6] = {0x01, 0x80, 0xC2, 0x00, 0x00, 0x01};
inline bool is_pause_frame(std::span<const std::uint8_t> f) {
  return f.size() >= 18 && f[12] == 0x88 && f[13] == 0x08 && f[14] == 0x00 && f[15] == 0x01;
}

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
  // Line errors the RS-FEC engine saw: codewords it corrected and ones it could not.
  void inject_fec_errors(std::uint32_t corrected, std::uint32_t uncorrected) {
    fec_corrected_ += corrected;
    fec_uncorrected_ += uncorrected;
  }
  void inject_symbol_errors(std::uint32_t lane, std::uint32_t n) {
    if (lane < symbol_errors_.size()) symbol_errors_[lane] += n;
  }
  // The far end asked us to stop sending until this time (a PAUSE frame).
  [[nodiscard]] bool paused(std::uint64_t now) const { return now < paused_until_; }
  [[nodiscard]] std::uint64_t paused_until() const { return paused_until_; }

  [[nodiscard]] bool link_up() const { return up_; }
  [[nodiscard]] const MacCounters& counters() const { return counters_; }

  // Re-evaluates the link at time now; on a change latches the PCS status and raises the
  // link interrupt cause.
  void update(std::uint64_t now) {
    now_ = now;
    const bool possible = loopback() || (plugged() && far_.mode != nullptr && *far_.mode == mode_ &&
                                         valid_mode(mode_));
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
      if (is_broadcast(frame))
        count<regs::MacStatTxBroadcast>(1);
      else
        count<regs::MacStatTxMulticast>(1);
    }
    if (loopback()) return TxResult::kLoopback;
    far_.sink(frame);
    return TxResult::kWire;
  }

  // A frame arriving from the wire (or looped back): true if the MAC passes it on.
  // PAUSE frames are consumed here: with Rx pause on, they stop our transmitter.
  bool accept(std::span<const std::uint8_t> frame) {
    const auto cfg = regs_.template get<regs::MacCommandConfig>();
    if (cfg.get(regs::MacCommandConfig::kRxEna) == 0 || !up_) {
      ++counters_.rx_dropped_link;
      return false;
    }
    if (frame.size() > max_frame()) {
      ++counters_.rx_too_long;
      count<regs::MacStatRxToolong>(1);
      count<regs::MacStatRxOversize>(1);
      return false;
    }
    if (frame.size() < kMinFrameBytes) count<regs::MacStatRxUndersize>(1);
    if (is_pause_frame(frame)) {
      ++counters_.pause_received;
      count<regs::MacStatRxXoffStb>(1);
      count<regs::MacStatRxControlFrames>(1);
      if (cfg.get(regs::MacCommandConfig::kRxPauseDis) == 0) {
        // One quantum is 512 bit times at the line rate.
        const std::uint64_t quanta = static_cast<std::uint64_t>(frame[16] << 8 | frame[17]);
        const std::uint64_t gbps = line_gbps();
        paused_until_ = now_ + (gbps == 0 ? 0 : quanta * 512 / gbps);
      }
      return false;
    }
    ++counters_.rx_frames;
    count<regs::MacStatRxReceivedOk>(1);
    count<regs::MacStatRxByteCount>(frame.size());
    if (frame.size() >= 6 && (frame[0] & 1u) != 0) {
      if (is_broadcast(frame))
        count<regs::MacStatRxBroadcast>(1);
      else
        count<regs::MacStatRxMulticast>(1);
    }
    return true;
  }

  // Sends a PAUSE (XOFF) for `quanta` when the MAC may generate pause frames.
  void send_pause(std::uint16_t quanta, const MacAddress& src) {
    const auto cfg = regs_.template get<regs::MacCommandConfig>();
    if (!up_ || cfg.get(regs::MacCommandConfig::kTxEna) == 0 ||
        cfg.get(regs::MacCommandConfig::kTxPauseDis) != 0) {
      return;
    }
    std::uint8_t f[60] = {};
    for (int i = 0; i < 6; ++i) {
      f[i] = kPauseDa[i];
      f[6 + i] = src.bytes[static_cast<std::size_t>(i)];
    }
    f[12] = 0x88;
    f[13] = 0x08;
    f[15] = 0x01;  // opcode PAUSE
    f[16] = static_cast<std::uint8_t>(quanta >> 8);
    f[17] = static_cast<std::uint8_t>(quanta);
    ++counters_.pause_sent;
    count<regs::MacStatTxXoffStb>(1);
    count<regs::MacStatTxControlFrames>(1);
    if (!loopback()) far_.sink(std::span<const std::uint8_t>(f, sizeof f));
  }

  // Clear-on-read FEC and PCS counters: the low half hands out 16 bits and latches the
  // high half for the read that follows.
  std::optional<std::uint32_t> read(std::uint32_t offset) {
    if (offset == regs::RsfecCcwLo::at(0).offset) return take_lo(fec_corrected_, ccw_hi_);
    if (offset == regs::RsfecCcwHi::at(0).offset) return ccw_hi_;
    if (offset == regs::RsfecNccwLo::at(0).offset) return take_lo(fec_uncorrected_, nccw_hi_);
    if (offset == regs::RsfecNccwHi::at(0).offset) return nccw_hi_;
    for (std::uint32_t l = 0; l < symbol_errors_.size(); ++l) {
      if (offset == regs::PcsSymblErrLo::at(l).offset)
        return take_lo(symbol_errors_[l], symbol_hi_[l]);
      if (offset == regs::PcsSymblErrHi::at(l).offset) return symbol_hi_[l];
    }
    return std::nullopt;
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
  // MAC loopback, or PCS loopback (control register 1 of PCS instance 0).
  [[nodiscard]] bool loopback() const {
    return regs_.template get<regs::MacCommandConfig>().get(regs::MacCommandConfig::kLoopbackEn) !=
               0 ||
           regs_.get(regs::PcsControl1::at(0)).get(regs::PcsControl1::kLoopback) != 0;
  }
  // MAC_FRM_LENGTH, which the firmware sets at boot (the device model: 9742); unset, no
  // frame is too long.
  [[nodiscard]] std::uint32_t max_frame() const {
    const std::uint32_t v = regs_.template get<regs::MacFrmLength>().raw();
    return v == 0 ? 0xFFFF'FFFFu : v;
  }
  [[nodiscard]] std::uint64_t line_gbps() const {
    switch (static_cast<fw::LinkSpeed>(mode_.speed)) {
      case fw::LinkSpeed::k25gR1: return 25;
      case fw::LinkSpeed::k50gR1:
      case fw::LinkSpeed::k50gR2: return 50;
      case fw::LinkSpeed::k100gR2: return 100;
      default: return 0;
    }
  }
  static std::uint32_t take_lo(std::uint32_t& counter, std::uint32_t& hi) {
    const std::uint32_t v = counter > 0xFFFF'FFFFu ? 0xFFFF'FFFFu : counter;
    counter = 0;
    hi = v >> 16;
    return v & 0xFFFF;
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
  std::uint64_t now_ = 0;
  std::uint64_t paused_until_ = 0;
  std::uint32_t fec_corrected_ = 0;
  std::uint32_t fec_uncorrected_ = 0;
  std::uint32_t ccw_hi_ = 0;
  std::uint32_t nccw_hi_ = 0;
  std::array<std::uint32_t, 4> symbol_errors_{};
  std::array<std::uint32_t, 4> symbol_hi_{};
  MacCounters counters_{};
};

}  // namespace fbnic::mock
