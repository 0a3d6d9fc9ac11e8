// FAB and MASTER blocks.
#pragma once

#include "fbnic/regs/register.hpp"

namespace fbnic::regs {

struct FabAxi4ArSpacer2Cfg : Register<FabAxi4ArSpacer2Cfg, Bar::kCsr, 0xC005> {
  static constexpr Field<15, 0> kThreshold{};
  static constexpr Bit<16> kEnable{};
};

// Scratch register. Reading it flushes posted BAR0 writes; it never reads as all
// ones on a live device, which is how a removed device is told apart.
struct MasterSpare0 : Register<MasterSpare0, Bar::kCsr, 0xC41B>, WholeValue<MasterSpare0> {};

}  // namespace fbnic::regs
