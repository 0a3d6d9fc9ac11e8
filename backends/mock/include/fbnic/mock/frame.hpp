// FrameInfo: what the device's parser finds in an Ethernet frame: header lengths, L3/L4
// types, addresses and ports, and what it could not parse. Used by the classifier (and its
// counters), the Rx placement and the offloads.
//
// Which EtherTypes and IPv6 extension headers the hardware's parser knows is not stated
// upstream; the model's choice (kept in one place, here): EtherTypes IPv4, IPv6, ARP and
// PTP over Ethernet (0x88F7) are known, VLAN tags (0x8100, 0x88A8) are walked, any other
// is unknown; IPv6 hop-by-hop, routing, fragment and destination options headers are
// walked, AH (51), mobility (135), HIP (139), shim6 (140) and the experimental 253/254 are
// extension headers it cannot walk (unknown). TCP options must each fit the header, and
// every option but EOL and NOP must claim a length of at least 2.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "fbnic/base/mac_address.hpp"
#include "fbnic/mock/checksum.hpp"

namespace fbnic::mock {

struct FrameInfo {
  enum class L3 : std::uint8_t { kNone = 0, kIpv4 = 1, kIpv6 = 2 };
  enum class L4 : std::uint8_t { kNone = 0, kTcp = 1, kUdp = 2, kOther = 3 };

  MacAddress dst;
  MacAddress src;
  std::uint16_t ethertype = 0;
  std::uint32_t l2_len = 0;  // Ethernet header, with VLAN tags
  L3 l3 = L3::kNone;
  std::uint32_t l3_len = 0;  // IP header, with IPv6 extension headers
  std::uint8_t ip_proto = 0;
  bool fragment = false;                  // an IP fragment: no L4 parsing
  std::array<std::uint8_t, 16> ip_src{};  // IPv4 in the first 4 bytes
  std::array<std::uint8_t, 16> ip_dst{};
  L4 l4 = L4::kNone;
  std::uint32_t l4_len = 0;  // TCP/UDP header
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  bool parse_error = false;  // headers claim more than the frame holds
  bool unknown_etype = false;
  bool unknown_ext_hdr = false;  // an IPv6 extension header the parser cannot walk
  bool esp = false;              // IP protocol 50: IPsec ESP
  bool tcp_opt_error = false;    // TCP options that do not parse

  [[nodiscard]] std::uint32_t l3_offset() const { return l2_len; }
  [[nodiscard]] std::uint32_t l4_offset() const { return l2_len + l3_len; }
  [[nodiscard]] std::uint32_t headers_len() const { return l2_len + l3_len + l4_len; }
};

constexpr std::uint16_t kEtherIpv4 = 0x0800;
constexpr std::uint16_t kEtherIpv6 = 0x86DD;
constexpr std::uint16_t kEtherVlan = 0x8100;
constexpr std::uint16_t kEtherQinQ = 0x88A8;
constexpr std::uint16_t kEtherArp = 0x0806;
constexpr std::uint16_t kEtherPtp = 0x88F7;
constexpr std::uint8_t kProtoEsp = 50;
constexpr std::uint8_t kProtoTcp = 6;
constexpr std::uint8_t kProtoUdp = 17;

// True when every TCP option fits: EOL ends the list, NOP is one byte, any other carries
// a length of at least 2 that stays inside the options.
inline bool tcp_options_parse(std::span<const std::uint8_t> opts) {
  std::size_t at = 0;
  // Each step consumes at least one byte: bounded by the options' length.
  while (at < opts.size()) {
    const std::uint8_t kind = opts[at];
    if (kind == 0) return true;
    if (kind == 1) {
      ++at;
      continue;
    }
    if (at + 1 >= opts.size()) return false;
    const std::uint8_t len = opts[at + 1];
    if (len < 2 || at + len > opts.size()) return false;
    at += len;
  }
  return true;
}

inline FrameInfo parse_frame(std::span<const std::uint8_t> f) {
  FrameInfo fi;
  if (f.size() < 14) {
    fi.parse_error = true;
    return fi;
  }
  for (std::size_t i = 0; i < 6; ++i) {
    fi.dst.bytes[i] = f[i];
    fi.src.bytes[i] = f[6 + i];
  }
  std::uint32_t at = 12;
  fi.ethertype = load_be16(&f[at]);
  while ((fi.ethertype == kEtherVlan || fi.ethertype == kEtherQinQ) && at + 6 <= f.size()) {
    at += 4;
    fi.ethertype = load_be16(&f[at]);
  }
  fi.l2_len = at + 2;
  const std::uint8_t* p = f.data() + fi.l2_len;
  const std::size_t left = f.size() - fi.l2_len;
  if (fi.ethertype == kEtherIpv4) {
    if (left < 20 || (p[0] >> 4) != 4 || (p[0] & 0xF) < 5 ||
        static_cast<std::size_t>(p[0] & 0xFu) * 4 > left) {
      fi.parse_error = true;
      return fi;
    }
    fi.l3 = FrameInfo::L3::kIpv4;
    fi.l3_len = (p[0] & 0xFu) * 4;
    fi.ip_proto = p[9];
    fi.fragment = (load_be16(p + 6) & 0x3FFF) != 0;
    for (std::size_t i = 0; i < 4; ++i) {
      fi.ip_src[i] = p[12 + i];
      fi.ip_dst[i] = p[16 + i];
    }
  } else if (fi.ethertype == kEtherIpv6) {
    if (left < 40 || (p[0] >> 4) != 6) {
      fi.parse_error = true;
      return fi;
    }
    fi.l3 = FrameInfo::L3::kIpv6;
    fi.l3_len = 40;
    std::uint8_t next = p[6];
    for (std::size_t i = 0; i < 16; ++i) {
      fi.ip_src[i] = p[8 + i];
      fi.ip_dst[i] = p[24 + i];
    }
    // Hop-by-hop, routing, destination options: skipped; a fragment header ends parsing.
    while ((next == 0 || next == 43 || next == 60 || next == 44) && fi.l3_len + 8 <= left) {
      const std::uint8_t* ext = p + fi.l3_len;
      if (next == 44) fi.fragment = true;
      const std::uint32_t ext_len = next == 44 ? 8u : (ext[1] + 1u) * 8u;
      next = ext[0];
      fi.l3_len += ext_len;
    }
    if (fi.l3_len > left) {
      fi.parse_error = true;
      return fi;
    }
    fi.ip_proto = next;
    fi.unknown_ext_hdr =
        next == 51 || next == 135 || next == 139 || next == 140 || next == 253 || next == 254;
  } else {
    fi.unknown_etype = fi.ethertype != kEtherArp && fi.ethertype != kEtherPtp;
    return fi;
  }
  fi.esp = fi.ip_proto == kProtoEsp;
  if (fi.fragment || fi.unknown_ext_hdr) return fi;
  const std::uint8_t* l4 = p + fi.l3_len;
  const std::size_t l4_left = left - fi.l3_len;
  if (fi.ip_proto == kProtoTcp) {
    const std::size_t doff = static_cast<std::size_t>(l4[12] >> 4) * 4;
    if (l4_left < 20 || doff < 20 || doff > l4_left) {
      fi.parse_error = true;
      return fi;
    }
    fi.l4 = FrameInfo::L4::kTcp;
    fi.l4_len = (l4[12] >> 4) * 4u;
    fi.tcp_opt_error = !tcp_options_parse(std::span<const std::uint8_t>(l4 + 20, doff - 20));
  } else if (fi.ip_proto == kProtoUdp) {
    if (l4_left < 8) {
      fi.parse_error = true;
      return fi;
    }
    fi.l4 = FrameInfo::L4::kUdp;
    fi.l4_len = 8;
  } else {
    fi.l4 = FrameInfo::L4::kOther;
    return fi;
  }
  fi.src_port = load_be16(l4);
  fi.dst_port = load_be16(l4 + 2);
  return fi;
}

// The TCP/UDP pseudo-header sum for an L4 segment of l4_bytes (not inverted).
inline std::uint32_t pseudo_header_sum(const FrameInfo& fi, std::uint32_t l4_bytes) {
  std::uint32_t sum = 0;
  const std::size_t n = fi.l3 == FrameInfo::L3::kIpv4 ? 4 : 16;
  sum = csum_add(std::span<const std::uint8_t>(fi.ip_src.data(), n), sum);
  sum = csum_add(std::span<const std::uint8_t>(fi.ip_dst.data(), n), sum);
  sum += fi.ip_proto;
  sum += l4_bytes & 0xFFFF;
  sum += l4_bytes >> 16;
  return csum_fold(sum);
}

// True when the frame's TCP or UDP checksum is right (a zero UDP checksum over IPv4
// means "none" and counts as right).
inline bool l4_checksum_ok(std::span<const std::uint8_t> f, const FrameInfo& fi) {
  if (fi.l4 != FrameInfo::L4::kTcp && fi.l4 != FrameInfo::L4::kUdp) return false;
  const std::uint32_t off = fi.l4_offset();
  std::uint32_t l4_bytes = 0;
  if (fi.l3 == FrameInfo::L3::kIpv4) {
    // Trust the IP total length over the frame length (the frame may carry padding).
    const std::uint32_t total = load_be16(&f[fi.l2_len + 2]);
    if (total < fi.l3_len || fi.l2_len + total > f.size()) return false;
    l4_bytes = total - fi.l3_len;
  } else {
    const std::uint32_t payload = load_be16(&f[fi.l2_len + 4]);
    if (40 + payload < fi.l3_len || fi.l2_len + 40 + payload > f.size()) return false;
    l4_bytes = 40 + payload - fi.l3_len;
  }
  if (fi.l4 == FrameInfo::L4::kUdp && fi.l3 == FrameInfo::L3::kIpv4 &&
      load_be16(&f[off + 6]) == 0) {
    return true;
  }
  const std::uint32_t sum = csum_add(f.subspan(off, l4_bytes), pseudo_header_sum(fi, l4_bytes));
  return csum_fold(sum) == 0xFFFF;
}

}  // namespace fbnic::mock
