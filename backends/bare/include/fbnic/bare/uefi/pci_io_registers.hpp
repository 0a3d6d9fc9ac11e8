// PciIoRegisters: register access through EFI_PCI_IO_PROTOCOL's Mem.Read and Mem.Write on
// BAR 0 and BAR 4, the way a UEFI driver must reach its device (the firmware knows where the
// BARs are and how they are mapped; the driver does not assume an address). A failed access
// reads as all ones, which the core takes for a device that is gone.
#pragma once

#include <cstdint>

#include "fbnic/bare/uefi/pci_io.hpp"
#include "fbnic/platform/bar.hpp"

namespace fbnic::bare::uefi {

class PciIoRegisters {
 public:
  explicit PciIoRegisters(PciIo* pci_io) : pci_io_(pci_io) {}

  [[nodiscard]] std::uint32_t read32(Bar bar, std::uint32_t offset) const {
    std::uint32_t value = 0xFFFF'FFFFu;
    if (is_error(pci_io_->mem.read(pci_io_, PciIoWidth::kUint32, static_cast<std::uint8_t>(bar),
                                   offset, 1, &value))) {
      return 0xFFFF'FFFFu;
    }
    return value;
  }
  void write32(Bar bar, std::uint32_t offset, std::uint32_t value) const {
    pci_io_->mem.write(pci_io_, PciIoWidth::kUint32, static_cast<std::uint8_t>(bar), offset, 1,
                       &value);
  }

 private:
  PciIo* pci_io_;
};

}  // namespace fbnic::bare::uefi
