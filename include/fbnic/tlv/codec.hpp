// encode() and decode(): a message struct to bytes and back, driven by its Schema.
//
// Decoding follows the rules the firmware and the upstream driver share: attribute IDs
// below 32; an unknown attribute is skipped unless marked cannot_ignore; a known one may
// appear once per level; integers no wider than their field; strings NUL-terminated
// within their maximum; arrays of one element ID and no more elements than room.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <tuple>
#include <type_traits>

#include "fbnic/base/bytes.hpp"
#include "fbnic/base/result.hpp"
#include "fbnic/tlv/diagnostic.hpp"
#include "fbnic/tlv/reader.hpp"
#include "fbnic/tlv/schema.hpp"
#include "fbnic/tlv/writer.hpp"

namespace fbnic::tlv {
namespace detail {

// --- encoding ---

template <class M>
void put_value(Writer& w, std::uint16_t id, std::uint16_t element, const M& v);

template <auto Member, class T>
void put_member(Writer& w, const Attr<Member>& attr, const T& msg) {
  put_value(w, attr.id, attr.element, msg.*Member);
}

template <class T>
void put_attrs(Writer& w, const T& msg) {
  static_assert(schema_is_valid<T>(), "attribute IDs must be below 32 and unique");
  std::apply([&](const auto&... attr) { (put_member(w, attr, msg), ...); }, Schema<T>::kAttrs);
}

template <class M>
void put_value(Writer& w, std::uint16_t id, std::uint16_t element, const M& v) {
  if constexpr (IsOptional<M>::value) {
    if (v.has_value()) put_value(w, id, element, *v);
  } else if constexpr (std::is_same_v<M, bool>) {
    if (v) w.put_flag(id);
  } else if constexpr (std::is_unsigned_v<M>) {
    w.put_unsigned(id, v, sizeof(M) > 4 ? 8 : 4);
  } else if constexpr (std::is_signed_v<M> && std::is_integral_v<M>) {
    w.put_signed(id, v, sizeof(M) > 4 ? 8 : 4);
  } else if constexpr (IsString<M>::value) {
    w.put_string(id, v.chars.data(), v.size);
  } else if constexpr (IsBytes<M>::value) {
    if (!v.empty()) w.put_bytes(id, v.data);
  } else if constexpr (std::is_same_v<M, MacAddress>) {
    w.put_bytes(id, v.bytes);
  } else if constexpr (IsArray<M>::value) {
    const std::size_t at = w.begin_nest(id);
    for (const auto& item : v.view()) put_value(w, element, 0xFFFF, item);
    w.end_nest(at);
  } else {
    static_assert(HasSchema<M>, "member type has no TLV kind");
    const std::size_t at = w.begin_nest(id);
    put_attrs(w, v);
    w.end_nest(at);
  }
}

// --- decoding ---

struct Failure {
  Diagnostic* diag;
  Status operator()(Problem p, std::uint16_t attr) const {
    if (diag != nullptr) {
      diag->problem = p;
      diag->attribute = attr;
    }
    return Error::kBadMessage;
  }
};

// An integer payload of 1 to 8 bytes, little-endian.
inline std::uint64_t load_le_n(std::span<const std::uint8_t> b) {
  if (b.size() == 4) return load_le32(b.data());
  if (b.size() == 8) return load_le64(b.data());
  std::uint64_t v = 0;
  for (std::size_t i = b.size(); i-- > 0;) v = (v << 8) | b[i];
  return v;
}

// Copies the string in `p`, whose last byte is a NUL, up to its first NUL into `dst`, which
// is all zeros and has room for p.size() bytes; returns the string's length. Eight bytes at
// a time while eight remain and without a call: byte by byte, or through strlen and
// memcpy, a commit string cost more than the rest of its attribute. In a little-endian
// word w, the lowest byte flagged by (w - 0x01..01) & ~w & 0x80..80 is its first zero byte
// (flags above it can be false ones, from the borrow).
inline std::size_t copy_string(char* dst, std::span<const std::uint8_t> p) {
  constexpr std::uint64_t kOnes = 0x0101010101010101;
  constexpr std::uint64_t kHighs = 0x8080808080808080;
  std::size_t i = 0;
  for (; p.size() - i >= 8; i += 8) {
    const std::uint64_t w = load_le64(&p[i]);
    const std::uint64_t zeros = (w - kOnes) & ~w & kHighs;
    if (zeros != 0) {
      const auto chars = static_cast<unsigned>(std::countr_zero(zeros)) / 8;  // before the NUL
      store_le64(dst + i, w & ((std::uint64_t{1} << (8 * chars)) - 1));
      return i + chars;
    }
    store_le64(dst + i, w);
  }
  for (; p[i] != 0; ++i) dst[i] = static_cast<char>(p[i]);  // ends at p.back() at the latest
  return i;
}

// Takes an array of MAC addresses in the form every sender uses: each element a header of
// exactly (element ID, a 6-byte payload, no flags) and its padded payload, and no more of
// them than `out` has room for. The general walk took 38 instructions per element; this
// one compare. Returns false, with `out` untouched, for anything else (a flag, another ID
// or length, too many elements, a short tail): the general walk then decodes it or tells
// what is wrong, as it did before.
template <std::size_t N>
bool get_usual_macs(std::span<const std::uint8_t> p, std::uint16_t element,
                    Array<MacAddress, N>& out) {
  constexpr std::size_t kPayload = MacAddress{}.bytes.size();
  constexpr std::size_t kStride = padded(kHeaderBytes + kPayload);
  Header usual{};
  usual.set(Header::kType, element).set(Header::kLength, kHeaderBytes + kPayload);
  if (!usual.fits()) return false;  // no header carries this element ID
  const std::size_t n = p.size() / kStride;
  if (n * kStride != p.size() || n > N) return false;
  for (std::size_t i = 0; i < n; ++i) {
    if (load_le32(&p[i * kStride]) != usual.raw()) return false;
  }
  for (std::size_t i = 0; i < n; ++i) {
    copy_bytes(out.items[i].bytes.data(), &p[i * kStride + kHeaderBytes], kPayload);
  }
  out.count = n;
  return true;
}

template <class T>
Status get_attrs(std::span<const std::uint8_t> level, T& out, const Failure& fail);

template <class M>
Status get_value(std::span<const std::uint8_t> p, std::uint16_t id, std::uint16_t element, M& out,
                 const Failure& fail);

// An array's elements, one by one. Out of line: the registers and checks it needs then
// stay out of get_usual_macs()'s way.
template <class A>
[[gnu::noinline]] Status get_elements(std::span<const std::uint8_t> p, std::uint16_t id,
                                      std::uint16_t element, A& out, const Failure& fail) {
  AttrIterator it(p);
  AttrView a;
  while (it.next(a)) {
    if (a.id != element) return fail(Problem::kBadArrayElement, a.id);
    if (out.count == A::kCapacity) return fail(Problem::kTooManyElements, id);
    FBNIC_TRY(get_value(a.payload, a.id, 0xFFFF, out.items[out.count], fail));
    ++out.count;
  }
  if (it.problem() != Problem::kNone) return fail(it.problem(), it.attribute());
  return ok_status();
}

// Decodes one attribute's payload into `out`, which is always still default-initialized
// (Fresh): decode() starts from a value-initialized message, array elements and nested
// members are parts of it, and a level takes each attribute once (a second is refused as a
// duplicate). So nothing is cleared before it is filled.
template <class M>
Status get_value(std::span<const std::uint8_t> p, std::uint16_t id, std::uint16_t element, M& out,
                 const Failure& fail) {
  if constexpr (IsOptional<M>::value) {
    typename IsOptional<M>::Inner inner{};
    FBNIC_TRY(get_value(p, id, element, inner, fail));
    out = inner;
  } else if constexpr (std::is_same_v<M, bool>) {
    if (!p.empty()) return fail(Problem::kBadLength, id);
    out = true;
  } else if constexpr (std::is_integral_v<M>) {
    constexpr std::size_t width = sizeof(M) > 4 ? 8 : 4;
    // The usual payload is the field's full width: tested first, one compare lets it by.
    std::uint64_t raw = 0;
    if (p.size() == width) {
      raw = width == 4 ? load_le32(p.data()) : load_le64(p.data());
    } else {
      if (p.empty() || p.size() > width) return fail(Problem::kBadLength, id);
      raw = load_le_n(p);
    }
    if constexpr (std::is_unsigned_v<M>) {
      if (raw > static_cast<std::uint64_t>(static_cast<M>(~M{0}))) {
        return fail(Problem::kValueTooLarge, id);
      }
      out = static_cast<M>(raw);
    } else {
      // Sign-extend from the payload's width, then check the value fits M.
      const unsigned shift = static_cast<unsigned>(64 - 8 * p.size());
      const auto wide = static_cast<std::int64_t>(raw << shift) >> shift;
      using Limits = std::numeric_limits<M>;
      if (wide < Limits::min() || wide > Limits::max()) return fail(Problem::kValueTooLarge, id);
      out = static_cast<M>(wide);
    }
  } else if constexpr (IsString<M>::value) {
    if (p.empty() || p.size() > M::kMaxWire) return fail(Problem::kBadLength, id);
    if (p.back() != 0) return fail(Problem::kBadString, id);
    out.size = copy_string(out.chars.data(), p);  // into zeros (see Fresh)
  } else if constexpr (IsBytes<M>::value) {
    if (p.empty() || p.size() > M::kMaxWire) return fail(Problem::kBadLength, id);
    out.data = p;
  } else if constexpr (std::is_same_v<M, MacAddress>) {
    if (p.size() != out.bytes.size()) return fail(Problem::kBadLength, id);
    copy_bytes(out.bytes.data(), p.data(), out.bytes.size());
  } else if constexpr (IsArray<M>::value) {
    if constexpr (std::is_same_v<typename IsArray<M>::Element, MacAddress>) {
      if (get_usual_macs(p, element, out)) return ok_status();
    }
    return get_elements(p, id, element, out, fail);
  } else {
    static_assert(HasSchema<M>, "member type has no TLV kind");
    FBNIC_TRY(get_attrs(p, out, fail));
  }
  return ok_status();
}

// Where in T's schema the attribute with ID Id is (the schema's size if nowhere).
template <class T, std::size_t Id>
consteval std::size_t index_of() {
  std::size_t at = 0;
  std::size_t found = std::tuple_size_v<std::remove_cvref_t<decltype(Schema<T>::kAttrs)>>;
  std::apply([&](const auto&... attr) { ((found = attr.id == Id ? at : found, ++at), ...); },
             Schema<T>::kAttrs);
  return found;
}

// How one attribute is decoded into the struct of its level, whichever struct that is.
using GetAttr = Status (*)(std::span<const std::uint8_t> payload, void* out, const Failure& fail);

// Decodes the attribute with ID Id into its member of the T at `out` (nothing, if T has
// none with that ID). The member is found at compile time: a search by recursion left the
// compiler a chain of calls, one per attribute before it, for IDs late in the schema.
template <class T, std::size_t Id>
Status get_id(std::span<const std::uint8_t> payload, void* out, const Failure& fail) {
  constexpr auto& attrs = Schema<T>::kAttrs;
  constexpr std::size_t i = index_of<T, Id>();
  if constexpr (i == std::tuple_size_v<std::remove_cvref_t<decltype(attrs)>>) {
    return ok_status();
  } else {
    constexpr auto attr = std::get<i>(attrs);
    return get_value(payload, attr.id, attr.element, static_cast<T*>(out)->*member_of(attr), fail);
  }
}

template <class T, std::size_t... Id>
constexpr auto id_table(std::index_sequence<Id...> /*ids*/) {
  return std::array<GetAttr, sizeof...(Id)>{&get_id<T, Id>...};
}

// One pass over a level: each attribute is checked (ID, duplicates, unknown ones) and
// decoded into its member of `out` as it comes, by get[ID]. `known` has a bit for each
// ID that has an entry in `get`. One function for every schema, not a template: the UEFI
// driver has room for one copy of this walk, not one per message.
inline Status get_level(std::span<const std::uint8_t> level, void* out, std::uint32_t known,
                        const GetAttr* get, const Failure& fail) {
  // Known IDs not seen yet at this level.
  std::uint32_t pending = known;

  // The usual attribute (a well-formed header, a known ID not seen yet) passes the tests
  // below, one per property and no more; the first that does not is handed, with the rest
  // of the level, to the general walk after this loop, which checks everything in the
  // order it always did and so reports the same problem. A level that is not whole words
  // can only end badly: the general walk takes all of it, as it knows which attribute
  // came last (the Diagnostic names it).
  std::size_t pos = 0;
  const std::size_t usual_end = level.size() % 4 == 0 ? level.size() : 0;
  while (pos < usual_end) {
    const Header h = Header::load(&level[pos]);
    const std::size_t len = h.get(Header::kLength);
    const std::uint32_t id = h.get(Header::kType);
    // As in AttrIterator::next(): a length below a header's wraps around and fails.
    if (!h.is_slotted_attr() || ((pending >> id) & 1) == 0 ||
        len - kHeaderBytes > usual_end - pos - kHeaderBytes) {
      break;
    }
    pending ^= 1u << id;
    FBNIC_TRY(get[id]({&level[pos + kHeaderBytes], len - kHeaderBytes}, out, fail));
    pos += padded(len);
  }
  if (pos == level.size()) return ok_status();  // all of it usual

  AttrIterator it(level, pos);
  AttrView a;
  while (it.next(a)) {
    const std::uint32_t bit = a.id < kAttrSlots ? 1u << a.id : 0;
    if ((pending & bit) == 0) {  // too large, unknown, or known and seen already
      if (a.id >= kAttrSlots) return fail(Problem::kAttrIdTooLarge, a.id);
      if ((known & bit) != 0) return fail(Problem::kDuplicate, a.id);
      if (a.cannot_ignore) return fail(Problem::kUnknownRequired, a.id);
      continue;
    }
    pending &= ~bit;
    FBNIC_TRY(get[a.id](a.payload, out, fail));
  }
  if (it.problem() != Problem::kNone) return fail(it.problem(), it.attribute());
  return ok_status();
}

template <class T>
Status get_attrs(std::span<const std::uint8_t> level, T& out, const Failure& fail) {
  static_assert(schema_is_valid<T>(), "attribute IDs must be below 32 and unique");
  constexpr std::uint32_t known = known_ids<T>();
  // As long as the highest known ID: get_level() turns away every other one first.
  static constexpr auto kGet = id_table<T>(std::make_index_sequence<std::bit_width(known)>{});
  return get_level(level, &out, known, kGet.data(), fail);
}

}  // namespace detail

// The message's bytes, written into `out` (one page at most).
template <HasSchema T>
Result<std::span<const std::uint8_t>> encode(const T& msg, std::span<std::uint8_t> out) {
  static_assert(Schema<T>::kId != kNestedOnly, "only messages can be encoded on their own");
  Writer w(out);
  w.begin_message(Schema<T>::kId);
  detail::put_attrs(w, msg);
  return w.finish();
}

// The message in `bytes`, which must be a T. Views (Bytes) point into `bytes`.
template <HasSchema T>
Result<T> decode(std::span<const std::uint8_t> bytes, Diagnostic* diag = nullptr) {
  static_assert(Schema<T>::kId != kNestedOnly, "only messages can be decoded on their own");
  // Decoded in place: the one object returned on every path.
  Result<T> out(std::in_place);
  const detail::Failure fail{diag};
  Status status;
  if (const Result<MessageView> view = open_message(bytes, diag); !view.ok()) {
    status = view.status();
  } else if (view->id != Schema<T>::kId) {
    status = fail(Problem::kWrongMessage, 0);
  } else {
    status = detail::get_attrs(view->attrs, *out, fail);
  }
  if (!status.ok()) out = status;
  return out;
}

// The ID of the message in `bytes`, for dispatch before decoding.
inline Result<std::uint16_t> message_id(std::span<const std::uint8_t> bytes,
                                        Diagnostic* diag = nullptr) {
  FBNIC_TRY_ASSIGN(const MessageView view, open_message(bytes, diag));
  return view.id;
}

}  // namespace fbnic::tlv
