// How a vfio::Platform opens its device (and a vfio::Container its IOMMU context): IOMMU
// backend, how device addresses are chosen, DMA memory, which BARs serve which
// fbnic::Bar, and where log lines go.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

#include "fbnic/base/log.hpp"

namespace fbnic::vfio {

enum class IommuMode : std::uint8_t {
  // The legacy container when the kernel has /dev/vfio/vfio (the path CI runs), else the
  // iommufd cdev; no-IOMMU only when the device sits in a no-IOMMU group, which exists
  // only if an administrator enabled that unsafe mode.
  kAuto,
  kType1,    // /dev/vfio/vfio + /dev/vfio/<group>, VFIO_TYPE1v2_IOMMU (or TYPE1)
  kIommufd,  // /dev/iommu + /dev/vfio/devices/vfioN (Linux 6.6+ with VFIO_DEVICE_CDEV)
  kNoIommu,  // /dev/vfio/noiommu-<group>: no DMA protection, physical addresses, root only
};

constexpr const char* iommu_mode_name(IommuMode mode) {
  switch (mode) {
    case IommuMode::kAuto: return "auto";
    case IommuMode::kType1: return "type1";
    case IommuMode::kIommufd: return "iommufd";
    case IommuMode::kNoIommu: return "noiommu";
  }
  return "?";
}

// Which device address (IOVA) a DMA buffer gets. docs/vfio.md explains when each is needed.
enum class IovaMode : std::uint8_t {
  // kPhysical when the IOMMU cannot translate for the device: no-IOMMU mode, or a device
  // whose DMA bypasses the IOMMU (fbnic-emu behind QEMU's x-pci-proxy-dev, which says so
  // in its vendor-specific capability); kAllocated otherwise. Decided when the first
  // device of the Container opens.
  kAuto,
  // IOVAs from an allocator inside the IOMMU's valid ranges and [iova_base, iova_limit].
  // Needs an IOMMU that translates the device's DMA; any user with access to the group.
  kAllocated,
  // IOVA = the memory's physical address (/proc/self/pagemap, so root), mapped at that
  // address in the IOMMU too, as DPDK's IOVA-as-PA. A buffer over one page must be
  // physically contiguous: a hugepage (HugePages_Free in /proc/meminfo).
  kPhysical,
};

constexpr const char* iova_mode_name(IovaMode mode) {
  switch (mode) {
    case IovaMode::kAuto: return "auto";
    case IovaMode::kAllocated: return "allocated";
    case IovaMode::kPhysical: return "physical";
  }
  return "?";
}

enum class DmaMemory : std::uint8_t {
  // Hugepages for buffers of at least Options::hugepage_threshold bytes when some are
  // free (and for every multi-page buffer with physical IOVAs, which need contiguity),
  // anonymous pages otherwise; a failed hugepage allocation falls back with a warning.
  kAuto,
  kHugepage,   // MAP_HUGETLB only: fails with Problem::kNoHugepages if none are free
  kAnonymous,  // private anonymous 4 KiB pages
  kMemfd,      // a memfd (shareable through dma_memfd), 4 KiB pages
};

constexpr const char* dma_memory_name(DmaMemory memory) {
  switch (memory) {
    case DmaMemory::kAuto: return "auto";
    case DmaMemory::kHugepage: return "hugepage";
    case DmaMemory::kAnonymous: return "anonymous";
    case DmaMemory::kMemfd: return "memfd";
  }
  return "?";
}

// A VFIO region index (0-5 are BAR0-BAR5) per fbnic::Bar, or kNoRegion. fbnic uses BAR0
// and BAR4; tests point Bar::kCsr at another device's BAR.
inline constexpr int kNoRegion = -1;
struct BarMap {
  int csr = 0;
  int ipc = 4;
};

using LogSink = std::function<void(LogLevel, const char*)>;

// A Platform that joins a Container (platform.hpp) takes iommu, iova, dma_memory,
// hugepage_threshold, iova_base and iova_limit from the Container's Options.
struct Options {
  BarMap bars{};
  IommuMode iommu = IommuMode::kAuto;
  IovaMode iova = IovaMode::kAuto;
  DmaMemory dma_memory = DmaMemory::kAuto;
  std::size_t hugepage_threshold = std::size_t{1} << 20;
  // Allocated IOVAs are handed out inside [iova_base, iova_limit] and the kernel's valid
  // ranges. The low default keeps buffers reachable by devices limited to 32-bit DMA.
  std::uint64_t iova_base = 0x100000;
  std::uint64_t iova_limit = ~std::uint64_t{0};
  // Set MEM and BUSMASTER in PCI_COMMAND at open; a driver that wants to order that
  // itself turns it off and calls enable_bus_master().
  bool enable_bus_master = true;
  bool reset_on_open = false;
  // False: every BAR access is a pread/pwrite on the device file, never a mapping (slow;
  // for tracing accesses, or BARs whose mmap the platform refuses).
  bool mmap_bars = true;
  // Null: lines at or above log_level go to stderr.
  LogSink log;
  LogLevel log_level = LogLevel::kWarning;
};

}  // namespace fbnic::vfio
