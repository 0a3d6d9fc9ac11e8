// Member types that map to TLV attribute kinds other than integers and flags.
//
//   String<N>    string attribute of at most N bytes on the wire, NUL included
//   Bytes<Max>   binary attribute of 1..Max bytes, viewed in place (no copy)
//   Array<T, N>  array attribute: up to N elements of one element ID, each of kind T
// MacAddress (base/mac_address.hpp) is a 6-byte binary attribute.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace fbnic::tlv {

template <std::size_t N>
struct String {
  static_assert(N >= 1, "room for at least the NUL");
  static constexpr std::size_t kMaxWire = N;  // bytes on the wire, NUL included

  std::array<char, N> chars{};  // always NUL-terminated
  std::size_t size = 0;         // characters before the NUL

  static constexpr String from(const char* s) {
    String out;
    while (s != nullptr && s[out.size] != '\0' && out.size + 1 < N) {
      out.chars[out.size] = s[out.size];
      ++out.size;
    }
    out.chars[out.size] = '\0';
    return out;
  }
  [[nodiscard]] constexpr const char* c_str() const { return chars.data(); }
  [[nodiscard]] constexpr bool empty() const { return size == 0; }

  friend constexpr bool operator==(const String& a, const String& b) {
    if (a.size != b.size) return false;
    for (std::size_t i = 0; i < a.size; ++i) {
      if (a.chars[i] != b.chars[i]) return false;
    }
    return true;
  }
};

// A view of bytes: what to send when encoding; where the bytes are (inside the received
// message) after decoding. The viewed memory must outlive the use of the view.
template <std::size_t Max>
struct Bytes {
  static constexpr std::size_t kMaxWire = Max;
  std::span<const std::uint8_t> data{};

  [[nodiscard]] constexpr std::size_t size() const { return data.size(); }
  [[nodiscard]] constexpr bool empty() const { return data.empty(); }
};

template <class T, std::size_t N>
struct Array {
  static constexpr std::size_t kCapacity = N;
  std::array<T, N> items{};
  std::size_t count = 0;

  constexpr bool push(const T& v) {
    if (count == N) return false;
    items[count++] = v;
    return true;
  }
  [[nodiscard]] constexpr std::span<const T> view() const { return {items.data(), count}; }
  [[nodiscard]] constexpr bool empty() const { return count == 0; }

  friend constexpr bool operator==(const Array& a, const Array& b) {
    if (a.count != b.count) return false;
    for (std::size_t i = 0; i < a.count; ++i) {
      if (!(a.items[i] == b.items[i])) return false;
    }
    return true;
  }
};

}  // namespace fbnic::tlv
