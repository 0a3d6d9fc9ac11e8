// The firmware mailbox descriptor: 64 bits, seen by the host as two BAR4 registers.
#pragma once

#include <cstdint>

#include "fbnic/base/bitfield.hpp"

namespace fbnic::desc {

struct MbxDesc : Packed<MbxDesc, std::uint64_t> {
  using F = std::uint64_t;
  static constexpr BitField<F, 0> kHostCmpl{};  // host: posted, the firmware may use it
  static constexpr BitField<F, 1> kFwCmpl{};    // firmware: done with it
  static constexpr BitField<F, 2> kFwErr{};     // firmware: done, but nothing valid in it
  static constexpr BitField<F, 45, 3> kAddr{};  // buffer address bits 45:3
  static constexpr BitField<F, 46> kEom{};      // end of message
  static constexpr BitField<F, 63, 48> kLen{};  // bytes: message length, or Rx buffer size

  // A descriptor the firmware must pass over: consumed already, nothing in it.
  static constexpr MbxDesc skip() { return MbxDesc{}.set(kHostCmpl, 1).set(kFwCmpl, 1); }

  static constexpr MbxDesc post(std::uint64_t dma_addr, std::uint32_t len, bool eom) {
    return MbxDesc{}
        .set(kAddr, dma_addr >> 3)
        .set(kLen, len)
        .set(kEom, eom ? 1 : 0)
        .set(kHostCmpl, 1);
  }

  [[nodiscard]] constexpr std::uint64_t addr() const { return get(kAddr) << 3; }
  [[nodiscard]] constexpr std::uint32_t lo() const { return static_cast<std::uint32_t>(raw()); }
  [[nodiscard]] constexpr std::uint32_t hi() const {
    return static_cast<std::uint32_t>(raw() >> 32);
  }
  static constexpr MbxDesc from_halves(std::uint32_t lo, std::uint32_t hi) {
    return from_raw((std::uint64_t{hi} << 32) | lo);
  }
};

inline constexpr std::uint32_t kMbxBufferBytes = 4096;

}  // namespace fbnic::desc
