// The INTR block: per-vector status, mask, software set/clear, auto-clear mode, cause
// routing, and delivery of MSI-X messages.
//
// Delivery rule: a vector whose status bit is set and whose mask bit is clear is sent
// once, then masked by the hardware; the driver unmasks it (INTR_MASK_CLEAR or
// INTR_CQ_REARM.INTR_UNMASK) when it has done its work. If the vector's SW_AC_MODE bit
// is 1 the status bit clears on delivery, otherwise software clears it (INTR_CLEAR).
#pragma once

#include <cstdint>

#include "fbnic/mock/irq.hpp"
#include "fbnic/mock/regfile.hpp"
#include "fbnic/regs/intr.hpp"

namespace fbnic::mock {

template <class RegFileT>
class IntrBlock {
 public:
  explicit IntrBlock(RegFileT& regs) : regs_(regs) {}

  void reset() {
    for (std::uint32_t n = 0; n < 8; ++n) {
      regs_.put(regs::IntrMask::at(n), regs::IntrMask::from_raw(0xFFFF'FFFFu));
      regs_.put(regs::IntrSwAcMode::at(n), regs::IntrSwAcMode::from_raw(0xFFFF'FFFFu));
    }
  }

  void set_sink(IrqSink sink) { sink_ = sink; }

  // Register side effects. Returns true when the write was consumed here.
  bool write(std::uint32_t offset, std::uint32_t value) {
    const std::uint32_t rearm_first = regs::IntrCqRearm::at(0).offset;
    const std::uint32_t rearm_last = regs::IntrTcqTimeout::at(regs::kMaxMsixVectors - 1).offset;
    if (offset > rearm_last) return false;  // not this block: most writes, cheaply
    for (std::uint32_t n = 0; n < 8; ++n) {
      if (offset == regs::IntrSet::at(n).offset) {
        update_status(n, status(n) | value);
        return true;
      }
      if (offset == regs::IntrClear::at(n).offset) {
        update_status(n, status(n) & ~value);
        return true;
      }
      if (offset == regs::IntrMaskSet::at(n).offset) {
        set_mask(n, mask(n) | value);
        return true;
      }
      if (offset == regs::IntrMaskClear::at(n).offset) {
        set_mask(n, mask(n) & ~value);
        deliver(n);
        return true;
      }
      if (offset == regs::IntrMask::at(n).offset) {
        set_mask(n, value);
        deliver(n);
        return true;
      }
      if (offset == regs::IntrStatus::at(n).offset) return true;  // read-only
    }
    if (offset >= rearm_first && (offset - rearm_first) % 16 == 0) {
      rearm((offset - rearm_first) / 16, regs::IntrCqRearm::from_raw(value));
      return true;
    }
    return false;
  }

  // A device event for vector v: sets its status and delivers it if unmasked.
  void raise(std::uint32_t vector) {
    if (vector >= regs::kMaxMsixVectors) return;
    const std::uint32_t n = regs::vector_reg(vector);
    update_status(n, status(n) | regs::vector_bit(vector));
  }

  // An internal cause (RXB, PCS) routed through INTR_MSIX_CTRL.
  void raise_cause(std::uint32_t cause) {
    const auto ctl = regs_.get(regs::IntrMsixCtrl::at(cause));
    if (ctl.get(regs::IntrMsixCtrl::kEnable) != 0) raise(ctl.get(regs::IntrMsixCtrl::kVector));
  }

  [[nodiscard]] bool pending(std::uint32_t vector) const {
    return (status(regs::vector_reg(vector)) & regs::vector_bit(vector)) != 0;
  }
  [[nodiscard]] bool masked(std::uint32_t vector) const {
    return (mask(regs::vector_reg(vector)) & regs::vector_bit(vector)) != 0;
  }
  [[nodiscard]] std::uint64_t delivered(std::uint32_t vector) const {
    return vector < regs::kMaxMsixVectors ? delivered_[vector] : 0;
  }
  [[nodiscard]] std::uint64_t rearms(std::uint32_t vector) const { return rearms_[vector]; }
  // Per-vector coalescing timeouts last written through INTR_CQ_REARM, in microseconds.
  [[nodiscard]] std::uint32_t rcq_timeout_us(std::uint32_t v) const { return rcq_timeout_[v]; }
  [[nodiscard]] std::uint32_t tcq_timeout_us(std::uint32_t v) const { return tcq_timeout_[v]; }

 private:
  [[nodiscard]] std::uint32_t status(std::uint32_t n) const {
    return regs_.get(regs::IntrStatus::at(n)).raw();
  }
  [[nodiscard]] std::uint32_t mask(std::uint32_t n) const {
    return regs_.get(regs::IntrMask::at(n)).raw();
  }
  void set_mask(std::uint32_t n, std::uint32_t v) {
    regs_.put(regs::IntrMask::at(n), regs::IntrMask::from_raw(v));
  }
  void update_status(std::uint32_t n, std::uint32_t v) {
    regs_.put(regs::IntrStatus::at(n), regs::IntrStatus::from_raw(v));
    deliver(n);
  }

  void deliver(std::uint32_t n) {
    std::uint32_t ready = status(n) & ~mask(n);
    if (ready == 0) return;
    const std::uint32_t auto_clear = regs_.get(regs::IntrSwAcMode::at(n)).raw();
    set_mask(n, mask(n) | ready);
    regs_.put(regs::IntrStatus::at(n),
              regs::IntrStatus::from_raw(status(n) & ~(ready & auto_clear)));
    while (ready != 0) {
      const auto bit = static_cast<std::uint32_t>(__builtin_ctz(ready));
      ready &= ready - 1;
      const std::uint32_t vector = n * 32 + bit;
      ++delivered_[vector];
      sink_(vector);
    }
  }

  void rearm(std::uint32_t vector, regs::IntrCqRearm r) {
    using R = regs::IntrCqRearm;
    if (r.get(R::kRcqTimeoutUpdate) != 0) rcq_timeout_[vector] = r.get(R::kRcqTimeout);
    if (r.get(R::kTcqTimeoutUpdate) != 0) tcq_timeout_[vector] = r.get(R::kTcqTimeout);
    ++rearms_[vector];
    if (r.get(R::kIntrUnmask) != 0) {
      const std::uint32_t n = regs::vector_reg(vector);
      set_mask(n, mask(n) & ~regs::vector_bit(vector));
      deliver(n);
    }
  }

  RegFileT& regs_;
  IrqSink sink_{};
  std::uint64_t delivered_[regs::kMaxMsixVectors] = {};
  std::uint32_t rcq_timeout_[regs::kMaxMsixVectors] = {};
  std::uint32_t tcq_timeout_[regs::kMaxMsixVectors] = {};
  std::uint64_t rearms_[regs::kMaxMsixVectors] = {};
};

}  // namespace fbnic::mock
