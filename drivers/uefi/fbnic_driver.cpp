// fbnic.efi: the UEFI boot-service driver for Meta's fbnic NIC (PCI 1d9b:0013).
//
// Loaded by the firmware (a Driver#### load option, the shell's `load`, or an option ROM's
// place), it installs Driver Binding and Component Name 2 (fbnic::bare::uefi::SnpDriver)
// and returns; the firmware then starts it on every fbnic it connects, and the Simple
// Network Protocol it publishes carries the firmware's own network stack: DHCP, PXE and
// HTTP boot, the shell's ifconfig and ping. It polls: no interrupts are used.
//
// No EDK2 and no C library (runtime.cpp has the four functions the compiler emits); no
// constructor runs before efi_main, so everything global is constinit.
#include <fbnic/bare/uefi/uefi.hpp>

#include <cstddef>
#include <cstdint>

namespace {

namespace uefi = fbnic::bare::uefi;

constinit uefi::SystemTable* g_st = nullptr;
constinit uefi::CpuClock g_clock{};
constinit uefi::SnpDriver g_driver{};

// Error lines to the firmware's standard error (the console, and the serial port where
// there is one), prefixed so that a log of a boot can be searched.
void log_line(void* /*ctx*/, fbnic::LogLevel /*level*/, const char* line) {
  uefi::print_line(g_st->std_err, line);
}

uefi::Status FBNIC_EFIAPI unload(uefi::Handle /*image*/) { return g_driver.unload(); }

}  // namespace

extern "C" uefi::Status FBNIC_EFIAPI efi_main(uefi::Handle image, uefi::SystemTable* st) {
  g_st = st;
  uefi::BootServices* bs = st->boot_services;
  // The TSC's rate, against a 10 ms Stall: every deadline of the core is on this clock.
  if (const uefi::Status cal = g_clock.calibrate(bs); uefi::is_error(cal)) return cal;
  void* loaded = nullptr;
  if (const uefi::Status got = bs->handle_protocol(image, &uefi::kLoadedImageProtocolGuid, &loaded);
      uefi::is_error(got)) {
    return got;
  }
  uefi::DriverConfig cfg;
  cfg.clock = fbnic::bare::Clock::to(g_clock);
  cfg.log = {&log_line, nullptr, fbnic::LogLevel::kWarning};
  const uefi::Status installed = g_driver.install(image, bs, cfg);
  if (!uefi::is_error(installed)) static_cast<uefi::LoadedImage*>(loaded)->unload = &unload;
  return installed;
}
