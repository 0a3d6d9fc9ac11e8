// MAC_MAC and SIG blocks: the Ethernet MAC and the MAC/PCS signal registers.
#pragma once

#include <cstdint>

#include "fbnic/regs/register.hpp"

namespace fbnic::regs {

struct MacCommandConfig : Register<MacCommandConfig, Bar::kCsr, 0x11002> {
  static constexpr Bit<0> kTxEna{};
  static constexpr Bit<1> kRxEna{};
  static constexpr Bit<4> kPromiscEn{};
  static constexpr Bit<10> kLoopbackEn{};
  static constexpr Bit<11> kTxPadEn{};
  static constexpr Bit<27> kFltHdlDis{};  // fault handling off (used without FEC)
  static constexpr Bit<28> kTxPauseDis{};
  static constexpr Bit<29> kRxPauseDis{};
};
struct MacFrmLength : Register<MacFrmLength, Bar::kCsr, 0x11005>, WholeValue<MacFrmLength> {};
struct MacCl01PauseQuanta : Register<MacCl01PauseQuanta, Bar::kCsr, 0x11015>,
                            WholeValue<MacCl01PauseQuanta> {};
struct MacCl01QuantaThresh : Register<MacCl01QuantaThresh, Bar::kCsr, 0x11019>,
                             WholeValue<MacCl01QuantaThresh> {};

struct SigMacIn0 : Register<SigMacIn0, Bar::kCsr, 0x11800> {
  static constexpr Bit<8> kTxCrc{};
  static constexpr Bit<10> kCfgMode128{};
  static constexpr Bit<11> kResetRxClk{};
  static constexpr Bit<12> kResetTxClk{};
  static constexpr Bit<13> kResetFfRxClk{};
  static constexpr Bit<14> kResetFfTxClk{};
};
// SerDes/PCS mode signals, driven by firmware for the current link mode. Known from the
// April 2024 RFC posting and Meta's mock firmware, not from mainline.
struct SigPcsIn0 : Register<SigPcsIn0, Bar::kCsr, 0x11807> {
  static constexpr Field<1, 0> kPacer10g{};
  static constexpr Bit<6> kPcs100Ena{};
  static constexpr Bit<7> kRxlauiEna{};
  static constexpr Bit<9> kF91OneLane{};
  static constexpr Field<18, 17> kSd8x{};
};
// Latched lock and link status; write 1s to clear. Bits that truly hold read back as 1.
struct SigPcsOut0 : Register<SigPcsOut0, Bar::kCsr, 0x11808> {
  static constexpr Field<4, 1> kAmpsLock{};    // RS-FEC alignment marker lock per lane
  static constexpr Field<24, 5> kBlockLock{};  // PCS block lock per virtual lane
  static constexpr Bit<27> kLink{};
};
struct SigPcsOut1 : Register<SigPcsOut1, Bar::kCsr, 0x11809> {
  static constexpr Field<11, 8> kFcfecLock{};  // BASE-R FEC lock per lane
};
// FEC mode signals, driven by firmware (same provenance as SigPcsIn0).
struct SigPcsIn1 : Register<SigPcsIn1, Bar::kCsr, 0x11825> {
  static constexpr Field<3, 0> kF91Ena{};      // RS-FEC
  static constexpr Field<11, 8> kKpModeEna{};  // RS(544) "KP" FEC
  static constexpr Field<27, 24> kFecEna{};    // BASE-R FEC
};
// Link event latches (write 1 to clear) and their mask (1 = masked).
struct SigPcsIntrSts : Register<SigPcsIntrSts, Bar::kCsr, 0x11814> {
  static constexpr Bit<0> kLinkUp{};
  static constexpr Bit<1> kLinkDown{};
};
struct SigPcsIntrMask : Register<SigPcsIntrMask, Bar::kCsr, 0x11816> {
  static constexpr Bit<0> kLinkUp{};
  static constexpr Bit<1> kLinkDown{};
};

}  // namespace fbnic::regs
