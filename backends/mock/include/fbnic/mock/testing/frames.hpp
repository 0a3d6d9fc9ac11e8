// Frame builders for tests on the device model: Ethernet/IPv4/IPv6/TCP/UDP frames with a
// payload pattern, and a checksum of their own (RFC 1071, written plainly and apart from
// the model's), so that tests check the model's and the library's offloads against code
// that shares nothing with them. Hosted (std::vector); not part of the freestanding model.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "fbnic/base/mac_address.hpp"

namespace fbnic::mock::testing {

inline std::uint16_t be16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>(p[0] << 8 | p[1]);
}
inline std::uint32_t be32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3];
}
inline void put16(std::vector<std::uint8_t>& v, std::size_t at, std::uint16_t x) {
  v[at] = static_cast<std::uint8_t>(x >> 8);
  v[at + 1] = static_cast<std::uint8_t>(x);
}
inline void put32(std::vector<std::uint8_t>& v, std::size_t at, std::uint32_t x) {
  put16(v, at, static_cast<std::uint16_t>(x >> 16));
  put16(v, at + 2, static_cast<std::uint16_t>(x));
}

// RFC 1071, the slow and obvious way.
inline std::uint32_t sum16(std::span<const std::uint8_t> b, std::uint32_t acc = 0) {
  for (std::size_t i = 0; i < b.size(); i += 2) {
    acc += static_cast<std::uint32_t>(b[i]) << 8;
    if (i + 1 < b.size()) acc += b[i + 1];
  }
  return acc;
}
inline std::uint16_t fold(std::uint32_t acc) {
  while (acc >> 16) acc = (acc & 0xFFFF) + (acc >> 16);
  return static_cast<std::uint16_t>(acc);
}

struct FlowSpec {
  MacAddress dst{{0x02, 0, 0, 0, 0, 1}};
  MacAddress src{{0x02, 0, 0, 0, 0, 2}};
  bool ipv6 = false;
  bool tcp = false;  // else UDP
  std::uint8_t src_ip[16] = {10, 0, 0, 2};
  std::uint8_t dst_ip[16] = {10, 0, 0, 1};
  std::uint16_t src_port = 1000;
  std::uint16_t dst_port = 2000;
  std::uint32_t seq = 0x1000;
  std::uint8_t tcp_flags = 0x18;  // PSH | ACK
};

inline std::size_t l4_header(const FlowSpec& f) { return f.tcp ? 20u : 8u; }
inline std::size_t l3_header(const FlowSpec& f) { return f.ipv6 ? 40u : 20u; }

// The pseudo-header sum (not folded) for an L4 length.
inline std::uint32_t pseudo(const FlowSpec& f, std::uint32_t l4_len) {
  const std::size_t n = f.ipv6 ? 16 : 4;
  std::uint32_t acc = sum16({f.src_ip, n}) + sum16({f.dst_ip, n});
  return acc + (f.tcp ? 6u : 17u) + (l4_len & 0xFFFF) + (l4_len >> 16);
}

// An Ethernet + IP + TCP/UDP frame with `payload` bytes of a pattern derived from seed.
// Checksums are complete and correct unless `leave_l4_csum` (then the L4 checksum field
// holds the pseudo-header sum, as a host leaves it for checksum offload) or
// `tso_seed` (the pseudo-header sum without the length, as for segmentation offload).
struct FrameOptions {
  bool leave_l4_csum = false;
  bool tso_seed = false;
  bool bad_l4_csum = false;
};
inline std::vector<std::uint8_t> make_frame(const FlowSpec& f, std::size_t payload,
                                            std::uint32_t seed, FrameOptions opt = {}) {
  const std::size_t l2 = 14;
  const std::size_t l3 = l3_header(f);
  const std::size_t l4 = l4_header(f);
  std::vector<std::uint8_t> v(l2 + l3 + l4 + payload, 0);
  for (int i = 0; i < 6; ++i) {
    v[static_cast<std::size_t>(i)] = f.dst.bytes[static_cast<std::size_t>(i)];
    v[6 + static_cast<std::size_t>(i)] = f.src.bytes[static_cast<std::size_t>(i)];
  }
  put16(v, 12, f.ipv6 ? 0x86DD : 0x0800);
  const auto l4_len = static_cast<std::uint32_t>(l4 + payload);
  if (f.ipv6) {
    v[l2] = 0x60;
    put16(v, l2 + 4, static_cast<std::uint16_t>(l4_len));
    v[l2 + 6] = f.tcp ? 6 : 17;
    v[l2 + 7] = 64;
    for (int i = 0; i < 16; ++i) {
      v[l2 + 8 + static_cast<std::size_t>(i)] = f.src_ip[i];
      v[l2 + 24 + static_cast<std::size_t>(i)] = f.dst_ip[i];
    }
  } else {
    v[l2] = 0x45;
    put16(v, l2 + 2, static_cast<std::uint16_t>(l3 + l4_len));
    put16(v, l2 + 4, static_cast<std::uint16_t>(seed));
    v[l2 + 8] = 64;
    v[l2 + 9] = f.tcp ? 6 : 17;
    for (int i = 0; i < 4; ++i) {
      v[l2 + 12 + static_cast<std::size_t>(i)] = f.src_ip[i];
      v[l2 + 16 + static_cast<std::size_t>(i)] = f.dst_ip[i];
    }
    put16(v, l2 + 10, static_cast<std::uint16_t>(~fold(sum16({v.data() + l2, l3}))));
  }
  const std::size_t at = l2 + l3;
  put16(v, at, f.src_port);
  put16(v, at + 2, f.dst_port);
  if (f.tcp) {
    put32(v, at + 4, f.seq);
    v[at + 12] = 0x50;
    v[at + 13] = f.tcp_flags;
    put16(v, at + 14, 0xFFFF);
  } else {
    put16(v, at + 4, static_cast<std::uint16_t>(l4_len));
  }
  std::uint32_t x = seed * 2654435761u + 1;
  for (std::size_t i = 0; i < payload; ++i) {
    x = x * 1103515245u + 12345u;
    v[at + l4 + i] = static_cast<std::uint8_t>(x >> 16);
  }
  const std::size_t field = at + (f.tcp ? 16 : 6);
  if (opt.tso_seed) {
    put16(v, field, fold(pseudo(f, 0)));
  } else if (opt.leave_l4_csum) {
    put16(v, field, fold(pseudo(f, l4_len)));
  } else {
    std::uint16_t c =
        static_cast<std::uint16_t>(~fold(sum16({v.data() + at, l4_len}, pseudo(f, l4_len))));
    if (!f.tcp && c == 0) c = 0xFFFF;
    if (opt.bad_l4_csum) c = static_cast<std::uint16_t>(c ^ 0x5555);
    put16(v, field, c);
  }
  return v;
}

// True when the frame's IPv4 header checksum (if IPv4) and L4 checksum verify.
inline bool checksums_ok(std::span<const std::uint8_t> v, const FlowSpec& f) {
  const std::size_t l2 = 14;
  const std::size_t l3 = l3_header(f);
  std::uint32_t l4_len = 0;
  if (f.ipv6) {
    l4_len = be16(&v[l2 + 4]);
  } else {
    if (fold(sum16({v.data() + l2, l3})) != 0xFFFF) return false;
    l4_len = be16(&v[l2 + 2]) - static_cast<std::uint32_t>(l3);
  }
  return fold(sum16({v.data() + l2 + l3, l4_len}, pseudo(f, l4_len))) == 0xFFFF;
}

// A plain (non-IP) frame of `len` bytes with a pattern.
inline std::vector<std::uint8_t> make_raw(const MacAddress& dst, std::size_t len,
                                          std::uint32_t seed) {
  std::vector<std::uint8_t> v(len < 14 ? 14 : len);
  for (int i = 0; i < 6; ++i)
    v[static_cast<std::size_t>(i)] = dst.bytes[static_cast<std::size_t>(i)];
  v[6] = 0x02;
  v[11] = 0x02;
  v[12] = 0x88;
  v[13] = 0xB5;  // local experimental ethertype
  std::uint32_t x = seed * 2246822519u + 7;
  for (std::size_t i = 14; i < v.size(); ++i) {
    x = x * 1664525u + 1013904223u;
    v[i] = static_cast<std::uint8_t>(x >> 24);
  }
  return v;
}

}  // namespace fbnic::mock::testing
