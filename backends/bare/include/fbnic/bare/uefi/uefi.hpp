// The UEFI adapter of the bare-metal backend: hand-declared EFI tables, PciIo register and
// DMA access, ExitBootServices handling, a CPU clock, the Simple Network Protocol over
// fbnic::Device, and the Driver Model driver that publishes it. Freestanding, like the
// rest of fbnic::bare.
#pragma once

#include "fbnic/bare/bare.hpp"
#include "fbnic/bare/uefi/console.hpp"
#include "fbnic/bare/uefi/cpu_clock.hpp"
#include "fbnic/bare/uefi/device_path.hpp"
#include "fbnic/bare/uefi/driver_model.hpp"
#include "fbnic/bare/uefi/efi.hpp"
#include "fbnic/bare/uefi/exit_boot_services.hpp"
#include "fbnic/bare/uefi/pci_device.hpp"
#include "fbnic/bare/uefi/pci_io.hpp"
#include "fbnic/bare/uefi/pci_io_dma.hpp"
#include "fbnic/bare/uefi/pci_io_registers.hpp"
#include "fbnic/bare/uefi/simple_network.hpp"
#include "fbnic/bare/uefi/snp_adapter.hpp"
#include "fbnic/bare/uefi/snp_driver.hpp"
#include "fbnic/bare/uefi/tpl.hpp"

namespace fbnic::bare::uefi {
static_assert(fbnic::Platform<Platform<PciIoRegisters, PciIoDma>>);
}  // namespace fbnic::bare::uefi
