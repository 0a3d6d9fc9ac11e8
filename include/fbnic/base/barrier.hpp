// Ordering between the CPU's stores to DMA memory and the device.
//
// dma_wmb: descriptor stores become visible to the device before the doorbell write
// that follows. dma_rmb: after seeing a DONE bit, later loads of the same completion
// are not satisfied early. On x86 the memory model already gives both for coherent
// DMA memory, so they only stop the compiler; weaker architectures need a real fence.
#pragma once

namespace fbnic {

inline void compiler_barrier() { __atomic_signal_fence(__ATOMIC_SEQ_CST); }

inline void dma_wmb() {
#if defined(__aarch64__)
  __asm__ __volatile__("dmb oshst" ::: "memory");
#elif defined(__x86_64__) || defined(__i386__)
  compiler_barrier();
#else
  __atomic_thread_fence(__ATOMIC_RELEASE);
#endif
}

inline void dma_rmb() {
#if defined(__aarch64__)
  __asm__ __volatile__("dmb oshld" ::: "memory");
#elif defined(__x86_64__) || defined(__i386__)
  compiler_barrier();
#else
  __atomic_thread_fence(__ATOMIC_ACQUIRE);
#endif
}

}  // namespace fbnic
