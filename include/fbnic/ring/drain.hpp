// drain_bounded: how a queue that was turned off takes back what its device completed.
//
// After a queue is disabled, at most one ring's worth of genuine completions can be
// waiting in host memory. A device that ignores the disable (or is hostile) can keep
// writing more for as long as the host keeps reading, so every disable path drains
// through this one helper, which stops after `limit` completions whatever the ring holds.
#pragma once

#include <cstdint>

namespace fbnic {

// Calls step(budget) until it takes nothing or `limit` completions were taken in all;
// step returns how many it took (never more than its budget). Returns the total.
template <class Step>
std::uint32_t drain_bounded(std::uint32_t limit, Step&& step) {
  std::uint32_t taken = 0;
  while (taken < limit) {
    const std::uint32_t n = step(limit - taken);
    if (n == 0) break;
    taken += n;
  }
  return taken;
}

}  // namespace fbnic
