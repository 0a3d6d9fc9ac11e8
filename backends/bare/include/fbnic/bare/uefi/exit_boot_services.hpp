// ExitBootServicesEvent: runs a callback when the firmware hands the machine to an operating
// system loader (EVT_SIGNAL_EXIT_BOOT_SERVICES), so that a driver stops its device's DMA
// before the memory it gave the device belongs to someone else.
//
// The callback runs inside ExitBootServices(), at TPL_CALLBACK: it may touch the device's
// registers (directly or through PciIo) but must not allocate, free or wait on events.
#pragma once

#include "fbnic/bare/uefi/efi.hpp"

namespace fbnic::bare::uefi {

class ExitBootServicesEvent {
 public:
  using Callback = void (*)(void* ctx);

  constexpr ExitBootServicesEvent() = default;
  ExitBootServicesEvent(const ExitBootServicesEvent&) = delete;
  ExitBootServicesEvent& operator=(const ExitBootServicesEvent&) = delete;
  ~ExitBootServicesEvent() { close(); }

  Status create(BootServices* bs, Callback callback, void* ctx) {
    if (event_ != nullptr) return kAlreadyStarted;
    bs_ = bs;
    callback_ = callback;
    ctx_ = ctx;
    return bs->create_event(kEvtSignalExitBootServices, kTplCallback, &notify, this, &event_);
  }
  // Once the event has fired the boot services are gone, and the event with them.
  void close() {
    if (event_ != nullptr && !fired_) bs_->close_event(event_);
    event_ = nullptr;
  }
  [[nodiscard]] bool armed() const { return event_ != nullptr; }
  [[nodiscard]] bool fired() const { return fired_; }

 private:
  static void FBNIC_EFIAPI notify(Event /*event*/, void* context) {
    auto* self = static_cast<ExitBootServicesEvent*>(context);
    self->fired_ = true;
    self->callback_(self->ctx_);
  }

  BootServices* bs_ = nullptr;
  Event event_ = nullptr;
  Callback callback_ = nullptr;
  void* ctx_ = nullptr;
  bool fired_ = false;
};

}  // namespace fbnic::bare::uefi
