// Reader: validated views of a TLV message and of the attributes at one level.
// Nothing is copied and nothing outside the given bytes is ever read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "fbnic/base/result.hpp"
#include "fbnic/tlv/diagnostic.hpp"
#include "fbnic/tlv/header.hpp"

namespace fbnic::tlv {

struct MessageView {
  std::uint16_t id = 0;
  std::span<const std::uint8_t> attrs;  // the attributes after the message header
};

struct AttrView {
  std::uint16_t id = 0;
  bool cannot_ignore = false;
  std::span<const std::uint8_t> payload;  // without header or padding
};

// The message at the start of `bytes`; bytes past the header's length are ignored.
inline Result<MessageView> open_message(std::span<const std::uint8_t> bytes,
                                        Diagnostic* diag = nullptr) {
  auto fail = [&](Problem p) {
    if (diag != nullptr) *diag = {p, 0, 0};
    return Result<MessageView>(Error::kBadMessage);
  };
  if (bytes.size() < kHeaderBytes) return fail(Problem::kTruncated);
  const Header h = Header::load(bytes.data());
  if (h.get(Header::kIsMsg) == 0) return fail(Problem::kNotAMessage);
  const std::size_t len = std::size_t{h.get(Header::kLength)} * 4;
  const auto id = static_cast<std::uint16_t>(h.get(Header::kType));
  if (diag != nullptr) diag->message = id;
  if (len < kHeaderBytes) return fail(Problem::kTruncated);
  if (len > kMaxMessageBytes) return fail(Problem::kTooLong);
  if (len > bytes.size()) return fail(Problem::kTruncated);
  return MessageView{id, bytes.subspan(kHeaderBytes, len - kHeaderBytes)};
}

// Walks the attributes of one level. next() returns false at the end or on a malformed
// header; problem() tells which.
class AttrIterator {
 public:
  explicit AttrIterator(std::span<const std::uint8_t> level) : level_(level) {}
  // From the attribute that starts `from` bytes into the level (the end at most), after
  // attributes already walked and found well-formed.
  AttrIterator(std::span<const std::uint8_t> level, std::size_t from) : level_(level), pos_(from) {}

  bool next(AttrView& out) {
    const std::size_t left = level_.size() - pos_;
    if (left >= kHeaderBytes) {
      const Header h = Header::load(&level_[pos_]);
      const std::size_t len = h.get(Header::kLength);
      attr_ = static_cast<std::uint16_t>(h.get(Header::kType));
      // The usual attribute passes in one test: length at least a header's and, padded,
      // within what is left (the level's end rounded down to whole words). A length below
      // a header's wraps around and fails it too. Whatever fails goes to refuse(), which
      // checks in order so that the first problem is the one reported.
      if (h.get(Header::kIsMsg) == 0 &&
          len - kHeaderBytes <= (left & ~std::size_t{3}) - kHeaderBytes) {
        out = {attr_, h.get(Header::kCannotIgnore) != 0,
               level_.subspan(pos_ + kHeaderBytes, len - kHeaderBytes)};
        pos_ += padded(len);
        return true;
      }
    }
    return refuse(left);
  }

  [[nodiscard]] Problem problem() const { return problem_; }
  [[nodiscard]] std::uint16_t attribute() const { return attr_; }

 private:
  // Why the attribute at pos_ was not taken (the end of the level is not a problem).
  bool refuse(std::size_t left) {
    if (left == 0) return false;  // the end, or a problem (stop())
    if (left < kHeaderBytes) return stop(Problem::kTruncated);
    const Header h = Header::load(&level_[pos_]);
    const std::size_t len = h.get(Header::kLength);
    if (h.get(Header::kIsMsg) != 0) return stop(Problem::kAttrIsMessage);
    if (len < kHeaderBytes) return stop(Problem::kBadLength);
    return stop(Problem::kTruncated);  // padded(len) > left
  }

  bool stop(Problem p) {
    problem_ = p;
    pos_ = level_.size();
    return false;
  }

  std::span<const std::uint8_t> level_;
  std::size_t pos_ = 0;
  std::uint16_t attr_ = 0;
  Problem problem_ = Problem::kNone;
};

}  // namespace fbnic::tlv
