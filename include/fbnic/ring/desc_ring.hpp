// DescRing: a power-of-two ring of 64-bit descriptors in DMA memory.
//
// Indices are free-running 32-bit counters; the slot is index & mask, and bit log2(size)
// of a consumer's index is its lap parity, which is how completion rings tell new
// entries (DONE == expected) from old ones without the host ever clearing them.
#pragma once

#include <cstdint>

#include "fbnic/base/bytes.hpp"
#include "fbnic/base/status.hpp"
#include "fbnic/hw/io.hpp"
#include "fbnic/platform/dma.hpp"
#include "fbnic/platform/platform.hpp"
#include "fbnic/regs/register.hpp"

namespace fbnic {

template <std::uint32_t Size>
class DescRing {
  static_assert(is_pow2(Size), "ring sizes are powers of two");

 public:
  static constexpr std::uint32_t kSize = Size;
  static constexpr std::uint32_t kMask = Size - 1;
  static constexpr std::size_t kBytes = std::size_t{Size} * 8;
  // Whole pages of DMA memory: the device fetches descriptors in page-aligned bursts.
  static constexpr std::size_t kAllocBytes = align_up(kBytes, 4096);

  template <Platform P>
  Status allocate(P& platform) {
    FBNIC_TRY_ASSIGN(const DmaBuffer mem, platform.dma_alloc(kAllocBytes, 4096));
    attach(mem);
    return ok_status();
  }
  template <Platform P>
  void release(P& platform) {
    if (attached()) platform.dma_free(mem_);
    attach({});
  }

  void attach(const DmaBuffer& mem) {
    mem_ = mem;
    base_ = static_cast<std::uint64_t*>(mem.cpu);
  }
  [[nodiscard]] const DmaBuffer& memory() const { return mem_; }
  [[nodiscard]] bool attached() const { return base_ != nullptr; }

  void write(std::uint32_t index, std::uint64_t value) { base_[index & kMask] = to_le(value); }
  // One untorn load: the device writes completions behind the compiler's back.
  [[nodiscard]] std::uint64_t read(std::uint32_t index) const { return load(slot(index)); }
  // For a consumer that reads a run of entries, none past the end of the ring: where the
  // entry at index is, and one entry read from there.
  [[nodiscard]] const std::uint64_t* slot(std::uint32_t index) const {
    return base_ + (index & kMask);
  }
  [[nodiscard]] static std::uint64_t load(const std::uint64_t* slot) {
    return from_le(__atomic_load_n(slot, __ATOMIC_RELAXED));
  }
  // DONE is expected to be 1 on even laps and 0 on odd ones.
  [[nodiscard]] static constexpr std::uint32_t expected_done(std::uint32_t index) {
    return ((index & Size) == 0) ? 1u : 0u;
  }

  void clear() { fill_bytes(base_, 0, kBytes); }

 private:
  DmaBuffer mem_{};
  std::uint64_t* base_ = nullptr;
};

// Tells the device where a ring lives: its base address in a low/high register pair.
template <Platform P, class Lo, class Hi, std::uint32_t N>
Status write_ring_base(Io<P>& io, regs::RegAddr<Lo> lo, regs::RegAddr<Hi> hi,
                       const DescRing<N>& ring) {
  const std::uint64_t dma = ring.memory().device;
  FBNIC_TRY(io.write(lo, Lo::from_raw(static_cast<std::uint32_t>(dma))));
  return io.write(hi, Hi::from_raw(static_cast<std::uint32_t>(dma >> 32)));
}

}  // namespace fbnic
