// bare::Platform: fbnic::Platform for firmware, bootloaders and other code without an
// operating system or a C library. It is assembled from four parts, each the caller's:
//
//   Registers   read32/write32: MmioRegisters (mapped BARs) or CallbackRegisters (an
//               emulated device, UEFI PciIo)
//   Memory      dma_alloc/dma_free: DmaPool (a region the caller owns) or a firmware service
//               (UEFI PciIo AllocateBuffer + Map)
//   Clock       now_ns and delay_us
//   LogSink     where log lines go
//
//   bare::DmaPool<> pool(std::span(region), {});
//   bare::Platform platform(bare::MmioRegisters(bar0, bar4), pool, clock, log);
//   fbnic::Device nic(platform);
//
// No heap, no globals, no exceptions: everything it uses is passed in.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>

#include "fbnic/bare/clock.hpp"
#include "fbnic/bare/log_sink.hpp"
#include "fbnic/base/result.hpp"
#include "fbnic/platform/bar.hpp"
#include "fbnic/platform/dma.hpp"
#include "fbnic/platform/platform.hpp"

namespace fbnic::bare {

template <class R>
concept RegisterAccess = requires(R& r, Bar bar, std::uint32_t offset, std::uint32_t value) {
  { r.read32(bar, offset) } -> std::same_as<std::uint32_t>;
  { r.write32(bar, offset, value) } -> std::same_as<void>;
};

template <class M>
concept DmaMemory = requires(M& m, std::size_t size, std::size_t align, const DmaBuffer& buffer) {
  { m.dma_alloc(size, align) } -> std::same_as<Result<DmaBuffer>>;
  { m.dma_free(buffer) } -> std::same_as<void>;
};

// Registers are held by value (a few pointers); the memory by reference, because it keeps
// the free list and outlives any one platform. Text is how much of the core's log text the
// image carries (fbnic::log_text(); fbnic.efi keeps it short, to fit its size).
template <RegisterAccess Registers, DmaMemory Memory, LogText Text = LogText::kFull>
class Platform {
 public:
  static constexpr LogText kLogText = Text;

  Platform(Registers registers, Memory& memory, Clock clock, LogSink log = {})
      : registers_(registers), memory_(memory), clock_(clock), log_(log) {}

  std::uint32_t read32(Bar bar, std::uint32_t offset) { return registers_.read32(bar, offset); }
  void write32(Bar bar, std::uint32_t offset, std::uint32_t value) {
    registers_.write32(bar, offset, value);
  }
  Result<DmaBuffer> dma_alloc(std::size_t size, std::size_t align) {
    return memory_.dma_alloc(size, align);
  }
  void dma_free(const DmaBuffer& buffer) { memory_.dma_free(buffer); }
  std::uint64_t now_ns() { return clock_.now_ns(clock_.ctx); }
  void delay_us(std::uint32_t us) { clock_.delay_us(clock_.ctx, us); }
  void log(LogLevel level, const char* line) { log_(level, line); }

  [[nodiscard]] Registers& registers() { return registers_; }
  [[nodiscard]] Memory& memory() { return memory_; }

 private:
  Registers registers_;
  Memory& memory_;
  Clock clock_;
  LogSink log_;
};

}  // namespace fbnic::bare
