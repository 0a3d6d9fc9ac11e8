// Hostility: the device model's hostile mode.
//
// A real device can be buggy, a firmware can be broken and a card can vanish; the library
// promises that none of that makes it hang, corrupt, leak or lie. The hostile mode is how
// the model plays those devices, on purpose and reproducibly. Everything is off by
// default, and the model is then the faithful device it always is.
//
// Every hostile choice draws from one Entropy: a seeded generator, or a caller's bytes
// (a fuzzer's input) until they run out, then the generator. The same seed or bytes and
// the same calls give the same run.
//
//   Completions (per direction, CompletionFaults):
//     corrupt         random values in a completion's fields (the DONE bit stays right)
//     stale           an old completion (one of the last 8) written again in the next slot,
//                     after a genuine one or at any step of the model
//     duplicate       a completion written twice in a row
//     ignore_disable  the completion queue is written after it was turned off: every head
//                     doorbell is answered by filling the free slots with old completions
//     repeat          the same, on a queue that is on: the last completions again, round
//                     and round (the same packets in the same buffers, for ever)
//   The queues:
//     tx_stall        the Tx engine fetches nothing (packets stay posted)
//     never_idle      the QM idle bits stay clear
//     mac_stuck       the MAC takes no frame (a link partner pausing for ever): the Tx
//                     engine fetches a packet and holds it, busy, until TMI_DROP_CTRL
//                     drops it at the MAC interface
//   The bus:
//     remove_after    surprise removal: the device is gone just before the n-th MMIO
//                     access from now (reads all ones, writes vanish)
//     stuck           bits that read back fixed at one register (e.g. a mailbox FW_CMPL)
//
// The firmware's hostility (storms, floods, late answers, broken messages) lives beside
// its model, in mock::Misbehaviour (firmware.hpp).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "fbnic/platform/bar.hpp"

namespace fbnic::mock {

// Rates are chances out of 65536; kAlways makes a fault happen every time.
inline constexpr std::uint32_t kAlways = 65536;

class Entropy {
 public:
  void seed(std::uint64_t s) {
    state_ = s;
    bytes_ = {};
    pos_ = 0;
  }
  // Choices come from these bytes first; they must stay valid while the model runs.
  void feed(std::span<const std::uint8_t> bytes) {
    bytes_ = bytes;
    pos_ = 0;
  }

  std::uint32_t u32() {
    if (pos_ < bytes_.size()) {
      std::uint32_t v = 0;
      for (int i = 0; i < 4 && pos_ < bytes_.size(); ++i) v = (v << 8) | bytes_[pos_++];
      return v;
    }
    // splitmix64: any seed, zero included, gives a full-period sequence.
    state_ += 0x9E37'79B9'7F4A'7C15ull;
    std::uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xBF58'476D'1CE4'E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D0'49BB'1331'11EBull;
    return static_cast<std::uint32_t>((z ^ (z >> 31)) >> 16);
  }
  std::uint64_t u64() { return (std::uint64_t{u32()} << 32) | u32(); }
  // Uniform enough in [0, n); 0 when n is 0.
  std::uint32_t below(std::uint32_t n) { return n == 0 ? 0 : u32() % n; }
  bool chance(std::uint32_t rate) {
    if (rate == 0) return false;
    if (rate >= kAlways) return true;
    return (u32() & 0xFFFFu) < rate;
  }

 private:
  std::uint64_t state_ = 0;
  std::span<const std::uint8_t> bytes_{};
  std::size_t pos_ = 0;
};

struct CompletionFaults {
  std::uint32_t corrupt = 0;
  std::uint32_t stale = 0;
  std::uint32_t duplicate = 0;
  bool ignore_disable = false;
  bool repeat = false;

  [[nodiscard]] bool any() const {
    return corrupt != 0 || stale != 0 || duplicate != 0 || ignore_disable || repeat;
  }
};

// Bits that read back fixed, whatever the device or driver wrote, at `count` registers
// `stride` bytes apart from `offset` (e.g. FW_CMPL of every mailbox Rx descriptor).
struct StuckBits {
  Bar bar = Bar::kCsr;
  std::uint32_t offset = 0;
  std::uint32_t ones = 0;   // read as 1
  std::uint32_t zeros = 0;  // read as 0
  std::uint32_t count = 1;
  std::uint32_t stride = 4;

  [[nodiscard]] bool active() const { return (ones | zeros) != 0; }
  [[nodiscard]] std::uint32_t apply(Bar b, std::uint32_t off, std::uint32_t v) const {
    if (!active() || b != bar || off < offset || stride == 0) return v;
    const std::uint32_t d = off - offset;
    return d % stride == 0 && d / stride < count ? (v | ones) & ~zeros : v;
  }
};

struct Hostility {
  Entropy entropy;
  CompletionFaults rx;
  CompletionFaults tx;
  bool tx_stall = false;
  bool never_idle = false;
  bool mac_stuck = false;
  std::uint64_t remove_after = 0;  // 0: never
  std::array<StuckBits, 4> stuck{};

  // Back to a faithful device (the entropy keeps its position).
  void calm() {
    rx = {};
    tx = {};
    tx_stall = false;
    never_idle = false;
    mac_stuck = false;
    remove_after = 0;
    stuck = {};
  }
};

}  // namespace fbnic::mock
