// The model's Ethernet wire: where transmitted frames go, and the link mode at the far end.
#pragma once

#include <cstdint>
#include <span>

namespace fbnic::mock {

// Receives a frame (without FCS). A function pointer and a context: no heap, no <functional>.
struct FrameSink {
  void (*fn)(void* ctx, std::span<const std::uint8_t> frame) = nullptr;
  void* ctx = nullptr;

  [[nodiscard]] bool connected() const { return fn != nullptr; }
  void operator()(std::span<const std::uint8_t> frame) const {
    if (fn != nullptr) fn(ctx, frame);
  }
};

// A port's PHY setting as both ends of a cable must agree on it.
struct LinkMode {
  std::uint32_t speed = 0;  // fw::LinkSpeed: 1 25G-R1, 2 50G-R2, 3 50G-R1, 4 100G-R2
  std::uint32_t fec = 0;    // fw::LinkFec: 1 none, 2 RS, 3 BASE-R

  friend constexpr bool operator==(const LinkMode&, const LinkMode&) = default;
};

// What a plugged cable reaches: a sink for frames, and the far end's mode (which may
// change while plugged, so it is read through a pointer).
struct FarEnd {
  FrameSink sink{};
  const LinkMode* mode = nullptr;
};

}  // namespace fbnic::mock
