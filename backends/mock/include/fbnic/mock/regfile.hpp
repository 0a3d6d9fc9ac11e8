// RegFile: the storage behind the model's BARs.
//
// Only the blocks the hardware has are backed; each is a run of 32-bit words. Behaviour
// (read-only, write-1-to-clear, side effects) belongs to the blocks' models, which use
// this storage and the same register types as the driver.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <utility>

#include "fbnic/platform/bar.hpp"
#include "fbnic/regs/queue.hpp"
#include "fbnic/regs/register.hpp"

namespace fbnic::mock {

struct Region {
  Bar bar;
  std::uint32_t first_word;
  std::uint32_t words;
};

// Blocks backed by storage. Word ranges follow the register map's section markers,
// widened to whole runs where blocks sit close together.
inline constexpr std::array<Region, 9> kFixedRegions{{
    {Bar::kCsr, 0x00000, 0x00800},  // INTR, INTR_CQ
    {Bar::kCsr, 0x00800, 0x00440},  // QM_TX, QM_RX
    {Bar::kCsr, 0x04000, 0x00810},  // TCE, TCE_RAM, TMI, PTP
    {Bar::kCsr, 0x08000, 0x00F20},  // RXB, RPC, RPC_RAM
    {Bar::kCsr, 0x0C000, 0x00460},  // FAB, MASTER
    {Bar::kCsr, 0x10000, 0x01B00},  // PCS, RSFEC, MAC, SIG, MAC_STAT
    {Bar::kCsr, 0x31000, 0x00100},  // PUL_USER
    {Bar::kIpc, 0x00200, 0x00020},  // OTP status
    {Bar::kIpc, 0x06000, 0x00040},  // two mailboxes of 16 descriptors
}};

constexpr std::uint32_t fixed_words() {
  std::uint32_t n = 0;
  for (const Region& r : kFixedRegions) n += r.words;
  return n;
}

template <std::uint32_t Queues>
class RegFile {
  static_assert(Queues >= 1 && Queues <= regs::kMaxQueues);

 public:
  static constexpr std::uint32_t kQueues = Queues;

  // The storage word at a byte offset, or nullptr for an address no block backs.
  [[nodiscard]] std::uint32_t* word(Bar bar, std::uint32_t byte_offset) {
    return const_cast<std::uint32_t*>(std::as_const(*this).word(bar, byte_offset));
  }
  [[nodiscard]] const std::uint32_t* word(Bar bar, std::uint32_t byte_offset) const {
    if ((byte_offset & 3u) != 0) return nullptr;
    const std::uint32_t w = byte_offset / 4;
    std::uint32_t base = 0;
    for (const Region& r : kFixedRegions) {
      if (r.bar == bar && w >= r.first_word && w < r.first_word + r.words) {
        return &storage_[base + (w - r.first_word)];
      }
      base += r.words;
    }
    if (bar == Bar::kCsr && w >= regs::kQueueBaseWord &&
        w < regs::kQueueBaseWord + Queues * regs::kQueueStrideWords) {
      return &storage_[base + (w - regs::kQueueBaseWord)];
    }
    return nullptr;
  }

  // Typed access for the models. An invalid or unbacked address reads as 0.
  template <class R>
  [[nodiscard]] R get(regs::RegAddr<R> a) const {
    const std::uint32_t* p = a.valid ? word(R::kBar, a.offset) : nullptr;
    return R::from_raw(p != nullptr ? *p : 0);
  }
  template <class R>
  [[nodiscard]] R get() const {
    return get(R::addr());
  }
  template <class R>
  void put(regs::RegAddr<R> a, const R& value) {
    if (std::uint32_t* p = a.valid ? word(R::kBar, a.offset) : nullptr) *p = value.raw();
  }
  template <class R>
  void put(const R& value) {
    put(R::addr(), value);
  }

  void reset() { storage_.fill(0); }

 private:
  std::array<std::uint32_t, fixed_words() + Queues * regs::kQueueStrideWords> storage_{};
};

}  // namespace fbnic::mock
