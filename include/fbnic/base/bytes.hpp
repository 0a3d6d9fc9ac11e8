// Byte-level helpers: little-endian loads and stores, copies and fills.
//
// Descriptors, TLV messages and MAC addresses are little-endian or byte-ordered in
// memory whatever the host's order. The copies use compiler builtins so that the
// core needs no C library (<cstring> is not available in a UEFI build).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>

namespace fbnic {

inline void copy_bytes(void* dst, const void* src, std::size_t n) { __builtin_memcpy(dst, src, n); }
inline void fill_bytes(void* dst, int value, std::size_t n) { __builtin_memset(dst, value, n); }
inline bool equal_bytes(const void* a, const void* b, std::size_t n) {
  return __builtin_memcmp(a, b, n) == 0;
}

constexpr std::uint16_t to_le(std::uint16_t v) {
  if constexpr (std::endian::native == std::endian::little) return v;
  return __builtin_bswap16(v);
}
constexpr std::uint32_t to_le(std::uint32_t v) {
  if constexpr (std::endian::native == std::endian::little) return v;
  return __builtin_bswap32(v);
}
constexpr std::uint64_t to_le(std::uint64_t v) {
  if constexpr (std::endian::native == std::endian::little) return v;
  return __builtin_bswap64(v);
}
template <class T>
constexpr T from_le(T v) {
  return to_le(v);
}

// Unaligned-safe loads and stores of little-endian integers at p.
inline std::uint16_t load_le16(const void* p) {
  std::uint16_t v;
  copy_bytes(&v, p, sizeof v);
  return from_le(v);
}
inline std::uint32_t load_le32(const void* p) {
  std::uint32_t v;
  copy_bytes(&v, p, sizeof v);
  return from_le(v);
}
inline std::uint64_t load_le64(const void* p) {
  std::uint64_t v;
  copy_bytes(&v, p, sizeof v);
  return from_le(v);
}
inline void store_le16(void* p, std::uint16_t v) {
  v = to_le(v);
  copy_bytes(p, &v, sizeof v);
}
inline void store_le32(void* p, std::uint32_t v) {
  v = to_le(v);
  copy_bytes(p, &v, sizeof v);
}
inline void store_le64(void* p, std::uint64_t v) {
  v = to_le(v);
  copy_bytes(p, &v, sizeof v);
}

constexpr std::uint16_t load_be16(std::span<const std::uint8_t, 2> b) {
  return static_cast<std::uint16_t>((b[0] << 8) | b[1]);
}

constexpr std::size_t align_up(std::size_t v, std::size_t align) {
  return (v + align - 1) & ~(align - 1);
}
constexpr bool is_pow2(std::uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

}  // namespace fbnic
