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

  bool next(AttrView& out) {
    if (pos_ == level_.size()) return false;  // the end, or a problem (stop())
    if (level_.size() - pos_ < kHeaderBytes) return stop(Problem::kTruncated);
    const Header h = Header::load(&level_[pos_]);
    attr_ = static_cast<std::uint16_t>(h.get(Header::kType));
    const std::size_t len = h.get(Header::kLength);
    if (h.get(Header::kIsMsg) != 0) return stop(Problem::kAttrIsMessage);
    if (len < kHeaderBytes) return stop(Problem::kBadLength);
    if (padded(len) > level_.size() - pos_) return stop(Problem::kTruncated);
    out = {attr_, h.get(Header::kCannotIgnore) != 0,
           level_.subspan(pos_ + kHeaderBytes, len - kHeaderBytes)};
    pos_ += padded(len);
    return true;
  }

  [[nodiscard]] Problem problem() const { return problem_; }
  [[nodiscard]] std::uint16_t attribute() const { return attr_; }

 private:
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
