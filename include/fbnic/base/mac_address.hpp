// A 48-bit MAC address in wire order.
#pragma once

#include <array>
#include <cstdint>

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

}  // namespace fbnic
