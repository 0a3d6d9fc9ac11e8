// Opening and closing a VFIO device, BARs, configuration space, reset, time and logging.
#include "fbnic/vfio/platform.hpp"

#include <fcntl.h>
#include <linux/vfio.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "fbnic/vfio/pci.hpp"
#include "report.hpp"
#include "sys.hpp"

namespace fbnic::vfio {
namespace {

using detail::exists;
using detail::hex;
using detail::link_name;
using detail::list_dir;
using detail::read_line;

constexpr const char* kSysPci = "/sys/bus/pci/devices/";
constexpr const char* kIommuGroups = "/sys/kernel/iommu_groups/";

std::string join(const std::vector<std::string>& items, const char* sep = ", ") {
  std::string out;
  for (const std::string& x : items) out += (out.empty() ? "" : sep) + x;
  return out;
}

bool noiommu_enabled() {
  return read_line("/sys/module/vfio/parameters/enable_unsafe_noiommu_mode").value_or("") == "Y";
}

// Configuration space: standard capabilities, PCIe extended capabilities, and where the
// emulator's vendor-specific capability keeps its copy of the serial number.
constexpr std::uint32_t kPciStatus = 0x06;
constexpr std::uint32_t kPciStatusCapList = 0x10;
constexpr std::uint32_t kPciCapPointer = 0x34;
constexpr std::uint8_t kCapVendor = 0x09;
constexpr std::uint8_t kCapExpress = 0x10;
constexpr std::uint32_t kExtCapDsn = 0x0003;
constexpr std::uint32_t kEmulatorSignature = 0xFB1C;  // [15:0] of the capability's second word
constexpr std::uint32_t kEmulatorDsn = 0x70;          // from the capability's start

}  // namespace

Platform::Platform(Options options)
    : options_(std::move(options)), container_(std::make_shared<Container>(options_)) {}

Platform::Platform(std::shared_ptr<Container> container, Options options)
    : options_(std::move(options)), container_(std::move(container)) {
  if (!container_) container_ = std::make_shared<Container>(options_);
}

Platform::~Platform() { close(); }

void Platform::clear_error() { failure_ = Failure{}; }

detail::Reporter Platform::reporter() {
  return detail::Reporter(failure_, options_,
                          address_.empty() ? std::string("vfio") : "vfio " + address_);
}

Status Platform::fail(Problem problem, Status status, const std::string& what, std::string fix) {
  return reporter().fail(problem, status, what, std::move(fix));
}

Status Platform::fail_errno(const char* call, int err) { return reporter().fail_errno(call, err); }

// --- open ---

Status Platform::open(std::string_view address) {
  if (is_open()) {
    return fail(Problem::kInvalidArgument, Error::kFailedPrecondition,
                "open() on a Platform that already has " + address_ + " open",
                "close() it first, or use one Platform per device");
  }
  clear_error();
  auto normalized = normalize_pci_address(address);
  if (!normalized.ok()) {
    // (Built with append: GCC 12 at -O3 misreads "'" + std::string as an overlapping copy.)
    std::string what(1, '\'');
    what.append(address).append("' is not a PCI address");
    return fail(Problem::kBadAddress, Error::kInvalidArgument, what,
                "give it as DDDD:BB:DD.F (domain:bus:device.function in hex), e.g. "
                "0000:01:00.0; `lspci -D` lists the devices");
  }
  address_ = *normalized;

  std::string driver;
  bool noiommu_group = false;
  Status s = diagnose_device(driver, group_, noiommu_group);
  if (s.ok()) {
    detail::Reporter r = reporter();
    Result<int> fd = container_->attach(r, address_, group_, noiommu_group);
    s = fd.status();
    if (fd.ok()) {
      device_fd_ = *fd;
      attached_ = true;
    }
  }
  if (s.ok()) s = open_device_info();
  if (s.ok()) s = map_regions();
  if (s.ok()) {
    // fbnic-emu marks itself with its vendor-specific capability; without a PCI Express
    // capability it sits behind QEMU's proxy, whose DMA does not go through the IOMMU.
    bypasses_iommu_ = find_emulator_capability() != 0 && find_capability(kCapExpress) == 0;
    detail::Reporter r = reporter();
    s = container_->settle_iova_mode(r, bypasses_iommu_);
  }
  if (s.ok()) enable_request_irq();
  if (s.ok() && options_.enable_bus_master) s = enable_bus_master(true);
  if (s.ok() && options_.reset_on_open && reset_supported()) s = reset();
  if (!s.ok()) {
    // close() must not erase why the open failed.
    Failure why = std::move(failure_);
    close();
    failure_ = std::move(why);
    return s;
  }
  const IommuMode mode = iommu_mode();
  if (mode == IommuMode::kNoIommu) {
    log(LogLevel::kWarning,
        "vfio: no-IOMMU mode: the device reaches all memory and sees physical addresses");
  }
  LogLine line;
  line << "vfio " << address_.c_str() << ": open, " << iommu_mode_name(mode) << ", IOVA "
       << iova_mode_name(iova_mode()) << ", group " << group_ << ", " << region_count()
       << " regions";
  log(LogLevel::kInfo, line.c_str());
  return ok_status();
}

Status Platform::diagnose_device(std::string& driver, int& group, bool& noiommu_group) {
  const std::string dev = std::string(kSysPci) + address_;
  if (!exists(dev)) {
    std::string fix = "check the address with `lspci -D -nn`; ";
    const auto fbnics = find_pci_devices(kFbnicPciId);
    fix += fbnics.empty() ? "this machine shows no fbnic (PCI 1d9b:0013) device at all"
                          : "fbnic devices here: " + join(fbnics);
    return fail(Problem::kNoSuchDevice, Error::kNotFound,
                "no such PCI device (" + dev + " does not exist)", fix);
  }
  driver = pci_driver(address_);
  const std::string group_name = link_name(dev + "/iommu_group");
  if (!group_name.empty()) {
    group = std::atoi(group_name.c_str());
    noiommu_group =
        read_line(std::string(kIommuGroups) + group_name + "/name").value_or("") == "vfio-noiommu";
  }
  if (group_name.empty() && !(driver != "vfio-pci" && noiommu_enabled())) {
    // Without a group vfio-pci cannot take the device, so binding is not the fix.
    const auto iommus = list_dir("/sys/class/iommu");
    std::string what =
        iommus.empty()
            ? "the device has no IOMMU group: the kernel runs without an IOMMU (/sys/class/iommu "
              "is empty)"
            : "the device has no IOMMU group, although IOMMUs are active (" + join(iommus) + ")";
    std::string fix =
        "enable VT-d (Intel) or AMD-Vi (AMD) in the firmware setup and boot Linux with "
        "intel_iommu=on (Intel) or amd_iommu=on (AMD); iommu=pt keeps the other devices on "
        "fast passthrough DMA (check /proc/cmdline after rebooting)\n  without an IOMMU (unsafe: "
        "the device can then write anywhere in memory; root "
        "only): boot with vfio.enable_unsafe_noiommu_mode=1 or run `modprobe vfio "
        "enable_unsafe_noiommu_mode=1` before binding to vfio-pci, then open with "
        "IommuMode::kNoIommu";
    if (exists("/sys/module/vfio") &&
        !exists("/sys/module/vfio/parameters/enable_unsafe_noiommu_mode")) {
      fix +=
          "\n  this kernel's vfio has no such parameter: it was built without "
          "CONFIG_VFIO_NOIOMMU (as Debian's are), so that needs vfio modules rebuilt with it";
    }
    return fail(Problem::kNoIommu, Error::kNotSupported, what, fix);
  }
  if (driver != "vfio-pci") {
    std::string what = driver.empty() ? "the device is bound to no driver; VFIO needs vfio-pci"
                                      : "the device is bound to " + driver + ", not vfio-pci";
    std::string fix = "bind it to vfio-pci, as root:\n" + vfio_bind_commands(address_);
    if (!driver.empty()) {
      fix += "  (this takes it away from " + driver +
             "; to give it back: echo > driver_override, then unbind from vfio-pci and "
             "drivers_probe again)";
    }
    return fail(Problem::kNotBound, Error::kFailedPrecondition, what, fix);
  }
  return ok_status();
}

Status Platform::open_device_info() {
  vfio_device_info info{};
  info.argsz = sizeof(info);
  if (::ioctl(device_fd_, VFIO_DEVICE_GET_INFO, &info) != 0) {
    return fail_errno("VFIO_DEVICE_GET_INFO", errno);
  }
  if ((info.flags & VFIO_DEVICE_FLAGS_PCI) == 0) {
    return fail(Problem::kNotSupported, Error::kNotSupported, "VFIO says this is not a PCI device");
  }
  device_flags_ = info.flags;
  regions_.assign(info.num_regions, Region{});
  for (std::uint32_t i = 0; i < info.num_regions; ++i) {
    vfio_region_info first{};
    first.index = i;
    int err = 0;
    const auto buf = detail::query_info(device_fd_, VFIO_DEVICE_GET_REGION_INFO, first, err);
    Region& region = regions_[i];
    region.info.index = i;
    if (buf.empty()) continue;  // e.g. the VGA region of a non-VGA device
    const auto* r = reinterpret_cast<const vfio_region_info*>(buf.data());
    region.info.size = r->size;
    region.info.offset = r->offset;
    region.info.flags = r->flags;
    if ((r->flags & VFIO_REGION_INFO_FLAG_CAPS) != 0) {
      detail::for_each_cap(
          buf, r->cap_offset,
          [&](const vfio_info_cap_header& h, const std::uint8_t* at, std::size_t room) {
            if (h.id != VFIO_REGION_INFO_CAP_SPARSE_MMAP) return;
            const auto* cap = reinterpret_cast<const vfio_region_info_cap_sparse_mmap*>(at);
            for (std::uint32_t a = 0; a < cap->nr_areas; ++a) {
              if (sizeof(*cap) + (a + 1) * sizeof(cap->areas[0]) > room) break;
              region.areas.push_back({cap->areas[a].offset, cap->areas[a].size, nullptr});
            }
          });
    }
  }
  if (info.num_regions <= VFIO_PCI_CONFIG_REGION_INDEX) {
    return fail(Problem::kNotSupported, Error::kNotSupported, "the device has no config region");
  }
  config_offset_ = regions_[VFIO_PCI_CONFIG_REGION_INDEX].info.offset;
  config_size_ = regions_[VFIO_PCI_CONFIG_REGION_INDEX].info.size;

  irqs_.assign(info.num_irqs, IrqInfo{});
  for (std::uint32_t i = 0; i < info.num_irqs; ++i) {
    vfio_irq_info irq{};
    irq.argsz = sizeof(irq);
    irq.index = i;
    if (::ioctl(device_fd_, VFIO_DEVICE_GET_IRQ_INFO, &irq) == 0) {
      irqs_[i] = IrqInfo{irq.count, irq.flags};
    }
  }
  return ok_status();
}

Status Platform::map_regions() {
  for (const Bar bar : {Bar::kCsr, Bar::kIpc}) {
    const int index = bar_region(bar);
    if (index == kNoRegion) continue;
    if (index < 0 || index > VFIO_PCI_BAR5_REGION_INDEX ||
        static_cast<std::size_t>(index) >= regions_.size() ||
        regions_[static_cast<std::size_t>(index)].info.size == 0) {
      return fail(Problem::kNotSupported, Error::kNotSupported,
                  "BAR" + std::to_string(index) +
                      " (for Bar::" + (bar == Bar::kCsr ? "kCsr" : "kIpc") +
                      ") is absent: the device reports it with size 0",
                  "is this the right device? If that BAR is not needed, set Options::bars." +
                      std::string(bar == Bar::kCsr ? "csr" : "ipc") + " = vfio::kNoRegion");
    }
    Region& region = regions_[static_cast<std::size_t>(index)];
    if (options_.mmap_bars && region.info.mmappable() && !region.info.mmapped) {
      // Without a sparse-mmap capability the whole region may be mapped.
      if (region.areas.empty()) region.areas.push_back({0, region.info.size, nullptr});
      for (MappedArea& area : region.areas) {
        if (area.size == 0) continue;
        void* p = ::mmap(nullptr, area.size, PROT_READ | PROT_WRITE, MAP_SHARED, device_fd_,
                         static_cast<off_t>(region.info.offset + area.offset));
        if (p == MAP_FAILED) {
          LogLine line;
          line << "vfio: mmap of BAR" << index << " area " << Hex{area.offset}
               << " failed; using read/write on the device file";
          log(LogLevel::kWarning, line.c_str());
          continue;
        }
        area.cpu = static_cast<std::uint8_t*>(p);
        region.info.mmapped = true;
      }
    }
    for (const MappedArea& area : region.areas) {
      if (area.cpu != nullptr && area.offset == 0) {
        bars_[bar_slot(bar)] = BarView{area.cpu, area.size};
      }
    }
  }
  return ok_status();
}

// --- close ---

void Platform::close() {
  if (device_fd_ >= 0) {
    disable_irqs().ignore();
    disable_request_irq();
    // Stop the device's DMA before its memory can go away.
    if (config_size_ != 0) enable_bus_master(false).ignore();
  }
  removal_requested_ = false;
  for (Region& region : regions_) {
    for (MappedArea& area : region.areas) {
      if (area.cpu != nullptr) ::munmap(area.cpu, area.size);
    }
  }
  regions_.clear();
  irqs_.clear();
  bars_[0] = BarView{};
  bars_[1] = BarView{};
  if (device_fd_ >= 0) ::close(device_fd_);
  device_fd_ = -1;
  // The Container's last device takes every DMA mapping with it.
  if (attached_) container_->detach(address_, group_);
  attached_ = false;
  bypasses_iommu_ = false;
  device_flags_ = 0;
  config_offset_ = 0;
  config_size_ = 0;
  group_ = -1;
  address_.clear();
}

// --- BAR access off the fast path ---

std::uint64_t Platform::region_size(Bar bar) const {
  const int index = bar_region(bar);
  if (index < 0 || static_cast<std::size_t>(index) >= regions_.size()) return 0;
  return regions_[static_cast<std::size_t>(index)].info.size;
}

std::uint32_t Platform::read32_slow(Bar bar, std::uint32_t offset) {
  const int index = bar_region(bar);
  const std::uint64_t size = region_size(bar);
  if (!is_open() || size == 0 || (offset & 3u) != 0 || std::uint64_t{offset} + 4 > size) {
    LogLine line;
    line << "vfio: read32 outside " << (bar == Bar::kCsr ? "Bar::kCsr" : "Bar::kIpc") << " at "
         << Hex{offset} << " (size " << Hex{size} << ")";
    log(LogLevel::kError, line.c_str());
    return ~0u;
  }
  const Region& region = regions_[static_cast<std::size_t>(index)];
  for (const MappedArea& area : region.areas) {
    if (area.cpu != nullptr && offset >= area.offset && offset + 4 <= area.offset + area.size) {
      return mmio_read32(reinterpret_cast<std::uintptr_t>(area.cpu + (offset - area.offset)));
    }
  }
  std::uint32_t value = ~0u;
  if (::pread(device_fd_, &value, 4, static_cast<off_t>(region.info.offset + offset)) != 4) {
    log(LogLevel::kError, "vfio: pread on a BAR failed");
    return ~0u;
  }
  return from_le(value);  // the region holds the register's bytes in bus (little-endian) order
}

void Platform::write32_slow(Bar bar, std::uint32_t offset, std::uint32_t value) {
  const int index = bar_region(bar);
  const std::uint64_t size = region_size(bar);
  if (!is_open() || size == 0 || (offset & 3u) != 0 || std::uint64_t{offset} + 4 > size) {
    LogLine line;
    line << "vfio: write32 outside " << (bar == Bar::kCsr ? "Bar::kCsr" : "Bar::kIpc") << " at "
         << Hex{offset} << " (size " << Hex{size} << ") dropped";
    log(LogLevel::kError, line.c_str());
    return;
  }
  const Region& region = regions_[static_cast<std::size_t>(index)];
  for (const MappedArea& area : region.areas) {
    if (area.cpu != nullptr && offset >= area.offset && offset + 4 <= area.offset + area.size) {
      mmio_write32(reinterpret_cast<std::uintptr_t>(area.cpu + (offset - area.offset)), value);
      return;
    }
  }
  value = to_le(value);
  if (::pwrite(device_fd_, &value, 4, static_cast<off_t>(region.info.offset + offset)) != 4) {
    log(LogLevel::kError, "vfio: pwrite on a BAR failed");
  }
}

Result<RegionInfo> Platform::region_info(std::uint32_t index) const {
  if (index >= regions_.size()) return Error::kOutOfRange;
  return regions_[index].info;
}

// --- configuration space ---

Result<std::uint32_t> Platform::config_read(std::uint32_t offset, std::uint32_t width) {
  if (!is_open())
    return fail(Problem::kNotOpen, Error::kFailedPrecondition, "config_read: not open");
  if ((width != 1 && width != 2 && width != 4) || std::uint64_t{offset} + width > config_size_) {
    return fail(Problem::kInvalidArgument, Error::kInvalidArgument,
                "config_read of " + std::to_string(width) + " bytes at " + hex(offset) +
                    " is outside configuration space (" + hex(config_size_) + " bytes)");
  }
  std::uint8_t bytes[4] = {};
  if (::pread(device_fd_, bytes, width, static_cast<off_t>(config_offset_ + offset)) !=
      static_cast<ssize_t>(width)) {
    return fail_errno("pread of configuration space", errno);
  }
  std::uint32_t value = 0;
  for (std::uint32_t i = 0; i < width; ++i) value |= std::uint32_t{bytes[i]} << (8 * i);
  return value;
}

Status Platform::config_write(std::uint32_t offset, std::uint32_t value, std::uint32_t width) {
  if (!is_open())
    return fail(Problem::kNotOpen, Error::kFailedPrecondition, "config_write: not open");
  if ((width != 1 && width != 2 && width != 4) || std::uint64_t{offset} + width > config_size_) {
    return fail(Problem::kInvalidArgument, Error::kInvalidArgument,
                "config_write of " + std::to_string(width) + " bytes at " + hex(offset) +
                    " is outside configuration space (" + hex(config_size_) + " bytes)");
  }
  std::uint8_t bytes[4] = {};
  for (std::uint32_t i = 0; i < width; ++i) bytes[i] = static_cast<std::uint8_t>(value >> (8 * i));
  if (::pwrite(device_fd_, bytes, width, static_cast<off_t>(config_offset_ + offset)) !=
      static_cast<ssize_t>(width)) {
    return fail_errno("pwrite of configuration space", errno);
  }
  return ok_status();
}

Status Platform::enable_bus_master(bool on) {
  FBNIC_TRY_ASSIGN(const std::uint32_t command, config_read(kPciCommand, 2));
  const std::uint32_t want =
      on ? command | kPciCommandMemory | kPciCommandMaster : command & ~kPciCommandMaster;
  if (want == command) return ok_status();
  return config_write(kPciCommand, want, 2);
}

// --- reset ---

Status Platform::reset() {
  if (!is_open()) return fail(Problem::kNotOpen, Error::kFailedPrecondition, "reset: not open");
  if (!reset_supported()) {
    return fail(Problem::kNotSupported, Error::kNotSupported,
                "VFIO offers no reset for this device (no FLR, no PM reset, and no bus reset "
                "that would touch only it)",
                "reinitialise the device through its registers, or put it in a slot where a "
                "bus reset reaches only it");
  }
  if (::ioctl(device_fd_, VFIO_DEVICE_RESET) != 0) return fail_errno("VFIO_DEVICE_RESET", errno);
  if (options_.enable_bus_master) return enable_bus_master(true);
  return ok_status();
}

// --- time and logging ---

std::uint64_t Platform::now_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000u +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

void Platform::delay_us(std::uint32_t us) {
  timespec left{static_cast<time_t>(us / 1000000u), static_cast<long>(us % 1000000u) * 1000};
  while (::nanosleep(&left, &left) != 0 && errno == EINTR) {
  }
}

void Platform::log(LogLevel level, const char* line) { detail::log_line(options_, level, line); }

// --- DMA: the Container's ---

Result<DmaBuffer> Platform::dma_alloc(std::size_t size, std::size_t align, DmaMemory memory) {
  detail::Reporter r = reporter();
  return container_->dma_alloc(r, size, align, memory);
}

Result<DmaBuffer> Platform::dma_map(void* cpu, std::size_t size) {
  detail::Reporter r = reporter();
  return container_->dma_map(r, cpu, size);
}

Status Platform::dma_unmap(const DmaBuffer& buffer) {
  detail::Reporter r = reporter();
  return container_->dma_unmap(r, buffer);
}

void Platform::dma_free(const DmaBuffer& buffer) {
  if (!buffer.valid()) return;
  dma_unmap(buffer).ignore();  // a bad buffer is logged by the reporter
}

int Platform::dma_memfd(const DmaBuffer& buffer) const { return container_->dma_memfd(buffer); }

DmaMemory Platform::dma_memory_of(const DmaBuffer& buffer) const {
  return container_->dma_memory_of(buffer);
}

// --- identity and presence ---

std::uint32_t Platform::find_capability(std::uint8_t id) {
  if ((config_read(kPciStatus, 2).value_or(0) & kPciStatusCapList) == 0) return 0;
  std::uint32_t at = config_read(kPciCapPointer, 1).value_or(0) & 0xFCu;
  for (int guard = 0; guard < 48 && at >= 0x40 && at < 0x100; ++guard) {
    const std::uint32_t header = config_read(at, 2).value_or(0xFFFF);
    if (header == 0xFFFF) return 0;
    if ((header & 0xFFu) == id) return at;
    at = (header >> 8) & 0xFCu;
  }
  return 0;
}

std::uint32_t Platform::find_emulator_capability() {
  if ((config_read(kPciStatus, 2).value_or(0) & kPciStatusCapList) == 0) return 0;
  std::uint32_t at = config_read(kPciCapPointer, 1).value_or(0) & 0xFCu;
  for (int guard = 0; guard < 48 && at >= 0x40 && at < 0x100; ++guard) {
    const std::uint32_t header = config_read(at, 2).value_or(0xFFFF);
    if (header == 0xFFFF) return 0;
    if ((header & 0xFFu) == kCapVendor &&
        (config_read(at + 4, 4).value_or(0) & 0xFFFFu) == kEmulatorSignature) {
      return at;
    }
    at = (header >> 8) & 0xFCu;
  }
  return 0;
}

Result<std::uint64_t> Platform::serial_number() {
  if (!is_open()) {
    return fail(Problem::kNotOpen, Error::kFailedPrecondition, "serial_number: not open");
  }
  // The PCIe extended capability list, from 0x100: ID [15:0], next [31:20].
  for (std::uint32_t at = 0x100, guard = 0; guard < 64 && at >= 0x100 && at + 12 <= config_size_;
       ++guard) {
    const auto header = config_read(at, 4);
    if (!header.ok() || *header == 0 || *header == 0xFFFF'FFFFu) break;
    if ((*header & 0xFFFFu) == kExtCapDsn) {
      FBNIC_TRY_ASSIGN(const std::uint32_t lo, config_read(at + 4, 4));
      FBNIC_TRY_ASSIGN(const std::uint32_t hi, config_read(at + 8, 4));
      return (std::uint64_t{hi} << 32) | lo;
    }
    at = *header >> 20;
  }
  if (const std::uint32_t cap = find_emulator_capability(); cap != 0) {
    FBNIC_TRY_ASSIGN(const std::uint32_t lo, config_read(cap + kEmulatorDsn, 4));
    FBNIC_TRY_ASSIGN(const std::uint32_t hi, config_read(cap + kEmulatorDsn + 4, 4));
    return (std::uint64_t{hi} << 32) | lo;
  }
  return fail(Problem::kNotSupported, Error::kNotFound,
              "the device has no Device Serial Number capability in its configuration space");
}

bool Platform::removal_requested() {
  if (removal_requested_ || request_fd_ < 0) return removal_requested_;
  std::uint64_t count = 0;
  if (::read(request_fd_, &count, sizeof(count)) == sizeof(count) && count != 0) {
    removal_requested_ = true;
  }
  return removal_requested_;
}

Status Platform::check_present() {
  if (!is_open()) return fail(Problem::kNotOpen, Error::kFailedPrecondition, "not open");
  if (removal_requested()) {
    return fail(Problem::kDeviceRemoved, Error::kDeviceRemoved,
                "the kernel asked for the device back (an unbind from vfio-pci, or a hot "
                "unplug): vfio-pci waits until this process lets go of it",
                "stop using it: Device::close(), then Platform::close()");
  }
  const auto id = config_read(kPciVendorId, 2);
  if (!id.ok() || *id == 0xFFFF) {
    return fail(Problem::kDeviceRemoved, Error::kDeviceRemoved,
                "the device no longer answers: its configuration space reads all ones "
                "(surprise removal, a dead link, or the emulator behind it has ended)",
                "close it (Device::close(), then Platform::close()) and open it again once it "
                "is back");
  }
  return ok_status();
}

}  // namespace fbnic::vfio
