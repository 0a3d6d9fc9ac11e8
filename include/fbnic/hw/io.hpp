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

  // The typed accessors are inlined into one call of read_at or write_at, which hold the
  // checks once per platform and BAR: an image then carries no function per register type
  // (each was about 44 bytes at -Os, some 150 of them in a driver). An address from an
  // out-of-range index arrives as kBadOffset and is refused there. A value that did not
  // fit its field (fits() == false) is refused before the call: for most writes fits() is
  // known at compile time, and the call's arguments stay in registers (a fifth one is a
  // store to the stack under the UEFI calling convention, at each of some 150 writes).
  template <class R>
  [[gnu::always_inline]] Result<R> read(regs::RegAddr<R> addr) {
    const Result<std::uint32_t> raw = read_at<R::kBar>(addr.valid ? addr.offset : kBadOffset);
    if (!raw.ok()) return raw.status();
    return R::from_raw(raw.value());
  }
  template <class R>
  [[gnu::always_inline]] Result<R> read() {
    return read(R::addr());
  }

  template <class R>
  [[gnu::always_inline]] Status write(regs::RegAddr<R> addr, const R& value) {
    const std::uint32_t offset = addr.valid ? addr.offset : kBadOffset;
    if (!value.fits()) return refuse_value(R::kBar, offset);
    return write_at<R::kBar>(offset, value.raw());
  }
  template <class R>
  [[gnu::always_inline]] Status write(const R& value) {
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

  // No register sits at the top of a BAR, so this offset marks an invalid address.
  static constexpr std::uint32_t kBadOffset = 0xFFFF'FFFFu;

  template <Bar bar>
  [[gnu::noinline]] Result<std::uint32_t> read_at(std::uint32_t offset) {
    if (offset == kBadOffset) return refuse_index(bar);
    if (removed_) return Error::kDeviceRemoved;
    const std::uint32_t raw = platform_.read32(bar, offset);
    if (raw == kAllOnes && !sentinel_alive(bar)) return Error::kDeviceRemoved;
    return raw;
  }

  template <Bar bar>
  [[gnu::noinline]] Status write_at(std::uint32_t offset, std::uint32_t raw) {
    if (offset == kBadOffset) return refuse_index(bar);
    if (removed_) return Error::kDeviceRemoved;
    platform_.write32(bar, offset, raw);
    return ok_status();
  }

  [[gnu::cold, gnu::noinline]] Status refuse_value(Bar bar, std::uint32_t offset) {
    if (offset == kBadOffset) return refuse_index(bar);
    log(platform_, LogLevel::kError, "fbnic: refused write of an out-of-range field value to ",
        Hex{offset});
    return Error::kInvalidArgument;
  }

  [[gnu::cold, gnu::noinline]] Status refuse_index(Bar bar) {
    log(platform_, LogLevel::kError,
        "fbnic: refused access to an out-of-range register index in BAR",
        static_cast<unsigned>(bar));
    return Error::kOutOfRange;
  }

  P& platform_;
  bool removed_ = false;
};

}  // namespace fbnic
