// Firmware version words: major.minor.patch-build, one byte each.
#pragma once

#include <cstdint>

#include "fbnic/base/log.hpp"

namespace fbnic::fw {

struct Version {
  std::uint32_t raw = 0;

  static constexpr Version make(std::uint8_t major, std::uint8_t minor, std::uint8_t patch,
                                std::uint8_t build) {
    return {(std::uint32_t{major} << 24) | (std::uint32_t{minor} << 16) |
            (std::uint32_t{patch} << 8) | build};
  }
  [[nodiscard]] constexpr std::uint32_t major() const { return raw >> 24; }
  [[nodiscard]] constexpr std::uint32_t minor() const { return (raw >> 16) & 0xFF; }
  [[nodiscard]] constexpr std::uint32_t patch() const { return (raw >> 8) & 0xFF; }
  [[nodiscard]] constexpr std::uint32_t build() const { return raw & 0xFF; }

  // clang-tidy 14 reads the defaulted comparison's 0 as a null pointer.
  friend constexpr auto operator<=>(Version, Version) = default;  // NOLINT(modernize-use-nullptr)
};

// The oldest management firmware the library drives (the upstream driver's gate).
inline constexpr Version kMinFirmware = Version::make(0, 10, 6, 0);
// Firmware from which log forwarding works.
inline constexpr Version kMinFirmwareLogs = Version::make(0, 12, 9, 0);

// "MM.mm.pp-bbb", as the upstream driver prints versions.
[[gnu::noinline]] inline LogLine& operator<<(LogLine& line, Version v) {
  char text[] = "00.00.00-000";
  // Each field's last digit and how many digits it shows; the build byte has three.
  constexpr int kLast[4] = {1, 4, 7, 11};
  const std::uint32_t fields[4] = {v.major(), v.minor(), v.patch(), v.build()};
  for (int f = 0; f < 4; ++f) {
    std::uint32_t x = fields[f];
    for (int at = kLast[f]; at >= 0 && text[at] != '.' && text[at] != '-'; --at, x /= 10) {
      text[at] = static_cast<char>('0' + x % 10);
    }
  }
  return line << static_cast<const char*>(text);
}

}  // namespace fbnic::fw
