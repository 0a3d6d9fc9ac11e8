// The 32-bit header that starts every TLV message and every attribute.
//
// Little-endian on the wire: type in bits 11:0, cannot_ignore in bit 14, is_msg in bit 15,
// length in bits 31:16. A message header's length counts 32-bit words including itself; an
// attribute header's length counts bytes including itself but not the padding that rounds
// the attribute up to a multiple of four.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>

#include "fbnic/base/bitfield.hpp"
#include "fbnic/base/bytes.hpp"

namespace fbnic::tlv {

struct Header : Packed<Header, std::uint32_t> {
  static constexpr BitField<std::uint32_t, 11, 0> kType{};
  static constexpr BitField<std::uint32_t, 14> kCannotIgnore{};
  static constexpr BitField<std::uint32_t, 15> kIsMsg{};
  static constexpr BitField<std::uint32_t, 31, 16> kLength{};

  static Header load(const std::uint8_t* p) { return from_raw(load_le32(p)); }
  // An attribute's header (not a message's) with an ID a host has a slot for (below
  // kAttrSlots): both in one test, for the decoder's usual case.
  [[nodiscard]] constexpr bool is_slotted_attr() const;
  void store(std::uint8_t* p) const { store_le32(p, raw()); }
};

inline constexpr std::size_t kHeaderBytes = 4;
// Firmware assumes messages of at most one 4 KiB page.
inline constexpr std::size_t kMaxMessageBytes = 4096;
// The largest raw-data attribute both sides agree on: a page less 512 bytes.
inline constexpr std::size_t kMaxDataBytes = 3584;
// The host keeps one slot per attribute ID: IDs 32 and above are refused.
inline constexpr std::uint16_t kAttrSlots = 32;

constexpr bool Header::is_slotted_attr() const {
  static_assert(std::has_single_bit(unsigned{kAttrSlots}), "slots are a power of two");
  constexpr std::uint32_t kNotSlotted =
      kIsMsg.kMask | (kType.kMask & ~std::uint32_t{kAttrSlots - 1});
  return (raw() & kNotSlotted) == 0;
}

constexpr std::size_t padded(std::size_t attr_len) { return (attr_len + 3) & ~std::size_t{3}; }

}  // namespace fbnic::tlv
