// Declaring a TLV message once, for both encoding and decoding.
//
// A message is a plain struct; its Schema lists, in wire order, which member is which
// attribute ID. The member's type gives the attribute's kind:
//
//   unsigned integers   unsigned, 4 bytes on the wire (8 for 64-bit members)
//   signed integers     signed, likewise
//   bool                flag: present means true
//   String<N>           string, N bytes at most with the NUL
//   Bytes<Max>          binary, viewed in place
//   MacAddress          binary, exactly 6 bytes
//   Array<T, N>         array of elements with Attr::element as their ID
//   a struct with a Schema   nested
//   std::optional<any of these>   may be absent; absent ones are not sent
//
//   struct HeartbeatResp { std::uint64_t uptime_ms = 0; };
//   template <> struct tlv::Schema<HeartbeatResp> {
//     static constexpr std::uint16_t kId = 0x15;
//     static constexpr auto kAttrs = std::tuple{tlv::Attr<&HeartbeatResp::uptime_ms>{0x0}};
//   };
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <tuple>
#include <type_traits>

#include "fbnic/base/mac_address.hpp"
#include "fbnic/tlv/header.hpp"
#include "fbnic/tlv/values.hpp"

namespace fbnic::tlv {

// Specialize for each message (with kId) or nested attribute set (kId unused).
template <class T>
struct Schema;

template <class T>
concept HasSchema = requires {
  Schema<T>::kAttrs;
};

// Message IDs are 12 bits; a nested attribute set has none.
inline constexpr std::uint16_t kNestedOnly = 0xFFFF;

template <auto Member>
struct Attr {
  std::uint16_t id;
  std::uint16_t element = 0xFFFF;  // arrays only: the ID every element carries
};

template <auto Member>
constexpr auto member_of(const Attr<Member>& /*attr*/) {
  return Member;
}

namespace detail {

template <class M>
struct MemberPointer;
template <class C, class M>
struct MemberPointer<M C::*> {
  using Class = C;
  using Type = M;
};

template <class T>
struct IsOptional : std::false_type {};
template <class T>
struct IsOptional<std::optional<T>> : std::true_type {
  using Inner = T;
};
template <class T>
struct IsString : std::false_type {};
template <std::size_t N>
struct IsString<String<N>> : std::true_type {};
template <class T>
struct IsBytes : std::false_type {};
template <std::size_t N>
struct IsBytes<Bytes<N>> : std::true_type {};
template <class T>
struct IsArray : std::false_type {};
template <class T, std::size_t N>
struct IsArray<Array<T, N>> : std::true_type {
  using Element = T;
};

template <class T>
constexpr bool kIsScalar = std::is_integral_v<T> || IsString<T>::value || IsBytes<T>::value ||
                           std::is_same_v<T, MacAddress>;

template <class T>
constexpr bool kIsAttrType = kIsScalar<T> || IsArray<T>::value || HasSchema<T>;

// IDs must fit the receiver's 32 slots and appear once per level.
template <class T>
consteval bool schema_is_valid() {
  std::uint32_t seen = 0;
  bool ok = true;
  std::apply(
      [&](const auto&... attr) {
        ((ok = ok && attr.id < kAttrSlots && (seen & (1u << attr.id)) == 0,
          seen |= (attr.id < kAttrSlots ? 1u << attr.id : 0u)),
         ...);
      },
      Schema<T>::kAttrs);
  return ok;
}

template <class T>
consteval std::uint32_t known_ids() {
  std::uint32_t mask = 0;
  std::apply([&](const auto&... attr) { ((mask |= 1u << attr.id), ...); }, Schema<T>::kAttrs);
  return mask;
}

}  // namespace detail
}  // namespace fbnic::tlv
