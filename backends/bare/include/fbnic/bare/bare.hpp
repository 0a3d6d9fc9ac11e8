// The bare-metal backend: fbnic::bare::Platform and its parts. Freestanding.
// The UEFI adapter is separate: fbnic/bare/uefi/uefi.hpp.
#pragma once

#include "fbnic/bare/callback_registers.hpp"
#include "fbnic/bare/clock.hpp"
#include "fbnic/bare/dma_pool.hpp"
#include "fbnic/bare/log_sink.hpp"
#include "fbnic/bare/mmio.hpp"
#include "fbnic/bare/platform.hpp"

namespace fbnic::bare {
static_assert(fbnic::Platform<Platform<MmioRegisters, DmaPool<>>>);
static_assert(fbnic::Platform<Platform<CallbackRegisters, DmaPool<>>>);
}  // namespace fbnic::bare
