// FaultLog: what a driver did that real hardware would trip over.
//
// The model never crashes on a driver's mistake; it records a Fault and carries on the
// way the hardware would (dropping the access, stalling the queue). Tests read the log.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace fbnic::mock {

enum class Fault : std::uint8_t {
  kDmaUnmapped,         // DMA to or from an address no mapping covers
  kDmaBusMasterOff,     // DMA while the PUL bus-master enable for that direction is off
  kDoorbellBeyondRing,  // a tail/head doorbell value outside the ring
  kRingOverrun,         // a producer passed the consumer (descriptors overwritten)
  kBufferReused,        // a buffer posted again while the device still owns it
  kBadDescriptor,       // a descriptor the hardware cannot parse
  kQueueNotReady,       // a doorbell on a queue that is not enabled
  kRingMisaligned,      // ring base not 128-byte aligned, or size not a power of two
  kMailboxProtocol,     // a mailbox descriptor the firmware cannot use
  kHeartbeatLapsed,     // the host owns the NIC but its heartbeats stopped (see firmware.hpp)
  kCount,
};

constexpr const char* fault_name(Fault f) {
  switch (f) {
    case Fault::kDmaUnmapped: return "dma to unmapped address";
    case Fault::kDmaBusMasterOff: return "dma with bus mastering off";
    case Fault::kDoorbellBeyondRing: return "doorbell beyond ring";
    case Fault::kRingOverrun: return "ring overrun";
    case Fault::kBufferReused: return "buffer reused while device owns it";
    case Fault::kBadDescriptor: return "bad descriptor";
    case Fault::kQueueNotReady: return "doorbell on a disabled queue";
    case Fault::kRingMisaligned: return "ring misaligned";
    case Fault::kMailboxProtocol: return "mailbox protocol";
    case Fault::kHeartbeatLapsed: return "host heartbeat lapsed (service() not called)";
    case Fault::kCount: break;
  }
  return "?";
}

struct FaultRecord {
  Fault fault = Fault::kCount;
  std::uint64_t a = 0;  // what: an address, a queue, a value (per fault)
  std::uint64_t b = 0;  // detail: a length, an index
};

template <std::size_t Capacity>
class FaultLog {
 public:
  void record(Fault f, std::uint64_t a = 0, std::uint64_t b = 0) {
    ++counts_[static_cast<std::size_t>(f)];
    ++total_;
    recent_[next_] = {f, a, b};
    next_ = (next_ + 1) % Capacity;
    if (filled_ < Capacity) ++filled_;
  }

  [[nodiscard]] std::uint64_t count(Fault f) const { return counts_[static_cast<std::size_t>(f)]; }
  [[nodiscard]] std::uint64_t total() const { return total_; }

  // The i-th most recent record (0 = newest); i < size().
  [[nodiscard]] const FaultRecord& recent(std::size_t i) const {
    return recent_[(next_ + Capacity - 1 - i) % Capacity];
  }
  [[nodiscard]] std::size_t size() const { return filled_; }

  void clear() { *this = FaultLog(); }

 private:
  std::array<std::uint64_t, static_cast<std::size_t>(Fault::kCount)> counts_{};
  std::array<FaultRecord, Capacity> recent_{};
  std::size_t next_ = 0;
  std::size_t filled_ = 0;
  std::uint64_t total_ = 0;
};

}  // namespace fbnic::mock
