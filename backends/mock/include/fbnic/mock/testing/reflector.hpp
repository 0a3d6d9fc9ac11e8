// Reflector: the far end of a cable that sends every frame straight back, as a switch port
// in hairpin mode would. The link comes up without a second NIC (the reflector runs the
// mode the device runs), and what a NIC transmits comes back to its own Rx path, through
// the MAC and the classifier like any frame from the wire; unlike MAC loopback, the
// library's configuration stays the one it runs on real hardware.
//
//   mock::Device<> model;
//   mock::testing::Reflector reflector(model);   // plugged until it goes
#pragma once

#include <cstdint>
#include <span>

#include "fbnic/mock/wire.hpp"

namespace fbnic::mock::testing {

template <class ModelT>
class Reflector {
 public:
  explicit Reflector(ModelT& model) : model_(model) {
    model_.plug({FrameSink{&reflect, this}, &model_.mode()});
  }
  Reflector(const Reflector&) = delete;
  Reflector& operator=(const Reflector&) = delete;
  ~Reflector() { model_.unplug(); }

  // Frames sent back so far.
  [[nodiscard]] std::uint64_t frames() const { return frames_; }

 private:
  static void reflect(void* ctx, std::span<const std::uint8_t> frame) {
    auto* self = static_cast<Reflector*>(ctx);
    ++self->frames_;
    self->model_.receive(frame);
  }

  ModelT& model_;
  std::uint64_t frames_ = 0;
};

}  // namespace fbnic::mock::testing
