// mock::Platform: the Platform concept served by the device model.
//
// Registers go to the model's BARs. DMA memory comes from an arena of caller-provided
// "host RAM"; each allocation is mapped into the model's DMA space at a device address
// (kIovaBase + offset) that differs from its CPU pointer, and unmapped when freed, so a
// device access to freed memory is reported. Time is the model's clock: delay_us
// advances it, which is when the model does its work, so tests never really sleep.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "fbnic/base/log.hpp"
#include "fbnic/base/result.hpp"
#include "fbnic/mock/arena.hpp"
#include "fbnic/platform/bar.hpp"
#include "fbnic/platform/dma.hpp"

namespace fbnic::mock {

// A log sink that keeps nothing; hosted code passes a printing one.
struct NullLog {
  void operator()(LogLevel /*level*/, const char* /*line*/) const {}
};

template <class DeviceT, class LogSink = NullLog, std::size_t MaxAllocations = 1024>
class Platform {
 public:
  // Device addresses start here: inside 46 bits, and never equal to a CPU pointer.
  static constexpr std::uint64_t kIovaBase = 0x0000'2000'0000'0000ull;

  Platform(DeviceT& device, std::span<std::byte> host_ram, LogSink sink = {})
      : device_(device), arena_(host_ram), sink_(sink) {}

  std::uint32_t read32(Bar bar, std::uint32_t offset) { return device_.read32(bar, offset); }
  void write32(Bar bar, std::uint32_t offset, std::uint32_t value) {
    device_.write32(bar, offset, value);
  }

  Result<DmaBuffer> dma_alloc(std::size_t size, std::size_t align) {
    const std::size_t offset = arena_.allocate(size, align < 64 ? 64 : align);
    if (offset == Arena<MaxAllocations>::npos) return Error::kNoMemory;
    std::byte* cpu = arena_.base() + offset;
    const std::uint64_t iova = kIovaBase + offset;
    if (!device_.dma_space().map(iova, cpu, size)) {
      (void)arena_.free(offset);
      return Error::kNoMemory;
    }
    return DmaBuffer{cpu, iova, size, offset};
  }

  void dma_free(const DmaBuffer& buffer) {
    if (!buffer.valid()) return;
    (void)device_.dma_space().unmap(buffer.device);
    (void)arena_.free(buffer.cookie);
  }

  std::uint64_t now_ns() { return device_.now_ns(); }
  void delay_us(std::uint32_t us) { device_.advance(std::uint64_t{us} * 1000u); }
  void log(LogLevel level, const char* line) { sink_(level, line); }

  [[nodiscard]] DeviceT& device() { return device_; }
  [[nodiscard]] std::size_t live_allocations() const { return arena_.live_blocks(); }
  [[nodiscard]] std::size_t bytes_allocated() const { return arena_.bytes_in_use(); }

 private:
  DeviceT& device_;
  Arena<MaxAllocations> arena_;
  LogSink sink_;
};

}  // namespace fbnic::mock
