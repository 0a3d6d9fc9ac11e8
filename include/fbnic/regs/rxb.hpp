// RXB block: the Rx packet buffer FIFOs, their thresholds, credits and counters.
#pragma once

#include <cstdint>

#include "fbnic/regs/register.hpp"

namespace fbnic::regs {

// FIFO indices.
inline constexpr std::uint32_t kRxbFifoMulticast = 0;  // network -> host and BMC
inline constexpr std::uint32_t kRxbFifoNetToBmc = 3;
inline constexpr std::uint32_t kRxbFifoNetToHost = 4;
inline constexpr std::uint32_t kRxbFifoBmcToHost = 6;
inline constexpr std::uint32_t kRxbFifos = 8;

template <class Self, std::uint32_t Word>
using RxbFifoRegister = RegisterArray<Self, Bar::kCsr, Word, 1, kRxbFifos>;

struct RxbCtSize : RxbFifoRegister<RxbCtSize, 0x8000> {
  static constexpr Field<5, 0> kHeader{};
  static constexpr Field<11, 6> kPayload{};
  static constexpr Bit<12> kEnable{};
};
struct RxbPauseDropCtrl : Register<RxbPauseDropCtrl, Bar::kCsr, 0x8008> {
  static constexpr Field<7, 0> kDropEnable{};  // one bit per FIFO
  static constexpr Field<15, 8> kPauseEnable{};
  static constexpr Field<23, 16> kEcnEnable{};
  static constexpr Field<27, 24> kPsEnable{};  // pause-storm protection per interface
};
// ON/OFF thresholds in 64-byte units.
template <class Self, std::uint32_t Word>
struct RxbThreshold : RxbFifoRegister<Self, Word> {
  static constexpr Field<12, 0> kOn{};
  static constexpr Field<25, 13> kOff{};
};
struct RxbPauseThld : RxbThreshold<RxbPauseThld, 0x8009> {};
struct RxbDropThld : RxbThreshold<RxbDropThld, 0x8011> {};
struct RxbEcnThld : RxbThreshold<RxbEcnThld, 0x801E> {};
struct RxbPbufCfg : RxbFifoRegister<RxbPbufCfg, 0x8027> {
  static constexpr Field<12, 0> kBaseAddr{};  // 64-byte units
  static constexpr Field<21, 13> kSize{};     // 2 KiB units
};
struct RxbDwrrRdeWeight0 : Register<RxbDwrrRdeWeight0, Bar::kCsr, 0x802F> {
  static constexpr Field<7, 0> kQuantum0{};
  static constexpr Field<15, 8> kQuantum1{};
  static constexpr Field<23, 16> kQuantum2{};
  static constexpr Field<31, 24> kQuantum3{};
};
struct RxbDwrrRdeWeight1 : Register<RxbDwrrRdeWeight1, Bar::kCsr, 0x8030> {
  static constexpr Field<7, 0> kQuantum4{};
};
struct RxbDwrrBmcWeight : Register<RxbDwrrBmcWeight, Bar::kCsr, 0x8031>,
                          WholeValue<RxbDwrrBmcWeight> {};
struct RxbCldrPrioCfg : RegisterArray<RxbCldrPrioCfg, Bar::kCsr, 0x8034, 1, 16>,
                        WholeValue<RxbCldrPrioCfg> {};
struct RxbEndianFcs : Register<RxbEndianFcs, Bar::kCsr, 0x8044>, WholeValue<RxbEndianFcs> {};
struct RxbPbufCredit : RxbFifoRegister<RxbPbufCredit, 0x8047> {
  static constexpr Field<13, 0> kCredits{};  // 64-byte units
};
struct RxbIntfCredit : Register<RxbIntfCredit, Bar::kCsr, 0x804F> {
  static constexpr Field<3, 0> kCredit0{};
  static constexpr Field<7, 4> kCredit1{};
  static constexpr Field<11, 8> kCredit2{};
  static constexpr Field<15, 12> kCredit3{};
};
struct RxbDwrrRdeWeight0Ext : Register<RxbDwrrRdeWeight0Ext, Bar::kCsr, 0x8143> {
  static constexpr Field<7, 0> kQuantum0{};
  static constexpr Field<15, 8> kQuantum1{};
  static constexpr Field<23, 16> kQuantum2{};
  static constexpr Field<31, 24> kQuantum3{};
};
struct RxbDwrrRdeWeight1Ext : Register<RxbDwrrRdeWeight1Ext, Bar::kCsr, 0x8144> {
  static constexpr Field<7, 0> kQuantum4{};
};

// Counters per FIFO: 32 bits free running, or 64 bits in a low and a high register.
struct RxbDropFrmsSts : RxbFifoRegister<RxbDropFrmsSts, 0x8057>, WholeValue<RxbDropFrmsSts> {};
struct RxbDropBytesSts : Counter64Array<RxbDropBytesSts, Bar::kCsr, 0x8080, 2, kRxbFifos, 1> {};
struct RxbTrunFrmsSts : RxbFifoRegister<RxbTrunFrmsSts, 0x8091>, WholeValue<RxbTrunFrmsSts> {};
// Transitions into the drop state and into the ECN-marking state.
struct RxbTransDropSts : RxbFifoRegister<RxbTransDropSts, 0x80D9>, WholeValue<RxbTransDropSts> {};
struct RxbTransEcnSts : RxbFifoRegister<RxbTransEcnSts, 0x80E1>, WholeValue<RxbTransEcnSts> {};
// Current fill level (not a counter).
struct RxbPbufFifoLevel : RxbFifoRegister<RxbPbufFifoLevel, 0x811D>,
                          WholeValue<RxbPbufFifoLevel> {};

// Counters per interface: frames entering the Rx buffer (enqueue: 0 network, 1 BMC) and
// leaving it (dequeue: 2 BMC, 3 host). 64-bit byte counts keep their high halves four
// words above the low ones.
inline constexpr std::uint32_t kRxbEnqueueNetwork = 0;
inline constexpr std::uint32_t kRxbEnqueueBmc = 1;
inline constexpr std::uint32_t kRxbDequeueBmc = 2;
inline constexpr std::uint32_t kRxbDequeueHost = 3;
inline constexpr std::uint32_t kRxbInterfaces = 4;

template <class Self, std::uint32_t Word>
struct RxbIntfCounter : RegisterArray<Self, Bar::kCsr, Word, 1, kRxbInterfaces>,
                        WholeValue<Self> {};
template <class Self, std::uint32_t Word>
using RxbIntfCounter64 = Counter64Array<Self, Bar::kCsr, Word, 1, kRxbInterfaces, 4>;

struct RxbDrboFrmCntSrc : RxbIntfCounter<RxbDrboFrmCntSrc, 0x80F9> {};
struct RxbDrboByteCntSrc : RxbIntfCounter64<RxbDrboByteCntSrc, 0x80FD> {};
struct RxbIntfFrmCntDst : RxbIntfCounter<RxbIntfFrmCntDst, 0x8105> {};
struct RxbIntfByteCntDst : RxbIntfCounter64<RxbIntfByteCntDst, 0x8109> {};
struct RxbPbufFrmCntDst : RxbIntfCounter<RxbPbufFrmCntDst, 0x8111> {};
struct RxbPbufByteCntDst : RxbIntfCounter64<RxbPbufByteCntDst, 0x8115> {};
// Frames enqueued with an error, per enqueue interface.
struct RxbIntegrityErr : RxbIntfCounter<RxbIntegrityErr, 0x812F> {};
struct RxbMacErr : RxbIntfCounter<RxbMacErr, 0x8133> {};
struct RxbParserErr : RxbIntfCounter<RxbParserErr, 0x8137> {};
struct RxbFrmErr : RxbIntfCounter<RxbFrmErr, 0x813B> {};

}  // namespace fbnic::regs
