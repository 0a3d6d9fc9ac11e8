// The bare-metal backend: fbnic::bare::Platform and its parts. Freestanding.
// The UEFI adapter is separate: fbnic/bare/uefi/uefi.hpp.
#pragma once

#include "fbnic/bare/callback_registers.hpp"
#include "fbnic/bare/clock.hpp"
#include "fbnic/bare/dma_pool.hpp"
#include "fbnic/bare/log_sink.hpp"
#include "fbnic/bare/platform.hpp"
// s390x has no memory-mapped PCI (see fbnic/platform/mmio.hpp): no MmioRegisters there.
#if !defined(__s390x__)
#include "fbnic/bare/mmio.hpp"
#endif

namespace fbnic::bare {
#if !defined(__s390x__)
static_assert(fbnic::Platform<Platform<MmioRegisters, DmaPool<>>>);
#endif
static_assert(fbnic::Platform<Platform<CallbackRegisters, DmaPool<>>>);
}  // namespace fbnic::bare
