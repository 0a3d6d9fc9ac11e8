// Writer: builds one TLV message in a caller-provided buffer.
//
// Errors are sticky: after the first failure (no room) every call is a no-op and finish()
// reports it, so an encoder can write a whole message and check once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "fbnic/base/bytes.hpp"
#include "fbnic/base/result.hpp"
#include "fbnic/tlv/header.hpp"

namespace fbnic::tlv {

class Writer {
 public:
  explicit Writer(std::span<std::uint8_t> out)
      : out_(out), room_(out.size() < kMaxMessageBytes ? out.size() : kMaxMessageBytes) {}

  void begin_message(std::uint16_t id) {
    len_ = 0;
    room_ = out_.size() < kMaxMessageBytes ? out_.size() : kMaxMessageBytes;
    ok_ = true;
    if (!take(kHeaderBytes)) return;
    Header{}.set(Header::kType, id).set(Header::kIsMsg, 1).store(out_.data());
  }

  // Integers are written little-endian in `width` bytes (4 or 8).
  void put_unsigned(std::uint16_t id, std::uint64_t value, std::size_t width) {
    std::uint8_t b[8];
    store_le64(b, value);
    put(id, b, width);
  }
  void put_signed(std::uint16_t id, std::int64_t value, std::size_t width) {
    put_unsigned(id, static_cast<std::uint64_t>(value), width);  // two's complement, truncated
  }
  void put_flag(std::uint16_t id) { put(id, nullptr, 0); }
  void put_bytes(std::uint16_t id, std::span<const std::uint8_t> bytes) {
    put(id, bytes.data(), bytes.size());
  }
  // The string and its terminating NUL.
  void put_string(std::uint16_t id, const char* chars, std::size_t size) {
    const std::size_t start = len_;
    put(id, reinterpret_cast<const std::uint8_t*>(chars), size + 1);
    if (ok_) out_[start + kHeaderBytes + size] = 0;
  }

  // Children written between begin_nest and end_nest form a nested or array attribute;
  // one left without children is removed, as the firmware expects.
  [[nodiscard]] std::size_t begin_nest(std::uint16_t id) {
    const std::size_t at = len_;
    put(id, nullptr, 0);
    return at;
  }
  void end_nest(std::size_t at) {
    if (!ok_) return;
    const std::size_t bytes = len_ - at;
    if (bytes == kHeaderBytes) {
      len_ = at;
      room_ += kHeaderBytes;
      return;
    }
    Header h = Header::load(&out_[at]);
    h.set(Header::kLength, bytes);
    h.store(&out_[at]);
  }

  // The finished message, with its length (in 32-bit words) in the header.
  [[nodiscard]] Result<std::span<const std::uint8_t>> finish() {
    if (!ok_ || len_ == 0) return Error::kNoMemory;
    Header h = Header::load(out_.data());
    h.set(Header::kLength, len_ / 4);
    h.store(out_.data());
    return std::span<const std::uint8_t>(out_.data(), len_);
  }

  [[nodiscard]] bool ok() const { return ok_; }
  [[nodiscard]] std::size_t size() const { return len_; }

 private:
  // Claims n more bytes of the message, or fails for good (every later call is a no-op).
  bool take(std::size_t n) {
    if (n > room_) {
      ok_ = false;
      room_ = 0;
      return false;
    }
    room_ -= n;
    len_ += n;
    return true;
  }

  void put(std::uint16_t id, const std::uint8_t* payload, std::size_t size) {
    const std::size_t attr_len = kHeaderBytes + size;
    const std::size_t at = len_;
    if (!take(padded(attr_len))) return;
    std::uint8_t* p = &out_[at];
    // The padding: the attribute's last word is cleared, then header and payload cover
    // what is not padding.
    store_le32(p + padded(attr_len) - kHeaderBytes, 0);
    Header{}.set(Header::kType, id).set(Header::kLength, attr_len).store(p);
    if (size != 0) copy_bytes(p + kHeaderBytes, payload, size);
  }

  std::span<std::uint8_t> out_;
  std::size_t room_;  // bytes the message may still grow by: the buffer's and a page's limit
  std::size_t len_ = 0;
  bool ok_ = true;
};

}  // namespace fbnic::tlv
