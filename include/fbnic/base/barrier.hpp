// Ordering between the CPU's accesses to DMA memory and the device, per architecture.
//
//   dma_wmb  the CPU's stores to coherent DMA memory (descriptors, mailbox messages) become
//            visible to the device in program order;
//   dma_rmb  after a DONE bit was read from DMA memory, later loads of that memory are not
//            satisfied before it (they see what the device wrote before setting the bit).
//
// Each is the instruction Linux's dma_wmb()/dma_rmb() issue on that architecture; the table
// with the source of every one is in docs/porting.md. Neither orders DMA memory against a
// register access on every CPU (on ARM and POWER they order normal memory only): that is the
// platform's read32/write32, which order like Linux's readl/writel (fbnic/platform/mmio.hpp).
// An architecture without an entry here is a compile error, never a silent C++ fence: a
// release fence orders normal memory for other CPUs, not for a device.
#pragma once

namespace fbnic {

inline void compiler_barrier() { __atomic_signal_fence(__ATOMIC_SEQ_CST); }

inline void dma_wmb() {
#if defined(__x86_64__) || defined(__i386__)
  compiler_barrier();  // stores are not reordered with other stores (TSO)
#elif defined(__aarch64__)
  __asm__ __volatile__("dmb oshst" ::: "memory");
#elif defined(__arm__) && __ARM_ARCH >= 7
  __asm__ __volatile__("dmb oshst" ::: "memory");
#elif defined(__riscv) && __riscv_xlen == 64
  __asm__ __volatile__("fence ow,ow" ::: "memory");
#elif defined(__powerpc64__)
  __asm__ __volatile__("lwsync" ::: "memory");
#elif defined(__s390x__)
  // z196 and later serialize without checkpoint synchronization (bcr 14); older ones bcr 15.
#if defined(__ARCH__) && __ARCH__ >= 9
  __asm__ __volatile__("bcr 14,0" ::: "memory");
#else
  __asm__ __volatile__("bcr 15,0" ::: "memory");
#endif
#elif defined(__loongarch__) && __loongarch_grlen == 64
  __asm__ __volatile__("dbar 0xa" ::: "memory");  // completion; earlier and later stores
#else
#error \
    "fbnic: no dma_wmb for this CPU: add the instruction Linux's dma_wmb() uses here (arch/*/include/asm/barrier.h) and a row to docs/porting.md"
#endif
}

inline void dma_rmb() {
#if defined(__x86_64__) || defined(__i386__)
  compiler_barrier();  // loads are not reordered with other loads (TSO)
#elif defined(__aarch64__)
  __asm__ __volatile__("dmb oshld" ::: "memory");
#elif defined(__arm__) && __ARM_ARCH >= 7
  __asm__ __volatile__("dmb osh" ::: "memory");
#elif defined(__riscv) && __riscv_xlen == 64
  __asm__ __volatile__("fence ir,ir" ::: "memory");
#elif defined(__powerpc64__)
  __asm__ __volatile__("lwsync" ::: "memory");
#elif defined(__s390x__)
#if defined(__ARCH__) && __ARCH__ >= 9
  __asm__ __volatile__("bcr 14,0" ::: "memory");
#else
  __asm__ __volatile__("bcr 15,0" ::: "memory");
#endif
#elif defined(__loongarch__) && __loongarch_grlen == 64
  __asm__ __volatile__("dbar 0x5" ::: "memory");  // completion; earlier and later loads
#else
#error \
    "fbnic: no dma_rmb for this CPU: add the instruction Linux's dma_rmb() uses here (arch/*/include/asm/barrier.h) and a row to docs/porting.md"
#endif
}

}  // namespace fbnic
