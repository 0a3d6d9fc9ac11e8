// GuestMemory: the guest RAM that the vhost-user front-end shares (SET_MEM_TABLE).
//
// Each region is a file descriptor mapped MAP_SHARED here, so the guest and this process
// see the same bytes. User-Mode Linux shares one region (two with highmem) in which guest
// physical address, front-end virtual address and DMA address coincide; virtqueue
// addresses come as front-end virtual addresses and descriptor buffers as guest physical
// addresses, so both translations are kept.
#pragma once

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "fbnic/base/status.hpp"
#include "fbnic/emu/vhost_user.hpp"

namespace fbnic::emu {

class GuestMemory {
 public:
  struct Region {
    std::uint64_t gpa = 0;
    std::uint64_t uva = 0;
    std::uint64_t size = 0;
    std::uint8_t* host = nullptr;  // what gpa maps to here
    void* map_base = nullptr;      // what munmap needs
    std::size_t map_len = 0;
  };

  GuestMemory() = default;
  GuestMemory(const GuestMemory&) = delete;
  GuestMemory& operator=(const GuestMemory&) = delete;
  ~GuestMemory() { clear(); }

  // Maps one region from its fd (which is closed here either way). The region must lie
  // inside the file: a page past its end would raise SIGBUS here when the guest's
  // addresses reach it.
  Status add(const vhost::MemRegion& r, int fd) {
    Status st = inside_file(r, fd);
    if (st.ok()) st = map(r, fd);
    close(fd);
    return st;
  }

  void clear() {
    for (const Region& r : regions_) munmap(r.map_base, r.map_len);
    regions_.clear();
  }

  // Host pointer for [gpa, gpa + len) inside one region, or nullptr.
  [[nodiscard]] std::uint8_t* gpa(std::uint64_t addr, std::uint64_t len) const {
    for (const Region& r : regions_) {
      if (addr >= r.gpa && len <= r.size && addr - r.gpa <= r.size - len) {
        return r.host + (addr - r.gpa);
      }
    }
    return nullptr;
  }
  // Host pointer for a front-end virtual address range, or nullptr.
  [[nodiscard]] std::uint8_t* uva(std::uint64_t addr, std::uint64_t len) const {
    for (const Region& r : regions_) {
      if (addr >= r.uva && len <= r.size && addr - r.uva <= r.size - len) {
        return r.host + (addr - r.uva);
      }
    }
    return nullptr;
  }

  [[nodiscard]] const std::vector<Region>& regions() const { return regions_; }

 private:
  // Not empty, no end that wraps (file offset, guest and front-end addresses), and inside
  // the file when it has a size (a regular file or memfd; a device has none).
  static Status inside_file(const vhost::MemRegion& r, int fd) {
    constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
    if (r.size == 0 || r.size > kMax - r.mmap_offset || r.size > kMax - r.guest_addr ||
        r.size > kMax - r.user_addr ||
        r.mmap_offset + r.size > static_cast<std::uint64_t>(std::numeric_limits<off_t>::max())) {
      return Error::kOutOfRange;
    }
    struct stat st {};
    if (fstat(fd, &st) != 0) return Error::kInvalidArgument;
    if (S_ISREG(st.st_mode) && r.mmap_offset + r.size > static_cast<std::uint64_t>(st.st_size)) {
      return Error::kOutOfRange;
    }
    return ok_status();
  }

  Status map(const vhost::MemRegion& r, int fd) {
    const auto page = static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
    const std::uint64_t align = r.mmap_offset % page;
    const auto len = static_cast<std::size_t>(r.size + align);
    void* base = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
                      static_cast<off_t>(r.mmap_offset - align));
    if (base == MAP_FAILED) return Error::kNoMemory;
    regions_.push_back(
        {r.guest_addr, r.user_addr, r.size, static_cast<std::uint8_t*>(base) + align, base, len});
    return ok_status();
  }

  std::vector<Region> regions_;
};

}  // namespace fbnic::emu
