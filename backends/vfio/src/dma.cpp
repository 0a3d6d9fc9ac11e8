// DMA memory: allocation (hugepage, anonymous, memfd), IOMMU mapping at IOVAs from the
// allocator, and physical addresses in no-IOMMU mode.
#include <fcntl.h>
#include <linux/vfio.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "fbnic/vfio/platform.hpp"
#include "iommufd_abi.hpp"
#include "sys.hpp"

namespace fbnic::vfio {
namespace {

using detail::errno_text;
using detail::hex;
using detail::meminfo;

std::string hugepage_fix() {
  return "reserve hugepages as root: echo 64 > /proc/sys/vm/nr_hugepages (64 of the default "
         "size; HugePages_Free in /proc/meminfo shows what is left), or boot with hugepages=64, "
         "or keep vm.nr_hugepages=64 in /etc/sysctl.d/; DmaMemory::kAuto falls back to 4 KiB "
         "pages when none are free";
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

}  // namespace

Result<DmaBuffer> Platform::dma_alloc(std::size_t size, std::size_t align, DmaMemory memory) {
  if (!is_open()) return fail(Problem::kNotOpen, Error::kFailedPrecondition, "dma_alloc: not open");
  if (align == 0) align = 1;
  if (size == 0 || (align & (align - 1)) != 0) {
    return fail(Problem::kInvalidArgument, Error::kInvalidArgument,
                "dma_alloc(" + std::to_string(size) + ", " + std::to_string(align) +
                    "): size must be non-zero and align a power of two");
  }
  const std::size_t huge = static_cast<std::size_t>(meminfo("Hugepagesize"));
  // Without an IOMMU the device sees physical addresses, so a buffer must not cross a
  // discontinuity: only a hugepage guarantees that beyond one page.
  const bool needs_contiguity =
      mode_ == IommuMode::kNoIommu && (size > page_size_ || align > page_size_);
  DmaMemory kind = memory;
  if (kind == DmaMemory::kAuto) {
    const bool want_huge = huge != 0 && (size >= options_.hugepage_threshold || needs_contiguity);
    kind =
        want_huge && meminfo("HugePages_Free") > 0 ? DmaMemory::kHugepage : DmaMemory::kAnonymous;
    if (want_huge && kind != DmaMemory::kHugepage && !needs_contiguity && !fallback_warned_) {
      fallback_warned_ = true;
      log(LogLevel::kWarning,
          "vfio: no free hugepages, DMA memory falls back to 4 KiB pages (reserve some: echo 64 "
          "> /proc/sys/vm/nr_hugepages)");
    }
  }
  if (needs_contiguity && kind != DmaMemory::kHugepage) {
    const std::string what = "no-IOMMU mode needs physically contiguous memory for this " +
                             std::to_string(size) + "-byte buffer, ";
    if (memory != DmaMemory::kAuto) {
      return fail(Problem::kNoHugepages, Error::kNoMemory,
                  what + "which only a hugepage gives, not DmaMemory::" + dma_memory_name(memory),
                  "allocate it with DmaMemory::kAuto or kHugepage (" + hugepage_state() + ")");
    }
    return fail(Problem::kNoHugepages, Error::kNoMemory,
                what + "and no hugepage is free (" + hugepage_state() + ")", hugepage_fix());
  }
  if (kind == DmaMemory::kHugepage && huge == 0) {
    return fail(Problem::kNoHugepages, Error::kNotSupported,
                "this kernel has no hugepages (no Hugepagesize in /proc/meminfo)",
                "use DmaMemory::kAuto or kAnonymous");
  }
  if (kind == DmaMemory::kHugepage && align > huge) {
    return fail(Problem::kInvalidArgument, Error::kInvalidArgument,
                "alignment " + hex(align) + " exceeds the hugepage size " + hex(huge));
  }

  DmaMapping m;
  for (;;) {
    const std::size_t unit = kind == DmaMemory::kHugepage ? huge : page_size_;
    if (overflows_round_up(size, unit)) {
      return fail(Problem::kInvalidArgument, Error::kInvalidArgument, "dma_alloc size too large");
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
        p = ::mmap(nullptr, m.length, PROT_READ | PROT_WRITE, MAP_SHARED, m.memfd, 0);
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
    if (kind == DmaMemory::kHugepage && memory == DmaMemory::kAuto && !needs_contiguity) {
      if (!fallback_warned_) {
        fallback_warned_ = true;
        log(LogLevel::kWarning,
            "vfio: hugepage allocation failed, DMA memory falls back to 4 KiB pages");
      }
      kind = DmaMemory::kAnonymous;
      continue;
    }
    if (kind == DmaMemory::kHugepage) {
      return fail(Problem::kNoHugepages, Error::kNoMemory,
                  "no hugepages for a " + std::to_string(size) + "-byte DMA buffer (" +
                      errno_text(err) + "; " + hugepage_state() + ")",
                  hugepage_fix());
    }
    return fail(Problem::kSystemError, Error::kNoMemory,
                "cannot allocate " + std::to_string(m.length) + " bytes of " +
                    dma_memory_name(kind) + " memory (" + errno_text(err) + ")");
  }
  // A child process must not share (and copy-on-write) pages the device writes.
  ::madvise(m.cpu, m.length, MADV_DONTFORK);

  const std::size_t unit = kind == DmaMemory::kHugepage ? huge : page_size_;
  Status s = map_for_device(m, align > unit ? align : unit);
  if (!s.ok()) {
    release_mapping(m);
    return s;
  }
  const std::uintptr_t cookie = next_cookie_++;
  dma_.emplace(cookie, m);
  return DmaBuffer{m.cpu, m.device, size, cookie};
}

Result<DmaBuffer> Platform::dma_map(void* cpu, std::size_t size) {
  if (!is_open()) return fail(Problem::kNotOpen, Error::kFailedPrecondition, "dma_map: not open");
  if (cpu == nullptr || size == 0 || reinterpret_cast<std::uintptr_t>(cpu) % page_size_ != 0 ||
      overflows_round_up(size, page_size_)) {
    return fail(Problem::kInvalidArgument, Error::kInvalidArgument,
                "dma_map needs a non-empty, page-aligned buffer");
  }
  DmaMapping m;
  m.cpu = cpu;
  m.length = (size + page_size_ - 1) & ~(page_size_ - 1);
  m.memory = DmaMemory::kAnonymous;
  m.owned = false;
  FBNIC_TRY(map_for_device(m, page_size_));
  const std::uintptr_t cookie = next_cookie_++;
  dma_.emplace(cookie, m);
  return DmaBuffer{cpu, m.device, size, cookie};
}

Status Platform::dma_unmap(const DmaBuffer& buffer) {
  const auto it = dma_.find(buffer.cookie);
  if (it == dma_.end() || it->second.cpu != buffer.cpu) {
    return fail(Problem::kInvalidArgument, Error::kInvalidArgument,
                "dma_unmap/dma_free of a buffer this Platform does not hold");
  }
  unmap_for_device(it->second);
  release_mapping(it->second);
  dma_.erase(it);
  return ok_status();
}

void Platform::dma_free(const DmaBuffer& buffer) {
  if (!buffer.valid()) return;
  dma_unmap(buffer).ignore();  // a bad buffer is logged by fail()
}

int Platform::dma_memfd(const DmaBuffer& buffer) const {
  const auto it = dma_.find(buffer.cookie);
  return it == dma_.end() ? -1 : it->second.memfd;
}

DmaMemory Platform::dma_memory_of(const DmaBuffer& buffer) const {
  const auto it = dma_.find(buffer.cookie);
  return it == dma_.end() ? DmaMemory::kAuto : it->second.memory;
}

Status Platform::map_for_device(DmaMapping& m, std::size_t align) {
  const auto vaddr = reinterpret_cast<std::uintptr_t>(m.cpu);
  if (mode_ == IommuMode::kNoIommu) {
    if (::mlock(m.cpu, m.length) != 0) {
      const int err = errno;
      return fail(Problem::kMemlockLimit, Error::kNoMemory,
                  "mlock of " + std::to_string(m.length) + " bytes failed (" + errno_text(err) +
                      "; RLIMIT_MEMLOCK " + memlock_limit() + ")",
                  "run as root or raise the limit: ulimit -l unlimited");
    }
    m.locked = true;
    const int fd = ::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fail_errno("open /proc/self/pagemap", errno);
    detail::Fd pagemap(fd);
    std::uint64_t first_pfn = 0;
    for (std::size_t at = 0; at < m.length; at += page_size_) {
      std::uint64_t entry = 0;
      const auto where = static_cast<off_t>((vaddr + at) / page_size_ * sizeof(entry));
      if (::pread(pagemap.get(), &entry, sizeof(entry), where) != sizeof(entry)) {
        return fail_errno("pread /proc/self/pagemap", errno);
      }
      const std::uint64_t pfn = entry & ((std::uint64_t{1} << 55) - 1);
      if ((entry >> 63) == 0 || pfn == 0) {
        return fail(Problem::kNoPermission, Error::kPermissionDenied,
                    "/proc/self/pagemap shows no physical address for DMA memory",
                    "no-IOMMU mode must learn physical addresses, which needs root "
                    "(CAP_SYS_ADMIN)");
      }
      if (at == 0) {
        first_pfn = pfn;
      } else if (pfn != first_pfn + at / page_size_) {
        return fail(Problem::kNoHugepages, Error::kNoMemory,
                    "DMA memory is not physically contiguous, as no-IOMMU mode needs",
                    hugepage_fix());
      }
    }
    m.device = first_pfn * page_size_;
    if (m.device % align != 0) {
      return fail(Problem::kSystemError, Error::kNoMemory,
                  "physical address " + hex(m.device) + " is not aligned to " + hex(align));
    }
    return ok_status();
  }

  const auto iova = iova_.allocate(m.length, align > iova_page_ ? align : iova_page_);
  if (!iova) {
    return fail(Problem::kInvalidArgument, Error::kNoMemory,
                "no free IOVA range of " + std::to_string(m.length) + " bytes",
                "free DMA buffers, or widen Options::iova_base/iova_limit");
  }
  int rc = 0;
  if (mode_ == IommuMode::kIommufd) {
    abi::IoasMap map{
        sizeof(map), abi::kIoasMapFixedIova | abi::kIoasMapReadable | abi::kIoasMapWriteable,
        ioas_id_,    0,
        vaddr,       m.length,
        *iova};
    rc = ::ioctl(iommufd_, abi::kIommuIoasMap, &map);
  } else {
    vfio_iommu_type1_dma_map map{};
    map.argsz = sizeof(map);
    map.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
    map.vaddr = vaddr;
    map.iova = *iova;
    map.size = m.length;
    rc = ::ioctl(container_fd_, VFIO_IOMMU_MAP_DMA, &map);
  }
  if (rc != 0) {
    const int err = errno;
    iova_.release(*iova);
    const char* call = mode_ == IommuMode::kIommufd ? "IOMMU_IOAS_MAP" : "VFIO_IOMMU_MAP_DMA";
    if (err == ENOMEM && ::geteuid() != 0) {
      return fail(Problem::kMemlockLimit, Error::kNoMemory,
                  std::string(call) + " of " + std::to_string(m.length) + " bytes failed (" +
                      errno_text(err) + "): pinned DMA memory counts against RLIMIT_MEMLOCK (" +
                      memlock_limit() + ")",
                  "raise the locked-memory limit: ulimit -l unlimited (shell), LimitMEMLOCK= "
                  "(systemd unit), or a memlock line in /etc/security/limits.conf");
    }
    return fail_errno(call, err);
  }
  m.device = *iova;
  return ok_status();
}

void Platform::unmap_for_device(DmaMapping& m) {
  if (mode_ == IommuMode::kNoIommu) {
    if (m.locked) ::munlock(m.cpu, m.length);
    m.locked = false;
    return;
  }
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
    log(LogLevel::kError, line.c_str());
  }
  iova_.release(m.device);
}

void Platform::release_mapping(DmaMapping& m) {
  if (m.owned && m.cpu != nullptr) ::munmap(m.cpu, m.length);
  if (m.memfd >= 0) ::close(m.memfd);
  m.cpu = nullptr;
  m.memfd = -1;
}

}  // namespace fbnic::vfio
