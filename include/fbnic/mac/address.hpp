// The permanent MAC address, derived from the PCIe Device Serial Number (DSN).
#pragma once

#include <cstdint>

#include "fbnic/base/mac_address.hpp"
#include "fbnic/base/result.hpp"

namespace fbnic::mac {

// The DSN is an EUI-64; the MAC is its top three bytes and bottom three bytes (the
// middle 16 bits are dropped). A multicast or all-zero result is refused rather than
// used: the upstream driver will not invent an address either.
constexpr Result<MacAddress> mac_from_dsn(std::uint64_t dsn) {
  MacAddress m;
  m.bytes = {static_cast<std::uint8_t>(dsn >> 56), static_cast<std::uint8_t>(dsn >> 48),
             static_cast<std::uint8_t>(dsn >> 40), static_cast<std::uint8_t>(dsn >> 16),
             static_cast<std::uint8_t>(dsn >> 8),  static_cast<std::uint8_t>(dsn)};
  if (!m.is_valid_unicast()) return Error::kBadMessage;
  return m;
}

}  // namespace fbnic::mac
