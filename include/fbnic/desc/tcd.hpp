// Tx completion descriptors (TCD): the device's report of how far a work queue got.
#pragma once

#include <cstdint>

#include "fbnic/base/bitfield.hpp"

namespace fbnic::desc {

struct Tcd : Packed<Tcd, std::uint64_t> {
  using W = std::uint64_t;
  static constexpr BitField<W, 15, 0> kHead0{};  // type 0: TWQ0 head; all before it is done
  static constexpr BitField<W, 31, 16> kHead1{};
  static constexpr BitField<W, 39, 0> kTs{};  // type 1: Tx timestamp, low 40 bits of ns
  static constexpr BitField<W, 59, 48> kStatus{};
  static constexpr BitField<W, 48> kTsInvalid{};
  static constexpr BitField<W, 49> kIllegalTsReq{};
  static constexpr BitField<W, 60> kTwq1{};  // the head is TWQ1's (HEAD1)
  static constexpr BitField<W, 62, 61> kType{};
  static constexpr BitField<W, 63> kDone{};  // phase bit: 1 on even laps, 0 on odd

  static constexpr std::uint64_t kTypeHead = 0;
  static constexpr std::uint64_t kTypeTimestamp = 1;
};

}  // namespace fbnic::desc
