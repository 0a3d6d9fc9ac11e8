// BufferPool: packet memory. A fixed number of equal buffers carved from one DMA
// allocation, handed out and taken back in bulk.
//
// The usual use is Tx: take buffers, write frames, send them with the buffer's index as the
// packet's cookie, and free by cookie from the reclaim callback:
//
//   fbnic::BufferPool<1024> pool;
//   FBNIC_TRY(pool.init(memory, 2048));                 // memory: one DmaBuffer, 2 MiB
//   std::array<fbnic::PoolBuffer, 32> b;
//   const std::uint32_t n = pool.alloc(b);               // up to 32, fewer when short
//   ... fill b[i].data, send {b[i].dma, len} with cookie b[i].index ...
//   tx.reclaim([&](std::uint64_t cookie) { pool.free(cookie).ignore(); });
//
// Received frames need no pool: RxQueue hands out views into its own pages, and a frame
// forwarded without a copy keeps its page (RxQueue::retain/dma/release of a fragment).
//
// Heap-free and platform-free, so firmware gets it too: the caller owns the memory (one
// dma_alloc, a UEFI AllocateBuffer, a bare-metal carve-out) and frees it after the pool.
// Every buffer's state is tracked, so freeing one twice, or an index the pool never gave
// out, is refused (kFailedPrecondition, kOutOfRange) and counted, never corrupts the pool.
// Not thread-safe: one thread allocates and frees (the one reclaiming Tx completions).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <type_traits>

#include "fbnic/base/bytes.hpp"
#include "fbnic/base/result.hpp"
#include "fbnic/base/status.hpp"
#include "fbnic/platform/dma.hpp"

namespace fbnic {

struct PoolBuffer {
  std::uint8_t* data = nullptr;
  std::uint64_t dma = 0;    // device address
  std::uint32_t index = 0;  // names the buffer to free(); fits a Tx cookie
};

struct BufferPoolCounters {
  std::uint64_t allocated = 0;
  std::uint64_t freed = 0;
  std::uint64_t short_allocs = 0;  // alloc calls that got fewer buffers than asked for
  std::uint64_t bad_frees = 0;     // double frees and foreign indexes, refused
};

template <std::uint32_t Capacity>
class BufferPool {
  static_assert(Capacity >= 1 && Capacity <= (1u << 24), "1 to 2^24 buffers");
  using Index = std::conditional_t<(Capacity <= 65536), std::uint16_t, std::uint32_t>;

 public:
  static constexpr std::uint32_t kCapacity = Capacity;

  // Carves min(Capacity, memory.size / stride) buffers of buffer_bytes from memory, each
  // starting on a multiple of align (a power of two) from memory's device address; all
  // free. kInvalidArgument for empty memory, a zero size, a bad alignment or memory
  // too small for one buffer.
  Status init(const DmaBuffer& memory, std::uint32_t buffer_bytes, std::uint32_t align = 64) {
    if (!memory.valid() || buffer_bytes == 0 || !is_pow2(align) || memory.device % align != 0) {
      return Error::kInvalidArgument;
    }
    const std::uint64_t stride =
        (std::uint64_t{buffer_bytes} + align - 1) & ~std::uint64_t{align - 1};
    const std::uint64_t fit = memory.size / stride;
    if (fit == 0) return Error::kInvalidArgument;
    memory_ = memory;
    bytes_ = buffer_bytes;
    stride_ = stride;
    count_ = fit < Capacity ? static_cast<std::uint32_t>(fit) : Capacity;
    free_count_ = 0;
    for (std::uint32_t i = count_; i-- > 0;) {
      free_[free_count_++] = static_cast<Index>(i);
      in_use_[i] = false;
    }
    counters_ = {};
    return ok_status();
  }

  [[nodiscard]] std::uint32_t count() const { return count_; }
  [[nodiscard]] std::uint32_t available() const { return free_count_; }
  [[nodiscard]] std::uint32_t in_use() const { return count_ - free_count_; }
  [[nodiscard]] std::uint32_t buffer_bytes() const { return bytes_; }
  [[nodiscard]] const BufferPoolCounters& counters() const { return counters_; }

  // Fills out from the front with free buffers; returns how many (0 when none is free).
  std::uint32_t alloc(std::span<PoolBuffer> out) {
    std::uint32_t n = 0;
    while (n < out.size() && free_count_ != 0) {
      const std::uint32_t i = free_[--free_count_];
      in_use_[i] = true;
      out[n++] = at(i);
    }
    counters_.allocated += n;
    if (n < out.size()) ++counters_.short_allocs;
    return n;
  }

  // A free buffer, or kNoMemory when none is left.
  Result<PoolBuffer> alloc() {
    PoolBuffer b;
    if (alloc(std::span(&b, 1)) == 0) return Error::kNoMemory;
    return b;
  }

  // Takes back buffer `index` (a PoolBuffer::index, or the Tx cookie it was sent with).
  Status free(std::uint64_t index) {
    if (index >= count_) {
      ++counters_.bad_frees;
      return Error::kOutOfRange;
    }
    if (!in_use_[index]) {
      ++counters_.bad_frees;
      return Error::kFailedPrecondition;
    }
    in_use_[index] = false;
    free_[free_count_++] = static_cast<Index>(index);
    ++counters_.freed;
    return ok_status();
  }
  // Takes back each of them; returns how many were taken (the others are counted refusals).
  std::uint32_t free(std::span<const PoolBuffer> buffers) {
    std::uint32_t n = 0;
    for (const PoolBuffer& b : buffers) n += free(b.index).ok() ? 1 : 0;
    return n;
  }

  // Buffer `index` whether free or not (indexes past count() give an empty one).
  [[nodiscard]] PoolBuffer at(std::uint32_t index) const {
    if (index >= count_) return {};
    return {static_cast<std::uint8_t*>(memory_.cpu) + std::uint64_t{index} * stride_,
            memory_.device + std::uint64_t{index} * stride_, index};
  }

 private:
  DmaBuffer memory_{};
  std::uint64_t stride_ = 0;
  std::uint32_t bytes_ = 0;
  std::uint32_t count_ = 0;
  std::uint32_t free_count_ = 0;
  std::array<Index, Capacity> free_{};
  std::array<bool, Capacity> in_use_{};
  BufferPoolCounters counters_{};
};

}  // namespace fbnic
