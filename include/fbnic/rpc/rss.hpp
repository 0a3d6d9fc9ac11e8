// RSS settings: the Toeplitz key, the two indirection tables and the hash fields.
#pragma once

#include <array>
#include <cstdint>

#include "fbnic/regs/rpc.hpp"
#include "fbnic/rpc/rules.hpp"

namespace fbnic::rpc {

struct RssConfig {
  // 425 bits are used: all of bytes 0..52 and the top bit of byte 53.
  std::array<std::uint8_t, regs::kRssKeyBytes> key = kDefaultKey;
  // Each entry names an Rx queue; table 1 serves rules that ask for context 1.
  std::array<std::array<std::uint8_t, regs::kRssTableEntries>, 2> table{};
  RssFields fields{};

  // Entry i -> queue i mod queues, in both tables (ethtool's default spreading).
  static constexpr RssConfig spread(std::uint32_t queues) {
    RssConfig c;
    for (auto& t : c.table) {
      for (std::uint32_t i = 0; i < t.size(); ++i)
        t[i] = static_cast<std::uint8_t>(i % (queues == 0 ? 1 : queues));
    }
    return c;
  }

  // Microsoft's RSS verification key, then a fixed continuation: any key works, a known
  // one keeps runs reproducible.
  static constexpr std::array<std::uint8_t, regs::kRssKeyBytes> kDefaultKey{
      0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
      0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
      0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa, 0x3c, 0x91,
      0x2e, 0x57, 0x4d, 0x18, 0xb7, 0x26, 0x54, 0xa1, 0x93, 0x05, 0x5e, 0x80};
};

}  // namespace fbnic::rpc
