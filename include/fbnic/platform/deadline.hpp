// Deadline: the one way the core waits. Every loop that waits on the device polls
// until a deadline taken from the platform's monotonic clock, so no wait can hang.
#pragma once

#include <cstdint>
#include <type_traits>

#include "fbnic/base/status.hpp"
#include "fbnic/platform/platform.hpp"

namespace fbnic {

class Deadline {
 public:
  static constexpr Deadline after_us(std::uint64_t now_ns, std::uint64_t us) {
    return Deadline(now_ns + us * 1000u);
  }
  static constexpr Deadline at_ns(std::uint64_t ns) { return Deadline(ns); }

  [[nodiscard]] constexpr bool expired(std::uint64_t now_ns) const { return now_ns >= at_ns_; }
  [[nodiscard]] constexpr std::uint64_t ns() const { return at_ns_; }

 private:
  constexpr explicit Deadline(std::uint64_t at) : at_ns_(at) {}
  std::uint64_t at_ns_;
};

// Calls done() every step_us until it returns true (ok) or the deadline passes
// (kTimeout). done() may also return a Status to stop early with an error. The last
// sleep is cut short so that done() is tried once more at the deadline itself and the
// call returns by it (to the microsecond delay_us counts in), not a step later.
// The sleep before the next try: a step, or what is left of the deadline rounded up to a
// microsecond if that is less. 32-bit arithmetic only: a 64-bit division is a libgcc call
// on 32-bit CPUs, and freestanding images link no libgcc.
constexpr std::uint32_t last_sleep_us(std::uint64_t left_ns, std::uint32_t step_us) {
  constexpr std::uint32_t kLongestUs = (0xffff'ffffu - 999u) / 1000u;
  if (left_ns > std::uint64_t{kLongestUs} * 1000u) {
    return step_us < kLongestUs ? step_us : kLongestUs;
  }
  const std::uint32_t left_us = (static_cast<std::uint32_t>(left_ns) + 999u) / 1000u;
  return left_us < step_us ? left_us : step_us;
}

template <Platform P, class Done>
Status poll_until(P& platform, Deadline deadline, std::uint32_t step_us, Done&& done) {
  for (;;) {  // bounded by the deadline: the clock is monotonic and every pass sleeps
    const auto r = done();
    if constexpr (std::is_same_v<std::remove_cvref_t<decltype(r)>, bool>) {
      if (r) return ok_status();
    } else {
      if (r.code() != Error::kBusy) return r;  // ok or a hard error
    }
    const std::uint64_t now = platform.now_ns();
    if (deadline.expired(now)) return Error::kTimeout;
    platform.delay_us(last_sleep_us(deadline.ns() - now, step_us));
  }
}

}  // namespace fbnic
