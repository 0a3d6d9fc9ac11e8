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
// (kTimeout). done() may also return a Status to stop early with an error.
template <Platform P, class Done>
Status poll_until(P& platform, Deadline deadline, std::uint32_t step_us, Done&& done) {
  for (;;) {
    const auto r = done();
    if constexpr (std::is_same_v<std::remove_cvref_t<decltype(r)>, bool>) {
      if (r) return ok_status();
    } else {
      if (r.code() != Error::kBusy) return r;  // ok or a hard error
    }
    if (deadline.expired(platform.now_ns())) return Error::kTimeout;
    platform.delay_us(step_us);
  }
}

}  // namespace fbnic
