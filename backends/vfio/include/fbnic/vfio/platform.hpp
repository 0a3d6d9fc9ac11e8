// fbnic::vfio::Platform: a Linux userspace driver's Platform, through VFIO.
//
// One object owns one PCI function: its device file, the mmapped BARs, and interrupt
// eventfds. Its DMA memory lives in a vfio::Container (container.hpp), an IOMMU context:
// a private one by default, or one shared with other Platforms so that their devices
// reach the same memory at the same device addresses. Everything is released by close()
// or the destructor, in the order that keeps the device from reaching memory that is
// going away: interrupts, bus mastering, BARs, the device, then (when it was the
// Container's last device) DMA mappings and the IOMMU context.
//
// Failures return fbnic::Status; last_problem() and last_error() then say what happened
// and how to fix it, for tools to print. Not thread-safe: one thread at a time drives a
// Platform (wait_irq may block that thread; irq_fd() lets an event loop watch vectors
// instead). docs/vfio.md lists which calls may run on which threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
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
#include "fbnic/vfio/container.hpp"
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

// The VFIO PCI interrupt indexes (the request index, 4, is the Platform's own: see
// removal_requested()).
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
  // A Platform with a Container of its own, made from the same options.
  explicit Platform(Options options = {});
  // A Platform in a shared Container (not null): its devices share DMA memory.
  explicit Platform(std::shared_ptr<Container> container, Options options = {});
  ~Platform();
  Platform(const Platform&) = delete;
  Platform& operator=(const Platform&) = delete;
  Platform(Platform&&) = delete;
  Platform& operator=(Platform&&) = delete;

  // Opens the PCI function at `address` ("DDDD:BB:DD.F" or "BB:DD.F"), which must be
  // bound to vfio-pci, and puts it in the Container. On failure nothing stays open and
  // last_error() says why.
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
    return dma_alloc(size, align, container_->options().dma_memory);
  }
  void dma_free(const DmaBuffer& buffer);
  std::uint64_t now_ns();
  void delay_us(std::uint32_t us);
  void log(LogLevel level, const char* line);

  // --- DMA beyond the concept (all in the Container: any of its Platforms may free) ---
  Result<DmaBuffer> dma_alloc(std::size_t size, std::size_t align, DmaMemory memory);
  // Maps the caller's memory (page-aligned pointer) for the device; the memory stays the
  // caller's: dma_unmap (or the Container's last close) only removes the device's access.
  Result<DmaBuffer> dma_map(void* cpu, std::size_t size);
  Status dma_unmap(const DmaBuffer& buffer);
  // The memfd behind a DmaMemory::kMemfd buffer (owned by the Container), else -1.
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

  // --- removal ---
  // True once the kernel asked for the device back (an unbind from vfio-pci, a hot
  // unplug): vfio-pci signals its request eventfd and the unbind waits until this
  // Platform closes. One non-blocking read of that eventfd; sticky.
  bool removal_requested();
  // kDeviceRemoved (and last_error() says which) when the kernel asked for the device or
  // its configuration space reads all ones (surprise removal, a dead link, the emulator
  // behind it gone); ok otherwise. A configuration read: for a stall or a timer, not
  // per packet.
  Status check_present();

  // --- reset ---
  [[nodiscard]] bool reset_supported() const { return (device_flags_ & 2u) != 0; }
  // Function-level reset (VFIO_DEVICE_RESET), then MEM and BUSMASTER are set again if
  // Options::enable_bus_master.
  Status reset();

  // --- identity ---
  // The Device Serial Number: the PCIe extended capability, or on a conventional function
  // (fbnic-emu behind QEMU) the copy in the emulator's vendor-specific capability.
  Result<std::uint64_t> serial_number();
  // The device announced (fbnic-emu's vendor-specific capability on a function without
  // a PCI Express capability: QEMU's x-pci-proxy-dev) that its DMA does not go through
  // the IOMMU, so only physical IOVAs reach memory.
  [[nodiscard]] bool dma_bypasses_iommu() const { return bypasses_iommu_; }

  // --- what is open ---
  [[nodiscard]] const std::string& address() const { return address_; }
  [[nodiscard]] IommuMode iommu_mode() const { return container_->iommu_mode(); }
  [[nodiscard]] IovaMode iova_mode() const { return container_->iova_mode(); }
  [[nodiscard]] int iommu_group() const { return group_; }
  [[nodiscard]] std::vector<IovaRange> iova_windows() const { return container_->iova_windows(); }
  // Mappings in the Container (all its devices').
  [[nodiscard]] std::size_t dma_mappings() const { return container_->dma_mappings(); }
  [[nodiscard]] const Options& options() const { return options_; }
  [[nodiscard]] const std::shared_ptr<Container>& container() const { return container_; }

  // --- the last failure ---
  [[nodiscard]] Problem last_problem() const { return failure_.problem; }
  // "what happened" on the first line, then "fix: ..." lines; empty when none.
  [[nodiscard]] const std::string& last_error() const { return failure_.text; }
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

  static constexpr std::size_t bar_slot(Bar bar) { return bar == Bar::kCsr ? 0 : 1; }
  [[nodiscard]] int bar_region(Bar bar) const {
    return bar == Bar::kCsr ? options_.bars.csr : bar == Bar::kIpc ? options_.bars.ipc : kNoRegion;
  }
  [[nodiscard]] std::uint64_t region_size(Bar bar) const;

  std::uint32_t read32_slow(Bar bar, std::uint32_t offset);
  void write32_slow(Bar bar, std::uint32_t offset, std::uint32_t value);

  detail::Reporter reporter();
  Status fail(Problem problem, Status status, const std::string& what, std::string fix = {});
  Status fail_errno(const char* call, int err);

  Status diagnose_device(std::string& driver, int& group, bool& noiommu_group);
  Status open_device_info();
  Status map_regions();
  void enable_request_irq();
  void disable_request_irq();
  // Standard capability `id` in configuration space (0 when absent).
  std::uint32_t find_capability(std::uint8_t id);
  std::uint32_t find_emulator_capability();

  Options options_;
  std::shared_ptr<Container> container_;
  std::string address_;
  int group_ = -1;
  int device_fd_ = -1;
  bool attached_ = false;  // the Container holds this device
  std::uint32_t device_flags_ = 0;
  std::uint64_t config_offset_ = 0;
  std::uint64_t config_size_ = 0;
  std::vector<Region> regions_;
  std::vector<IrqInfo> irqs_;
  BarView bars_[2];
  bool bypasses_iommu_ = false;

  IrqType irq_type_ = IrqType::kMsix;
  std::vector<int> irq_fds_;
  int request_fd_ = -1;
  bool removal_requested_ = false;

  Failure failure_;
};

static_assert(fbnic::Platform<Platform>);

}  // namespace fbnic::vfio
