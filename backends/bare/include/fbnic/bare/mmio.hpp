// MmioRegisters: register access to real hardware, by 32-bit loads and stores at the CPU
// addresses where BAR0 and BAR4 are mapped (uncached, as firmware maps PCI memory BARs).
//
// Each access is fbnic::mmio_read32/mmio_write32 (fbnic/platform/mmio.hpp): one plain load or
// store, ordered against the CPU's DMA memory accesses the way Linux's readl/writel order
// them. That is what the Platform contract asks of write32 and read32: the descriptors the
// core stored are visible to the device before the doorbell that follows them, and the
// message a DONE register announced is read after that register. The instructions per CPU
// are tabled in docs/porting.md. (s390x has no memory-mapped PCI: there this header is an
// error and bare::CallbackRegisters serves the registers.)
#pragma once

#include <cstdint>

#include "fbnic/platform/bar.hpp"
#include "fbnic/platform/mmio.hpp"

namespace fbnic::bare {

class MmioRegisters {
 public:
  constexpr MmioRegisters() = default;
  // The CPU addresses of BAR0 and BAR4 (0 for a BAR that is not mapped: reads as all
  // ones, which the core takes for a removed device, and writes are dropped).
  constexpr MmioRegisters(std::uintptr_t bar0, std::uintptr_t bar4) : bar0_(bar0), bar4_(bar4) {}

  [[nodiscard]] std::uint32_t read32(Bar bar, std::uint32_t offset) const {
    const std::uintptr_t base = bar == Bar::kCsr ? bar0_ : bar4_;
    if (base == 0) return 0xFFFF'FFFFu;
    return mmio_read32(base + offset);
  }
  void write32(Bar bar, std::uint32_t offset, std::uint32_t value) const {
    const std::uintptr_t base = bar == Bar::kCsr ? bar0_ : bar4_;
    if (base != 0) mmio_write32(base + offset, value);
  }

 private:
  // Addresses, not pointers: they name device registers, never C++ objects.
  std::uintptr_t bar0_ = 0;
  std::uintptr_t bar4_ = 0;
};

}  // namespace fbnic::bare
