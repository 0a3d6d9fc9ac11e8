// Container: DMA memory. Allocation (hugepage, anonymous, memfd), and a device address for
// each buffer: an allocated IOVA mapped in the IOMMU, or its physical address (mapped at
// that IOVA when there is an IOMMU).
#include <fcntl.h>
#include <linux/vfio.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "fbnic/vfio/container.hpp"
#include "iommufd_abi.hpp"
#include "report.hpp"
#include "sys.hpp"

namespace fbnic::vfio {
namespace {

using detail::errno_text;
using detail::hex;
using detail::meminfo;
using detail::Reporter;

std::string hugepage_fix() {
  return "reserve hugepages as root: echo 64 > /proc/sys/vm/nr_hugepages (64 of the default "
         "size; HugePages_Free in /proc/meminfo shows what is left), or boot with hugepages=64, "
         "or keep vm.nr_hugepages=64 in /etc/sysctl.d/; DmaMemory::kAuto falls back to 4 KiB "
         "pages when none are free and the buffer need not be contiguous";
}

std::string hugepage_state() {
  return "HugePages_Total " + std::to_string(meminfo("HugePages_Total")) + ", HugePages_Free " +
         std::to_string(meminfo("HugePages_Free")) + ", Hugepagesize " +
         std::to_string(meminfo("Hugepagesize") / 1024) + " kB";
}

std::string memlock_limit() {
  rlimit r{};
  if (::getrlimit(RLIMIT_MEMLOCK, &r) != 0) return "unknown";
  if (r.rlim_cur == RLIM_INFINITY) return "unlimited";
  return std::to_string(r.rlim_cur) + " bytes";
}

constexpr bool overflows_round_up(std::size_t size, std::size_t unit) {
  return size > ~std::size_t{0} - (unit - 1);
}

// Why physical IOVAs: said in the errors that only they cause.
const char* physical_reason(IommuMode mode) {
  return mode == IommuMode::kNoIommu ? "no-IOMMU mode" : "IOVA = physical address";
}

}  // namespace

// --- on the Container itself ---

Result<DmaBuffer> Container::dma_alloc(std::size_t size, std::size_t align, DmaMemory memory) {
  Reporter r(failure_, options_, "vfio container");
  return dma_alloc(r, size, align, memory);
}

Result<DmaBuffer> Container::dma_map(void* cpu, std::size_t size) {
  Reporter r(failure_, options_, "vfio container");
  return dma_map(r, cpu, size);
}

Status Container::dma_unmap(const DmaBuffer& buffer) {
  Reporter r(failure_, options_, "vfio container");
  return dma_unmap(r, buffer);
}

void Container::dma_free(const DmaBuffer& buffer) {
  if (!buffer.valid()) return;
  dma_unmap(buffer).ignore();  // a bad buffer is logged by the reporter
}

int Container::dma_memfd(const DmaBuffer& buffer) const {
  const std::lock_guard<std::mutex> hold(lock_);
  const auto it = dma_.find(buffer.cookie);
  return it == dma_.end() ? -1 : it->second.memfd;
}

DmaMemory Container::dma_memory_of(const DmaBuffer& buffer) const {
  const std::lock_guard<std::mutex> hold(lock_);
  const auto it = dma_.find(buffer.cookie);
  return it == dma_.end() ? DmaMemory::kAuto : it->second.memory;
}

// --- the work ---

Result<DmaBuffer> Container::dma_alloc(Reporter& r, std::size_t size, std::size_t align,
                                       DmaMemory memory) {
  const std::lock_guard<std::mutex> hold(lock_);
  if (device_groups_.empty()) {
    return r.fail(Problem::kNotOpen, Error::kFailedPrecondition,
                  "dma_alloc: no device is open in this Container",
                  "open a Platform first: the IOMMU context is set up through its device");
  }
  if (align == 0) align = 1;
  if (size == 0 || (align & (align - 1)) != 0) {
    return r.fail(Problem::kInvalidArgument, Error::kInvalidArgument,
                  "dma_alloc(" + std::to_string(size) + ", " + std::to_string(align) +
                      "): size must be non-zero and align a power of two");
  }
  const std::size_t huge = static_cast<std::size_t>(meminfo("Hugepagesize"));
  // With physical IOVAs the device sees physical addresses, so a buffer must not cross a
  // discontinuity: only a hugepage guarantees that beyond one page.
  const bool needs_contiguity = physical() && (size > page_size_ || align > page_size_);
  DmaMemory kind = memory;
  if (kind == DmaMemory::kAuto) {
    const bool want_huge = huge != 0 && (size >= options_.hugepage_threshold || needs_contiguity);
    kind =
        want_huge && meminfo("HugePages_Free") > 0 ? DmaMemory::kHugepage : DmaMemory::kAnonymous;
    if (want_huge && kind != DmaMemory::kHugepage && !needs_contiguity && !fallback_warned_) {
      fallback_warned_ = true;
      r.log(LogLevel::kWarning,
            "vfio: no free hugepages, DMA memory falls back to 4 KiB pages (reserve some: echo "
            "64 > /proc/sys/vm/nr_hugepages)");
    }
  }
  if (needs_contiguity && kind != DmaMemory::kHugepage) {
    const std::string what = std::string(physical_reason(mode_)) +
                             " needs physically contiguous memory for this " +
                             std::to_string(size) + "-byte buffer, ";
    if (memory != DmaMemory::kAuto) {
      return r.fail(Problem::kNoHugepages, Error::kNoMemory,
                    what + "which only a hugepage gives, not DmaMemory::" + dma_memory_name(memory),
                    "allocate it with DmaMemory::kAuto or kHugepage (" + hugepage_state() + ")");
    }
    return r.fail(Problem::kNoHugepages, Error::kNoMemory,
                  what + "and no hugepage is free (" + hugepage_state() + ")", hugepage_fix());
  }
  if (needs_contiguity && size > huge) {
    return r.fail(Problem::kNoHugepages, Error::kNoMemory,
                  std::string(physical_reason(mode_)) + " needs physically contiguous memory for " +
                      "this " + std::to_string(size) + "-byte buffer, larger than one " +
                      std::to_string(huge >> 10) + " KiB hugepage, and hugepages in a row are " +
                      "not contiguous in general",
                  "allocate buffers of at most one hugepage (for the core's Rx page pool: a "
                  "Policy with kHpqRing + kPpqRing + kRxSparePages <= " +
                      std::to_string(huge / 4096) +
                      "), or, when the device's DMA goes through the IOMMU, open with "
                      "IovaMode::kAllocated");
  }
  if (kind == DmaMemory::kHugepage && huge == 0) {
    return r.fail(Problem::kNoHugepages, Error::kNotSupported,
                  "this kernel has no hugepages (no Hugepagesize in /proc/meminfo)",
                  "use DmaMemory::kAuto or kAnonymous");
  }
  if (kind == DmaMemory::kHugepage && align > huge) {
    return r.fail(Problem::kInvalidArgument, Error::kInvalidArgument,
                  "alignment " + hex(align) + " exceeds the hugepage size " + hex(huge));
  }

  DmaMapping m;
  for (int attempt = 0; attempt < 2; ++attempt) {  // a failed hugepage falls back once
    const std::size_t unit = kind == DmaMemory::kHugepage ? huge : page_size_;
    if (overflows_round_up(size, unit)) {
      return r.fail(Problem::kInvalidArgument, Error::kInvalidArgument, "dma_alloc size too large");
    }
    m = DmaMapping{};
    m.length = (size + unit - 1) & ~(unit - 1);
    m.memory = kind;
    m.owned = true;
    void* p = MAP_FAILED;
    int err = 0;
    if (kind == DmaMemory::kMemfd) {
      m.memfd = ::memfd_create("fbnic-dma", MFD_CLOEXEC);
      if (m.memfd < 0 || ::ftruncate(m.memfd, static_cast<off_t>(m.length)) != 0) {
        err = errno;
      } else {
        p = ::mmap(nullptr, m.length, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, m.memfd,
                   0);
        err = errno;
      }
    } else {
      const int huge_flag = kind == DmaMemory::kHugepage ? MAP_HUGETLB : 0;
      p = ::mmap(nullptr, m.length, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE | huge_flag, -1, 0);
      err = errno;
    }
    if (p != MAP_FAILED) {
      m.cpu = p;
      break;
    }
    release_mapping(m);
    if (kind == DmaMemory::kHugepage && memory == DmaMemory::kAuto && !needs_contiguity &&
        attempt == 0) {
      if (!fallback_warned_) {
        fallback_warned_ = true;
        r.log(LogLevel::kWarning,
              "vfio: hugepage allocation failed, DMA memory falls back to 4 KiB pages");
      }
      kind = DmaMemory::kAnonymous;
      continue;
    }
    if (kind == DmaMemory::kHugepage) {
      return r.fail(Problem::kNoHugepages, Error::kNoMemory,
                    "no hugepages for a " + std::to_string(size) + "-byte DMA buffer (" +
                        errno_text(err) + "; " + hugepage_state() + ")",
                    hugepage_fix());
    }
    return r.fail(Problem::kSystemError, Error::kNoMemory,
                  "cannot allocate " + std::to_string(m.length) + " bytes of " +
                      dma_memory_name(kind) + " memory (" + errno_text(err) + ")");
  }
  // A child process must not share (and copy-on-write) pages the device writes.
  ::madvise(m.cpu, m.length, MADV_DONTFORK);

  const std::size_t unit = kind == DmaMemory::kHugepage ? huge : page_size_;
  const Status s = map_for_device(r, m, align > unit ? align : unit);
  if (!s.ok()) {
    release_mapping(m);
    return s;
  }
  const std::uintptr_t cookie = next_cookie_++;
  dma_.emplace(cookie, m);
  return DmaBuffer{m.cpu, m.device, size, cookie};
}

Result<DmaBuffer> Container::dma_map(Reporter& r, void* cpu, std::size_t size) {
  const std::lock_guard<std::mutex> hold(lock_);
  if (device_groups_.empty()) {
    return r.fail(Problem::kNotOpen, Error::kFailedPrecondition,
                  "dma_map: no device is open in this Container",
                  "open a Platform first: the IOMMU context is set up through its device");
  }
  if (cpu == nullptr || size == 0 || reinterpret_cast<std::uintptr_t>(cpu) % page_size_ != 0 ||
      overflows_round_up(size, page_size_)) {
    return r.fail(Problem::kInvalidArgument, Error::kInvalidArgument,
                  "dma_map needs a non-empty, page-aligned buffer");
  }
  DmaMapping m;
  m.cpu = cpu;
  m.length = (size + page_size_ - 1) & ~(page_size_ - 1);
  m.memory = DmaMemory::kAnonymous;
  m.owned = false;
  FBNIC_TRY(map_for_device(r, m, page_size_));
  const std::uintptr_t cookie = next_cookie_++;
  dma_.emplace(cookie, m);
  return DmaBuffer{cpu, m.device, size, cookie};
}

Status Container::dma_unmap(Reporter& r, const DmaBuffer& buffer) {
  const std::lock_guard<std::mutex> hold(lock_);
  const auto it = dma_.find(buffer.cookie);
  if (it == dma_.end() || it->second.cpu != buffer.cpu) {
    return r.fail(Problem::kInvalidArgument, Error::kInvalidArgument,
                  "dma_unmap/dma_free of a buffer this Container does not hold (freed already, "
                  "or from another Container)");
  }
  unmap_for_device(it->second);
  release_mapping(it->second);
  dma_.erase(it);
  return ok_status();
}

// On failure nothing of the mapping is left (no IOMMU entry, no lock); the memory is the
// caller's to release.
Status Container::map_for_device(Reporter& r, DmaMapping& m, std::size_t align) {
  Status s = ok_status();
  if (physical()) {
    s = map_physical(r, m, align);
  } else if (const auto iova =
                 allocator_.allocate(m.length, align > iova_page_ ? align : iova_page_)) {
    s = iommu_map(r, m, *iova);
    if (!s.ok()) allocator_.release(*iova);
  } else {
    s = r.fail(Problem::kInvalidArgument, Error::kNoMemory,
               "no free IOVA range of " + std::to_string(m.length) + " bytes",
               "free DMA buffers, or widen Options::iova_base/iova_limit");
  }
  if (!s.ok()) unmap_for_device(m);
  return s;
}

// IOVA = physical address: the memory is locked (no-IOMMU mode has nothing else pinning
// it), its address read from pagemap, and with an IOMMU mapped there too. The address is
// read again once the IOMMU has pinned the pages: a page that moved in between (compaction
// can move locked pages) is mapped again.
Status Container::map_physical(Reporter& r, DmaMapping& m, std::size_t align) {
  if (::mlock(m.cpu, m.length) != 0) {
    const int err = errno;
    return r.fail(Problem::kMemlockLimit, Error::kNoMemory,
                  "mlock of " + std::to_string(m.length) + " bytes failed (" + errno_text(err) +
                      "; RLIMIT_MEMLOCK " + memlock_limit() + ")",
                  "run as root or raise the limit: ulimit -l unlimited");
  }
  m.locked = true;
  for (int attempt = 0; attempt < 3; ++attempt) {  // the memory moving twice is not expected
    const Result<std::uint64_t> pa = detail::physical_address(m.cpu, m.length);
    if (pa.status() == Error::kPermissionDenied) {
      return r.fail(Problem::kNoPermission, Error::kPermissionDenied,
                    std::string(physical_reason(mode_)) +
                        " needs physical addresses, and /proc/self/pagemap shows none to this "
                        "process",
                    "run as root (CAP_SYS_ADMIN)");
    }
    if (pa.status() == Error::kOutOfRange) {
      return r.fail(Problem::kNoHugepages, Error::kNoMemory,
                    "DMA memory of " + std::to_string(m.length) +
                        " bytes is not physically contiguous, as " + physical_reason(mode_) +
                        " needs",
                    "give dma_map memory of one page or one hugepage; " + hugepage_fix());
    }
    if (!pa.ok()) return r.fail_errno("read of /proc/self/pagemap", errno);
    if (*pa % align != 0) {
      return r.fail(Problem::kSystemError, Error::kNoMemory,
                    "physical address " + hex(*pa) + " is not aligned to " + hex(align));
    }
    if (mode_ == IommuMode::kNoIommu) {
      m.device = *pa;
      return ok_status();
    }
    if (!allocator_.reserve(*pa, m.length)) {
      return r.fail(Problem::kSystemError, Error::kNoMemory,
                    "physical range " + hex(*pa) + "+" + hex(m.length) +
                        " lies outside the IOMMU's valid IOVA ranges or overlaps a mapping",
                    "open with IovaMode::kAllocated if the device's DMA goes through the IOMMU");
    }
    const Status s = iommu_map(r, m, *pa);
    if (!s.ok()) {
      allocator_.release(*pa);
      return s;
    }
    if (detail::physical_address(m.cpu, m.length).value_or(0) == *pa) return ok_status();
    unmap_for_device(m);  // which unlocks it too: lock again for the next attempt
    if (::mlock(m.cpu, m.length) != 0) return r.fail_errno("mlock", errno);
    m.locked = true;
  }
  return r.fail(Problem::kSystemError, Error::kNoMemory,
                "DMA memory kept moving between reading its physical address and pinning it");
}

Status Container::iommu_map(Reporter& r, DmaMapping& m, std::uint64_t iova) {
  const auto vaddr = reinterpret_cast<std::uintptr_t>(m.cpu);
  int rc = 0;
  if (mode_ == IommuMode::kIommufd) {
    abi::IoasMap map{
        sizeof(map), abi::kIoasMapFixedIova | abi::kIoasMapReadable | abi::kIoasMapWriteable,
        ioas_id_,    0,
        vaddr,       m.length,
        iova};
    rc = ::ioctl(iommufd_, abi::kIommuIoasMap, &map);
  } else {
    vfio_iommu_type1_dma_map map{};
    map.argsz = sizeof(map);
    map.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
    map.vaddr = vaddr;
    map.iova = iova;
    map.size = m.length;
    rc = ::ioctl(container_fd_, VFIO_IOMMU_MAP_DMA, &map);
  }
  if (rc != 0) {
    const int err = errno;
    const char* call = mode_ == IommuMode::kIommufd ? "IOMMU_IOAS_MAP" : "VFIO_IOMMU_MAP_DMA";
    if (err == ENOMEM && ::geteuid() != 0) {
      return r.fail(Problem::kMemlockLimit, Error::kNoMemory,
                    std::string(call) + " of " + std::to_string(m.length) + " bytes failed (" +
                        errno_text(err) + "): pinned DMA memory counts against RLIMIT_MEMLOCK (" +
                        memlock_limit() + ")",
                    "raise the locked-memory limit: ulimit -l unlimited (shell), LimitMEMLOCK= "
                    "(systemd unit), or a memlock line in /etc/security/limits.conf");
    }
    return r.fail_errno(call, err);
  }
  m.device = iova;
  m.iommu_mapped = true;
  return ok_status();
}

void Container::unmap_for_device(DmaMapping& m) {
  if (m.iommu_mapped) {
    int rc = 0;
    if (mode_ == IommuMode::kIommufd) {
      abi::IoasUnmap unmap{sizeof(unmap), ioas_id_, m.device, m.length};
      rc = ::ioctl(iommufd_, abi::kIommuIoasUnmap, &unmap);
    } else {
      vfio_iommu_type1_dma_unmap unmap{};
      unmap.argsz = sizeof(unmap);
      unmap.iova = m.device;
      unmap.size = m.length;
      rc = ::ioctl(container_fd_, VFIO_IOMMU_UNMAP_DMA, &unmap);
    }
    if (rc != 0) {
      const std::string line =
          "vfio: DMA unmap of " + hex(m.device) + " failed: " + errno_text(errno);
      detail::log_line(options_, LogLevel::kError, line.c_str());
    }
    allocator_.release(m.device);
    m.iommu_mapped = false;
  }
  if (m.locked) ::munlock(m.cpu, m.length);
  m.locked = false;
}

void Container::release_mapping(DmaMapping& m) {
  if (m.owned && m.cpu != nullptr) ::munmap(m.cpu, m.length);
  if (m.memfd >= 0) ::close(m.memfd);
  m.cpu = nullptr;
  m.memfd = -1;
}

}  // namespace fbnic::vfio
