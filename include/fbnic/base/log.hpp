// Log levels and a fixed-size line formatter: no heap, no printf.
#pragma once

#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>

namespace fbnic {

enum class LogLevel : std::uint8_t { kError = 0, kWarning = 1, kInfo = 2, kDebug = 3 };

constexpr const char* level_name(LogLevel l) {
  switch (l) {
    case LogLevel::kError: return "error";
    case LogLevel::kWarning: return "warning";
    case LogLevel::kInfo: return "info";
    case LogLevel::kDebug: return "debug";
  }
  return "?";
}

// How much of the core's log text an image carries (a platform's kLogText; see
// fbnic::log_text() in platform/platform.hpp): each line in full; its first words and its
// values; nothing.
enum class LogText : std::uint8_t { kFull, kShort, kNone };

// Formats as 0x-prefixed hexadecimal.
struct Hex {
  std::uint64_t value;
};

// One log line, truncated (never overflowed) at kCapacity - 1 characters.
class LogLine {
 public:
  static constexpr std::size_t kCapacity = 256;

  constexpr LogLine() = default;

  // Out of line (noinline does not stop constant evaluation): every formatted log line of
  // an image calls these rather than carrying its own copy.
  [[gnu::noinline]] constexpr LogLine& operator<<(const char* s) {
    while (s != nullptr && *s != '\0') put(*s++);
    return *this;
  }
  constexpr LogLine& operator<<(char c) {
    put(c);
    return *this;
  }
  constexpr LogLine& operator<<(bool b) { return *this << (b ? "true" : "false"); }
  template <std::unsigned_integral U>
  constexpr LogLine& operator<<(U v) {
    return put_unsigned(static_cast<std::uint64_t>(v), 10);
  }
  template <std::signed_integral S>
  constexpr LogLine& operator<<(S v) {
    if (v < 0) {
      put('-');
      // Negate in unsigned arithmetic so that the minimum value does not overflow.
      return put_unsigned(0 - static_cast<std::uint64_t>(v), 10);
    }
    return put_unsigned(static_cast<std::uint64_t>(v), 10);
  }
  constexpr LogLine& operator<<(Hex h) {
    *this << "0x";
    return put_unsigned(h.value, 16);
  }

  // A space, unless the line is empty or ends in one. Out of line, like operator<<(const
  // char*).
  [[gnu::noinline]] constexpr LogLine& gap() {
    if (len_ != 0 && buf_[len_ - 1] != ' ') put(' ');
    return *this;
  }

  [[nodiscard]] constexpr const char* c_str() const { return buf_; }
  [[nodiscard]] constexpr std::size_t size() const { return len_; }

 private:
  constexpr void put(char c) {
    if (len_ + 1 < kCapacity) {
      buf_[len_++] = c;
      buf_[len_] = '\0';
    }
  }
  // Without a 64-bit division: on 32-bit CPUs that is a libgcc call, and freestanding images
  // link no libgcc. Hexadecimal by shifts, decimal by subtracting powers of ten.
  [[gnu::noinline]] constexpr LogLine& put_unsigned(std::uint64_t v, unsigned base) {
    if (base == 16) {
      unsigned digits = 16;
      while (digits > 1 && (v >> (4 * (digits - 1))) == 0) --digits;  // no leading zeros
      while (digits > 0) {
        const auto d = static_cast<unsigned>((v >> (4 * --digits)) & 0xfu);
        put(static_cast<char>(d < 10 ? '0' + d : 'a' + (d - 10)));
      }
      return *this;
    }
    std::size_t i = 0;
    while (i + 1 < kPowersOfTen.size() && kPowersOfTen[i] > v) ++i;  // no leading zeros
    for (; i < kPowersOfTen.size(); ++i) {
      unsigned d = 0;
      while (v >= kPowersOfTen[i]) {  // at most nine times
        v -= kPowersOfTen[i];
        ++d;
      }
      put(static_cast<char>('0' + d));
    }
    return *this;
  }

  static constexpr std::array<std::uint64_t, 20> kPowersOfTen = [] {
    std::array<std::uint64_t, 20> p{};
    std::uint64_t x = 1;
    for (std::size_t i = p.size(); i-- > 0; x *= 10u) p[i] = x;
    return p;
  }();

  char buf_[kCapacity] = {};
  std::size_t len_ = 0;
};

}  // namespace fbnic
