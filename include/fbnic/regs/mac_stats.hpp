// MAC_STAT block: 64-bit MAC counters, each split over a low and a high register.
#pragma once

#include "fbnic/regs/register.hpp"

namespace fbnic::regs {

template <class Self, std::uint32_t LowWord>
using MacStat = Counter64<Self, Bar::kCsr, LowWord>;

struct MacStatRxXoffStb : MacStat<MacStatRxXoffStb, 0x11A00> {};
struct MacStatTxXoffStb : MacStat<MacStatTxXoffStb, 0x11A04> {};
struct MacStatRxByteCount : MacStat<MacStatRxByteCount, 0x11A08> {};
struct MacStatRxAlignError : MacStat<MacStatRxAlignError, 0x11A0A> {};
struct MacStatRxToolong : MacStat<MacStatRxToolong, 0x11A0E> {};
struct MacStatRxReceivedOk : MacStat<MacStatRxReceivedOk, 0x11A12> {};
struct MacStatRxPacketBadFcs : MacStat<MacStatRxPacketBadFcs, 0x11A14> {};
struct MacStatRxIfInErrors : MacStat<MacStatRxIfInErrors, 0x11A18> {};
struct MacStatRxMulticast : MacStat<MacStatRxMulticast, 0x11A1C> {};
struct MacStatRxBroadcast : MacStat<MacStatRxBroadcast, 0x11A1E> {};
struct MacStatRxUndersize : MacStat<MacStatRxUndersize, 0x11A24> {};
struct MacStatRxOversize : MacStat<MacStatRxOversize, 0x11A34> {};
struct MacStatRxJabber : MacStat<MacStatRxJabber, 0x11A36> {};
struct MacStatRxFragment : MacStat<MacStatRxFragment, 0x11A38> {};
struct MacStatRxControlFrames : MacStat<MacStatRxControlFrames, 0x11A3C> {};
struct MacStatTxByteCount : MacStat<MacStatTxByteCount, 0x11A3E> {};
struct MacStatTxTransmittedOk : MacStat<MacStatTxTransmittedOk, 0x11A42> {};
struct MacStatTxIfOutErrors : MacStat<MacStatTxIfOutErrors, 0x11A46> {};
struct MacStatTxMulticast : MacStat<MacStatTxMulticast, 0x11A4A> {};
struct MacStatTxBroadcast : MacStat<MacStatTxBroadcast, 0x11A4C> {};
struct MacStatTxControlFrames : MacStat<MacStatTxControlFrames, 0x11A5E> {};

}  // namespace fbnic::regs
