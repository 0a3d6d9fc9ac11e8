// GuestMemory: the guest RAM a front end shares (vhost-user SET_MEM_TABLE, QEMU's
// SYNC_SYSMEM).
//
// Each region is a file descriptor mapped MAP_SHARED here, so the guest and this process
// see the same bytes. User-Mode Linux shares one region (two with highmem) in which guest
// physical address, front-end virtual address and DMA address coincide; virtqueue
// addresses come as front-end virtual addresses and descriptor buffers as guest physical
// addresses, so both translations are kept. QEMU shares its RAM blocks by guest physical
// address only (uva = gpa there).
#pragma once

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "fbnic/base/status.hpp"

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

  // One region as a front end describes it: where it is for the guest (gpa), for the
  // front end's own process (uva) and in the file (offset).
  struct Share {
    std::uint64_t gpa = 0;
    std::uint64_t size = 0;
    std::uint64_t uva = 0;
    std::uint64_t offset = 0;
  };

  // Maps one region from its fd (which is closed here either way). The region must lie
  // inside the file (a page past its end would raise SIGBUS here when the guest's
  // addresses reach it) and must not overlap a region already mapped (an address would
  // have two meanings).
  // problem() then says what was wrong.
  Status add(const Share& r, int fd) {
    Status st = inside_file(r, fd);
    if (st.ok() && overlaps(r)) {
      problem_ = "overlaps another region";
      st = Error::kInvalidArgument;
    }
    if (st.ok()) st = map(r, fd);
    close(fd);
    return st;
  }
  [[nodiscard]] const char* problem() const { return problem_; }

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
  Status inside_file(const Share& r, int fd) {
    constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
    if (r.size == 0) {
      problem_ = "is empty";
      return Error::kOutOfRange;
    }
    if (r.size > kMax - r.offset || r.size > kMax - r.gpa || r.size > kMax - r.uva ||
        r.offset + r.size > static_cast<std::uint64_t>(std::numeric_limits<off_t>::max())) {
      problem_ = "wraps around the address space";
      return Error::kOutOfRange;
    }
    struct stat st {};
    if (fstat(fd, &st) != 0) {
      problem_ = "comes with an unusable fd";
      return Error::kInvalidArgument;
    }
    if (S_ISREG(st.st_mode) && r.offset + r.size > static_cast<std::uint64_t>(st.st_size)) {
      problem_ = "runs past the end of its file";
      return Error::kOutOfRange;
    }
    return ok_status();
  }

  // Both ends are inclusive-exclusive and checked not to wrap by inside_file().
  [[nodiscard]] bool overlaps(const Share& r) const {
    for (const Region& m : regions_) {
      if (r.gpa < m.gpa + m.size && m.gpa < r.gpa + r.size) return true;
    }
    return false;
  }

  Status map(const Share& r, int fd) {
    const auto page = static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
    const std::uint64_t align = r.offset % page;
    const auto len = static_cast<std::size_t>(r.size + align);
    void* base = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
                      static_cast<off_t>(r.offset - align));
    if (base == MAP_FAILED) {
      problem_ = "cannot be mapped";
      return Error::kNoMemory;
    }
    regions_.push_back({r.gpa, r.uva, r.size, static_cast<std::uint8_t*>(base) + align, base, len});
    return ok_status();
  }

  std::vector<Region> regions_;
  const char* problem_ = "";
};

}  // namespace fbnic::emu
