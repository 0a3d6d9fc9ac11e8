// PciDevice: finding fbnic among the firmware's PCI functions and owning its PCI attributes.
//
// find() asks for every handle carrying EFI_PCI_IO_PROTOCOL and reads each function's vendor
// and device ID from configuration space. enable() turns on memory decoding and bus mastering
// (and 64-bit DMA addressing when the root bridge allows it, so that PciIo Map needs no bounce
// buffers below 4 GiB), remembering what was set before; restore() puts that back, except
// bus mastering, which it leaves off: EDK2's PCI bus driver enables it on every function it
// starts (OVMF hands fbnic over with the command register at 0x0006), and a device whose
// driver stopped must not be able to reach memory. A driver that starts later enables what
// it needs. disable_bus_master() is for ExitBootServices: one configuration write, nothing
// waited for.
// (A driver that is given its BAR addresses instead uses MmioRegisters and needs none of this.)
#pragma once

#include <cstdint>

#include "fbnic/bare/uefi/efi.hpp"
#include "fbnic/bare/uefi/pci_io.hpp"

namespace fbnic::bare::uefi {

inline constexpr std::uint16_t kMetaVendorId = 0x1D9B;
inline constexpr std::uint16_t kFbnicDeviceId = 0x0013;

struct PciLocation {
  std::uintptr_t segment = 0;
  std::uintptr_t bus = 0;
  std::uintptr_t device = 0;
  std::uintptr_t function = 0;
};

class PciDevice {
 public:
  constexpr PciDevice() = default;
  PciDevice(Handle handle, PciIo* pci_io) : handle_(handle), pci_io_(pci_io) {}

  // The first function with this vendor and device ID; kNotFound when there is none.
  // *scanned (if given) counts the PCI functions looked at.
  static Status find(BootServices* bs, std::uint16_t vendor, std::uint16_t device, PciDevice* out,
                     std::uint32_t* scanned = nullptr) {
    Handle* handles = nullptr;
    std::uintptr_t count = 0;
    if (scanned != nullptr) *scanned = 0;
    const Status located = bs->locate_handle_buffer(LocateSearchType::kByProtocol,
                                                    &kPciIoProtocolGuid, nullptr, &count, &handles);
    if (located == kNotFound) return kNotFound;  // no PCI at all
    if (is_error(located)) return located;
    Status result = kNotFound;
    for (std::uintptr_t i = 0; i < count && result == kNotFound; ++i) {
      void* interface = nullptr;
      if (is_error(bs->handle_protocol(handles[i], &kPciIoProtocolGuid, &interface))) continue;
      auto* pci_io = static_cast<PciIo*>(interface);
      std::uint32_t id = 0;
      if (is_error(pci_io->pci.read(pci_io, PciIoWidth::kUint32, 0, 1, &id))) continue;
      if (scanned != nullptr) ++*scanned;
      if ((id & 0xFFFFu) == vendor && (id >> 16) == device) {
        *out = PciDevice(handles[i], pci_io);
        result = kSuccess;
      }
    }
    bs->free_pool(handles);
    return result;
  }

  [[nodiscard]] Handle handle() const { return handle_; }
  [[nodiscard]] PciIo* pci_io() const { return pci_io_; }
  [[nodiscard]] PciLocation location() const {
    PciLocation l;
    pci_io_->get_location(pci_io_, &l.segment, &l.bus, &l.device, &l.function);
    return l;
  }

  Status enable() {
    Status st = pci_io_->attributes(pci_io_, PciIoAttributeOperation::kGet, 0, &original_);
    if (is_error(st)) return st;
    std::uint64_t supported = 0;
    st = pci_io_->attributes(pci_io_, PciIoAttributeOperation::kSupported, 0, &supported);
    if (is_error(st)) return st;
    const std::uint64_t wanted = kPciIoAttributeMemory | kPciIoAttributeBusMaster |
                                 (supported & kPciIoAttributeDualAddressCycle);
    st = pci_io_->attributes(pci_io_, PciIoAttributeOperation::kEnable, wanted, nullptr);
    if (!is_error(st)) enabled_ = true;
    return st;
  }
  Status restore() {
    if (!enabled_) return kSuccess;
    enabled_ = false;
    return pci_io_->attributes(pci_io_, PciIoAttributeOperation::kSet,
                               original_ & ~kPciIoAttributeBusMaster, nullptr);
  }
  Status disable_bus_master() {
    return pci_io_->attributes(pci_io_, PciIoAttributeOperation::kDisable, kPciIoAttributeBusMaster,
                               nullptr);
  }

 private:
  Handle handle_ = nullptr;
  PciIo* pci_io_ = nullptr;
  std::uint64_t original_ = 0;
  bool enabled_ = false;
};

}  // namespace fbnic::bare::uefi
