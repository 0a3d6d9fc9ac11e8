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
// expression and at run time poisons the value or address, which Io then refuses.
#pragma once

#include <cstdint>
#include <type_traits>

#include "fbnic/base/bitfield.hpp"
#include "fbnic/platform/bar.hpp"

namespace fbnic::regs {

// The kernel's register map numbers CSRs as indices of 32-bit words. This is the only
// place that turns a word index into a byte offset.
constexpr std::uint32_t word_to_byte(std::uint32_t word) { return word * 4u; }

// Bits [Hi:Lo] of a 32-bit register.
template <unsigned Hi, unsigned Lo = Hi>
using Field = BitField<std::uint32_t, Hi, Lo>;

template <unsigned N>
using Bit = Field<N, N>;

namespace detail {
// Deliberately not constexpr, like fbnic::detail::field_value_does_not_fit.
inline void register_index_out_of_range() {}
}  // namespace detail

// Where a register lives. An invalid address comes from an out-of-range index.
template <class R>
struct RegAddr {
  std::uint32_t offset = 0;
  bool valid = false;
  static constexpr Bar kBar = R::kBar;
};

// The value of a register: 32 bits with named fields (see base/bitfield.hpp).
template <class Self>
using RegValue = Packed<Self, std::uint32_t>;

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
  // Where the high half of the counter whose low half is at `low` sits.
  static constexpr RegAddr<Self> high(RegAddr<Self> low) { return {kHighOffset, low.valid}; }
};

// Count 64-bit counters split the same way: low halves StrideWords apart, each high half
// HighDeltaWords above its low half.
template <class Self, Bar B, std::uint32_t Word, std::uint32_t StrideWords, std::uint32_t Count,
          std::uint32_t HighDeltaWords>
struct Counter64Array : RegisterArray<Self, B, Word, StrideWords, Count> {
  static constexpr Field<31, 0> kValue{};
  static constexpr RegAddr<Self> high(RegAddr<Self> low) {
    return {low.offset + word_to_byte(HighDeltaWords), low.valid};
  }
};

// A plain 32-bit value with no named sub-fields (counters, doorbells, addresses).
template <class Self>
struct WholeValue {
  static constexpr Field<31, 0> kValue{};
};

// Any word of BAR0 as a whole value. Code that reads many registers of different types
// the same way (the counter readers) goes through this type, so that it is compiled once
// rather than once per register type.
struct CsrWord : RegValue<CsrWord>, WholeValue<CsrWord> {
  static constexpr Bar kBar = Bar::kCsr;
};
// The same for a word whose low 16 bits count (the clear-on-read RS-FEC and PCS halves).
struct CsrCount16 : RegValue<CsrCount16> {
  static constexpr Bar kBar = Bar::kCsr;
  static constexpr Field<15, 0> kCount{};
};
template <class R>
constexpr RegAddr<CsrWord> as_word(RegAddr<R> a) {
  static_assert(R::kBar == Bar::kCsr);
  return {a.offset, a.valid};
}

}  // namespace fbnic::regs
