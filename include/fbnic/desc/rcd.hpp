// Rx completion descriptors (RCD). Per packet: one HDR_AL, zero or more PAY_AL,
// optionally one OPT_META, then one META that ends the packet.
#pragma once

#include <cstdint>

#include "fbnic/base/bitfield.hpp"

namespace fbnic::desc {

struct Rcd : Packed<Rcd, std::uint64_t> {
  using W = std::uint64_t;
  static constexpr BitField<W, 62, 61> kType{};
  static constexpr BitField<W, 63> kDone{};  // phase bit: 1 on even laps, 0 on odd
  static constexpr std::uint64_t kTypeHdrAl = 0;
  static constexpr std::uint64_t kTypePayAl = 1;
  static constexpr std::uint64_t kTypeOptMeta = 2;
  static constexpr std::uint64_t kTypeMeta = 3;

  // HDR_AL / PAY_AL
  static constexpr BitField<W, 15, 0> kBuffId{};    // the BD's ID
  static constexpr BitField<W, 28, 16> kBuffLen{};  // bytes written
  static constexpr BitField<W, 43, 32> kBuffOff{};  // where in the 4 KiB buffer
  static constexpr BitField<W, 53> kHdrOverflow{};
  static constexpr BitField<W, 59, 54> kDmaHint{};  // where the header was split
  static constexpr BitField<W, 60> kPageFin{};      // the device is done with this buffer

  // OPT_META
  static constexpr BitField<W, 39, 0> kTs{};
  static constexpr BitField<W, 45, 40> kAction{};
  static constexpr BitField<W, 57> kActionValid{};
  static constexpr BitField<W, 58> kTsValid{};
  static constexpr BitField<W, 60, 59> kOptType{};

  // META
  static constexpr BitField<W, 31, 0> kRssHash{};
  static constexpr BitField<W, 47, 32> kL2Csum{};
  static constexpr BitField<W, 49, 48> kL3Type{};  // 0 other, 1 IPv4, 2 IPv6, 3 IPv6-in-IPv6
  static constexpr BitField<W, 51, 50> kL4Type{};  // 0 other, 1 TCP, 2 UDP
  static constexpr BitField<W, 52> kL4CsumOk{};
  static constexpr BitField<W, 53> kErrMacEop{};
  static constexpr BitField<W, 54> kErrTruncated{};
  static constexpr BitField<W, 55> kErrParser{};
  static constexpr BitField<W, 60> kEcn{};
};

}  // namespace fbnic::desc
