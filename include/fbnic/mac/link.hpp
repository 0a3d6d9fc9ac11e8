// Link: bring-up and tracking of the Ethernet link without phylink, for a UEFI driver
// that polls and a userspace driver woken by the link interrupt alike.
//
// Firmware owns the PHY (SerDes, training, FEC) and reports the mode; the host reads the
// PCS signals, enables the MAC when the link is up, and disables it when it goes down.
//
//   Down --signal--> Training --signal held for training_ms--> Up --signal lost--> Down
//
// The training wait covers the seconds in which the firmware trains the link and the
// PCS signal may flap; with training_ms = 0 the link is up as soon as the signal is.
#pragma once

#include <cstdint>

#include "fbnic/base/status.hpp"
#include "fbnic/fw/messages.hpp"
#include "fbnic/hw/io.hpp"
#include "fbnic/platform/deadline.hpp"
#include "fbnic/regs/intr.hpp"
#include "fbnic/regs/mac.hpp"
#include "fbnic/regs/pcs.hpp"
#include "fbnic/regs/rxb.hpp"

namespace fbnic::mac {

using fw::LinkFec;
using fw::LinkSpeed;

// The mode the port runs, as derived from the firmware's report: PAM4 modes always use
// RS FEC; NRZ modes take the reported FEC, RS when unknown.
struct LinkConfig {
  LinkSpeed speed = LinkSpeed::kUnknown;
  LinkFec fec = LinkFec::kUnknown;

  static constexpr LinkConfig from_firmware(std::uint32_t speed, std::uint32_t fec) {
    LinkConfig c{static_cast<LinkSpeed>(speed), static_cast<LinkFec>(fec)};
    const bool pam4 = c.speed == LinkSpeed::k50gR1 || c.speed == LinkSpeed::k100gR2;
    if (pam4 || (c.fec != LinkFec::kNone && c.fec != LinkFec::kBaseR)) c.fec = LinkFec::kRs;
    if (c.speed < LinkSpeed::k25gR1 || c.speed > LinkSpeed::k100gR2) c.speed = LinkSpeed::kUnknown;
    return c;
  }
  [[nodiscard]] constexpr std::uint32_t gbps() const {
    switch (speed) {
      case LinkSpeed::k25gR1: return 25;
      case LinkSpeed::k50gR2:
      case LinkSpeed::k50gR1: return 50;
      case LinkSpeed::k100gR2: return 100;
      default: return 0;
    }
  }
  // The lock bits that must all be set, in the PCS field that FEC mode reports.
  [[nodiscard]] constexpr std::uint32_t lane_mask() const {
    switch (speed) {
      case LinkSpeed::k100gR2: return 0xF;
      case LinkSpeed::k50gR1: return 0x3;
      case LinkSpeed::k50gR2:
        return fec == LinkFec::kNone ? 0x63 : (fec == LinkFec::kRs ? 0x5 : 0xF);
      case LinkSpeed::k25gR1: return 0x1;
      default: return 0;
    }
  }
};

struct LinkOptions {
  std::uint32_t training_ms = 4000;  // how long the signal must hold before "up"
  bool tx_pause = false;
  bool rx_pause = false;
  bool keep_up_on_stop = false;  // a BMC shares the port: leave the MAC running
};

enum class LinkState : std::uint8_t { kDown, kTraining, kUp };
enum class LinkEvent : std::uint8_t { kNone, kUp, kDown };

struct LinkCounters {
  std::uint64_t ups = 0;
  std::uint64_t downs = 0;  // includes flaps
  std::uint64_t interrupts = 0;
};

// Whether the PCS reports the link up in mode cfg: latched lock bits are cleared first
// (those whose condition holds read back as 1), then LINK and the lock bits of the FEC in
// use must show every lane of the mode.
template <Platform P>
Result<bool> pcs_signal(Io<P>& io, const LinkConfig& cfg) {
  using O0 = regs::SigPcsOut0;
  using O1 = regs::SigPcsOut1;
  FBNIC_TRY(io.write(O0{}.set(O0::kLink, 1).set_all(O0::kBlockLock).set_all(O0::kAmpsLock)));
  FBNIC_TRY(io.write(O1{}.set_all(O1::kFcfecLock)));
  FBNIC_TRY(io.flush());
  FBNIC_TRY(io.write(regs::SigPcsIntrSts{}
                         .set(regs::SigPcsIntrSts::kLinkUp, 1)
                         .set(regs::SigPcsIntrSts::kLinkDown, 1)));
  FBNIC_TRY_ASSIGN(const auto out0, io.template read<O0>());
  if (out0.get(O0::kLink) == 0 || cfg.speed == LinkSpeed::kUnknown) return false;
  std::uint32_t locked = 0;
  switch (cfg.fec) {
    case LinkFec::kNone: locked = out0.get(O0::kBlockLock); break;
    case LinkFec::kBaseR: {
      FBNIC_TRY_ASSIGN(const auto out1, io.template read<O1>());
      locked = out1.get(O1::kFcfecLock);
      break;
    }
    default: locked = out0.get(O0::kAmpsLock); break;
  }
  return locked == cfg.lane_mask();
}

template <Platform P>
class Link {
 public:
  explicit Link(Io<P>& io) : io_(io) {}

  [[nodiscard]] LinkState state() const { return state_; }
  [[nodiscard]] bool up() const { return state_ == LinkState::kUp; }
  [[nodiscard]] const LinkConfig& config() const { return cfg_; }
  [[nodiscard]] const LinkCounters& counters() const { return counters_; }

  // Routes the PCS cause to the link vector, masks it until the first evaluation, and
  // evaluates once.
  Result<LinkEvent> start(LinkConfig cfg, const LinkOptions& options) {
    cfg_ = cfg;
    opts_ = options;
    state_ = LinkState::kDown;
    FBNIC_TRY(io_.write(regs::SigPcsIntrMask::from_raw(~0u)));
    FBNIC_TRY(io_.write(regs::SigPcsIntrSts::from_raw(~0u)));
    FBNIC_TRY(io_.write(regs::IntrMsixCtrl::at(regs::kCausePcs),
                        regs::IntrMsixCtrl{}
                            .set(regs::IntrMsixCtrl::kVector, regs::kLinkVector)
                            .set(regs::IntrMsixCtrl::kEnable, 1)));
    FBNIC_TRY(mac_down());
    return poll();
  }

  // Reads the PCS signal and moves the state machine; call on the link interrupt or
  // periodically. Re-arms the link interrupt.
  Result<LinkEvent> poll() {
    FBNIC_TRY_ASSIGN(const bool signal, read_signal());
    const std::uint64_t now = io_.platform().now_ns();
    LinkEvent ev = LinkEvent::kNone;
    switch (state_) {
      case LinkState::kDown:
        if (signal) {
          state_ = LinkState::kTraining;
          ready_ns_ = now + std::uint64_t{opts_.training_ms} * 1'000'000;
        }
        break;
      case LinkState::kTraining:
        if (!signal) state_ = LinkState::kDown;
        break;
      case LinkState::kUp:
        if (!signal) {
          state_ = LinkState::kDown;
          ++counters_.downs;
          FBNIC_TRY(mac_down());
          ev = LinkEvent::kDown;
        }
        break;
    }
    if (state_ == LinkState::kTraining && now >= ready_ns_) {
      state_ = LinkState::kUp;
      ++counters_.ups;
      FBNIC_TRY(mac_up());
      ev = LinkEvent::kUp;
    }
    FBNIC_TRY(arm_interrupt());
    return ev;
  }

  // The link interrupt (vector 1): which edge the PCS saw, then a fresh evaluation.
  Result<LinkEvent> on_interrupt() {
    ++counters_.interrupts;
    return poll();
  }

  // Waits (polling) until the link is up; kLinkDown if the deadline passes first.
  Status wait_up(Deadline deadline, std::uint32_t step_us = 1000) {
    const Status st = poll_until(io_.platform(), deadline, step_us, [&]() -> Status {
      FBNIC_TRY(poll().status());
      return up() ? ok_status() : Status(Error::kBusy);
    });
    return st == Error::kTimeout ? Status(Error::kLinkDown) : st;
  }

  Status stop() {
    FBNIC_TRY(io_.write(regs::IntrMsixCtrl::at(regs::kCausePcs),
                        regs::IntrMsixCtrl{}.set(regs::IntrMsixCtrl::kVector, regs::kLinkVector)));
    FBNIC_TRY(io_.flush());
    FBNIC_TRY(io_.write(regs::IntrMaskSet::at(0),
                        regs::IntrMaskSet::from_raw(regs::vector_bit(regs::kLinkVector))));
    FBNIC_TRY(io_.write(regs::SigPcsIntrMask::from_raw(~0u)));
    FBNIC_TRY(io_.write(regs::SigPcsIntrSts::from_raw(~0u)));
    if (!opts_.keep_up_on_stop && state_ == LinkState::kUp) FBNIC_TRY(mac_down());
    // Loopbacks are one session's diagnostics: the next start is on the wire.
    FBNIC_TRY(set_mac_loopback(false));
    FBNIC_TRY(set_pcs_loopback(false));
    state_ = LinkState::kDown;
    return ok_status();
  }

  // PCS loopback: frames turn around below the MAC, at the PCS (control-1 bit 14).
  Status set_pcs_loopback(bool on) {
    return io_.modify(regs::PcsControl1::at(0), [&](regs::PcsControl1& r) {
      r.set(regs::PcsControl1::kLoopback, on ? 1 : 0);
    });
  }

  // MAC loopback: transmitted frames come back to this port's receive path.
  Status set_mac_loopback(bool on) {
    return io_.template modify<regs::MacCommandConfig>(
        [&](regs::MacCommandConfig& r) { r.set(regs::MacCommandConfig::kLoopbackEn, on ? 1 : 0); });
  }

 private:
  Result<bool> read_signal() { return pcs_signal(io_, cfg_); }

  Status arm_interrupt() {
    using M = regs::SigPcsIntrMask;
    FBNIC_TRY(io_.write(M::from_raw(~(M{}.set(M::kLinkUp, 1).set(M::kLinkDown, 1).raw()))));
    return io_.write(regs::IntrMaskClear::at(0),
                     regs::IntrMaskClear::from_raw(regs::vector_bit(regs::kLinkVector)));
  }

  Status mac_up() {
    using C = regs::MacCommandConfig;
    using S = regs::SigMacIn0;
    FBNIC_TRY(io_.template modify<regs::RxbPauseDropCtrl>([&](regs::RxbPauseDropCtrl& r) {
      r.set(regs::RxbPauseDropCtrl::kPauseEnable, opts_.tx_pause ? 0x14 : 0);
    }));
    FBNIC_TRY(io_.template modify<S>([](S& r) {
      r.set(S::kResetFfTxClk, 0)
          .set(S::kResetTxClk, 0)
          .set(S::kResetFfRxClk, 0)
          .set(S::kResetRxClk, 0);
    }));
    return io_.template modify<C>([&](C& r) {
      set_command(r, opts_.tx_pause, opts_.rx_pause).set(C::kRxEna, 1).set(C::kTxEna, 1);
    });
  }

  Status mac_down() {
    using C = regs::MacCommandConfig;
    using S = regs::SigMacIn0;
    FBNIC_TRY(io_.template modify<S>([](S& r) {
      r.set(S::kResetFfTxClk, 1)
          .set(S::kResetTxClk, 1)
          .set(S::kResetFfRxClk, 1)
          .set(S::kResetRxClk, 1);
    }));
    return io_.template modify<C>(
        [&](C& r) { set_command(r, false, false).set(C::kRxEna, 0).set(C::kTxEna, 0); });
  }

  // The MAC is always promiscuous and pads short frames: filtering happens in the RPC.
  regs::MacCommandConfig& set_command(regs::MacCommandConfig& r, bool tx_pause,
                                      bool rx_pause) const {
    using C = regs::MacCommandConfig;
    return r.set(C::kTxPadEn, 1)
        .set(C::kPromiscEn, 1)
        .set(C::kTxPauseDis, tx_pause ? 0 : 1)
        .set(C::kRxPauseDis, rx_pause ? 0 : 1)
        .set(C::kFltHdlDis, cfg_.fec == LinkFec::kNone ? 1 : 0);
  }

  Io<P>& io_;
  LinkConfig cfg_{};
  LinkOptions opts_{};
  LinkState state_ = LinkState::kDown;
  std::uint64_t ready_ns_ = 0;
  LinkCounters counters_{};
};

}  // namespace fbnic::mac
