// Named bit fields of a packed word: the one mechanism behind register values (32 bits)
// and descriptor layouts (64 bits).
//
//   struct Twd : Packed<Twd, std::uint64_t> { static constexpr BitField<std::uint64_t, 47, 46>
//   kType{}; }; auto d = Twd{}.set(Twd::kType, 3);
//
// A field's range is checked where it is declared. A value too wide for its field is a
// compile error during constant evaluation; at run time it is masked and the value
// remembers (fits() == false) so that whoever writes it to the device can refuse it.
#pragma once

#include <concepts>
#include <cstdint>
#include <limits>
#include <type_traits>

namespace fbnic {

template <std::unsigned_integral W, unsigned Hi, unsigned Lo = Hi>
struct BitField {
  static_assert(Hi < std::numeric_limits<W>::digits, "a field must lie within its word");
  static_assert(Lo <= Hi, "a field's high bit must not be below its low bit");
  static constexpr unsigned kHi = Hi;
  static constexpr unsigned kLo = Lo;
  static constexpr unsigned kWidth = Hi - Lo + 1;
  static constexpr W kMax = kWidth == std::numeric_limits<W>::digits
                                ? std::numeric_limits<W>::max()
                                : static_cast<W>((W{1} << kWidth) - 1u);
  static constexpr W kMask = static_cast<W>(kMax << Lo);

  // The value in the field's bits of a word, for a value the caller has checked fits:
  // bits beyond the field are dropped, and nothing records it (Packed::set does).
  static constexpr W place(std::uint64_t value) { return static_cast<W>((value & kMax) << Lo); }
};

namespace detail {
// Deliberately not constexpr: reaching one during constant evaluation is a compile error
// whose message names the function.
inline void field_value_does_not_fit() {}
}  // namespace detail

// A packed word with named fields. Self derives from it and declares the fields.
template <class Self, std::unsigned_integral W>
class Packed {
 public:
  using Word = W;

  constexpr Packed() = default;

  static constexpr Self from_raw(W raw) {
    Self s;
    s.raw_ = raw;
    return s;
  }

  [[nodiscard]] constexpr W raw() const { return raw_; }
  [[nodiscard]] constexpr bool fits() const { return !overflow_; }

  template <unsigned Hi, unsigned Lo>
  [[nodiscard]] constexpr W get(BitField<W, Hi, Lo> /*field*/) const {
    return static_cast<W>((raw_ & BitField<W, Hi, Lo>::kMask) >> Lo);
  }

  template <unsigned Hi, unsigned Lo>
  constexpr Self& set(BitField<W, Hi, Lo> /*field*/, std::uint64_t value) {
    using F = BitField<W, Hi, Lo>;
    if (value > F::kMax) {
      if (std::is_constant_evaluated()) detail::field_value_does_not_fit();
      overflow_ = true;
      value &= F::kMax;
    }
    raw_ = static_cast<W>((raw_ & static_cast<W>(~F::kMask)) | (static_cast<W>(value) << Lo));
    return static_cast<Self&>(*this);
  }

  template <unsigned Hi, unsigned Lo>
  constexpr Self& set_all(BitField<W, Hi, Lo> f) {
    return set(f, BitField<W, Hi, Lo>::kMax);
  }

  friend constexpr bool operator==(const Packed& a, const Packed& b) { return a.raw_ == b.raw_; }

 private:
  W raw_ = 0;
  bool overflow_ = false;
};

}  // namespace fbnic
