// Io: typed register access over a Platform, with removed-device detection.
//
// A PCIe device that is gone reads as all ones. A genuine 0xFFFFFFFF is told apart by
// reading a register that never holds all ones (the sentinel of that BAR); when the
// sentinel is all ones too, the device is treated as removed from then on: reads fail
// with kDeviceRemoved without touching the bus and writes are dropped.
#pragma once

#include <cstdint>

#include "fbnic/base/result.hpp"
#include "fbnic/base/status.hpp"
#include "fbnic/platform/platform.hpp"
#include "fbnic/regs/mailbox.hpp"
#include "fbnic/regs/master.hpp"
#include "fbnic/regs/register.hpp"

namespace fbnic {

template <Platform P>
class Io {
 public:
  explicit Io(P& platform) : platform_(platform) {}

  [[nodiscard]] P& platform() { return platform_; }
  [[nodiscard]] bool removed() const { return removed_; }

  template <class R>
  Result<R> read(regs::RegAddr<R> addr) {
    if (!addr.valid) return refuse_index(R::kBar);
    if (removed_) return Error::kDeviceRemoved;
    const std::uint32_t raw = platform_.read32(R::kBar, addr.offset);
    if (raw == kAllOnes && !sentinel_alive(R::kBar)) return Error::kDeviceRemoved;
    return R::from_raw(raw);
  }
  template <class R>
  Result<R> read() {
    return read(R::addr());
  }

  template <class R>
  Status write(regs::RegAddr<R> addr, const R& value) {
    if (!addr.valid) return refuse_index(R::kBar);
    if (!value.fits()) {
      log(platform_, LogLevel::kError, "fbnic: refused write of an out-of-range field value to ",
          Hex{addr.offset});
      return Error::kInvalidArgument;
    }
    if (removed_) return Error::kDeviceRemoved;
    platform_.write32(R::kBar, addr.offset, value.raw());
    return ok_status();
  }
  template <class R>
  Status write(const R& value) {
    return write(R::addr(), value);
  }

  // Read, let fn change the fields it names, write back: undeclared bits are kept.
  template <class R, class Fn>
  Status modify(regs::RegAddr<R> addr, Fn&& fn) {
    Result<R> current = read(addr);
    if (!current.ok()) return current.status();
    fn(current.value());
    return write(addr, current.value());
  }
  template <class R, class Fn>
  Status modify(Fn&& fn) {
    return modify(R::addr(), static_cast<Fn&&>(fn));
  }

  // Posted writes reach the device before this returns (a read of the BAR's sentinel).
  Status flush(Bar bar = Bar::kCsr) {
    if (removed_) return Error::kDeviceRemoved;
    if (!sentinel_alive(bar)) return Error::kDeviceRemoved;
    return ok_status();
  }

 private:
  static constexpr std::uint32_t kAllOnes = 0xFFFF'FFFFu;

  bool sentinel_alive(Bar bar) {
    const std::uint32_t offset =
        bar == Bar::kCsr ? regs::MasterSpare0::kOffset : regs::MbxDescLo::at(0, 0).offset;
    if (platform_.read32(bar, offset) != kAllOnes) return true;
    if (!removed_) {
      log(platform_, LogLevel::kError,
          "fbnic: device reads all ones (removed or dead); register access disabled");
    }
    removed_ = true;
    return false;
  }

  Status refuse_index(Bar bar) {
    log(platform_, LogLevel::kError,
        "fbnic: refused access to an out-of-range register index in BAR",
        static_cast<unsigned>(bar));
    return Error::kOutOfRange;
  }

  P& platform_;
  bool removed_ = false;
};

}  // namespace fbnic
