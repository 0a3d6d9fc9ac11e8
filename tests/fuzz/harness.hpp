// Shared pieces of the libFuzzer targets that drive the library through its public API
// against the device model in hostile mode (rx_ring_fuzz, tx_ring_fuzz, mailbox_fuzz).
//
//   Input         the fuzzer's bytes: the first one splits them into the harness's
//                 operations and the model's entropy (its hostile choices)
//   FuzzPlatform  mock::Platform's contract, but every DMA buffer is its own mapping
//                 between two inaccessible guard pages, unmapped when freed, at a device
//                 address with a gap on each side: any access the library makes outside
//                 a live buffer faults, and the model refuses any device access that
//                 straddles two
//   FUZZ_CHECK    an oracle: prints what broke and aborts, which libFuzzer reports
#pragma once

#include <fbnic/fbnic.hpp>
#include <fbnic/mock/mock.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>

#include <sys/mman.h>

#define FUZZ_CHECK(cond, ...)                                 \
  do {                                                        \
    if (!(cond)) {                                            \
      std::fprintf(stderr, "oracle failed: %s: ", #cond);     \
      std::fprintf(stderr, __VA_ARGS__);                      \
      std::fprintf(stderr, " (%s:%d)\n", __FILE__, __LINE__); \
      std::abort();                                           \
    }                                                         \
  } while (0)

namespace fbnic::fuzz {

// A model small enough to build for every input.
struct ModelConfig {
  static constexpr std::uint32_t kQueues = 1;
  static constexpr std::size_t kDmaMappings = 256;
  static constexpr std::size_t kFaultLog = 16;
  static constexpr std::size_t kAccessLog = 16;
  static constexpr std::size_t kFwOutbox = 48;
  static constexpr std::size_t kRxbBytes = 64 * 1024;
  static constexpr std::size_t kRxbFrames = 256;
};
using Model = mock::Device<ModelConfig>;

// Rings of 64: they wrap within a short input.
struct Policy : DefaultPolicy {
  static constexpr std::uint32_t kTxRing = 64;
  static constexpr std::uint32_t kTcqRing = 64;
  static constexpr std::uint32_t kHpqRing = 64;
  static constexpr std::uint32_t kPpqRing = 64;
  static constexpr std::uint32_t kRcqRing = 64;
  static constexpr std::uint32_t kRxSparePages = 16;
};

class Input {
 public:
  Input(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  [[nodiscard]] bool empty() const { return pos_ >= size_; }
  std::uint8_t u8() { return pos_ < size_ ? data_[pos_++] : 0; }
  std::uint16_t u16() { return static_cast<std::uint16_t>(u8() | (u8() << 8)); }
  std::uint32_t u32() { return u16() | (std::uint32_t{u16()} << 16); }
  // Up to n bytes, as they are in the input.
  std::span<const std::uint8_t> bytes(std::size_t n) {
    const std::size_t k = n < size_ - pos_ ? n : size_ - pos_;
    const std::span<const std::uint8_t> s(data_ + pos_, k);
    pos_ += k;
    return s;
  }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

// The first byte says how much of the rest drives the harness; the model's hostile
// choices come from what follows, then from a generator seeded by the input's length.
struct Split {
  Input ops;
  std::span<const std::uint8_t> entropy;
};
inline Split split(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return {Input(data, 0), {}};
  const std::size_t ops = (size - 1) * data[0] / 255;
  return {Input(data + 1, ops), std::span<const std::uint8_t>(data + 1 + ops, size - 1 - ops)};
}

class FuzzPlatform {
 public:
  static constexpr std::uint64_t kIovaBase = 0x0000'2000'0000'0000ull;
  static constexpr std::size_t kPage = 4096;

  explicit FuzzPlatform(Model& model) : model_(model) {}
  FuzzPlatform(const FuzzPlatform&) = delete;
  FuzzPlatform& operator=(const FuzzPlatform&) = delete;

  std::uint32_t read32(Bar bar, std::uint32_t offset) { return model_.read32(bar, offset); }
  void write32(Bar bar, std::uint32_t offset, std::uint32_t value) {
    model_.write32(bar, offset, value);
  }

  // Whole pages, zero as the kernel gives them, between two inaccessible guard pages
  // (the library's buffers are page multiples, so any access past one faults).
  Result<DmaBuffer> dma_alloc(std::size_t size, std::size_t align) {
    if (size == 0 || align == 0 || (align & (align - 1)) != 0 || align > kPage) {
      return Error::kInvalidArgument;
    }
    const std::size_t pages = (size + kPage - 1) / kPage;
    void* base =
        ::mmap(nullptr, (pages + 2) * kPage, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) return Error::kNoMemory;
    auto* cpu = static_cast<std::uint8_t*>(base) + kPage;
    if (::mprotect(cpu, pages * kPage, PROT_READ | PROT_WRITE) != 0) {
      ::munmap(base, (pages + 2) * kPage);
      return Error::kNoMemory;
    }
    // Device addresses with a gap of a page between buffers, too.
    const std::uint64_t iova = next_iova_;
    next_iova_ += (pages + 1) * kPage;
    if (!model_.dma_space().map(iova, cpu, size)) {
      ::munmap(base, (pages + 2) * kPage);
      return Error::kNoMemory;
    }
    ++live_;
    return DmaBuffer{cpu, iova, size, pages};
  }
  void dma_free(const DmaBuffer& b) {
    if (!b.valid()) return;
    FUZZ_CHECK(model_.dma_space().unmap(b.device), "freeing %#llx, which is not mapped",
               static_cast<unsigned long long>(b.device));
    ::munmap(static_cast<std::uint8_t*>(b.cpu) - kPage, (b.cookie + 2) * kPage);
    --live_;
  }

  std::uint64_t now_ns() { return model_.now_ns(); }
  void delay_us(std::uint32_t us) { model_.advance(std::uint64_t{us} * 1000u); }
  void log(LogLevel, const char*) {}

  [[nodiscard]] std::size_t live_allocations() const { return live_; }
  [[nodiscard]] Model& model() { return model_; }

 private:
  Model& model_;
  std::uint64_t next_iova_ = kIovaBase;
  std::size_t live_ = 0;
};
static_assert(Platform<FuzzPlatform>);

// A rate out of 65536 from one byte: 0 never, 255 always, otherwise byte/256.
inline std::uint32_t rate(std::uint8_t b) { return b == 255 ? mock::kAlways : b * 256u; }

// The device's DMA performed so far (reads and writes).
inline std::uint64_t dma_done(Model& m) { return m.counters().dma_reads + m.counters().dma_writes; }

}  // namespace fbnic::fuzz
