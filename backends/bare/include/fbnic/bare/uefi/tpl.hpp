// TplGuard: runs the enclosing scope at a raised task priority level (TPL_CALLBACK for
// driver code), restoring the caller's level on exit.
//
// Why TPL_CALLBACK: the driver's protocol functions, its ExitBootServices notification and
// its WaitForPacket notification all touch the same device and rings. Running all of them
// at TPL_CALLBACK means none can interrupt another (a notification at TPL_CALLBACK is held
// back while code runs at TPL_CALLBACK), with no locks. It is also the highest level at
// which the services the driver needs (Stall, PciIo) may be called.
#pragma once

#include "fbnic/bare/uefi/efi.hpp"

namespace fbnic::bare::uefi {

class TplGuard {
 public:
  TplGuard(BootServices* bs, Tpl level) : bs_(bs), old_(bs->raise_tpl(level)) {}
  TplGuard(const TplGuard&) = delete;
  TplGuard& operator=(const TplGuard&) = delete;
  ~TplGuard() { bs_->restore_tpl(old_); }

  [[nodiscard]] Tpl previous() const { return old_; }

 private:
  BootServices* bs_;
  Tpl old_;
};

// The level the caller runs at (UEFI has no getter: raise to the top and look back).
inline Tpl current_tpl(BootServices* bs) {
  const Tpl tpl = bs->raise_tpl(kTplHighLevel);
  bs->restore_tpl(tpl);
  return tpl;
}

}  // namespace fbnic::bare::uefi
