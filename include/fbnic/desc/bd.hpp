// Rx buffer descriptors (BD), on the HPQ and PPQ: one 4 KiB device buffer each.
#pragma once

#include <cstdint>

#include "fbnic/base/bitfield.hpp"

namespace fbnic::desc {

inline constexpr std::uint32_t kRxBufferBytes = 4096;

struct Bd : Packed<Bd, std::uint64_t> {
  using W = std::uint64_t;
  static constexpr BitField<W, 45, 12> kAddr{};  // bits 45:12 of the buffer's address
  static constexpr BitField<W, 63, 48> kId{};    // echoed in the completions that use it

  static constexpr Bd make(std::uint64_t dma, std::uint16_t id) {
    return Bd{}.set(kAddr, dma >> 12).set(kId, id);
  }
  [[nodiscard]] constexpr std::uint64_t addr() const { return get(kAddr) << 12; }
};

}  // namespace fbnic::desc
