// CpuClock: a monotonic nanosecond clock for a UEFI driver, from the CPU's free-running
// counter (x86: the TSC; aarch64: the generic timer's virtual count; riscv64: the time CSR),
// and Stall for delays.
//
// UEFI has no monotonic clock service (GetTime reads the RTC, in seconds). The counter's rate
// is architectural on aarch64 (CNTFRQ_EL0); on x86 and on riscv64 (whose timebase only the
// device tree states) it is measured once against a 10 ms Stall.
// Elsewhere (or before calibration) the clock counts the time spent in delay_us: every wait
// of the core delays between polls, so deadlines still expire (later than nominal, never
// sooner).
#pragma once

#include <cstdint>

#include "fbnic/bare/uefi/efi.hpp"

namespace fbnic::bare::uefi {

class CpuClock {
 public:
  static constexpr std::uint32_t kCalibrationUs = 10'000;

  Status calibrate(BootServices* bs) {
    bs_ = bs;
#if defined(__aarch64__)
    std::uint64_t hz;
    __asm__ __volatile__("mrs %0, cntfrq_el0" : "=r"(hz));
    hz_ = hz;
#elif defined(__x86_64__) || (defined(__riscv) && __riscv_xlen == 64)
    const std::uint64_t t0 = ticks();
    const Status st = bs->stall(kCalibrationUs);
    if (is_error(st)) return st;
    hz_ = (ticks() - t0) * (1'000'000 / kCalibrationUs);
#endif
    start_ = ticks();
    return hz_ != 0 || !kHasCounter ? kSuccess : kUnsupported;
  }

  // Before calibrate() (or without a counter) the clock counts the delays.
  [[nodiscard]] std::uint64_t now_ns() const {
    if (!kHasCounter || hz_ == 0) return stalled_ns_;
    const std::uint64_t t = ticks() - start_;
    // Split so that nothing overflows and no 128-bit division (a runtime call) is needed.
    return t / hz_ * 1'000'000'000u + t % hz_ * 1'000'000'000u / hz_;
  }
  // Before calibrate() there are no boot services to stall with: the delay is only counted.
  void delay_us(std::uint32_t us) {
    if (bs_ != nullptr) bs_->stall(us);
    stalled_ns_ += std::uint64_t{us} * 1000u;
  }
  [[nodiscard]] std::uint64_t hz() const { return hz_; }

 private:
#if defined(__aarch64__) || defined(__x86_64__) || (defined(__riscv) && __riscv_xlen == 64)
  static constexpr bool kHasCounter = true;
#else
  static constexpr bool kHasCounter = false;
#endif

  static std::uint64_t ticks() {
#if defined(__aarch64__)
    std::uint64_t t;
    __asm__ __volatile__("isb; mrs %0, cntvct_el0" : "=r"(t) : : "memory");
    return t;
#elif defined(__x86_64__)
    return __builtin_ia32_rdtsc();
#elif (defined(__riscv) && __riscv_xlen == 64)
    std::uint64_t t;
    __asm__ __volatile__("rdtime %0" : "=r"(t));
    return t;
#else
    return 0;
#endif
  }

  BootServices* bs_ = nullptr;
  std::uint64_t hz_ = 0;
  std::uint64_t start_ = 0;
  std::uint64_t stalled_ns_ = 0;
};

}  // namespace fbnic::bare::uefi
