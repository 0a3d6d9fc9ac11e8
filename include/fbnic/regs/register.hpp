// Registers as types, in the manner of Fuchsia's hwreg.
//
// A register type names its BAR, its byte offset (or offsets, for arrays) and its fields:
//
//   struct TimCtl : QueueRegister<TimCtl, 0x0C0> {
//     static constexpr Field<7, 0> kVector{};
//   };
//   auto v = TimCtl{}.set(TimCtl::kVector, 3);   // a value; nothing touches hardware
//   io.write(TimCtl::at(queue), v);              // Io (hw/io.hpp) does the access
//
// Checks: a field's bit range is checked when the field is declared; a value that does
// not fit its field, or an array index past the end, is a compile error in a constant
// expression and at run time poisons the value/address, which Io then refuses to write.
#pragma once

#include <cstdint>
#include <type_traits>

#include "fbnic/platform/bar.hpp"

namespace fbnic::regs {

// The kernel's register map numbers CSRs as indices of 32-bit words. This is the only
// place that turns a word index into a byte offset.
constexpr std::uint32_t word_to_byte(std::uint32_t word) { return word * 4u; }

// Bits [Hi:Lo] of a 32-bit register.
template <unsigned Hi, unsigned Lo = Hi>
struct Field {
  static_assert(Hi < 32, "a field must lie within a 32-bit register");
  static_assert(Lo <= Hi, "a field's high bit must not be below its low bit");
  static constexpr unsigned kHi = Hi;
  static constexpr unsigned kLo = Lo;
  static constexpr unsigned kWidth = Hi - Lo + 1;
  static constexpr std::uint32_t kMax =
      kWidth == 32 ? 0xFFFF'FFFFu : static_cast<std::uint32_t>((1u << kWidth) - 1u);
  static constexpr std::uint32_t kMask = kMax << Lo;
};

template <unsigned N>
using Bit = Field<N, N>;

namespace detail {
// Deliberately not constexpr: reaching one of these during constant evaluation makes
// the expression non-constant, which the compiler reports as an error at the call.
inline void field_value_does_not_fit() {}
inline void register_index_out_of_range() {}
}  // namespace detail

// Where a register lives. An invalid address comes from an out-of-range index.
template <class R>
struct RegAddr {
  std::uint32_t offset = 0;
  bool valid = false;
  static constexpr Bar kBar = R::kBar;
};

// The value of a register: 32 bits plus a flag set when a field was given a value
// that does not fit. Register types derive from it (CRTP) to name their fields.
template <class Self>
class RegValue {
 public:
  constexpr RegValue() = default;

  static constexpr Self from_raw(std::uint32_t raw) {
    Self s;
    s.raw_ = raw;
    return s;
  }

  [[nodiscard]] constexpr std::uint32_t raw() const { return raw_; }
  [[nodiscard]] constexpr bool fits() const { return !overflow_; }

  template <unsigned Hi, unsigned Lo>
  [[nodiscard]] constexpr std::uint32_t get(Field<Hi, Lo> /*field*/) const {
    return (raw_ & Field<Hi, Lo>::kMask) >> Lo;
  }

  template <unsigned Hi, unsigned Lo>
  constexpr Self& set(Field<Hi, Lo> /*field*/, std::uint64_t value) {
    using F = Field<Hi, Lo>;
    if (value > F::kMax) {
      if (std::is_constant_evaluated()) detail::field_value_does_not_fit();
      overflow_ = true;
      value &= F::kMax;
    }
    raw_ = (raw_ & ~F::kMask) | (static_cast<std::uint32_t>(value) << Lo);
    return static_cast<Self&>(*this);
  }

  // Sets every bit of the field: the usual way to write 1s to clear or to enable.
  template <unsigned Hi, unsigned Lo>
  constexpr Self& set_all(Field<Hi, Lo> f) {
    return set(f, Field<Hi, Lo>::kMax);
  }

  friend constexpr bool operator==(const RegValue& a, const RegValue& b) {
    return a.raw_ == b.raw_;
  }

 private:
  std::uint32_t raw_ = 0;
  bool overflow_ = false;
};

// A register at one fixed word.
template <class Self, Bar B, std::uint32_t Word>
struct Register : RegValue<Self> {
  static constexpr Bar kBar = B;
  static constexpr std::uint32_t kOffset = word_to_byte(Word);
  static constexpr RegAddr<Self> addr() { return {kOffset, true}; }
};

// Count registers of one layout, StrideWords apart (per queue, per vector, per FIFO).
template <class Self, Bar B, std::uint32_t Word, std::uint32_t StrideWords, std::uint32_t Count>
struct RegisterArray : RegValue<Self> {
  static constexpr Bar kBar = B;
  static constexpr std::uint32_t kCount = Count;
  static constexpr RegAddr<Self> at(std::uint32_t index) {
    if (index >= Count) {
      if (std::is_constant_evaluated()) detail::register_index_out_of_range();
      return {};
    }
    return {word_to_byte(Word + StrideWords * index), true};
  }
};

// A table of Entries x Words registers (TCAMs, RSS tables, mailbox descriptors).
// Entry e, word w sits at Word + WordStride * w + EntryStride * e. In the TCAMs the word
// is the major stride: every entry's word 0 comes first, then every entry's word 1.
template <class Self, Bar B, std::uint32_t Word, std::uint32_t Entries, std::uint32_t Words,
          std::uint32_t WordStride = Entries, std::uint32_t EntryStride = 1>
struct RegisterTable : RegValue<Self> {
  static constexpr Bar kBar = B;
  static constexpr std::uint32_t kEntries = Entries;
  static constexpr std::uint32_t kWords = Words;
  static constexpr RegAddr<Self> at(std::uint32_t entry, std::uint32_t word) {
    if (entry >= Entries || word >= Words) {
      if (std::is_constant_evaluated()) detail::register_index_out_of_range();
      return {};
    }
    return {word_to_byte(Word + WordStride * word + EntryStride * entry), true};
  }
};

// The low half of a 64-bit counter split over two registers; the high half is HighWord.
template <class Self, Bar B, std::uint32_t LowWord, std::uint32_t HighWord = LowWord + 1>
struct Counter64 : Register<Self, B, LowWord> {
  static constexpr std::uint32_t kHighOffset = word_to_byte(HighWord);
  static constexpr Field<31, 0> kValue{};
};

// A plain 32-bit value with no named sub-fields (counters, doorbells, addresses).
template <class Self>
struct WholeValue {
  static constexpr Field<31, 0> kValue{};
};

}  // namespace fbnic::regs
