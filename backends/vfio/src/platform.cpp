// Opening and closing a VFIO device, BARs, configuration space, reset, time and logging.
#include "fbnic/vfio/platform.hpp"

#include <fcntl.h>
#include <linux/vfio.h>
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
#include "iommufd_abi.hpp"
#include "sys.hpp"

namespace fbnic::vfio {
namespace {

using detail::errno_text;
using detail::exists;
using detail::hex;
using detail::link_name;
using detail::list_dir;
using detail::read_line;

constexpr const char* kSysPci = "/sys/bus/pci/devices/";
constexpr const char* kIommuGroups = "/sys/kernel/iommu_groups/";

int open_node(const std::string& path) { return ::open(path.c_str(), O_RDWR | O_CLOEXEC); }

std::string join(const std::vector<std::string>& items, const char* sep = ", ") {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : sep) + s;
  return out;
}

bool noiommu_enabled() {
  return read_line("/sys/module/vfio/parameters/enable_unsafe_noiommu_mode").value_or("") == "Y";
}

// Reads a VFIO info struct whose kernel-side size may exceed ours (capability chains
// follow it): ask once, grow to the argsz the kernel wants, ask again.
template <class Info>
std::vector<std::uint64_t> query_info(int fd, unsigned long request, Info first, int& err) {
  std::vector<std::uint64_t> buf((sizeof(Info) + 7) / 8);
  std::memcpy(buf.data(), &first, sizeof(Info));
  reinterpret_cast<Info*>(buf.data())->argsz = sizeof(Info);
  err = 0;
  if (::ioctl(fd, request, buf.data()) != 0) {
    err = errno;
    return {};
  }
  const std::uint32_t want = reinterpret_cast<Info*>(buf.data())->argsz;
  if (want > sizeof(Info)) {
    buf.assign((want + 7) / 8, 0);
    std::memcpy(buf.data(), &first, sizeof(Info));
    reinterpret_cast<Info*>(buf.data())->argsz = want;
    if (::ioctl(fd, request, buf.data()) != 0) {
      err = errno;
      return {};
    }
  }
  return buf;
}

// Walks a VFIO capability chain (offsets from the start of the info buffer).
template <class Fn>
void for_each_cap(const std::vector<std::uint64_t>& buf, std::uint32_t first, Fn&& fn) {
  const auto* base = reinterpret_cast<const std::uint8_t*>(buf.data());
  const std::size_t bytes = buf.size() * 8;
  std::uint32_t at = first;
  for (int guard = 0; at != 0 && guard < 64; ++guard) {
    if (at + sizeof(vfio_info_cap_header) > bytes) return;
    const auto* header = reinterpret_cast<const vfio_info_cap_header*>(base + at);
    fn(*header, base + at, bytes - at);
    at = header->next;
  }
}

}  // namespace

Platform::Platform(Options options) : options_(std::move(options)) {
  const long page = ::sysconf(_SC_PAGESIZE);
  page_size_ = page > 0 ? static_cast<std::size_t>(page) : 4096;
}

Platform::~Platform() { close(); }

void Platform::clear_error() {
  problem_ = Problem::kNone;
  error_.clear();
}

Status Platform::fail(Problem problem, Status status, const std::string& what, std::string fix) {
  problem_ = problem;
  error_ = "vfio";
  if (!address_.empty()) error_ += " " + address_;
  error_ += ": " + what;
  log(LogLevel::kError, error_.c_str());
  while (!fix.empty() && fix.back() == '\n') fix.pop_back();
  if (!fix.empty()) error_ += "\nfix: " + fix;
  return status;
}

Status Platform::fail_errno(const char* call, int err) {
  std::string what = std::string(call) + " failed: " + errno_text(err);
  if (err == EPERM || err == EACCES) {
    return fail(Problem::kNoPermission, Error::kPermissionDenied, what,
                "the kernel refused the call to this process: run as root, or check that it "
                "may use this device (/dev/vfio permissions, capabilities)");
  }
  return fail(Problem::kSystemError, Error::kNotSupported, what);
}

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
    return fail(Problem::kBadAddress, Error::kInvalidArgument,
                "'" + std::string(address) + "' is not a PCI address",
                "give it as DDDD:BB:DD.F (domain:bus:device.function in hex), e.g. "
                "0000:01:00.0; `lspci -D` lists the devices");
  }
  address_ = *normalized;

  std::string driver;
  bool noiommu_group = false;
  Status s = diagnose_device(driver, group_, noiommu_group);

  if (s.ok()) {
    IommuMode mode = options_.iommu;
    if (mode == IommuMode::kAuto) {
      if (noiommu_group) {
        mode = IommuMode::kNoIommu;
      } else if (exists("/dev/vfio/vfio")) {
        mode = IommuMode::kType1;
      } else if (exists("/dev/iommu")) {
        mode = IommuMode::kIommufd;
      } else {
        s = fail(Problem::kVfioMissing, Error::kNotSupported,
                 "neither /dev/vfio/vfio nor /dev/iommu exists",
                 "load the VFIO modules as root: modprobe vfio-pci (and modprobe iommufd on "
                 "kernels without the legacy container)");
      }
    } else if (mode == IommuMode::kNoIommu && !noiommu_group) {
      s = fail(Problem::kInvalidArgument, Error::kInvalidArgument,
               "no-IOMMU mode asked for, but IOMMU group " + std::to_string(group_) +
                   " is a real IOMMU group",
               "open it with IommuMode::kType1 or kAuto: the IOMMU protects memory");
    } else if (noiommu_group && mode != IommuMode::kNoIommu) {
      s = fail(Problem::kNoIommu, Error::kNotSupported,
               "the device is in a no-IOMMU group (vfio's unsafe mode): there is no IOMMU to "
               "program",
               "open it with IommuMode::kNoIommu (root only), or enable the IOMMU (intel_iommu=on "
               "or amd_iommu=on on the kernel command line) and drop "
               "vfio.enable_unsafe_noiommu_mode");
    }
    mode_ = mode;
  }
  if (s.ok()) s = mode_ == IommuMode::kIommufd ? open_iommufd() : open_container(noiommu_group);
  if (s.ok()) s = open_device_info();
  if (s.ok()) s = map_regions();
  if (s.ok() && options_.enable_bus_master) s = enable_bus_master(true);
  if (s.ok() && options_.reset_on_open && reset_supported()) s = reset();
  if (!s.ok()) {
    // close() must not erase why the open failed.
    const Problem problem = problem_;
    std::string error = std::move(error_);
    close();
    problem_ = problem;
    error_ = std::move(error);
    return s;
  }
  if (mode_ == IommuMode::kNoIommu) {
    log(LogLevel::kWarning,
        "vfio: no-IOMMU mode: the device reaches all memory and sees physical addresses");
  }
  LogLine line;
  line << "vfio " << address_.c_str() << ": open, " << iommu_mode_name(mode_) << ", group "
       << group_ << ", " << region_count() << " regions";
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

Status Platform::explain_permission(const std::string& node, int err) {
  struct stat st {};
  std::string what = "cannot open " + node + " (" + errno_text(err) + ")";
  if (::stat(node.c_str(), &st) == 0) {
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(st.st_mode & 07777));
    what += ": it belongs to uid " + std::to_string(st.st_uid) + " gid " +
            std::to_string(st.st_gid) + " with mode " + mode + ", this process is uid " +
            std::to_string(::geteuid());
  }
  std::string fix;
  if (node.find("noiommu") != std::string::npos) {
    fix = "no-IOMMU groups need CAP_SYS_RAWIO: run as root";
  } else {
    fix = "run as root, or give your user the node: `chown $USER " + node +
          "` (lasts until the device is rebound), or for good a udev rule such as "
          "/etc/udev/rules.d/90-vfio.rules: SUBSYSTEM==\"vfio\", GROUP=\"vfio\", MODE=\"0660\" "
          "and membership in group vfio. A non-root user also needs a locked-memory limit "
          "(ulimit -l, /etc/security/limits.conf) as large as the DMA memory it maps";
  }
  return fail(Problem::kNoPermission, Error::kPermissionDenied, what, fix);
}

Status Platform::explain_not_viable() {
  const std::string dir = std::string(kIommuGroups) + std::to_string(group_) + "/devices";
  std::vector<std::string> blockers;
  std::string commands;
  for (const std::string& other : list_dir(dir)) {
    if (other == address_) continue;
    const std::string drv = pci_driver(other);
    const bool bridge =
        read_line(std::string(kSysPci) + other + "/class").value_or("").rfind("0x0604", 0) == 0;
    if (drv.empty() || drv == "vfio-pci" || drv == "pci-stub" || bridge) continue;
    std::string blocker = other;
    blocker.append(" (bound to ").append(drv).append(")");
    blockers.push_back(std::move(blocker));
    commands += vfio_bind_commands(other);
  }
  std::string what = "IOMMU group " + std::to_string(group_) + " is not viable: ";
  what += blockers.empty() ? "another device of the group is bound to a host driver"
                           : "it also holds " + join(blockers);
  std::string fix = "VFIO hands out whole IOMMU groups: bind every device of group " +
                    std::to_string(group_) + " to vfio-pci (or unbind it) first";
  if (!commands.empty()) fix += ", as root:\n" + commands;
  fix += "\n  or move the card to a slot whose group holds only it (ls " + dir + ")";
  return fail(Problem::kGroupNotViable, Error::kFailedPrecondition, what, fix);
}

Status Platform::open_container(bool noiommu) {
  container_fd_ = open_node("/dev/vfio/vfio");
  if (container_fd_ < 0) {
    const int err = errno;
    if (err == EACCES || err == EPERM) return explain_permission("/dev/vfio/vfio", err);
    return fail(Problem::kVfioMissing, Error::kNotSupported,
                "cannot open /dev/vfio/vfio (" + errno_text(err) + ")",
                "load VFIO as root: modprobe vfio-pci; kernels built without the legacy "
                "container need IommuMode::kIommufd");
  }
  if (::ioctl(container_fd_, VFIO_GET_API_VERSION) != VFIO_API_VERSION) {
    return fail(Problem::kSystemError, Error::kNotSupported, "unknown VFIO API version");
  }
  unsigned long type = 0;
  if (noiommu) {
    if (::ioctl(container_fd_, VFIO_CHECK_EXTENSION, VFIO_NOIOMMU_IOMMU) > 0) {
      type = VFIO_NOIOMMU_IOMMU;
    }
  } else if (::ioctl(container_fd_, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) > 0) {
    type = VFIO_TYPE1v2_IOMMU;
  } else if (::ioctl(container_fd_, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU) > 0) {
    type = VFIO_TYPE1_IOMMU;
  }
  if (type == 0) {
    return fail(
        Problem::kVfioMissing, Error::kNotSupported,
        noiommu ? "the VFIO container offers no no-IOMMU backend"
                : "the VFIO container offers no type1 IOMMU backend",
        noiommu ? "load vfio with enable_unsafe_noiommu_mode=1" : "modprobe vfio_iommu_type1");
  }

  const std::string node =
      "/dev/vfio/" + std::string(noiommu ? "noiommu-" : "") + std::to_string(group_);
  group_fd_ = open_node(node);
  if (group_fd_ < 0) {
    const int err = errno;
    if (err == EACCES || err == EPERM) return explain_permission(node, err);
    if (err == EBUSY) {
      return fail(Problem::kBusy, Error::kBusy,
                  "IOMMU group " + std::to_string(group_) +
                      " is already open (by another process, or another Platform here)",
                  "close the other user first; `fuser -v " + node +
                      "` names it (a VM that was given the device keeps it open)");
    }
    return fail(Problem::kVfioMissing, Error::kNotSupported,
                "cannot open " + node + " (" + errno_text(err) + ")",
                "vfio-pci has the device, so the node should exist: is devtmpfs mounted on /dev "
                "and udev running?");
  }
  vfio_group_status status{};
  status.argsz = sizeof(status);
  if (::ioctl(group_fd_, VFIO_GROUP_GET_STATUS, &status) != 0) {
    return fail_errno("VFIO_GROUP_GET_STATUS", errno);
  }
  if ((status.flags & VFIO_GROUP_FLAGS_VIABLE) == 0) return explain_not_viable();
  if (::ioctl(group_fd_, VFIO_GROUP_SET_CONTAINER, &container_fd_) != 0) {
    return fail_errno("VFIO_GROUP_SET_CONTAINER", errno);
  }
  if (::ioctl(container_fd_, VFIO_SET_IOMMU, type) != 0) {
    const int err = errno;
    if (err == EPERM && noiommu) {
      return fail(Problem::kNoPermission, Error::kPermissionDenied,
                  "no-IOMMU mode refused (" + errno_text(err) + ")",
                  "no-IOMMU mode needs CAP_SYS_RAWIO: run as root");
    }
    if (err == EPERM) {
      return fail(
          Problem::kNoInterruptRemapping, Error::kNotSupported,
          "the IOMMU cannot remap interrupts, so vfio_iommu_type1 refuses it (VFIO_SET_IOMMU: " +
              errno_text(err) + ")",
          "enable interrupt remapping (VT-d/AMD-Vi with interrupt remapping in the firmware "
          "setup; do not boot with intremap=off or nointremap), or accept that a device could "
          "forge interrupts: as root, echo 1 > "
          "/sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts (or boot with "
          "vfio_iommu_type1.allow_unsafe_interrupts=1)");
    }
    return fail_errno("VFIO_SET_IOMMU", err);
  }
  if (!noiommu) FBNIC_TRY(setup_iova_windows_type1());

  device_fd_ = ::ioctl(group_fd_, VFIO_GROUP_GET_DEVICE_FD, address_.c_str());
  if (device_fd_ < 0) {
    const int err = errno;
    device_fd_ = -1;
    if (err == EBUSY) {
      return fail(Problem::kBusy, Error::kBusy, "the device is already open",
                  "close the other user");
    }
    return fail_errno("VFIO_GROUP_GET_DEVICE_FD", err);
  }
  return ok_status();
}

Status Platform::setup_iova_windows_type1() {
  int err = 0;
  vfio_iommu_type1_info first{};
  const auto buf = query_info(container_fd_, VFIO_IOMMU_GET_INFO, first, err);
  if (buf.empty()) return fail_errno("VFIO_IOMMU_GET_INFO", err);
  const auto* info = reinterpret_cast<const vfio_iommu_type1_info*>(buf.data());
  iova_page_ = page_size_;
  if ((info->flags & VFIO_IOMMU_INFO_PGSIZES) != 0 && info->iova_pgsizes != 0) {
    const std::uint64_t smallest = info->iova_pgsizes & (~info->iova_pgsizes + 1);
    if (smallest > iova_page_) iova_page_ = static_cast<std::size_t>(smallest);
  }
  std::vector<IovaRange> kernel;
  if ((info->flags & VFIO_IOMMU_INFO_CAPS) != 0) {
    for_each_cap(buf, info->cap_offset,
                 [&](const vfio_info_cap_header& h, const std::uint8_t* at, std::size_t room) {
                   if (h.id != VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE) return;
                   const auto* cap =
                       reinterpret_cast<const vfio_iommu_type1_info_cap_iova_range*>(at);
                   for (std::uint32_t i = 0; i < cap->nr_iovas; ++i) {
                     if (sizeof(*cap) + (i + 1) * sizeof(vfio_iova_range) > room) break;
                     kernel.push_back({cap->iova_ranges[i].start, cap->iova_ranges[i].end});
                   }
                 });
  }
  if (kernel.empty()) kernel.push_back({0, ~std::uint64_t{0}});
  return set_iova_windows(kernel);
}

Status Platform::set_iova_windows(const std::vector<IovaRange>& kernel) {
  std::vector<IovaRange> windows;
  for (const IovaRange& r : kernel) {
    const std::uint64_t first = r.first > options_.iova_base ? r.first : options_.iova_base;
    const std::uint64_t last = r.last < options_.iova_limit ? r.last : options_.iova_limit;
    if (first <= last) windows.push_back({first, last});
  }
  if (windows.empty()) {
    return fail(Problem::kInvalidArgument, Error::kInvalidArgument,
                "no IOVA is usable inside Options::iova_base.." + hex(options_.iova_limit),
                "widen Options::iova_base/iova_limit");
  }
  iova_.reset(std::move(windows));
  return ok_status();
}

Status Platform::open_iommufd() {
  const std::string vdir = std::string(kSysPci) + address_ + "/vfio-dev";
  const auto names = list_dir(vdir);
  if (names.empty()) {
    return fail(Problem::kNoIommufd, Error::kNotSupported,
                "vfio-pci gives the device no cdev (" + vdir + " is missing)",
                "the iommufd path needs Linux 6.6+ built with CONFIG_IOMMUFD and "
                "CONFIG_VFIO_DEVICE_CDEV (Debian's kernels lack them): open with "
                "IommuMode::kType1");
  }
  iommufd_ = open_node("/dev/iommu");
  if (iommufd_ < 0) {
    const int err = errno;
    if (err == EACCES || err == EPERM) return explain_permission("/dev/iommu", err);
    return fail(Problem::kNoIommufd, Error::kNotSupported,
                "cannot open /dev/iommu (" + errno_text(err) + ")",
                "modprobe iommufd (Linux 6.2+ with CONFIG_IOMMUFD), or open with "
                "IommuMode::kType1");
  }
  const std::string node = "/dev/vfio/devices/" + names.front();
  device_fd_ = open_node(node);
  if (device_fd_ < 0) {
    const int err = errno;
    if (err == EACCES || err == EPERM) return explain_permission(node, err);
    if (err == EBUSY) {
      return fail(Problem::kBusy, Error::kBusy, node + " is already open",
                  "close the other user first; `fuser -v " + node + "` names it");
    }
    return fail_errno(("open " + node).c_str(), err);
  }
  abi::DeviceBindIommufd bind{sizeof(bind), 0, iommufd_, 0};
  if (::ioctl(device_fd_, abi::kVfioDeviceBindIommufd, &bind) != 0) {
    return fail_errno("VFIO_DEVICE_BIND_IOMMUFD", errno);
  }
  abi::IoasAlloc alloc{sizeof(alloc), 0, 0};
  if (::ioctl(iommufd_, abi::kIommuIoasAlloc, &alloc) != 0) {
    return fail_errno("IOMMU_IOAS_ALLOC", errno);
  }
  ioas_id_ = alloc.out_ioas_id;
  abi::DeviceAttachIommufdPt attach{sizeof(attach), 0, ioas_id_};
  if (::ioctl(device_fd_, abi::kVfioDeviceAttachIommufdPt, &attach) != 0) {
    const int err = errno;
    if (err == EPERM) {
      return fail(Problem::kNoInterruptRemapping, Error::kNotSupported,
                  "iommufd refuses an IOMMU without interrupt remapping "
                  "(VFIO_DEVICE_ATTACH_IOMMUFD_PT: " +
                      errno_text(err) + ")",
                  "enable interrupt remapping in the firmware setup, or as root: echo 1 > "
                  "/sys/module/iommufd/parameters/allow_unsafe_interrupts");
    }
    return fail_errno("VFIO_DEVICE_ATTACH_IOMMUFD_PT", err);
  }

  abi::IoasIovaRanges ranges{sizeof(ranges), ioas_id_, 0, 0, 0, 0};
  std::vector<abi::IovaRange> got;
  if (::ioctl(iommufd_, abi::kIommuIoasIovaRanges, &ranges) != 0 && errno != EMSGSIZE) {
    return fail_errno("IOMMU_IOAS_IOVA_RANGES", errno);
  }
  got.resize(ranges.num_iovas);
  ranges.allowed_iovas = reinterpret_cast<std::uintptr_t>(got.data());
  if (!got.empty() && ::ioctl(iommufd_, abi::kIommuIoasIovaRanges, &ranges) != 0) {
    return fail_errno("IOMMU_IOAS_IOVA_RANGES", errno);
  }
  iova_page_ = page_size_;
  if (ranges.out_iova_alignment > iova_page_) {
    iova_page_ = static_cast<std::size_t>(ranges.out_iova_alignment);
  }
  std::vector<IovaRange> kernel;
  for (std::size_t i = 0; i < got.size() && i < ranges.num_iovas; ++i) {
    kernel.push_back({got[i].start, got[i].last});
  }
  if (kernel.empty()) kernel.push_back({0, ~std::uint64_t{0}});
  return set_iova_windows(kernel);
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
    const auto buf = query_info(device_fd_, VFIO_DEVICE_GET_REGION_INFO, first, err);
    Region& region = regions_[i];
    region.info.index = i;
    if (buf.empty()) continue;  // e.g. the VGA region of a non-VGA device
    const auto* r = reinterpret_cast<const vfio_region_info*>(buf.data());
    region.info.size = r->size;
    region.info.offset = r->offset;
    region.info.flags = r->flags;
    if ((r->flags & VFIO_REGION_INFO_FLAG_CAPS) != 0) {
      for_each_cap(buf, r->cap_offset,
                   [&](const vfio_info_cap_header& h, const std::uint8_t* at, std::size_t room) {
                     if (h.id != VFIO_REGION_INFO_CAP_SPARSE_MMAP) return;
                     const auto* cap =
                         reinterpret_cast<const vfio_region_info_cap_sparse_mmap*>(at);
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
    // Stop the device's DMA before its memory goes away.
    if (config_size_ != 0) enable_bus_master(false).ignore();
  }
  for (auto& [cookie, mapping] : dma_) {
    unmap_for_device(mapping);
    release_mapping(mapping);
  }
  dma_.clear();
  iova_.reset({});
  for (Region& region : regions_) {
    for (MappedArea& area : region.areas) {
      if (area.cpu != nullptr) ::munmap(area.cpu, area.size);
    }
  }
  regions_.clear();
  irqs_.clear();
  bars_[0] = BarView{};
  bars_[1] = BarView{};
  for (int* fd : {&device_fd_, &iommufd_, &group_fd_, &container_fd_}) {
    if (*fd >= 0) ::close(*fd);
    *fd = -1;
  }
  ioas_id_ = 0;
  device_flags_ = 0;
  config_offset_ = 0;
  config_size_ = 0;
  group_ = -1;
  mode_ = IommuMode::kAuto;
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

void Platform::log(LogLevel level, const char* line) {
  if (options_.log) {
    options_.log(level, line);
  } else if (level <= options_.log_level) {
    std::fprintf(stderr, "[%s] %s\n", level_name(level), line);
  }
}

}  // namespace fbnic::vfio
