// Problem: what went wrong on the system side, finer than fbnic::Status, so a tool can
// tell a user which fix applies (Platform::last_error() has the fix as text).
#pragma once

#include <cstdint>
#include <string>

namespace fbnic::vfio {

enum class Problem : std::uint8_t {
  kNone = 0,
  kBadAddress,            // not a PCI address (want DDDD:BB:DD.F)
  kNoSuchDevice,          // no such device in /sys/bus/pci/devices
  kNotBound,              // the device is not bound to vfio-pci
  kVfioMissing,           // vfio modules not loaded, no /dev/vfio nodes
  kNoIommu,               // no IOMMU (off, absent, or the device has no group)
  kNoInterruptRemapping,  // type1 refuses an IOMMU that cannot isolate MSIs
  kGroupNotViable,        // another device of the IOMMU group is bound to a driver
  kNoPermission,          // /dev/vfio/N, noiommu or pagemap needs rights we lack
  kBusy,                  // the group or device is already open elsewhere
  kNoHugepages,           // hugepages asked for or needed, none free
  kMemlockLimit,          // pinning DMA memory hit RLIMIT_MEMLOCK
  kNoIommufd,             // iommufd asked for, the kernel lacks /dev/iommu or the cdev
  kNotSupported,          // the device lacks the feature (reset, interrupt type)
  kInvalidArgument,       // the caller passed something out of range
  kNotOpen,               // the call needs an open device
  kDeviceRemoved,         // the device is gone, or the kernel asked for it back (unbind)
  kSystemError,           // an unexpected errno; the message names the call
};

constexpr const char* problem_name(Problem p) {
  switch (p) {
    case Problem::kNone: return "none";
    case Problem::kBadAddress: return "bad PCI address";
    case Problem::kNoSuchDevice: return "no such device";
    case Problem::kNotBound: return "not bound to vfio-pci";
    case Problem::kVfioMissing: return "vfio not available";
    case Problem::kNoIommu: return "no IOMMU";
    case Problem::kNoInterruptRemapping: return "no interrupt remapping";
    case Problem::kGroupNotViable: return "IOMMU group not viable";
    case Problem::kNoPermission: return "no permission";
    case Problem::kBusy: return "busy";
    case Problem::kNoHugepages: return "no hugepages";
    case Problem::kMemlockLimit: return "locked-memory limit";
    case Problem::kNoIommufd: return "no iommufd";
    case Problem::kNotSupported: return "not supported";
    case Problem::kInvalidArgument: return "invalid argument";
    case Problem::kNotOpen: return "not open";
    case Problem::kDeviceRemoved: return "device removed";
    case Problem::kSystemError: return "system error";
  }
  return "?";
}

// The last failure of a Platform or Container: its Problem, and "what happened" on the
// first line of text, then "fix: ..." lines.
struct Failure {
  Problem problem = Problem::kNone;
  std::string text;
};

}  // namespace fbnic::vfio
