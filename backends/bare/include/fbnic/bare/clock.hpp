// Clock: the caller's monotonic time and short wait, as two function pointers and a context.
//
// The core bounds every wait with a deadline read from now_ns and waits between polls with
// delay_us, so both are required: a clock that never advances would make every deadline
// infinite. Firmware passes its timer (and a stall); a device model passes its virtual clock
// and a delay that advances the model, so that waiting is when the model does its work.
#pragma once

#include <cstdint>

namespace fbnic::bare {

struct Clock {
  std::uint64_t (*now_ns)(void* ctx) = nullptr;
  void (*delay_us)(void* ctx, std::uint32_t us) = nullptr;
  void* ctx = nullptr;

  // A clock onto any object with now_ns() and delay_us(us).
  template <class Source>
  static Clock to(Source& source) {
    return {[](void* c) -> std::uint64_t { return static_cast<Source*>(c)->now_ns(); },
            [](void* c, std::uint32_t us) { static_cast<Source*>(c)->delay_us(us); }, &source};
  }
};

}  // namespace fbnic::bare
