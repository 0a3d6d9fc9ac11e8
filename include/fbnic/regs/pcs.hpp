// PCS and RSFEC blocks.
//
// The PCS is a clause-45 register file seen through 32-bit words: 16-bit MDIO register r
// of PCS instance a (0 or 1) is word 0x10000 + 0x400 a + r; vendor registers 0x8000 + x
// sit at r = 0x200 + x.
#pragma once

#include <cstdint>

#include "fbnic/regs/register.hpp"

namespace fbnic::regs {

inline constexpr std::uint32_t kPcsInstances = 2;

constexpr std::uint32_t pcs_mdio_to_index(std::uint32_t mdio_reg) {
  return (mdio_reg & 0x1FF) | ((mdio_reg & 0x8000) != 0 ? 0x200 : 0);
}

struct PcsControl1 : RegisterArray<PcsControl1, Bar::kCsr, 0x10000, 0x400, kPcsInstances> {
  static constexpr Bit<6> kSpeedAlways{};
  static constexpr Bit<13> kSpeedSelectAlways{};
  static constexpr Bit<14> kLoopback{};
  static constexpr Bit<15> kReset{};  // self-clearing
};
struct PcsStatus1 : RegisterArray<PcsStatus1, Bar::kCsr, 0x10001, 0x400, kPcsInstances> {
  static constexpr Bit<2> kLinkUp{};  // latched low
};

// RS-FEC codeword counters: 16 bits per register, cleared on read, read LO then HI.
struct RsfecControl : RegisterArray<RsfecControl, Bar::kCsr, 0x10800, 8, 4> {
  static constexpr Bit<3> kAm16CopyDis{};
  static constexpr Bit<8> kKpEnable{};
  static constexpr Bit<10> kTcPadAlter{};
};
struct RsfecCcwLo : RegisterArray<RsfecCcwLo, Bar::kCsr, 0x10802, 8, 4> {
  static constexpr Field<15, 0> kCount{};
};
struct RsfecCcwHi : RegisterArray<RsfecCcwHi, Bar::kCsr, 0x10803, 8, 4> {
  static constexpr Field<15, 0> kCount{};
};
struct RsfecNccwLo : RegisterArray<RsfecNccwLo, Bar::kCsr, 0x10804, 8, 4> {
  static constexpr Field<15, 0> kCount{};
};
struct RsfecNccwHi : RegisterArray<RsfecNccwHi, Bar::kCsr, 0x10805, 8, 4> {
  static constexpr Field<15, 0> kCount{};
};
// PCS symbol errors per lane, same rules.
struct PcsSymblErrLo : RegisterArray<PcsSymblErrLo, Bar::kCsr, 0x10880, 2, 4> {
  static constexpr Field<15, 0> kCount{};
};
struct PcsSymblErrHi : RegisterArray<PcsSymblErrHi, Bar::kCsr, 0x10881, 2, 4> {
  static constexpr Field<15, 0> kCount{};
};

}  // namespace fbnic::regs
