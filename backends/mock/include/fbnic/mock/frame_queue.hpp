// FrameQueue: a FIFO of frames in a fixed byte budget, like the device's packet buffers.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "fbnic/base/bytes.hpp"

namespace fbnic::mock {

template <std::size_t Bytes, std::size_t Frames>
class FrameQueue {
 public:
  // False (and nothing stored) when the frame does not fit.
  bool push(std::span<const std::uint8_t> frame) {
    if (count_ == Frames || frame.size() > Bytes - used_ || frame.empty()) return false;
    Rec& r = recs_[(first_ + count_) % Frames];
    r.at = (start_ + used_) % Bytes;
    r.len = static_cast<std::uint32_t>(frame.size());
    const std::size_t first_part = Bytes - r.at < frame.size() ? Bytes - r.at : frame.size();
    copy_bytes(&data_[r.at], frame.data(), first_part);
    copy_bytes(&data_[0], frame.data() + first_part, frame.size() - first_part);
    used_ += frame.size();
    ++count_;
    return true;
  }

  [[nodiscard]] bool empty() const { return count_ == 0; }
  [[nodiscard]] std::size_t size() const { return count_; }
  [[nodiscard]] std::size_t bytes_used() const { return used_; }

  // Copies the oldest frame into out; returns its length (0 when empty or out too small).
  std::size_t front(std::span<std::uint8_t> out) const {
    if (count_ == 0) return 0;
    const Rec& r = recs_[first_];
    if (r.len > out.size()) return 0;
    const std::size_t first_part = Bytes - r.at < r.len ? Bytes - r.at : r.len;
    copy_bytes(out.data(), &data_[r.at], first_part);
    copy_bytes(out.data() + first_part, &data_[0], r.len - first_part);
    return r.len;
  }
  void pop() {
    if (count_ == 0) return;
    const Rec& r = recs_[first_];
    start_ = (start_ + r.len) % Bytes;
    used_ -= r.len;
    first_ = (first_ + 1) % Frames;
    --count_;
  }
  void clear() {
    first_ = count_ = 0;
    start_ = used_ = 0;
  }

 private:
  struct Rec {
    std::size_t at = 0;
    std::uint32_t len = 0;
  };
  std::array<std::uint8_t, Bytes> data_{};
  std::array<Rec, Frames> recs_{};
  std::size_t first_ = 0;
  std::size_t count_ = 0;
  std::size_t start_ = 0;  // byte offset of the oldest frame
  std::size_t used_ = 0;
};

}  // namespace fbnic::mock
