// PUL_USER block: PCIe user logic. The outbound TLP header registers gate device DMA.
#pragma once

#include <cstdint>

#include "fbnic/regs/register.hpp"

namespace fbnic::regs {

// TLP attribute values for the *Attr fields.
inline constexpr std::uint32_t kTlpAttrNoSnoop = 1;
inline constexpr std::uint32_t kTlpAttrRelaxedOrdering = 2;
inline constexpr std::uint32_t kTlpAttrIdOrdering = 4;

// Device writes to host memory (Rx data, completions, the FW->host mailbox).
struct PulObTlpHdrAwCfg : Register<PulObTlpHdrAwCfg, Bar::kCsr, 0x3103D> {
  static constexpr Field<11, 9> kTqmAttr{};
  static constexpr Field<14, 12> kRqmAttr{};
  static constexpr Field<17, 15> kRdeAttr{};
  static constexpr Bit<18> kBme{};    // bus master enable for this direction
  static constexpr Bit<19> kFlush{};  // stop and drain
  static constexpr Bit<20> kFlushMode{};
};
// Device reads of host memory (Tx data, descriptors, the host->FW mailbox).
struct PulObTlpHdrArCfg : Register<PulObTlpHdrArCfg, Bar::kCsr, 0x3103E> {
  static constexpr Field<11, 9> kTqmAttr{};
  static constexpr Field<14, 12> kRqmAttr{};
  static constexpr Field<17, 15> kTdeAttr{};
  static constexpr Bit<18> kBme{};
  static constexpr Bit<19> kFlush{};
};

}  // namespace fbnic::regs
