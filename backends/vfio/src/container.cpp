// Container: the IOMMU context (type1 container, iommufd IOAS, no-IOMMU container),
// devices joining and leaving it, and how the IOVA mode is settled.
#include "fbnic/vfio/container.hpp"

#include <fcntl.h>
#include <linux/vfio.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "fbnic/vfio/pci.hpp"
#include "iommufd_abi.hpp"
#include "report.hpp"
#include "sys.hpp"

namespace fbnic::vfio {
namespace {

using detail::errno_text;
using detail::hex;
using detail::list_dir;
using detail::read_line;
using detail::Reporter;

constexpr const char* kSysPci = "/sys/bus/pci/devices/";
constexpr const char* kIommuGroups = "/sys/kernel/iommu_groups/";

int open_node(const std::string& path) { return ::open(path.c_str(), O_RDWR | O_CLOEXEC); }

std::string join(const std::vector<std::string>& items, const char* sep = ", ") {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : sep) + s;
  return out;
}

Status explain_permission(Reporter& r, const std::string& node, int err) {
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
  return r.fail(Problem::kNoPermission, Error::kPermissionDenied, what, fix);
}

}  // namespace

namespace detail {

void log_line(const Options& options, LogLevel level, const char* line) {
  if (options.log) {
    options.log(level, line);
  } else if (level <= options.log_level) {
    std::fprintf(stderr, "[%s] %s\n", level_name(level), line);
  }
}

Status Reporter::fail(Problem problem, Status status, const std::string& what, std::string fix) {
  failure_.problem = problem;
  failure_.text = subject_ + ": " + what;
  log(LogLevel::kError, failure_.text.c_str());
  while (!fix.empty() && fix.back() == '\n') fix.pop_back();
  if (!fix.empty()) failure_.text += "\nfix: " + fix;
  return status;
}

Status Reporter::fail_errno(const char* call, int err) {
  std::string what = std::string(call) + " failed: " + errno_text(err);
  if (err == EPERM || err == EACCES) {
    return fail(Problem::kNoPermission, Error::kPermissionDenied, what,
                "the kernel refused the call to this process: run as root, or check that it "
                "may use this device (/dev/vfio permissions, capabilities)");
  }
  return fail(Problem::kSystemError, Error::kNotSupported, what);
}

}  // namespace detail

Container::Container(Options options) : options_(std::move(options)) {
  const long page = ::sysconf(_SC_PAGESIZE);
  page_size_ = page > 0 ? static_cast<std::size_t>(page) : 4096;
}

Container::~Container() {
  const std::lock_guard<std::mutex> hold(lock_);
  release_all();
}

IommuMode Container::iommu_mode() const {
  const std::lock_guard<std::mutex> hold(lock_);
  return mode_;
}

IovaMode Container::iova_mode() const {
  const std::lock_guard<std::mutex> hold(lock_);
  return mode_ == IommuMode::kNoIommu ? IovaMode::kPhysical : iova_;
}

std::vector<IovaRange> Container::iova_windows() const {
  const std::lock_guard<std::mutex> hold(lock_);
  return allocator_.windows();
}

std::size_t Container::dma_mappings() const {
  const std::lock_guard<std::mutex> hold(lock_);
  return dma_.size();
}

std::size_t Container::devices() const {
  const std::lock_guard<std::mutex> hold(lock_);
  return device_groups_.size();
}

Problem Container::last_problem() const {
  const std::lock_guard<std::mutex> hold(lock_);
  return failure_.problem;
}

std::string Container::last_error() const {
  const std::lock_guard<std::mutex> hold(lock_);
  return failure_.text;
}

// --- devices joining ---

Result<int> Container::attach(Reporter& r, const std::string& address, int group,
                              bool noiommu_group) {
  const std::lock_guard<std::mutex> hold(lock_);
  if (device_groups_.count(address) != 0) {
    return r.fail(Problem::kBusy, Error::kBusy,
                  "the device is already open through another Platform of this Container",
                  "use that Platform, or close it first");
  }
  const bool first = device_groups_.empty();
  if (first) {
    IommuMode mode = options_.iommu;
    if (mode == IommuMode::kAuto) {
      if (noiommu_group) {
        mode = IommuMode::kNoIommu;
      } else if (detail::exists("/dev/vfio/vfio")) {
        mode = IommuMode::kType1;
      } else if (detail::exists("/dev/iommu")) {
        mode = IommuMode::kIommufd;
      } else {
        return r.fail(Problem::kVfioMissing, Error::kNotSupported,
                      "neither /dev/vfio/vfio nor /dev/iommu exists",
                      "load the VFIO modules as root: modprobe vfio-pci (and modprobe iommufd "
                      "on kernels without the legacy container)");
      }
    } else if (mode == IommuMode::kNoIommu && !noiommu_group) {
      return r.fail(Problem::kInvalidArgument, Error::kInvalidArgument,
                    "no-IOMMU mode asked for, but IOMMU group " + std::to_string(group) +
                        " is a real IOMMU group",
                    "open it with IommuMode::kType1 or kAuto: the IOMMU protects memory");
    }
    if (noiommu_group && mode != IommuMode::kNoIommu) {
      return r.fail(
          Problem::kNoIommu, Error::kNotSupported,
          "the device is in a no-IOMMU group (vfio's unsafe mode): there is no IOMMU to "
          "program",
          "open it with IommuMode::kNoIommu (root only), or enable the IOMMU (intel_iommu=on "
          "or amd_iommu=on on the kernel command line) and drop "
          "vfio.enable_unsafe_noiommu_mode");
    }
    if (mode == IommuMode::kNoIommu && options_.iova == IovaMode::kAllocated) {
      return r.fail(Problem::kInvalidArgument, Error::kInvalidArgument,
                    "IovaMode::kAllocated asked for in no-IOMMU mode, where nothing translates: "
                    "the device sees physical addresses",
                    "open with IovaMode::kAuto or kPhysical");
    }
    mode_ = mode;
  } else if (noiommu_group != (mode_ == IommuMode::kNoIommu)) {
    return r.fail(Problem::kInvalidArgument, Error::kInvalidArgument,
                  std::string("the device is in a ") +
                      (noiommu_group ? "no-IOMMU group" : "real IOMMU group") +
                      " but the Container's context is " + iommu_mode_name(mode_) +
                      ": devices with and without an IOMMU cannot share one",
                  "give this device a Container of its own (a Platform made from Options)");
  }
  Result<int> device = mode_ == IommuMode::kIommufd
                           ? attach_iommufd(r, address)
                           : attach_group(r, address, group, mode_ == IommuMode::kNoIommu);
  if (device.ok()) {
    device_groups_[address] = group;
  } else if (device_groups_.empty()) {
    release_all();  // a first device that failed leaves nothing behind
  }
  return device;
}

Result<int> Container::attach_group(Reporter& r, const std::string& address, int group,
                                    bool noiommu) {
  if (container_fd_ < 0) {
    container_fd_ = open_node("/dev/vfio/vfio");
    if (container_fd_ < 0) {
      const int err = errno;
      if (err == EACCES || err == EPERM) return explain_permission(r, "/dev/vfio/vfio", err);
      return r.fail(Problem::kVfioMissing, Error::kNotSupported,
                    "cannot open /dev/vfio/vfio (" + errno_text(err) + ")",
                    "load VFIO as root: modprobe vfio-pci; kernels built without the legacy "
                    "container need IommuMode::kIommufd");
    }
    if (::ioctl(container_fd_, VFIO_GET_API_VERSION) != VFIO_API_VERSION) {
      return r.fail(Problem::kSystemError, Error::kNotSupported, "unknown VFIO API version");
    }
  }
  const bool iommu_set = !groups_.empty();
  unsigned long type = 0;
  if (!iommu_set) {
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
      return r.fail(
          Problem::kVfioMissing, Error::kNotSupported,
          noiommu ? "the VFIO container offers no no-IOMMU backend"
                  : "the VFIO container offers no type1 IOMMU backend",
          noiommu ? "load vfio with enable_unsafe_noiommu_mode=1" : "modprobe vfio_iommu_type1");
    }
  }

  const std::string node =
      "/dev/vfio/" + std::string(noiommu ? "noiommu-" : "") + std::to_string(group);
  Group& g = groups_[group];
  const bool new_group = g.fd < 0;
  if (new_group) {
    g.fd = open_node(node);
    if (g.fd < 0) {
      const int err = errno;
      groups_.erase(group);
      if (err == EACCES || err == EPERM) return explain_permission(r, node, err);
      if (err == EBUSY) {
        return r.fail(Problem::kBusy, Error::kBusy,
                      "IOMMU group " + std::to_string(group) +
                          " is already open (by another process, or a Platform here with "
                          "another Container)",
                      "close the other user first; `fuser -v " + node +
                          "` names it (a VM that was given the device keeps it open)");
      }
      return r.fail(Problem::kVfioMissing, Error::kNotSupported,
                    "cannot open " + node + " (" + errno_text(err) + ")",
                    "vfio-pci has the device, so the node should exist: is devtmpfs mounted on "
                    "/dev and udev running?");
    }
    // A group that fails from here on is closed again (and so leaves the container).
    auto undo = [&](Status s) -> Result<int> {
      ::close(g.fd);
      groups_.erase(group);
      return s;
    };
    vfio_group_status status{};
    status.argsz = sizeof(status);
    if (::ioctl(g.fd, VFIO_GROUP_GET_STATUS, &status) != 0) {
      return undo(r.fail_errno("VFIO_GROUP_GET_STATUS", errno));
    }
    if ((status.flags & VFIO_GROUP_FLAGS_VIABLE) == 0) {
      return undo(explain_not_viable(r, address, group));
    }
    if (::ioctl(g.fd, VFIO_GROUP_SET_CONTAINER, &container_fd_) != 0) {
      return undo(r.fail_errno("VFIO_GROUP_SET_CONTAINER", errno));
    }
    if (!iommu_set && ::ioctl(container_fd_, VFIO_SET_IOMMU, type) != 0) {
      const int err = errno;
      if (err == EPERM && noiommu) {
        return undo(r.fail(Problem::kNoPermission, Error::kPermissionDenied,
                           "no-IOMMU mode refused (" + errno_text(err) + ")",
                           "no-IOMMU mode needs CAP_SYS_RAWIO: run as root"));
      }
      if (err == EPERM) {
        return undo(r.fail(
            Problem::kNoInterruptRemapping, Error::kNotSupported,
            "the IOMMU cannot remap interrupts, so vfio_iommu_type1 refuses it (VFIO_SET_IOMMU: " +
                errno_text(err) + ")",
            "enable interrupt remapping (VT-d/AMD-Vi with interrupt remapping in the firmware "
            "setup; do not boot with intremap=off or nointremap), or accept that a device could "
            "forge interrupts: as root, echo 1 > "
            "/sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts (or boot with "
            "vfio_iommu_type1.allow_unsafe_interrupts=1)"));
      }
      return undo(r.fail_errno("VFIO_SET_IOMMU", err));
    }
    // A group's devices may narrow the valid IOVA ranges: read them after every join.
    if (!noiommu) {
      const Status s = read_type1_windows(r);
      if (!s.ok()) return undo(s);
    }
  }

  const int device = ::ioctl(g.fd, VFIO_GROUP_GET_DEVICE_FD, address.c_str());
  if (device < 0) {
    const int err = errno;
    if (new_group) {
      ::close(g.fd);
      groups_.erase(group);
    }
    if (err == EBUSY) {
      return r.fail(Problem::kBusy, Error::kBusy, "the device is already open",
                    "close the other user");
    }
    return r.fail_errno("VFIO_GROUP_GET_DEVICE_FD", err);
  }
  ++g.users;
  return device;
}

Status Container::read_type1_windows(Reporter& r) {
  int err = 0;
  vfio_iommu_type1_info first{};
  const auto buf = detail::query_info(container_fd_, VFIO_IOMMU_GET_INFO, first, err);
  if (buf.empty()) return r.fail_errno("VFIO_IOMMU_GET_INFO", err);
  const auto* info = reinterpret_cast<const vfio_iommu_type1_info*>(buf.data());
  iova_page_ = page_size_;
  if ((info->flags & VFIO_IOMMU_INFO_PGSIZES) != 0 && info->iova_pgsizes != 0) {
    const std::uint64_t smallest = info->iova_pgsizes & (~info->iova_pgsizes + 1);
    if (smallest > iova_page_) iova_page_ = static_cast<std::size_t>(smallest);
  }
  std::vector<IovaRange> kernel;
  if ((info->flags & VFIO_IOMMU_INFO_CAPS) != 0) {
    detail::for_each_cap(
        buf, info->cap_offset,
        [&](const vfio_info_cap_header& h, const std::uint8_t* at, std::size_t room) {
          if (h.id != VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE) return;
          const auto* cap = reinterpret_cast<const vfio_iommu_type1_info_cap_iova_range*>(at);
          for (std::uint32_t i = 0; i < cap->nr_iovas; ++i) {
            if (sizeof(*cap) + (i + 1) * sizeof(vfio_iova_range) > room) break;
            kernel.push_back({cap->iova_ranges[i].start, cap->iova_ranges[i].end});
          }
        });
  }
  if (kernel.empty()) kernel.push_back({0, ~std::uint64_t{0}});
  kernel_windows_ = std::move(kernel);
  return apply_iova_windows(r);
}

// The allocator hands out IOVAs inside both the kernel's ranges and the options' bounds;
// physical addresses are checked against the kernel's ranges alone.
Status Container::apply_iova_windows(Reporter& r) {
  std::vector<IovaRange> windows;
  const bool bounded = !physical();
  for (const IovaRange& w : kernel_windows_) {
    const std::uint64_t lo = bounded && options_.iova_base > w.first ? options_.iova_base : w.first;
    const std::uint64_t hi = bounded && options_.iova_limit < w.last ? options_.iova_limit : w.last;
    if (lo <= hi) windows.push_back({lo, hi});
  }
  if (windows.empty()) {
    return r.fail(Problem::kInvalidArgument, Error::kInvalidArgument,
                  "no IOVA is usable inside Options::iova_base.." + hex(options_.iova_limit),
                  "widen Options::iova_base/iova_limit");
  }
  // Mappings already made stay where they are: the allocator keeps them.
  IovaAllocator next;
  next.reset(windows);
  for (const auto& [cookie, m] : dma_) {
    if (m.iommu_mapped && !next.reserve(m.device, m.length)) {
      return r.fail(Problem::kInvalidArgument, Error::kInvalidArgument,
                    "the new device narrows the IOMMU's valid IOVA ranges past a buffer mapped "
                    "at " +
                        hex(m.device),
                    "open every device of the Container before allocating DMA memory");
    }
  }
  allocator_ = std::move(next);
  return ok_status();
}

Status Container::explain_not_viable(Reporter& r, const std::string& address, int group) {
  const std::string dir = std::string(kIommuGroups) + std::to_string(group) + "/devices";
  std::vector<std::string> blockers;
  std::string commands;
  for (const std::string& other : list_dir(dir)) {
    if (other == address) continue;
    const std::string drv = pci_driver(other);
    const bool bridge =
        read_line(std::string(kSysPci) + other + "/class").value_or("").rfind("0x0604", 0) == 0;
    if (drv.empty() || drv == "vfio-pci" || drv == "pci-stub" || bridge) continue;
    std::string blocker = other;
    blocker.append(" (bound to ").append(drv).append(")");
    blockers.push_back(std::move(blocker));
    commands += vfio_bind_commands(other);
  }
  std::string what = "IOMMU group " + std::to_string(group) + " is not viable: ";
  what += blockers.empty() ? "another device of the group is bound to a host driver"
                           : "it also holds " + join(blockers);
  std::string fix = "VFIO hands out whole IOMMU groups: bind every device of group " +
                    std::to_string(group) + " to vfio-pci (or unbind it) first";
  if (!commands.empty()) fix += ", as root:\n" + commands;
  fix += "\n  or move the card to a slot whose group holds only it (ls " + dir + ")";
  return r.fail(Problem::kGroupNotViable, Error::kFailedPrecondition, what, fix);
}

Result<int> Container::attach_iommufd(Reporter& r, const std::string& address) {
  const std::string vdir = std::string(kSysPci) + address + "/vfio-dev";
  const auto names = list_dir(vdir);
  if (names.empty()) {
    return r.fail(Problem::kNoIommufd, Error::kNotSupported,
                  "vfio-pci gives the device no cdev (" + vdir + " is missing)",
                  "the iommufd path needs Linux 6.6+ built with CONFIG_IOMMUFD and "
                  "CONFIG_VFIO_DEVICE_CDEV (Debian's kernels lack them): open with "
                  "IommuMode::kType1");
  }
  if (iommufd_ < 0) {
    iommufd_ = open_node("/dev/iommu");
    if (iommufd_ < 0) {
      const int err = errno;
      if (err == EACCES || err == EPERM) return explain_permission(r, "/dev/iommu", err);
      return r.fail(Problem::kNoIommufd, Error::kNotSupported,
                    "cannot open /dev/iommu (" + errno_text(err) + ")",
                    "modprobe iommufd (Linux 6.2+ with CONFIG_IOMMUFD), or open with "
                    "IommuMode::kType1");
    }
  }
  const std::string node = "/dev/vfio/devices/" + names.front();
  detail::Fd device(open_node(node));
  if (!device.valid()) {
    const int err = errno;
    if (err == EACCES || err == EPERM) return explain_permission(r, node, err);
    if (err == EBUSY) {
      return r.fail(Problem::kBusy, Error::kBusy, node + " is already open",
                    "close the other user first; `fuser -v " + node + "` names it");
    }
    return r.fail_errno(("open " + node).c_str(), err);
  }
  abi::DeviceBindIommufd bind{sizeof(bind), 0, iommufd_, 0};
  if (::ioctl(device.get(), abi::kVfioDeviceBindIommufd, &bind) != 0) {
    return r.fail_errno("VFIO_DEVICE_BIND_IOMMUFD", errno);
  }
  if (ioas_id_ == 0) {
    abi::IoasAlloc alloc{sizeof(alloc), 0, 0};
    if (::ioctl(iommufd_, abi::kIommuIoasAlloc, &alloc) != 0) {
      return r.fail_errno("IOMMU_IOAS_ALLOC", errno);
    }
    ioas_id_ = alloc.out_ioas_id;
  }
  abi::DeviceAttachIommufdPt attach{sizeof(attach), 0, ioas_id_};
  if (::ioctl(device.get(), abi::kVfioDeviceAttachIommufdPt, &attach) != 0) {
    const int err = errno;
    if (err == EPERM) {
      return r.fail(Problem::kNoInterruptRemapping, Error::kNotSupported,
                    "iommufd refuses an IOMMU without interrupt remapping "
                    "(VFIO_DEVICE_ATTACH_IOMMUFD_PT: " +
                        errno_text(err) + ")",
                    "enable interrupt remapping in the firmware setup, or as root: echo 1 > "
                    "/sys/module/iommufd/parameters/allow_unsafe_interrupts");
    }
    return r.fail_errno("VFIO_DEVICE_ATTACH_IOMMUFD_PT", err);
  }

  abi::IoasIovaRanges ranges{sizeof(ranges), ioas_id_, 0, 0, 0, 0};
  std::vector<abi::IovaRange> got;
  if (::ioctl(iommufd_, abi::kIommuIoasIovaRanges, &ranges) != 0 && errno != EMSGSIZE) {
    return r.fail_errno("IOMMU_IOAS_IOVA_RANGES", errno);
  }
  got.resize(ranges.num_iovas);
  ranges.allowed_iovas = reinterpret_cast<std::uintptr_t>(got.data());
  if (!got.empty() && ::ioctl(iommufd_, abi::kIommuIoasIovaRanges, &ranges) != 0) {
    return r.fail_errno("IOMMU_IOAS_IOVA_RANGES", errno);
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
  kernel_windows_ = std::move(kernel);
  FBNIC_TRY(apply_iova_windows(r));
  return device.release();
}

Status Container::settle_iova_mode(Reporter& r, bool device_bypasses_iommu) {
  const std::lock_guard<std::mutex> hold(lock_);
  if (mode_ == IommuMode::kNoIommu) {
    iova_ = IovaMode::kPhysical;
    return ok_status();
  }
  if (iova_ == IovaMode::kAuto) {
    IovaMode want = options_.iova;
    if (want == IovaMode::kAuto) {
      want = device_bypasses_iommu ? IovaMode::kPhysical : IovaMode::kAllocated;
    }
    if (want == IovaMode::kPhysical) FBNIC_TRY(check_physical_addresses(r));
    iova_ = want;
    FBNIC_TRY(apply_iova_windows(r));  // the options' bounds are for allocated IOVAs only
    if (want == IovaMode::kPhysical) {
      r.log(LogLevel::kInfo,
            device_bypasses_iommu && options_.iova == IovaMode::kAuto
                ? "vfio: IOVA = physical address: the device's DMA bypasses the IOMMU (it says "
                  "so in its vendor-specific capability)"
                : "vfio: IOVA = physical address");
    }
    return ok_status();
  }
  if (iova_ == IovaMode::kAllocated && device_bypasses_iommu) {
    return r.fail(Problem::kInvalidArgument, Error::kNotSupported,
                  "the device's DMA bypasses the IOMMU (fbnic-emu behind QEMU's "
                  "x-pci-proxy-dev), so it reaches memory only at physical addresses, but the "
                  "Container already hands out allocated IOVAs",
                  "make the Container with Options::iova = IovaMode::kPhysical (or kAuto with "
                  "this device opened first)");
  }
  return ok_status();
}

// Physical addresses come from /proc/self/pagemap, which shows page frame numbers only to
// CAP_SYS_ADMIN: find out at open rather than at the first allocation.
Status Container::check_physical_addresses(Reporter& r) {
  void* page = ::mmap(nullptr, page_size_, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (page == MAP_FAILED) return r.fail_errno("mmap", errno);
  const Result<std::uint64_t> pa = detail::physical_address(page, page_size_);
  ::munmap(page, page_size_);
  if (pa.ok()) return ok_status();
  if (pa.status() == Error::kPermissionDenied) {
    return r.fail(Problem::kNoPermission, Error::kPermissionDenied,
                  "IOVA = physical address needs the memory's physical addresses, and "
                  "/proc/self/pagemap shows them only to root (CAP_SYS_ADMIN); this process is "
                  "uid " +
                      std::to_string(::geteuid()),
                  "run as root; or, when the device's DMA goes through the IOMMU (real "
                  "hardware; not fbnic-emu behind QEMU), open with IovaMode::kAllocated, which "
                  "any user with access to the group may use");
  }
  return r.fail_errno("read of /proc/self/pagemap", errno);
}

// --- devices leaving ---

void Container::detach(const std::string& address, int group) {
  const std::lock_guard<std::mutex> hold(lock_);
  if (device_groups_.erase(address) == 0) return;
  // The last device: mappings are undone while a group still holds the IOMMU context.
  if (device_groups_.empty()) {
    release_all();
    return;
  }
  const auto g = groups_.find(group);
  if (g != groups_.end() && --g->second.users <= 0) {
    ::close(g->second.fd);
    groups_.erase(g);
  }
}

// Undoes every mapping while the IOMMU context still exists, then closes it.
void Container::release_all() {
  for (auto& [cookie, mapping] : dma_) {
    unmap_for_device(mapping);
    release_mapping(mapping);
  }
  dma_.clear();
  allocator_.reset({});
  kernel_windows_.clear();
  for (auto& [group, g] : groups_) {
    if (g.fd >= 0) ::close(g.fd);
  }
  groups_.clear();
  device_groups_.clear();
  for (int* fd : {&iommufd_, &container_fd_}) {
    if (*fd >= 0) ::close(*fd);
    *fd = -1;
  }
  ioas_id_ = 0;
  mode_ = IommuMode::kAuto;
  iova_ = IovaMode::kAuto;
}

}  // namespace fbnic::vfio
