// Policy: what a user of the data path chooses at compile time. Derive from
// DefaultPolicy and override what differs:
//
//   struct Small : fbnic::DefaultPolicy { static constexpr std::uint32_t kTxRing = 256; };
#pragma once

#include <cstddef>
#include <cstdint>

#include "fbnic/base/bytes.hpp"
#include "fbnic/base/log.hpp"

namespace fbnic {

struct DefaultPolicy {
  // Ring sizes: powers of two, 64 ... 65536 entries (the upstream driver's defaults).
  static constexpr std::uint32_t kTxRing = 1024;   // TWQ0 descriptors
  static constexpr std::uint32_t kTcqRing = 1024;  // Tx completions
  static constexpr std::uint32_t kHpqRing = 256;   // Rx header buffers (4 KiB each)
  static constexpr std::uint32_t kPpqRing = 256;   // Rx payload buffers (4 KiB each)
  static constexpr std::uint32_t kRcqRing = 1024;  // Rx completions
  // Rx pages beyond the rings', so that packets can be held while the rings refill.
  static constexpr std::uint32_t kRxSparePages = 256;

  static constexpr std::uint32_t kMaxTxBuffers = 16;  // buffers per Tx packet
  // Checksum and segmentation offload on Tx; without it (a boot driver sends frames as
  // they are) send() refuses a packet that asks for one, kNotSupported.
  static constexpr bool kTxOffloads = true;
  static constexpr std::uint32_t kMaxRxFrags = 5;  // header + payload pieces per Rx packet
  // The most common packet (one buffer, no offload) in a loop of its own on Tx and Rx
  // (TxQueue::post_simple, RxQueue::collect_single): fewer instructions per packet, for
  // about 1 KiB of code. Without them every packet takes the general loop, with the same
  // checks and results (a boot driver, sending a packet at a time, needs no speed).
  static constexpr bool kFastPaths = true;

  // Rx placement: bytes the device leaves free before and after data in a buffer; frames
  // up to kRxMaxHeader bytes land whole in a header buffer, larger ones are split at the
  // header (or always, with kRxHeaderSplit).
  static constexpr std::uint32_t kRxHeadroom = 64;
  static constexpr std::uint32_t kRxTailroom = 0;
  static constexpr std::uint32_t kRxMaxHeader = 1536;
  static constexpr bool kRxHeaderSplit = false;
  // With no Rx buffer or completion room: drop at once (false), or hold frames in the
  // device's FIFO until there is room (true), which leads to PAUSE frames when Tx pause
  // is on. Upstream drops at once unless Tx pause is on.
  static constexpr bool kRxBackPressure = false;

  // Interrupt moderation (the upstream defaults).
  static constexpr std::uint32_t kRxCoalesceUs = 30;
  static constexpr std::uint32_t kTxCoalesceUs = 35;

  // The most queues a Device holds, 1..128: its size grows with them (docs/porting.md).
  // DeviceConfig::tx_queues / rx_queues choose at run time how many open.
  static constexpr std::uint32_t kTxQueues = 1;
  static constexpr std::uint32_t kRxQueues = 1;

  static constexpr LogLevel kLogLevel = LogLevel::kInfo;

  // Firmware log entries the device's firmware client keeps; 0 leaves out log handling
  // (a boot driver never asks the firmware for its log).
  static constexpr std::size_t kFirmwareLogs = 16;
  // The device's counters as running totals (Device::stats(), dev/stats.hpp): zeroed at
  // open, the 32-bit ones refreshed by service(). Without them stats() answers
  // kNotSupported, neither open() nor service() reads a counter, and an Rx queue's
  // no_buffers (a device counter) stays 0 (a boot driver that reports a few MAC counters
  // reads those itself).
  static constexpr bool kDeviceCounters = true;
};

template <class Policy>
constexpr bool valid_ring(std::uint32_t n) {
  return is_pow2(n) && n >= 64 && n <= 65536;
}

template <class Policy>
constexpr bool policy_is_valid() {
  return valid_ring<Policy>(Policy::kTxRing) && valid_ring<Policy>(Policy::kTcqRing) &&
         valid_ring<Policy>(Policy::kHpqRing) && valid_ring<Policy>(Policy::kPpqRing) &&
         valid_ring<Policy>(Policy::kRcqRing) && Policy::kMaxTxBuffers >= 1 &&
         Policy::kMaxRxFrags >= 2 && Policy::kRxHeadroom < 512 && Policy::kRxTailroom < 512 &&
         Policy::kRxMaxHeader >= 64 && Policy::kRxMaxHeader < 4096 && Policy::kTxQueues >= 1 &&
         Policy::kRxQueues >= 1 && Policy::kTxQueues <= 128 && Policy::kRxQueues <= 128;
}

}  // namespace fbnic
