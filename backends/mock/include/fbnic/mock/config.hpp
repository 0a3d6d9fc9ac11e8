// Capacities of the device model: fixed at compile time so that the model core needs no
// heap and can be compiled into a freestanding (UEFI) image.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fbnic::mock {

struct DefaultConfig {
  static constexpr std::uint32_t kQueues = 8;           // queue register blocks modelled
  static constexpr std::size_t kDmaMappings = 1024;     // live DMA mappings
  static constexpr std::size_t kFaultLog = 64;          // most recent faults kept
  static constexpr std::size_t kAccessLog = 256;        // most recent MMIO accesses kept
  static constexpr std::size_t kFwOutbox = 48;          // firmware answers waiting for a buffer
  static constexpr std::size_t kRxbBytes = 384 * 1024;  // the network-to-host Rx FIFO
  static constexpr std::size_t kRxbFrames = 4096;
};

// Small enough for a UEFI image's .bss.
struct SmallConfig {
  static constexpr std::uint32_t kQueues = 2;
  static constexpr std::size_t kDmaMappings = 128;
  static constexpr std::size_t kFaultLog = 16;
  static constexpr std::size_t kAccessLog = 16;
  static constexpr std::size_t kFwOutbox = 4;
  static constexpr std::size_t kRxbBytes = 32 * 1024;
  static constexpr std::size_t kRxbFrames = 64;
};

}  // namespace fbnic::mock
