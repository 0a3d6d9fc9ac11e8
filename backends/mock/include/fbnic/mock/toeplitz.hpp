// The Toeplitz hash the RSS engine computes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace fbnic::mock {

// For each input bit that is set, XOR in the 32 key bits starting at that bit position.
inline std::uint32_t toeplitz(std::span<const std::uint8_t> key,
                              std::span<const std::uint8_t> input) {
  std::uint32_t hash = 0;
  // window: the 32 key bits starting at the current input bit, plus 8 look-ahead bits.
  std::uint64_t window = 0;
  for (std::size_t i = 0; i < 5; ++i) window = (window << 8) | (i < key.size() ? key[i] : 0);
  for (std::size_t byte = 0; byte < input.size(); ++byte) {
    for (int bit = 7; bit >= 0; --bit) {
      if ((input[byte] >> bit) & 1u) hash ^= static_cast<std::uint32_t>(window >> 8);
      window <<= 1;
    }
    const std::size_t next = byte + 5;
    window |= next < key.size() ? key[next] : 0;
  }
  return hash;
}

}  // namespace fbnic::mock
