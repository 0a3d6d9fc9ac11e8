// SharedPort: one Ethernet port shared by up to four host slices and a BMC, the way a
// multi-host NIC serves several servers. Each slice is its own Device (BARs, queues,
// classifier tables); every frame from the wire is offered to every slice and to the
// BMC, and each keeps only what its own filters accept. Slices transmit onto the wire.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "fbnic/mock/wire.hpp"

namespace fbnic::mock {

template <class DeviceT, std::size_t MaxSlices = 4>
class SharedPort {
 public:
  // The wire side of the port: where frames from the slices go, and the far end's mode.
  void plug(FarEnd far) {
    far_ = far;
    for (std::size_t i = 0; i < count_; ++i) slices_[i]->plug({slice_sink(), far.mode});
  }
  void unplug() {
    far_ = {};
    for (std::size_t i = 0; i < count_; ++i) slices_[i]->unplug();
  }
  // Adds a host slice; false when all are taken.
  bool attach(DeviceT& slice) {
    if (count_ == MaxSlices) return false;
    slices_[count_++] = &slice;
    if (far_.sink.connected()) slice.plug({slice_sink(), far_.mode});
    return true;
  }
  // The BMC sees every frame from the wire (its own filtering is the firmware's).
  void set_bmc(FrameSink bmc) { bmc_ = bmc; }

  // Where the far end delivers frames: all slices and the BMC.
  [[nodiscard]] FrameSink wire_sink() {
    return {[](void* ctx, std::span<const std::uint8_t> f) {
              static_cast<SharedPort*>(ctx)->from_wire(f);
            },
            this};
  }
  // The port's own mode for a far end to compare with: the first slice's.
  [[nodiscard]] const LinkMode* mode() const { return count_ == 0 ? nullptr : &slices_[0]->mode(); }

 private:
  FrameSink slice_sink() {
    return {[](void* ctx, std::span<const std::uint8_t> f) {
              static_cast<SharedPort*>(ctx)->far_.sink(f);
            },
            this};
  }
  void from_wire(std::span<const std::uint8_t> f) {
    for (std::size_t i = 0; i < count_; ++i) slices_[i]->receive(f);
    bmc_(f);
  }

  std::array<DeviceT*, MaxSlices> slices_{};
  std::size_t count_ = 0;
  FarEnd far_{};
  FrameSink bmc_{};
};

}  // namespace fbnic::mock
