// Queue interrupt vectors: moderation, rearm, mask, and a forced first interrupt.
#pragma once

#include <cstdint>

#include "fbnic/base/status.hpp"
#include "fbnic/hw/io.hpp"
#include "fbnic/regs/intr.hpp"

namespace fbnic {

// Sets the vector's coalescing timeouts and unmasks it.
template <Platform P>
Status arm_vector(Io<P>& io, std::uint32_t vector, std::uint32_t rx_us, std::uint32_t tx_us) {
  using R = regs::IntrCqRearm;
  return io.write(R::at(vector), R{}.set(R::kRcqTimeout, rx_us)
                                     .set(R::kRcqTimeoutUpdate, 1)
                                     .set(R::kTcqTimeout, tx_us)
                                     .set(R::kTcqTimeoutUpdate, 1)
                                     .set(R::kIntrUnmask, 1));
}

// Unmasks the vector after its queues were polled below budget.
template <Platform P>
Status rearm_vector(Io<P>& io, std::uint32_t vector) {
  using R = regs::IntrCqRearm;
  return io.write(R::at(vector), R{}.set(R::kIntrUnmask, 1));
}

template <Platform P>
Status mask_vector(Io<P>& io, std::uint32_t vector) {
  return io.write(regs::IntrMaskSet::at(regs::vector_reg(vector)),
                  regs::IntrMaskSet::from_raw(regs::vector_bit(vector)));
}

// Raises the vector by software, so that a first poll runs after bring-up.
template <Platform P>
Status fire_vector(Io<P>& io, std::uint32_t vector) {
  return io.write(regs::IntrSet::at(regs::vector_reg(vector)),
                  regs::IntrSet::from_raw(regs::vector_bit(vector)));
}

}  // namespace fbnic
