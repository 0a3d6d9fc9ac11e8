// mmio_read32/mmio_write32: a 32-bit device register at a CPU address (a BAR mapped uncached
// into the address space), ordered the way Linux's readl()/writel() order it, for platforms
// whose read32/write32 are plain memory accesses (bare::MmioRegisters, the VFIO backend).
//
//   mmio_write32  every store the CPU made to DMA memory before it (descriptors, a mailbox
//                 message) is visible to the device before the register store: the barrier
//                 writel() issues before its store, then one plain store instruction.
//   mmio_read32   one plain load instruction, then the barrier readl() issues after it: later
//                 loads from DMA memory are not satisfied before the register load.
//
// Registers are little-endian on the bus, as writel()/readl() assume: a big-endian CPU swaps.
// One plain load or store per access, in inline assembly where Linux uses it: a compiler may
// otherwise emit load pairs or writeback addressing, which a hypervisor cannot emulate.
// The instructions and where they come from: docs/porting.md.
#pragma once

#include <cstdint>

#include "fbnic/base/barrier.hpp"
#include "fbnic/base/bytes.hpp"

namespace fbnic {

// NOLINTBEGIN(performance-no-int-to-ptr): device registers, not C++ objects
inline void mmio_write32(std::uintptr_t address, std::uint32_t value) {
  value = to_le(value);
#if defined(__x86_64__) || defined(__i386__)
  // Stores to uncached memory are not reordered with earlier stores.
  compiler_barrier();
  *reinterpret_cast<volatile std::uint32_t*>(address) = value;
  compiler_barrier();
#elif defined(__aarch64__)
  __asm__ __volatile__("dmb oshst\n\tstr %w0, [%1]" : : "rZ"(value), "r"(address) : "memory");
#elif defined(__arm__) && __ARM_ARCH >= 7
  __asm__ __volatile__("dsb st\n\tstr %0, [%1]" : : "r"(value), "r"(address) : "memory");
#elif defined(__riscv) && __riscv_xlen == 64
  __asm__ __volatile__("fence w,o\n\tsw %0, 0(%1)" : : "r"(value), "r"(address) : "memory");
#elif defined(__powerpc64__)
  __asm__ __volatile__("sync\n\tstw %0, 0(%1)" : : "r"(value), "b"(address) : "memory");
#elif defined(__loongarch__) && __loongarch_grlen == 64
  __asm__ __volatile__("dbar 0xa\n\tst.w %0, %1, 0" : : "r"(value), "r"(address) : "memory");
#elif defined(__s390x__)
#error \
    "fbnic: s390x has no memory-mapped PCI: Linux reaches BARs with the PCI Load/Store instructions (arch/s390/pci/pci_insn.c); serve read32/write32 through them, e.g. with bare::CallbackRegisters"
#else
#error \
    "fbnic: no MMIO accessors for this CPU: add Linux's writel()/readl() barriers and raw accesses here (arch/*/include/asm/io.h) and a row to docs/porting.md"
#endif
}

inline std::uint32_t mmio_read32(std::uintptr_t address) {
  std::uint32_t value;
#if defined(__x86_64__) || defined(__i386__)
  compiler_barrier();
  value = *reinterpret_cast<const volatile std::uint32_t*>(address);
  compiler_barrier();
#elif defined(__aarch64__)
  __asm__ __volatile__("ldr %w0, [%1]\n\tdmb oshld" : "=r"(value) : "r"(address) : "memory");
#elif defined(__arm__) && __ARM_ARCH >= 7
  __asm__ __volatile__("ldr %0, [%1]\n\tdsb" : "=r"(value) : "r"(address) : "memory");
#elif defined(__riscv) && __riscv_xlen == 64
  __asm__ __volatile__("lw %0, 0(%1)\n\tfence i,r" : "=r"(value) : "r"(address) : "memory");
#elif defined(__powerpc64__)
  // The trap that never fires depends on the loaded value, and isync waits for it: later
  // instructions start only once the load has completed.
  __asm__ __volatile__("sync\n\tlwz %0, 0(%1)\n\ttwi 0, %0, 0\n\tisync"
                       : "=r"(value)
                       : "b"(address)
                       : "memory");
#elif defined(__loongarch__) && __loongarch_grlen == 64
  __asm__ __volatile__("ld.w %0, %1, 0\n\tdbar 0x5" : "=r"(value) : "r"(address) : "memory");
#endif
  return from_le(value);
}
// NOLINTEND(performance-no-int-to-ptr)

}  // namespace fbnic
