// MmioRegisters: register access to real hardware, by 32-bit loads and stores at the CPU
// addresses where BAR0 and BAR4 are mapped (uncached, as firmware maps PCI memory BARs).
//
// What this adds to a plain volatile access, and why:
//   - a compiler barrier on each side of every access: volatile orders volatile accesses
//     among themselves only, and the device must see the CPU's stores to DMA memory
//     (descriptors, mailbox messages) in program order around register accesses;
//   - on aarch64, one plain LDR/STR of a 32-bit register: a compiler may otherwise fold an
//     access into a load pair or a writeback addressing mode, which a hypervisor cannot
//     emulate and a device may see as something else.
// The CPU barriers the device needs are the core's, where it needs them: fbnic::dma_wmb
// before every doorbell and mailbox post (dmb oshst on aarch64), fbnic::dma_rmb after every
// DONE bit read from a completion. On x86 stores to uncached memory are not reordered with
// earlier stores, so nothing more is needed there either.
#pragma once

#include <cstdint>

#include "fbnic/base/barrier.hpp"
#include "fbnic/platform/bar.hpp"

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
    return load(base + offset);
  }
  void write32(Bar bar, std::uint32_t offset, std::uint32_t value) const {
    const std::uintptr_t base = bar == Bar::kCsr ? bar0_ : bar4_;
    if (base != 0) store(base + offset, value);
  }

 private:
  static std::uint32_t load(std::uintptr_t address) {
    std::uint32_t value;
#if defined(__aarch64__)
    __asm__ __volatile__("ldr %w0, [%1]" : "=r"(value) : "r"(address) : "memory");
#else
    compiler_barrier();
    // NOLINTNEXTLINE(performance-no-int-to-ptr): a device register, not a C++ object
    value = *reinterpret_cast<const volatile std::uint32_t*>(address);
    compiler_barrier();
#endif
    return value;
  }
  static void store(std::uintptr_t address, std::uint32_t value) {
#if defined(__aarch64__)
    __asm__ __volatile__("str %w0, [%1]" : : "rZ"(value), "r"(address) : "memory");
#else
    compiler_barrier();
    // NOLINTNEXTLINE(performance-no-int-to-ptr): a device register, not a C++ object
    *reinterpret_cast<volatile std::uint32_t*>(address) = value;
    compiler_barrier();
#endif
  }

  // Addresses, not pointers: they name device registers, never C++ objects.
  std::uintptr_t bar0_ = 0;
  std::uintptr_t bar4_ = 0;
};

}  // namespace fbnic::bare
