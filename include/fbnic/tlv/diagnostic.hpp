// Why a TLV message was refused, for logs and tests; the Status says kBadMessage.
#pragma once

#include <cstdint>

namespace fbnic::tlv {

enum class Problem : std::uint8_t {
  kNone,
  kTruncated,        // shorter than its headers say
  kNotAMessage,      // the first header lacks is_msg
  kWrongMessage,     // a different message ID than the one being decoded
  kTooLong,          // message longer than a page, or than the buffer it came in
  kAttrIsMessage,    // an attribute header with is_msg set
  kAttrIdTooLarge,   // attribute ID 32 or above
  kDuplicate,        // a known attribute twice at one level
  kUnknownRequired,  // an unknown attribute marked cannot_ignore
  kBadLength,        // a payload length the attribute's kind does not allow
  kBadString,        // a string without its terminating NUL
  kBadArrayElement,  // an array element with the wrong ID
  kTooManyElements,  // more array elements than the receiver has room for
  kValueTooLarge,    // an integer wider than the field that receives it
  kNoRoom,           // (encoding) the output buffer is too small
};

constexpr const char* problem_name(Problem p) {
  switch (p) {
    case Problem::kNone: return "none";
    case Problem::kTruncated: return "truncated";
    case Problem::kNotAMessage: return "not a message header";
    case Problem::kWrongMessage: return "unexpected message id";
    case Problem::kTooLong: return "message too long";
    case Problem::kAttrIsMessage: return "attribute marked as message";
    case Problem::kAttrIdTooLarge: return "attribute id too large";
    case Problem::kDuplicate: return "duplicate attribute";
    case Problem::kUnknownRequired: return "unknown attribute that cannot be ignored";
    case Problem::kBadLength: return "bad attribute length";
    case Problem::kBadString: return "string not NUL-terminated";
    case Problem::kBadArrayElement: return "array element with wrong id";
    case Problem::kTooManyElements: return "too many array elements";
    case Problem::kValueTooLarge: return "value too large for its field";
    case Problem::kNoRoom: return "no room in output buffer";
  }
  return "?";
}

struct Diagnostic {
  Problem problem = Problem::kNone;
  std::uint16_t message = 0;    // message ID, when known
  std::uint16_t attribute = 0;  // attribute ID, when the problem is in one
};

}  // namespace fbnic::tlv
