// Arena: a first-fit allocator over caller-provided memory, for the model's "host RAM".
// Fixed capacity, no heap: usable inside a freestanding image.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "fbnic/base/bytes.hpp"

namespace fbnic::mock {

template <std::size_t MaxBlocks>
class Arena {
 public:
  struct Block {
    std::size_t offset = 0;
    std::size_t size = 0;
  };

  explicit Arena(std::span<std::byte> memory) : memory_(memory) {}

  // Offset of a zeroed block of size bytes whose offset is a multiple of align
  // (a power of two), or npos when no gap fits or the block table is full.
  static constexpr std::size_t npos = ~std::size_t{0};
  std::size_t allocate(std::size_t size, std::size_t align) {
    if (size == 0 || count_ == MaxBlocks || !is_pow2(align)) return npos;
    std::size_t at = 0;
    std::size_t slot = 0;
    for (; slot <= count_; ++slot) {
      const std::size_t start = align_up(at, align);
      const std::size_t gap_end = slot < count_ ? blocks_[slot].offset : memory_.size();
      if (start <= gap_end && gap_end - start >= size) {
        at = start;
        break;
      }
      if (slot < count_) at = blocks_[slot].offset + blocks_[slot].size;
    }
    if (slot > count_) return npos;
    for (std::size_t i = count_; i > slot; --i) blocks_[i] = blocks_[i - 1];
    blocks_[slot] = {at, size};
    ++count_;
    in_use_ += size;
    fill_bytes(memory_.data() + at, 0, size);
    return at;
  }

  bool free(std::size_t offset) {
    for (std::size_t i = 0; i < count_; ++i) {
      if (blocks_[i].offset == offset) {
        in_use_ -= blocks_[i].size;
        for (std::size_t j = i; j + 1 < count_; ++j) blocks_[j] = blocks_[j + 1];
        --count_;
        return true;
      }
    }
    return false;
  }

  [[nodiscard]] std::byte* base() const { return memory_.data(); }
  [[nodiscard]] std::size_t live_blocks() const { return count_; }
  [[nodiscard]] std::size_t bytes_in_use() const { return in_use_; }

 private:
  std::span<std::byte> memory_;
  std::array<Block, MaxBlocks> blocks_{};
  std::size_t count_ = 0;
  std::size_t in_use_ = 0;
};

}  // namespace fbnic::mock
