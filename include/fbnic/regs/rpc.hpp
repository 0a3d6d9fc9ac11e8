// RPC and RPC_RAM blocks: the Rx parser and classifier.
//
// A frame's destination MAC is looked up in the MAC DA TCAM, its IP addresses in the IP
// TCAMs; those hit indices plus parsed flags and ports are the key of the action TCAM,
// whose matching entry selects the same-numbered action table entry (queue, RSS, drop).
// Rx TCAM data words: VALUE in bits 15:0, MASK in bits 31:16, mask bit 1 = don't care.
#pragma once

#include <cstdint>

#include "fbnic/regs/register.hpp"

namespace fbnic::regs {

struct RpcRmiConfig : Register<RpcRmiConfig, Bar::kCsr, 0x8400> {
  static constexpr Field<4, 0> kOhBytes{};
  static constexpr Bit<8> kFcsPresent{};
  static constexpr Bit<12> kEnable{};
  static constexpr Field<31, 16> kMtu{};
};

// Action table word 0 (also the layout of the default action).
template <class Self, std::uint32_t Word, std::uint32_t Count, std::uint32_t Stride>
struct ActTbl0Layout : RegisterArray<Self, Bar::kCsr, Word, Stride, Count> {
  static constexpr Bit<0> kDrop{};
  static constexpr Field<3, 1> kDest{};
  static constexpr Bit<4> kQSel{};  // deliver to kQId instead of through RSS
  static constexpr Field<15, 8> kQId{};
  static constexpr Field<24, 16> kDmaHint{};
  static constexpr Bit<28> kTsEnable{};
  static constexpr Bit<29> kActTblIdx{};
  static constexpr Bit<30> kRssCtxtId{};  // use RSS indirection table 1
};
inline constexpr std::uint32_t kActDestHost = 1;
inline constexpr std::uint32_t kActDestBmc = 2;
inline constexpr std::uint32_t kActDestEi = 4;
inline constexpr std::uint32_t kDmaHintNone = 0;
inline constexpr std::uint32_t kDmaHintL2 = 1;
inline constexpr std::uint32_t kDmaHintL3 = 2;
inline constexpr std::uint32_t kDmaHintL4 = 4;

// Action table word 1: which fields the RSS hash covers.
template <class Self, std::uint32_t Word, std::uint32_t Count, std::uint32_t Stride>
struct ActTbl1Layout : RegisterArray<Self, Bar::kCsr, Word, Stride, Count> {
  static constexpr Field<15, 0> kRssEnable{};
};
inline constexpr std::uint32_t kRssIpSrc = 1u << 0;
inline constexpr std::uint32_t kRssIpDst = 1u << 1;
inline constexpr std::uint32_t kRssL4Src = 1u << 2;
inline constexpr std::uint32_t kRssL4Dst = 1u << 3;
inline constexpr std::uint32_t kRssL2Da = 1u << 4;
inline constexpr std::uint32_t kRssL4RssByte = 1u << 5;
inline constexpr std::uint32_t kRssInnerV6FlowLabel = 1u << 6;
inline constexpr std::uint32_t kRssOuterV6FlowLabel = 1u << 7;
inline constexpr std::uint32_t kRssDscp = 1u << 8;
inline constexpr std::uint32_t kRssL3Proto = 1u << 9;
inline constexpr std::uint32_t kRssL4Proto = 1u << 10;

struct RpcActTbl0Default : ActTbl0Layout<RpcActTbl0Default, 0x840A, 1, 1> {
  static constexpr RegAddr<RpcActTbl0Default> addr() { return at(0); }
};
struct RpcActTbl1Default : ActTbl1Layout<RpcActTbl1Default, 0x840B, 1, 1> {
  static constexpr RegAddr<RpcActTbl1Default> addr() { return at(0); }
};

inline constexpr std::uint32_t kRssKeyBits = 425;
inline constexpr std::uint32_t kRssKeyBytes = (kRssKeyBits + 7) / 8;   // 54
inline constexpr std::uint32_t kRssKeyWords = (kRssKeyBytes + 3) / 4;  // 14
// Key byte 4n is bits 31:24 of register n (big-endian within the word).
struct RpcRssKey : RegisterArray<RpcRssKey, Bar::kCsr, 0x840C, 1, kRssKeyWords>,
                   WholeValue<RpcRssKey> {};

struct RpcTcamMacdaValidate : Register<RpcTcamMacdaValidate, Bar::kCsr, 0x852D>,
                              WholeValue<RpcTcamMacdaValidate> {};

// Parser counters, 32 bits, free running.
template <class Self, std::uint32_t Word>
struct RpcCounter : Register<Self, Bar::kCsr, Word>, WholeValue<Self> {};
struct RpcCntrTcpOptErr : RpcCounter<RpcCntrTcpOptErr, 0x849E> {};
struct RpcCntrUnknEtype : RpcCounter<RpcCntrUnknEtype, 0x849F> {};
struct RpcCntrIpv4Frag : RpcCounter<RpcCntrIpv4Frag, 0x84A0> {};
struct RpcCntrIpv6Frag : RpcCounter<RpcCntrIpv6Frag, 0x84A1> {};
struct RpcCntrIpv4Esp : RpcCounter<RpcCntrIpv4Esp, 0x84A2> {};
struct RpcCntrIpv6Esp : RpcCounter<RpcCntrIpv6Esp, 0x84A3> {};
struct RpcCntrUnknExtHdr : RpcCounter<RpcCntrUnknExtHdr, 0x84A4> {};
struct RpcCntrOutOfHdrErr : RpcCounter<RpcCntrOutOfHdrErr, 0x84A5> {};
struct RpcCntrOvrSizeErr : RpcCounter<RpcCntrOvrSizeErr, 0x84A6> {};
// TCAM miss counters: frames whose destination MAC matched no MAC DA entry, and frames
// that matched no action TCAM entry (so took the default action). The mainline driver
// does not read these; their addresses are from Meta's register map for ethtool's
// register dump (netdev, March 2025).
struct RpcTcamMacdaMissCnt : RpcCounter<RpcTcamMacdaMissCnt, 0x84A7> {};
struct RpcTcamActMissCnt : RpcCounter<RpcTcamActMissCnt, 0x84AC> {};

// --- RPC_RAM ---
inline constexpr std::uint32_t kActEntries = 64;
inline constexpr std::uint32_t kMacdaEntries = 32;
inline constexpr std::uint32_t kIpTcamEntries = 8;
inline constexpr std::uint32_t kRssTableEntries = 256;

struct RpcActTbl0 : ActTbl0Layout<RpcActTbl0, 0x8800, kActEntries, 1> {};
struct RpcActTbl1 : ActTbl1Layout<RpcActTbl1, 0x8840, kActEntries, 1> {};

template <class Self>
struct TcamWord {
  static constexpr Field<15, 0> kValue{};
  static constexpr Field<31, 16> kMask{};
  static constexpr Bit<31> kValidate{};  // in an entry's last word only
};

// Action TCAM: 64 entries x 12 words; word 11 holds VALIDATE.
struct RpcTcamAct : RegisterTable<RpcTcamAct, Bar::kCsr, 0x8880, kActEntries, 12, 0x40>,
                    TcamWord<RpcTcamAct> {
  // Word 1 key bits (value and mask use the same positions).
  static constexpr Field<9, 5> kMacdaIndex{};
  static constexpr Bit<10> kMacdaValid{};
  static constexpr Bit<11> kIpIsV6{};
  static constexpr Bit<12> kIpValid{};
  static constexpr Bit<13> kOuterIpValid{};
  static constexpr Bit<14> kL4IsUdp{};
  static constexpr Bit<15> kL4Valid{};
};
inline constexpr std::uint32_t kActWordMacda = 1;
inline constexpr std::uint32_t kActWordL4Src = 3;
inline constexpr std::uint32_t kActWordL4Dst = 4;
inline constexpr std::uint32_t kActWordValidate = 11;

// MAC DA TCAM: 32 entries x 4 words; words 0..2 are MAC bytes 4-5, 2-3, 0-1.
struct RpcTcamMacda : RegisterTable<RpcTcamMacda, Bar::kCsr, 0x8B80, kMacdaEntries, 4, 0x20>,
                      TcamWord<RpcTcamMacda> {};
inline constexpr std::uint32_t kMacdaWordValidate = 3;

// IP TCAMs: 8 entries x 9 words each. Words 0..7 are 16-bit groups of the IPv6 address,
// word 0 the last group; word 8 holds VALIDATE (and, in the inner tables, bit 0 = IPv6).
struct RpcTcamOuterIpSrc : RegisterTable<RpcTcamOuterIpSrc, Bar::kCsr, 0x8C00, 8, 9, 8>,
                           TcamWord<RpcTcamOuterIpSrc> {};
struct RpcTcamOuterIpDst : RegisterTable<RpcTcamOuterIpDst, Bar::kCsr, 0x8C48, 8, 9, 8>,
                           TcamWord<RpcTcamOuterIpDst> {};
struct RpcTcamIpSrc : RegisterTable<RpcTcamIpSrc, Bar::kCsr, 0x8C90, 8, 9, 8>,
                      TcamWord<RpcTcamIpSrc> {
  static constexpr Bit<0> kIsV6{};
};
struct RpcTcamIpDst : RegisterTable<RpcTcamIpDst, Bar::kCsr, 0x8CD8, 8, 9, 8>,
                      TcamWord<RpcTcamIpDst> {
  static constexpr Bit<0> kIsV6{};
};

// RSS indirection tables: at(entry, table) with table 0 or 1; each entry is an Rx queue.
struct RpcRssTbl : RegisterTable<RpcRssTbl, Bar::kCsr, 0x8D20, kRssTableEntries, 2, 0x100>,
                   WholeValue<RpcRssTbl> {};

}  // namespace fbnic::regs
