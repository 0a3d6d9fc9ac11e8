// A 48-bit MAC address in wire order.
#pragma once

#include <array>
#include <cstdint>

#include "fbnic/base/log.hpp"

namespace fbnic {

struct MacAddress {
  std::array<std::uint8_t, 6> bytes{};

  [[nodiscard]] constexpr bool is_multicast() const { return (bytes[0] & 1u) != 0; }
  [[nodiscard]] constexpr bool is_broadcast() const {
    for (std::uint8_t b : bytes) {
      if (b != 0xFF) return false;
    }
    return true;
  }
  [[nodiscard]] constexpr bool is_zero() const {
    for (std::uint8_t b : bytes) {
      if (b != 0) return false;
    }
    return true;
  }
  // A usable station address: unicast and not all zeros.
  [[nodiscard]] constexpr bool is_valid_unicast() const { return !is_multicast() && !is_zero(); }

  friend constexpr bool operator==(const MacAddress&, const MacAddress&) = default;
};

inline constexpr MacAddress kBroadcastMac{{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}};

// aa:bb:cc:dd:ee:ff in a log line.
constexpr LogLine& operator<<(LogLine& line, const MacAddress& m) {
  constexpr const char* kDigits = "0123456789abcdef";
  for (std::uint32_t i = 0; i < m.bytes.size(); ++i) {
    if (i != 0) line << ':';
    line << kDigits[m.bytes[i] >> 4] << kDigits[m.bytes[i] & 0xF];
  }
  return line;
}

}  // namespace fbnic
