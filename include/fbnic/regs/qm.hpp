// QM_TX and QM_RX blocks: the global Tx and Rx queue managers.
#pragma once

#include <cstdint>

#include "fbnic/regs/register.hpp"

namespace fbnic::regs {

// Idle bitmaps: queue q is bit q % 32 of register q / 32; all ones = everything idle.
struct QmTwqIdle : RegisterArray<QmTwqIdle, Bar::kCsr, 0x800, 1, 8>, WholeValue<QmTwqIdle> {};
struct QmTcqIdle : RegisterArray<QmTcqIdle, Bar::kCsr, 0x821, 1, 4>, WholeValue<QmTcqIdle> {};
struct QmTqsIdle : RegisterArray<QmTqsIdle, Bar::kCsr, 0x830, 1, 8>, WholeValue<QmTqsIdle> {};
struct QmTdeIdle : RegisterArray<QmTdeIdle, Bar::kCsr, 0x853, 1, 8>, WholeValue<QmTdeIdle> {};
struct QmRcqIdle : RegisterArray<QmRcqIdle, Bar::kCsr, 0xC00, 1, 4>, WholeValue<QmRcqIdle> {};
struct QmHpqIdle : RegisterArray<QmHpqIdle, Bar::kCsr, 0xC0F, 1, 4>, WholeValue<QmHpqIdle> {};
struct QmPpqIdle : RegisterArray<QmPpqIdle, Bar::kCsr, 0xC13, 1, 4>, WholeValue<QmPpqIdle> {};

// Default Tx metadata, applied to packets posted without a META descriptor (TWQ1).
struct QmTwqDefaultMetaL : Register<QmTwqDefaultMetaL, Bar::kCsr, 0x818>,
                           WholeValue<QmTwqDefaultMetaL> {};
struct QmTwqDefaultMetaH : Register<QmTwqDefaultMetaH, Bar::kCsr, 0x819>,
                           WholeValue<QmTwqDefaultMetaH> {};

struct QmTqsCtl0 : Register<QmTqsCtl0, Bar::kCsr, 0x81B> {
  static constexpr Bit<0> kLsoTsLast{};  // 1: a TSO packet's timestamp is its last segment's
  static constexpr Field<7, 1> kPrefetchThresh{};
  static constexpr std::uint32_t kPrefetchThreshMin = 16;
};
struct QmTqsCtl1 : Register<QmTqsCtl1, Bar::kCsr, 0x81C> {
  static constexpr Field<7, 0> kMcMaxCredits{};
  static constexpr Field<15, 8> kBulkMaxCredits{};
};
struct QmTqsMtuCtl0 : Register<QmTqsMtuCtl0, Bar::kCsr, 0x81D>, WholeValue<QmTqsMtuCtl0> {};
struct QmTqsMtuCtl1 : Register<QmTqsMtuCtl1, Bar::kCsr, 0x81E> {
  static constexpr Field<13, 0> kBulk{};
};
struct QmTcqCtl0 : Register<QmTcqCtl0, Bar::kCsr, 0x82D> {
  static constexpr Field<15, 0> kCoalWait{};  // core clock cycles
  static constexpr Field<26, 16> kTickCycles{};
};
struct QmTqsEdtTsRange : Register<QmTqsEdtTsRange, Bar::kCsr, 0x849>,
                         WholeValue<QmTqsEdtTsRange> {};

// AXI request sizing. Sizes are log2(bytes) - 6: 0 = 64 B ... 3 = 512 B.
template <class Self, std::uint32_t Word>
struct AxiCtl : Register<Self, Bar::kCsr, Word> {
  static constexpr Field<1, 0> kSize{};  // MRRS or MPS, by register
  static constexpr Field<3, 2> kCls{};
  static constexpr Field<11, 4> kMaxOt{};
  static constexpr Field<23, 12> kMaxOb{};
};
struct QmTniTdfCtl : AxiCtl<QmTniTdfCtl, 0x86C> {};
struct QmTniTdeCtl : Register<QmTniTdeCtl, Bar::kCsr, 0x86D> {
  static constexpr Field<1, 0> kMrrs{};
  static constexpr Field<3, 2> kCls{};
  static constexpr Field<11, 4> kMaxOt{};
  static constexpr Field<24, 12> kMaxOb{};
  static constexpr Bit<25> kMrrs1k{};
};
struct QmTniTcmCtl : AxiCtl<QmTniTcmCtl, 0x86E> {};

struct QmRcqCtl0 : Register<QmRcqCtl0, Bar::kCsr, 0xC0C> {
  static constexpr Field<15, 0> kCoalWait{};
  static constexpr Field<26, 16> kTickCycles{};
};
struct QmRniRbpCtl : AxiCtl<QmRniRbpCtl, 0xC2D> {};
struct QmRniRdeCtl : AxiCtl<QmRniRdeCtl, 0xC2E> {};
struct QmRniRcmCtl : AxiCtl<QmRniRcmCtl, 0xC2F> {};

}  // namespace fbnic::regs
