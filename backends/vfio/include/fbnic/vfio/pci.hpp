// PCI devices as Linux shows them in sysfs: addresses, IDs, drivers, and the commands
// that hand a device to vfio-pci.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fbnic/base/result.hpp"

namespace fbnic::vfio {

struct PciId {
  std::uint16_t vendor = 0;
  std::uint16_t device = 0;
};

inline constexpr PciId kFbnicPciId{0x1d9b, 0x0013};

// "BB:DD.F" or "DDDD:BB:DD.F" (hex) to the canonical lower-case "DDDD:BB:DD.F";
// kInvalidArgument otherwise.
Result<std::string> normalize_pci_address(std::string_view text);

// Addresses of the devices with this ID, sorted.
std::vector<std::string> find_pci_devices(PciId id);

// The IDs sysfs reports, or nothing when the device is absent.
Result<PciId> pci_id(const std::string& address);

// The bound driver's name; empty when none is bound.
std::string pci_driver(const std::string& address);

// Shell commands (one per line, for root) that move the device from its current driver,
// if any, to vfio-pci.
std::string vfio_bind_commands(const std::string& address);

}  // namespace fbnic::vfio
