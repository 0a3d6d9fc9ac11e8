// PagePool: the 4 KiB Rx buffers of one queue, in one DMA allocation, with a reference
// count per page.
//
// A page is referenced by the ring while the device may still write to it (it is posted),
// and by every received packet fragment in it that the user has not released. It returns to the
// free stack when the last reference goes: buffers are recycled, never reallocated.
#pragma once

#include <array>
#include <cstdint>

#include "fbnic/base/result.hpp"
#include "fbnic/desc/bd.hpp"
#include "fbnic/hw/io.hpp"

namespace fbnic {

template <Platform P, std::uint32_t Pages>
class PagePool {
  static_assert(Pages >= 2 && Pages <= 65535);

 public:
  static constexpr std::uint32_t kPageBytes = desc::kRxBufferBytes;
  static constexpr std::uint16_t kNone = 0xFFFF;

  explicit PagePool(P& platform) : platform_(platform) {}
  PagePool(const PagePool&) = delete;
  PagePool& operator=(const PagePool&) = delete;
  ~PagePool() { free(); }

  Status allocate() {
    if (mem_.valid()) return ok_status();
    FBNIC_TRY_ASSIGN(mem_, platform_.dma_alloc(std::size_t{Pages} * kPageBytes, kPageBytes));
    reset();
    return ok_status();
  }
  void free() {
    if (mem_.valid()) platform_.dma_free(mem_);
    mem_ = {};
  }
  // Every page free again (after the device and the user let go of all).
  void reset() {
    refs_.fill(0);
    posted_.fill(0);
    restock();
  }
  // The free stack rebuilt from the reference counts: pages someone still holds (a
  // packet from before a queue was stopped) stay out of it.
  void restock() {
    free_count_ = 0;
    for (std::uint32_t i = Pages; i-- > 0;) {
      if (refs_[i] == 0) free_[free_count_++] = static_cast<std::uint16_t>(i);
    }
  }

  // A free page with one reference, the ring's (the page is posted), or kNone.
  std::uint16_t take() {
    if (free_count_ == 0) return kNone;
    const std::uint16_t page = free_[--free_count_];
    refs_[page] = 1;
    posted_[page] = 1;
    return page;
  }
  void ref(std::uint16_t page, std::uint32_t n = 1) {
    refs_[page] = static_cast<std::uint16_t>(refs_[page] + n);
  }
  // n references held outside the ring at once; the caller checked n <= held_refs(page).
  void unref(std::uint16_t page, std::uint32_t n = 1) {
    refs_[page] = static_cast<std::uint16_t>(refs_[page] - n);
    if (refs_[page] == 0) free_[free_count_++] = page;
  }
  // The ring's reference, once the device is done with the page: dropped, or passed on to
  // the packet in the page's last buffer.
  void unref_posted(std::uint16_t page) {
    posted_[page] = 0;
    unref(page);
  }
  void unpost(std::uint16_t page) { posted_[page] = 0; }
  // References outside the ring (packets, retain()): what a release may drop. A page the
  // device may still write to keeps the ring's reference whatever a user releases.
  [[nodiscard]] std::uint32_t held_refs(std::uint16_t page) const {
    return std::uint32_t{refs_[page]} - posted_[page];
  }

  [[nodiscard]] std::uint64_t dma(std::uint16_t page) const {
    return mem_.device + std::uint64_t{page} * kPageBytes;
  }
  [[nodiscard]] std::uint8_t* cpu(std::uint16_t page) const {
    return static_cast<std::uint8_t*>(mem_.cpu) + std::size_t{page} * kPageBytes;
  }
  [[nodiscard]] std::uint32_t free_pages() const { return free_count_; }
  [[nodiscard]] bool all_free() const { return free_count_ == Pages; }
  [[nodiscard]] bool allocated() const { return mem_.valid(); }
  [[nodiscard]] std::uint16_t refs(std::uint16_t page) const { return refs_[page]; }

 private:
  P& platform_;
  DmaBuffer mem_{};
  std::array<std::uint16_t, Pages> refs_{};
  std::array<std::uint8_t, Pages> posted_{};
  std::array<std::uint16_t, Pages> free_{};
  std::uint32_t free_count_ = 0;
};

}  // namespace fbnic
