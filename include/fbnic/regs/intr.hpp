// INTR and INTR_CQ blocks: MSI-X vector status, masking and per-vector moderation.
//
// Eight 32-bit registers of each kind cover 256 vectors: vector v is bit v % 32 of
// register v / 32 (see vector_reg / vector_bit).
#pragma once

#include <cstdint>

#include "fbnic/regs/register.hpp"

namespace fbnic::regs {

inline constexpr std::uint32_t kMaxMsixVectors = 256;
inline constexpr std::uint32_t kMailboxVector = 0;  // firmware mailbox
inline constexpr std::uint32_t kLinkVector = 1;     // MAC/PCS link events
inline constexpr std::uint32_t kFirstQueueVector = 2;

constexpr std::uint32_t vector_reg(std::uint32_t vector) { return vector / 32; }
constexpr std::uint32_t vector_bit(std::uint32_t vector) { return 1u << (vector % 32); }

template <class Self, std::uint32_t Word>
using VectorBitmap = RegisterArray<Self, Bar::kCsr, Word, 1, 8>;

struct IntrStatus : VectorBitmap<IntrStatus, 0x000>, WholeValue<IntrStatus> {};
struct IntrMask : VectorBitmap<IntrMask, 0x008>, WholeValue<IntrMask> {};
struct IntrSet : VectorBitmap<IntrSet, 0x010>, WholeValue<IntrSet> {};
struct IntrClear : VectorBitmap<IntrClear, 0x018>, WholeValue<IntrClear> {};
struct IntrSwStatus : VectorBitmap<IntrSwStatus, 0x020>, WholeValue<IntrSwStatus> {};
// 1 = the status bit clears itself when the vector is delivered; 0 = software clears it.
struct IntrSwAcMode : VectorBitmap<IntrSwAcMode, 0x028>, WholeValue<IntrSwAcMode> {};
struct IntrMaskSet : VectorBitmap<IntrMaskSet, 0x030>, WholeValue<IntrMaskSet> {};
struct IntrMaskClear : VectorBitmap<IntrMaskClear, 0x038>, WholeValue<IntrMaskClear> {};

// Routes an internal interrupt cause to an MSI-X vector.
struct IntrMsixCtrl : RegisterArray<IntrMsixCtrl, Bar::kCsr, 0x040, 1, 64> {
  static constexpr Field<7, 0> kVector{};
  static constexpr Bit<31> kEnable{};
};
inline constexpr std::uint32_t kCauseRxb = 7;   // RXB errors and pause storms
inline constexpr std::uint32_t kCausePcs = 34;  // PCS link up/down

// Per-vector rearm and coalescing timeouts (microseconds).
struct IntrCqRearm : RegisterArray<IntrCqRearm, Bar::kCsr, 0x400, 4, kMaxMsixVectors> {
  static constexpr Field<13, 0> kRcqTimeout{};
  static constexpr Bit<14> kRcqTimeoutUpdate{};
  static constexpr Field<28, 15> kTcqTimeout{};
  static constexpr Bit<29> kTcqTimeoutUpdate{};
  static constexpr Bit<30> kIntrReload{};
  static constexpr Bit<31> kIntrUnmask{};
};
struct IntrRcqTimeout : RegisterArray<IntrRcqTimeout, Bar::kCsr, 0x401, 4, kMaxMsixVectors>,
                        WholeValue<IntrRcqTimeout> {};
struct IntrTcqTimeout : RegisterArray<IntrTcqTimeout, Bar::kCsr, 0x402, 4, kMaxMsixVectors>,
                        WholeValue<IntrTcqTimeout> {};

}  // namespace fbnic::regs
