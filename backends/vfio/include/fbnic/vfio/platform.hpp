// fbnic::vfio::Platform: a Linux userspace driver's Platform, through VFIO.
//
// One object owns one PCI function: its IOMMU context (a type1 container, an iommufd IOAS
// or a no-IOMMU group), the mmapped BARs, DMA memory mapped for the device, and interrupt
// eventfds. Everything is released by close() or the destructor, in the order that keeps
// the device from reaching memory that is going away: interrupts, bus mastering, DMA
// mappings, BARs, then the file descriptors.
//
// Failures return fbnic::Status; last_problem() and last_error() then say what happened
// and how to fix it, for tools to print. Not thread-safe: one thread drives a Platform
// (wait_irq may block that thread; irq_fd() lets an event loop watch vectors instead).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "fbnic/base/log.hpp"
#include "fbnic/base/result.hpp"
#include "fbnic/base/status.hpp"
#include "fbnic/platform/bar.hpp"
#include "fbnic/platform/dma.hpp"
#include "fbnic/platform/mmio.hpp"
#include "fbnic/platform/platform.hpp"
#include "fbnic/vfio/iova_allocator.hpp"
#include "fbnic/vfio/options.hpp"
#include "fbnic/vfio/problem.hpp"

namespace fbnic::vfio {

struct RegionInfo {
  std::uint32_t index = 0;
  std::uint64_t size = 0;
  std::uint64_t offset = 0;  // of the region in the device file
  std::uint32_t flags = 0;   // VFIO_REGION_INFO_FLAG_*
  bool mmapped = false;      // some or all of it is mapped for direct access

  [[nodiscard]] bool readable() const { return (flags & 1u) != 0; }
  [[nodiscard]] bool writable() const { return (flags & 2u) != 0; }
  [[nodiscard]] bool mmappable() const { return (flags & 4u) != 0; }
};

// The VFIO PCI interrupt indexes.
enum class IrqType : std::uint8_t { kIntx = 0, kMsi = 1, kMsix = 2 };

constexpr const char* irq_type_name(IrqType t) {
  switch (t) {
    case IrqType::kIntx: return "INTx";
    case IrqType::kMsi: return "MSI";
    case IrqType::kMsix: return "MSI-X";
  }
  return "?";
}

struct IrqInfo {
  std::uint32_t count = 0;  // vectors the device offers through VFIO
  std::uint32_t flags = 0;  // VFIO_IRQ_INFO_*
};

// Offsets into PCI configuration space this backend and its tools use.
inline constexpr std::uint32_t kPciVendorId = 0x00;
inline constexpr std::uint32_t kPciDeviceId = 0x02;
inline constexpr std::uint32_t kPciCommand = 0x04;
inline constexpr std::uint32_t kPciRevision = 0x08;
inline constexpr std::uint32_t kPciCommandMemory = 0x2;
inline constexpr std::uint32_t kPciCommandMaster = 0x4;

class Platform {
 public:
  explicit Platform(Options options = {});
  ~Platform();
  Platform(const Platform&) = delete;
  Platform& operator=(const Platform&) = delete;
  Platform(Platform&&) = delete;
  Platform& operator=(Platform&&) = delete;

  // Opens the PCI function at `address` ("DDDD:BB:DD.F" or "BB:DD.F"), which must be
  // bound to vfio-pci. On failure nothing stays open and last_error() says why.
  Status open(std::string_view address);
  void close();
  [[nodiscard]] bool is_open() const { return device_fd_ >= 0; }

  // --- fbnic::Platform ---
  // Accesses outside a mapped BAR read as all ones and drop writes (logged), the way a
  // removed device behaves, so the core's removal detection covers them.
  std::uint32_t read32(Bar bar, std::uint32_t offset) {
    const BarView& v = bars_[bar_slot(bar)];
    if (v.base != nullptr && (offset & 3u) == 0 && std::uint64_t{offset} + 4 <= v.size) {
      return mmio_read32(reinterpret_cast<std::uintptr_t>(v.base + offset));
    }
    return read32_slow(bar, offset);
  }
  void write32(Bar bar, std::uint32_t offset, std::uint32_t value) {
    const BarView& v = bars_[bar_slot(bar)];
    if (v.base != nullptr && (offset & 3u) == 0 && std::uint64_t{offset} + 4 <= v.size) {
      mmio_write32(reinterpret_cast<std::uintptr_t>(v.base + offset), value);
      return;
    }
    write32_slow(bar, offset, value);
  }
  Result<DmaBuffer> dma_alloc(std::size_t size, std::size_t align) {
    return dma_alloc(size, align, options_.dma_memory);
  }
  void dma_free(const DmaBuffer& buffer);
  std::uint64_t now_ns();
  void delay_us(std::uint32_t us);
  void log(LogLevel level, const char* line);

  // --- DMA beyond the concept ---
  Result<DmaBuffer> dma_alloc(std::size_t size, std::size_t align, DmaMemory memory);
  // Maps the caller's memory (page-aligned pointer) for the device; the memory stays the
  // caller's: dma_unmap (or close) only removes the device's access.
  Result<DmaBuffer> dma_map(void* cpu, std::size_t size);
  Status dma_unmap(const DmaBuffer& buffer);
  // The memfd behind a DmaMemory::kMemfd buffer (owned by the Platform), else -1.
  [[nodiscard]] int dma_memfd(const DmaBuffer& buffer) const;
  [[nodiscard]] DmaMemory dma_memory_of(const DmaBuffer& buffer) const;

  // --- configuration space (width 1, 2 or 4 bytes, little-endian) ---
  Result<std::uint32_t> config_read(std::uint32_t offset, std::uint32_t width);
  Status config_write(std::uint32_t offset, std::uint32_t value, std::uint32_t width);
  Status enable_bus_master(bool on);

  // --- regions and BARs ---
  [[nodiscard]] std::uint32_t region_count() const {
    return static_cast<std::uint32_t>(regions_.size());
  }
  Result<RegionInfo> region_info(std::uint32_t index) const;
  [[nodiscard]] std::uint64_t bar_size(Bar bar) const { return region_size(bar); }
  // True when the BAR is accessed through mmap; false means pread/pwrite on the device.
  [[nodiscard]] bool bar_mmapped(Bar bar) const { return bars_[bar_slot(bar)].base != nullptr; }

  // --- interrupts: each vector signals an eventfd ---
  Result<IrqInfo> irq_info(IrqType type) const;
  // Routes vectors 0..count-1 of `type` to fresh eventfds (replacing any earlier setup).
  Status enable_irqs(IrqType type, std::uint32_t count);
  Status disable_irqs();
  [[nodiscard]] std::uint32_t irq_vectors() const {
    return static_cast<std::uint32_t>(irq_fds_.size());
  }
  // Waits for `vector`; returns how many interrupts arrived since the last wait, or
  // kTimeout (not recorded as a problem: timing out is an answer).
  Result<std::uint64_t> wait_irq(std::uint32_t vector, std::uint64_t timeout_us);
  // Waits for any enabled vector; returns the lowest one that fired (and consumes it).
  Result<std::uint32_t> wait_any_irq(std::uint64_t timeout_us);
  [[nodiscard]] int irq_fd(std::uint32_t vector) const;
  // INTx is level-triggered: VFIO masks it on delivery until this call.
  Status unmask_intx();

  // --- reset ---
  [[nodiscard]] bool reset_supported() const { return (device_flags_ & 2u) != 0; }
  // Function-level reset (VFIO_DEVICE_RESET), then MEM and BUSMASTER are set again if
  // Options::enable_bus_master.
  Status reset();

  // --- what is open ---
  [[nodiscard]] const std::string& address() const { return address_; }
  [[nodiscard]] IommuMode iommu_mode() const { return mode_; }
  [[nodiscard]] int iommu_group() const { return group_; }
  [[nodiscard]] const std::vector<IovaRange>& iova_windows() const { return iova_.windows(); }
  [[nodiscard]] std::size_t dma_mappings() const { return dma_.size(); }
  [[nodiscard]] const Options& options() const { return options_; }

  // --- the last failure ---
  [[nodiscard]] Problem last_problem() const { return problem_; }
  // "what happened" on the first line, then "fix: ..." lines; empty when none.
  [[nodiscard]] const std::string& last_error() const { return error_; }
  void clear_error();

 private:
  struct BarView {
    volatile std::uint8_t* base = nullptr;  // the mmapped area at offset 0, if any
    std::uint64_t size = 0;                 // bytes reachable through base
  };
  struct MappedArea {
    std::uint64_t offset = 0;  // within the region
    std::uint64_t size = 0;
    std::uint8_t* cpu = nullptr;
  };
  struct Region {
    RegionInfo info;
    std::vector<MappedArea> areas;
  };
  struct DmaMapping {
    void* cpu = nullptr;
    std::size_t length = 0;  // page-rounded bytes mapped for the device
    std::uint64_t device = 0;
    DmaMemory memory = DmaMemory::kAnonymous;
    bool owned = false;  // munmap on free
    bool locked = false;
    int memfd = -1;
  };

  static constexpr std::size_t bar_slot(Bar bar) { return bar == Bar::kCsr ? 0 : 1; }
  [[nodiscard]] int bar_region(Bar bar) const {
    return bar == Bar::kCsr ? options_.bars.csr : bar == Bar::kIpc ? options_.bars.ipc : kNoRegion;
  }
  [[nodiscard]] std::uint64_t region_size(Bar bar) const;

  std::uint32_t read32_slow(Bar bar, std::uint32_t offset);
  void write32_slow(Bar bar, std::uint32_t offset, std::uint32_t value);

  Status fail(Problem problem, Status status, const std::string& what, std::string fix = {});
  Status fail_errno(const char* call, int err);

  Status diagnose_device(std::string& driver, int& group, bool& noiommu_group);
  Status open_container(bool noiommu);
  Status open_iommufd();
  Status open_device_info();
  Status map_regions();
  Status setup_iova_windows_type1();
  Status set_iova_windows(const std::vector<IovaRange>& kernel);
  Status explain_not_viable();
  Status explain_permission(const std::string& node, int err);

  Status map_for_device(DmaMapping& m, std::size_t align);
  void unmap_for_device(DmaMapping& m);
  void release_mapping(DmaMapping& m);

  Options options_;
  std::string address_;
  IommuMode mode_ = IommuMode::kAuto;
  int group_ = -1;
  int container_fd_ = -1;
  int group_fd_ = -1;
  int device_fd_ = -1;
  int iommufd_ = -1;
  std::uint32_t ioas_id_ = 0;
  std::uint32_t device_flags_ = 0;
  std::uint64_t config_offset_ = 0;
  std::uint64_t config_size_ = 0;
  std::vector<Region> regions_;
  std::vector<IrqInfo> irqs_;
  BarView bars_[2];

  IrqType irq_type_ = IrqType::kMsix;
  std::vector<int> irq_fds_;

  std::map<std::uintptr_t, DmaMapping> dma_;
  std::uintptr_t next_cookie_ = 1;
  IovaAllocator iova_;
  std::size_t page_size_ = 4096;
  std::size_t iova_page_ = 4096;  // the IOMMU's smallest page
  bool fallback_warned_ = false;

  Problem problem_ = Problem::kNone;
  std::string error_;
};

static_assert(fbnic::Platform<Platform>);

}  // namespace fbnic::vfio
