// TCE (Tx classification engine and Tx buffer), TCE_RAM (Tx TCAM) and TMI (Tx MAC interface).
#pragma once

#include <cstdint>

#include "fbnic/regs/register.hpp"

namespace fbnic::regs {

// TCP flag bits that the segmentation engine may clear in first/middle/last segments.
struct TceLsoCtrl : Register<TceLsoCtrl, Bar::kCsr, 0x4000> {
  static constexpr Field<8, 0> kTcpfClrFirst{};
  static constexpr Field<17, 9> kTcpfClrMid{};
  static constexpr Field<26, 18> kTcpfClrEnd{};
  static constexpr Bit<27> kIpidModeInc{};
};
struct TceCsoCtrl : Register<TceCsoCtrl, Bar::kCsr, 0x4001> {
  static constexpr Bit<0> kTcpZeroCsum{};
};
struct TceTxbCtrl : Register<TceTxbCtrl, Bar::kCsr, 0x4002> {
  static constexpr Bit<0> kLoad{};
  static constexpr Bit<1> kTcamEnable{};
  static constexpr Bit<2> kDisable{};
};
struct TceTxbEnqWrrCtrl : Register<TceTxbEnqWrrCtrl, Bar::kCsr, 0x4003> {
  static constexpr Field<7, 0> kWeight0{};
  static constexpr Field<15, 8> kWeight1{};
  static constexpr Field<23, 16> kWeight2{};
};

// Tx buffer queue placement: START and SIZE in the Tx buffer.
template <class Self, std::uint32_t Word>
struct TceTxbQCtrl : Register<Self, Bar::kCsr, Word> {
  static constexpr Field<10, 0> kStart{};
  static constexpr Field<22, 11> kSize{};
};
struct TceTxbTeiQ0Ctrl : TceTxbQCtrl<TceTxbTeiQ0Ctrl, 0x4004> {};
struct TceTxbTeiQ1Ctrl : TceTxbQCtrl<TceTxbTeiQ1Ctrl, 0x4005> {};
struct TceTxbMcQCtrl : TceTxbQCtrl<TceTxbMcQCtrl, 0x4006> {};
struct TceTxbRxTeiQCtrl : TceTxbQCtrl<TceTxbRxTeiQCtrl, 0x4007> {};
struct TceTxbRxBmcQCtrl : TceTxbQCtrl<TceTxbRxBmcQCtrl, 0x4008> {};
struct TceTxbTxBmcQCtrl : TceTxbQCtrl<TceTxbTxBmcQCtrl, 0x404B> {};

template <class Self, std::uint32_t Word>
struct TceQuanta : Register<Self, Bar::kCsr, Word> {
  static constexpr Field<7, 0> kQuantum0{};
  static constexpr Field<15, 8> kQuantum1{};
  static constexpr Field<23, 16> kQuantum2{};
};
struct TceTxbTeiDwrrCtrl : TceQuanta<TceTxbTeiDwrrCtrl, 0x4009> {};
struct TceTxbNtwrkDwrrCtrl : TceQuanta<TceTxbNtwrkDwrrCtrl, 0x400A> {};
struct TceTxbBmcDwrrCtrl : TceQuanta<TceTxbBmcDwrrCtrl, 0x404C> {};
struct TceTxbTeiDwrrCtrlExt : TceQuanta<TceTxbTeiDwrrCtrlExt, 0x404D> {};
struct TceTxbNtwrkDwrrCtrlExt : TceQuanta<TceTxbNtwrkDwrrCtrlExt, 0x404E> {};
struct TceTxbBmcDwrrCtrlExt : TceQuanta<TceTxbBmcDwrrCtrlExt, 0x404F> {};

struct TceTxbCldrCfg : Register<TceTxbCldrCfg, Bar::kCsr, 0x400B> {
  static constexpr Field<5, 0> kNumSlot{};
};
// Sixteen 2-bit destination IDs per register.
struct TceTxbCldrSlotCfg : RegisterArray<TceTxbCldrSlotCfg, Bar::kCsr, 0x400C, 1, 16>,
                           WholeValue<TceTxbCldrSlotCfg> {};

struct TceBmcMaxPktsz : Register<TceBmcMaxPktsz, Bar::kCsr, 0x403A> {
  static constexpr Field<13, 0> kTx{};
  static constexpr Field<27, 14> kRx{};
};
struct TceMcMaxPktsz : Register<TceMcMaxPktsz, Bar::kCsr, 0x403B> {
  static constexpr Field<13, 0> kTmi{};
};
struct TceSopProtCtrl : Register<TceSopProtCtrl, Bar::kCsr, 0x403C> {
  static constexpr Field<7, 0> kTbi{};
  static constexpr Field<14, 8> kTtiFrm{};
  static constexpr Field<18, 15> kTtiCm{};
};
struct TceDropCtrl : Register<TceDropCtrl, Bar::kCsr, 0x403D> {
  static constexpr Bit<0> kTtiCmDropEn{};
  static constexpr Bit<1> kTtiFrmDropEn{};
  static constexpr Bit<2> kTtiTbiDropEn{};
};
// Destination of each Tx TCAM hit: nibble i for entry i; 1 = wire, 2 = BMC, 4 = FW.
struct TceTcamIdx2DestMap : Register<TceTcamIdx2DestMap, Bar::kCsr, 0x404A>,
                            WholeValue<TceTcamIdx2DestMap> {};

// Tx TCAM, 8 entries x 3 data words. NOTE: value in the HIGH half, mask in the low half,
// the reverse of the Rx TCAMs. Words 0..2 hold MAC bytes 4-5, 2-3, 0-1.
struct TceRamTcam : RegisterTable<TceRamTcam, Bar::kCsr, 0x4200, 8, 3, 8> {
  static constexpr Field<15, 0> kMask{};
  static constexpr Field<31, 16> kValue{};
};
struct TceRamTcam3 : RegisterArray<TceRamTcam3, Bar::kCsr, 0x4218, 1, 8> {
  static constexpr Field<5, 3> kDestMask{};
  static constexpr Bit<7> kMcqMask{};
  static constexpr Bit<31> kValidate{};
};

// --- TMI ---
struct TmiSopProtCtrl : Register<TmiSopProtCtrl, Bar::kCsr, 0x4400>, WholeValue<TmiSopProtCtrl> {};
// Drops everything at the MAC interface; used to drain a stuck Tx path.
struct TmiDropCtrl : Register<TmiDropCtrl, Bar::kCsr, 0x4401> {
  static constexpr Bit<0> kEnable{};
};
// Packets dropped at the MAC interface.
struct TmiDropPkts : Register<TmiDropPkts, Bar::kCsr, 0x4402>, WholeValue<TmiDropPkts> {};

}  // namespace fbnic::regs
