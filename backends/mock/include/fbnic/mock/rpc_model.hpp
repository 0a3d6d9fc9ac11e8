// The Rx parser and classifier (RPC) as the hardware runs it on each received frame:
// MAC DA TCAM, IP TCAMs, action TCAM, action table, RSS; and its counters (parser
// findings, TCAM misses, oversize frames), bumped once per frame by count().
//
// Where the hardware's behaviour is not stated upstream the model makes the simplest
// consistent choice, and says so: the lowest matching TCAM index wins; the RSS hash input
// is the Microsoft order (source address, destination address, source port, destination
// port) followed by the destination MAC when that field is enabled; the indirection
// entry is the hash's low 8 bits; a frame longer than RPC_RMI_CONFIG.MTU is counted
// (oversize) and dropped, not classified.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "fbnic/mock/frame.hpp"
#include "fbnic/mock/toeplitz.hpp"
#include "fbnic/regs/rpc.hpp"

namespace fbnic::mock {

struct Classification {
  enum class Dest : std::uint8_t { kDrop, kHost, kBmc, kHostAndBmc };
  Dest dest = Dest::kDrop;
  std::uint32_t queue = 0;
  std::uint32_t rss_hash = 0;
  std::int32_t action = -1;    // matching action TCAM entry, or -1 for the default action
  std::int32_t macda = -1;     // matching MAC DA entry, or -1
  std::uint32_t dma_hint = 0;  // header split point requested by the action
  bool timestamp = false;
  bool oversize = false;  // longer than the parser's MTU: dropped unclassified
};

template <class RegFileT>
class RpcModel {
 public:
  explicit RpcModel(RegFileT& regs) : regs_(regs) {}

  [[nodiscard]] bool enabled() const {
    return regs_.template get<regs::RpcRmiConfig>().get(regs::RpcRmiConfig::kEnable) != 0;
  }

  Classification classify(std::span<const std::uint8_t> frame, const FrameInfo& fi) const {
    Classification c;
    if (frame.size() > regs_.template get<regs::RpcRmiConfig>().get(regs::RpcRmiConfig::kMtu)) {
      c.oversize = true;
      return c;
    }
    c.macda = match_macda(fi.dst);
    const std::array<std::uint16_t, 12> key = action_key(fi, c.macda);
    std::uint32_t tbl0 = regs_.template get<regs::RpcActTbl0Default>().raw();
    std::uint32_t tbl1 = regs_.template get<regs::RpcActTbl1Default>().raw();
    for (std::uint32_t e = 0; e < regs::kActEntries; ++e) {
      if (tcam_matches<regs::RpcTcamAct>(e, key.data(), 11, regs::kActWordValidate)) {
        c.action = static_cast<std::int32_t>(e);
        tbl0 = regs_.get(regs::RpcActTbl0::at(e)).raw();
        tbl1 = regs_.get(regs::RpcActTbl1::at(e)).raw();
        break;
      }
    }
    using A = regs::RpcActTbl0;
    const auto act = A::from_raw(tbl0);
    const std::uint32_t dest = act.get(A::kDest);
    c.dma_hint = act.get(A::kDmaHint);
    c.timestamp = act.get(A::kTsEnable) != 0;
    const bool host = (dest & regs::kActDestHost) != 0;
    const bool bmc = (dest & regs::kActDestBmc) != 0;
    if (act.get(A::kDrop) != 0 || (!host && !bmc)) return c;
    c.dest = host && bmc ? Classification::Dest::kHostAndBmc
                         : (host ? Classification::Dest::kHost : Classification::Dest::kBmc);
    const std::uint32_t fields = regs::RpcActTbl1::from_raw(tbl1).get(regs::RpcActTbl1::kRssEnable);
    c.rss_hash = rss_hash(frame, fi, fields);
    if (act.get(A::kQSel) != 0) {
      c.queue = act.get(A::kQId);
    } else {
      const std::uint32_t table = act.get(A::kRssCtxtId);
      c.queue = regs_.get(regs::RpcRssTbl::at(c.rss_hash & 0xFF, table)).raw() & 0xFF;
    }
    return c;
  }

  // Counts what parsing and classifying one frame found (once per frame).
  void count(const FrameInfo& fi, const Classification& c) {
    using namespace regs;
    const bool v4 = fi.l3 == FrameInfo::L3::kIpv4;
    const bool v6 = fi.l3 == FrameInfo::L3::kIpv6;
    if (fi.unknown_etype) bump(RpcCntrUnknEtype::addr());
    if (fi.unknown_ext_hdr) bump(RpcCntrUnknExtHdr::addr());
    if (fi.fragment && v4) bump(RpcCntrIpv4Frag::addr());
    if (fi.fragment && v6) bump(RpcCntrIpv6Frag::addr());
    if (fi.esp && v4) bump(RpcCntrIpv4Esp::addr());
    if (fi.esp && v6) bump(RpcCntrIpv6Esp::addr());
    if (fi.tcp_opt_error) bump(RpcCntrTcpOptErr::addr());
    if (fi.parse_error) bump(RpcCntrOutOfHdrErr::addr());
    if (c.oversize) {
      bump(RpcCntrOvrSizeErr::addr());
      return;
    }
    if (c.macda < 0) bump(RpcTcamMacdaMissCnt::addr());
    if (c.action < 0) bump(RpcTcamActMissCnt::addr());
  }

  // The 54-byte key as programmed: register n holds key bytes 4n..4n+3, byte 4n highest.
  [[nodiscard]] std::array<std::uint8_t, regs::kRssKeyBytes> key() const {
    std::array<std::uint8_t, regs::kRssKeyBytes> k{};
    for (std::uint32_t i = 0; i < k.size(); ++i) {
      const std::uint32_t w = regs_.get(regs::RpcRssKey::at(i / 4)).raw();
      k[i] = static_cast<std::uint8_t>(w >> (24 - 8 * (i % 4)));
    }
    return k;
  }

 private:
  // The lowest valid entry whose cared-for bits equal the key's.
  template <class Tcam>
  bool tcam_matches(std::uint32_t entry, const std::uint16_t* key, std::uint32_t words,
                    std::uint32_t validate_word) const {
    if (regs_.get(Tcam::at(entry, validate_word)).get(Tcam::kValidate) == 0) return false;
    for (std::uint32_t w = 0; w < words; ++w) {
      const auto r = regs_.get(Tcam::at(entry, w));
      const std::uint32_t care = ~r.get(Tcam::kMask) & 0xFFFFu;
      if (((key[w] ^ r.get(Tcam::kValue)) & care) != 0) return false;
    }
    return true;
  }

  std::int32_t match_macda(const MacAddress& da) const {
    const std::uint16_t key[3] = {
        static_cast<std::uint16_t>(da.bytes[4] << 8 | da.bytes[5]),
        static_cast<std::uint16_t>(da.bytes[2] << 8 | da.bytes[3]),
        static_cast<std::uint16_t>(da.bytes[0] << 8 | da.bytes[1]),
    };
    for (std::uint32_t e = 0; e < regs::kMacdaEntries; ++e) {
      if (tcam_matches<regs::RpcTcamMacda>(e, key, 3, regs::kMacdaWordValidate)) {
        return static_cast<std::int32_t>(e);
      }
    }
    return -1;
  }

  // The first matching entry of an IP TCAM for this address, or -1.
  template <class Tcam>
  std::int32_t match_ip(const FrameInfo& fi, const std::array<std::uint8_t, 16>& addr,
                        bool tagged_by_version) const {
    std::uint16_t key[8];
    // Word 0 is the last 16 bits of the IPv6 address; IPv4 is ::a.b.c.d.
    std::array<std::uint8_t, 16> a{};
    if (fi.l3 == FrameInfo::L3::kIpv4) {
      for (std::size_t i = 0; i < 4; ++i) a[12 + i] = addr[i];
    } else {
      a = addr;
    }
    for (std::size_t w = 0; w < 8; ++w)
      key[w] = static_cast<std::uint16_t>(a[14 - 2 * w] << 8 | a[15 - 2 * w]);
    for (std::uint32_t e = 0; e < regs::kIpTcamEntries; ++e) {
      const auto w8 = regs_.get(Tcam::at(e, 8)).raw();
      if ((w8 & (1u << 31)) == 0) continue;
      if (tagged_by_version && ((w8 & 1u) != 0) != (fi.l3 == FrameInfo::L3::kIpv6)) continue;
      bool hit = true;
      for (std::uint32_t w = 0; w < 8 && hit; ++w) {
        const auto r = regs_.get(Tcam::at(e, w));
        hit = ((key[w] ^ r.get(Tcam::kValue)) & ~r.get(Tcam::kMask) & 0xFFFFu) == 0;
      }
      if (hit) return static_cast<std::int32_t>(e);
    }
    return -1;
  }

  std::array<std::uint16_t, 12> action_key(const FrameInfo& fi, std::int32_t macda) const {
    using T = regs::RpcTcamAct;
    std::array<std::uint16_t, 12> k{};
    const bool ip = fi.l3 != FrameInfo::L3::kNone;
    if (ip) {
      const std::int32_t src = match_ip<regs::RpcTcamIpSrc>(fi, fi.ip_src, true);
      const std::int32_t dst = match_ip<regs::RpcTcamIpDst>(fi, fi.ip_dst, true);
      if (src >= 0) k[0] = static_cast<std::uint16_t>(k[0] | (src & 7) | 0x8);
      if (dst >= 0) k[0] = static_cast<std::uint16_t>(k[0] | (dst & 7) << 4 | 0x80);
    }
    auto w1 = T{};
    if (macda >= 0)
      w1.set(T::kMacdaIndex, static_cast<std::uint32_t>(macda)).set(T::kMacdaValid, 1);
    if (ip) w1.set(T::kIpValid, 1).set(T::kIpIsV6, fi.l3 == FrameInfo::L3::kIpv6 ? 1 : 0);
    const bool l4 = fi.l4 == FrameInfo::L4::kTcp || fi.l4 == FrameInfo::L4::kUdp;
    if (l4) w1.set(T::kL4Valid, 1).set(T::kL4IsUdp, fi.l4 == FrameInfo::L4::kUdp ? 1 : 0);
    k[1] = static_cast<std::uint16_t>(w1.raw());
    if (l4) {
      k[3] = fi.src_port;
      k[4] = fi.dst_port;
    }
    return k;
  }

  std::uint32_t rss_hash(std::span<const std::uint8_t> frame, const FrameInfo& fi,
                         std::uint32_t fields) const {
    std::uint8_t input[48];
    std::size_t n = 0;
    const std::size_t alen = fi.l3 == FrameInfo::L3::kIpv4 ? 4 : 16;
    auto put = [&](const std::uint8_t* p, std::size_t len) {
      for (std::size_t i = 0; i < len; ++i) input[n++] = p[i];
    };
    if (fi.l3 != FrameInfo::L3::kNone) {
      if ((fields & regs::kRssIpSrc) != 0) put(fi.ip_src.data(), alen);
      if ((fields & regs::kRssIpDst) != 0) put(fi.ip_dst.data(), alen);
    }
    if (fi.l4 == FrameInfo::L4::kTcp || fi.l4 == FrameInfo::L4::kUdp) {
      const std::uint8_t sp[2] = {static_cast<std::uint8_t>(fi.src_port >> 8),
                                  static_cast<std::uint8_t>(fi.src_port)};
      const std::uint8_t dp[2] = {static_cast<std::uint8_t>(fi.dst_port >> 8),
                                  static_cast<std::uint8_t>(fi.dst_port)};
      if ((fields & regs::kRssL4Src) != 0) put(sp, 2);
      if ((fields & regs::kRssL4Dst) != 0) put(dp, 2);
    }
    if ((fields & regs::kRssL2Da) != 0 && frame.size() >= 6) put(frame.data(), 6);
    if (n == 0) return 0;
    const auto k = key();
    return toeplitz(k, std::span<const std::uint8_t>(input, n));
  }

  template <class R>
  void bump(regs::RegAddr<R> a) {
    regs_.put(a, R::from_raw(regs_.get(a).raw() + 1));
  }

  RegFileT& regs_;
};

}  // namespace fbnic::mock
