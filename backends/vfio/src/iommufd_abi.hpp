// The iommufd and VFIO-cdev ioctls this backend uses, declared here because the UAPI
// headers of the distributions it builds on (Debian 12: Linux 6.1) predate them.
// Layouts and numbers are the kernel's stable ABI (include/uapi/linux/iommufd.h and
// vfio.h of Linux 6.6); every struct starts with its own size, so newer kernels accept
// them unchanged.
#pragma once

#include <linux/ioctl.h>

#include <cstdint>

namespace fbnic::vfio::abi {

inline constexpr unsigned kIommufdType = ';';
inline constexpr unsigned kVfioType = ';';
inline constexpr unsigned kVfioBase = 100;

struct IoasAlloc {
  std::uint32_t size;
  std::uint32_t flags;
  std::uint32_t out_ioas_id;
};

struct IovaRange {
  std::uint64_t start;
  std::uint64_t last;
};

struct IoasIovaRanges {
  std::uint32_t size;
  std::uint32_t ioas_id;
  std::uint32_t num_iovas;
  std::uint32_t reserved;
  std::uint64_t allowed_iovas;  // user pointer to IovaRange[num_iovas]
  std::uint64_t out_iova_alignment;
};

inline constexpr std::uint32_t kIoasMapFixedIova = 1u << 0;
inline constexpr std::uint32_t kIoasMapWriteable = 1u << 1;
inline constexpr std::uint32_t kIoasMapReadable = 1u << 2;

struct IoasMap {
  std::uint32_t size;
  std::uint32_t flags;
  std::uint32_t ioas_id;
  std::uint32_t reserved;
  std::uint64_t user_va;
  std::uint64_t length;
  std::uint64_t iova;
};

struct IoasUnmap {
  std::uint32_t size;
  std::uint32_t ioas_id;
  std::uint64_t iova;
  std::uint64_t length;
};

struct Destroy {
  std::uint32_t size;
  std::uint32_t id;
};

struct DeviceBindIommufd {
  std::uint32_t argsz;
  std::uint32_t flags;
  std::int32_t iommufd;  // -1 binds a no-IOMMU device
  std::uint32_t out_devid;
};

struct DeviceAttachIommufdPt {
  std::uint32_t argsz;
  std::uint32_t flags;
  std::uint32_t pt_id;
};

inline constexpr unsigned long kIommuDestroy = _IO(kIommufdType, 0x80);
inline constexpr unsigned long kIommuIoasAlloc = _IO(kIommufdType, 0x81);
inline constexpr unsigned long kIommuIoasIovaRanges = _IO(kIommufdType, 0x84);
inline constexpr unsigned long kIommuIoasMap = _IO(kIommufdType, 0x85);
inline constexpr unsigned long kIommuIoasUnmap = _IO(kIommufdType, 0x86);
inline constexpr unsigned long kVfioDeviceBindIommufd = _IO(kVfioType, kVfioBase + 18);
inline constexpr unsigned long kVfioDeviceAttachIommufdPt = _IO(kVfioType, kVfioBase + 19);

static_assert(sizeof(IoasAlloc) == 12 && sizeof(IoasIovaRanges) == 32);
static_assert(sizeof(IoasMap) == 40 && sizeof(IoasUnmap) == 24 && sizeof(Destroy) == 8);
static_assert(sizeof(DeviceBindIommufd) == 16 && sizeof(DeviceAttachIommufdPt) == 12);

}  // namespace fbnic::vfio::abi
