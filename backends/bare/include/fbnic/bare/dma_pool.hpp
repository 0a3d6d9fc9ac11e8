// DmaPool: DMA memory carved out of one caller-provided region, with a free list so that
// dma_free gives memory back (a driver stopped and started again reuses it).
//
// The free list is a table of free extents, sorted by offset and merged with their
// neighbours on free. Free extents are separated by live blocks, so there are never more
// than live blocks + 1 of them: refusing the (MaxBlocks + 1)-th live block is what bounds
// the table, and a free never finds it full. Live blocks are kept in a table too, so that
// only a buffer exactly as dma_alloc returned it can be freed: a part of a block, a wrong
// size or a second free is refused and counted, never merged into the free list.
//
// Device addresses are the CPU addresses (identity: firmware with paging off or identity
// mapped, no IOMMU), or what the caller's translate callback says (an IOMMU mapping, a
// bus offset, a device model's DMA space). Alignment is applied to CPU addresses and checked
// on device addresses, so translate must preserve the low bits (page-granular mappings do).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "fbnic/base/bytes.hpp"
#include "fbnic/base/result.hpp"
#include "fbnic/platform/dma.hpp"

namespace fbnic::bare {

// The device address of CPU address cpu; fn == nullptr means identity.
struct Translate {
  std::uint64_t (*fn)(void* ctx, const void* cpu) = nullptr;
  void* ctx = nullptr;

  [[nodiscard]] std::uint64_t operator()(const void* cpu) const {
    return fn != nullptr ? fn(ctx, cpu) : reinterpret_cast<std::uintptr_t>(cpu);
  }
};

template <std::size_t MaxBlocks = 64>
class DmaPool {
  static_assert(MaxBlocks >= 1);

 public:
  // Every block is a whole number of cache lines, so no two buffers share one.
  static constexpr std::size_t kGranule = 64;

  constexpr DmaPool() = default;
  explicit DmaPool(std::span<std::byte> memory, Translate translate = {})
      : memory_(memory), translate_(translate) {
    if (!memory.empty()) free_[free_count_++] = {0, memory.size()};
  }

  // Zeroed memory of at least size bytes at a device address aligned to align (a power
  // of two): first fit, lowest address.
  Result<DmaBuffer> dma_alloc(std::size_t size, std::size_t align) {
    if (size == 0 || size > kMaxSize || !is_pow2(align) || align > kMaxSize) {
      return Error::kInvalidArgument;
    }
    if (live_ == MaxBlocks) return Error::kNoMemory;
    size = align_up(size, kGranule);
    if (align < kGranule) align = kGranule;
    const std::uintptr_t base = reinterpret_cast<std::uintptr_t>(memory_.data());
    for (std::size_t i = 0; i < free_count_; ++i) {
      const Extent e = free_[i];
      const std::size_t at = align_up(base + e.offset, align) - base;
      if (at < e.offset || at - e.offset > e.size || e.size - (at - e.offset) < size) continue;
      std::byte* cpu = memory_.data() + at;
      const std::uint64_t device = translate_(cpu);
      if ((device & (align - 1)) != 0) return Error::kInvalidArgument;  // translate broke it
      take(i, at, size);
      fill_bytes(cpu, 0, size);
      return DmaBuffer{cpu, device, size, 0};
    }
    return Error::kNoMemory;
  }

  // Ignores (and counts) a buffer that is not a live block of this pool.
  void dma_free(const DmaBuffer& buffer) {
    const auto cpu = reinterpret_cast<std::uintptr_t>(buffer.cpu);
    const auto base = reinterpret_cast<std::uintptr_t>(memory_.data());
    std::size_t i = 0;
    while (i < live_ &&
           !(base + live_blocks_[i].offset == cpu && live_blocks_[i].size == buffer.size)) {
      ++i;
    }
    if (!buffer.valid() || i == live_ || !give(live_blocks_[i].offset, live_blocks_[i].size)) {
      ++bad_frees_;
      return;
    }
    live_blocks_[i] = live_blocks_[--live_];
  }

  [[nodiscard]] std::size_t live_blocks() const { return live_; }
  [[nodiscard]] std::size_t bytes_free() const {
    std::size_t n = 0;
    for (std::size_t i = 0; i < free_count_; ++i) n += free_[i].size;
    return n;
  }
  [[nodiscard]] std::size_t bad_frees() const { return bad_frees_; }
  [[nodiscard]] std::span<std::byte> memory() const { return memory_; }

 private:
  struct Extent {
    std::size_t offset = 0;
    std::size_t size = 0;
  };

  // Larger sizes or alignments would wrap in the rounding below.
  static constexpr std::size_t kMaxSize = std::size_t{1} << (sizeof(std::size_t) * 8 - 2);

  // Cuts [at, at + size) out of free extent i: what is left before and after stays free.
  void take(std::size_t i, std::size_t at, std::size_t size) {
    const Extent e = free_[i];
    const Extent before{e.offset, at - e.offset};
    const Extent after{at + size, e.offset + e.size - (at + size)};
    if (before.size != 0 && after.size != 0) {
      for (std::size_t j = free_count_; j > i + 1; --j) free_[j] = free_[j - 1];
      free_[i] = before;
      free_[i + 1] = after;
      ++free_count_;
    } else if (before.size != 0 || after.size != 0) {
      free_[i] = before.size != 0 ? before : after;
    } else {
      for (std::size_t j = i; j + 1 < free_count_; ++j) free_[j] = free_[j + 1];
      --free_count_;
    }
    live_blocks_[live_++] = {at, size};
  }

  // Returns [offset, offset + size) to the free list, merged with its neighbours. False if
  // any of it is already free (a double or a wrong free).
  bool give(std::size_t offset, std::size_t size) {
    std::size_t i = 0;  // the first free extent after the block
    while (i < free_count_ && free_[i].offset < offset) ++i;
    const bool merge_prev = i > 0 && free_[i - 1].offset + free_[i - 1].size == offset;
    const bool merge_next = i < free_count_ && offset + size == free_[i].offset;
    if (i > 0 && free_[i - 1].offset + free_[i - 1].size > offset) return false;
    if (i < free_count_ && offset + size > free_[i].offset) return false;
    if (merge_prev && merge_next) {
      free_[i - 1].size += size + free_[i].size;
      for (std::size_t j = i; j + 1 < free_count_; ++j) free_[j] = free_[j + 1];
      --free_count_;
    } else if (merge_prev) {
      free_[i - 1].size += size;
    } else if (merge_next) {
      free_[i] = {offset, size + free_[i].size};
    } else {
      for (std::size_t j = free_count_; j > i; --j) free_[j] = free_[j - 1];
      free_[i] = {offset, size};
      ++free_count_;
    }
    return true;
  }

  std::span<std::byte> memory_{};
  Translate translate_{};
  std::array<Extent, MaxBlocks + 1> free_{};
  std::array<Extent, MaxBlocks> live_blocks_{};
  std::size_t free_count_ = 0;
  std::size_t live_ = 0;
  std::size_t bad_frees_ = 0;
};

}  // namespace fbnic::bare
