// GuestMemory: the guest RAM that the vhost-user front-end shares (SET_MEM_TABLE).
//
// Each region is a file descriptor mapped MAP_SHARED here, so the guest and this process
// see the same bytes. User-Mode Linux shares one region (two with highmem) in which guest
// physical address, front-end virtual address and DMA address coincide; virtqueue
// addresses come as front-end virtual addresses and descriptor buffers as guest physical
// addresses, so both translations are kept.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
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

  // Maps one region from its fd (which is closed here either way).
  Status add(const vhost::MemRegion& r, int fd) {
    const long page = sysconf(_SC_PAGESIZE);
    const std::uint64_t align = r.mmap_offset % static_cast<std::uint64_t>(page);
    const std::size_t len = static_cast<std::size_t>(r.size + align);
    void* base = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
                      static_cast<off_t>(r.mmap_offset - align));
    close(fd);
    if (base == MAP_FAILED || r.size == 0) return Error::kNoMemory;
    regions_.push_back(
        {r.guest_addr, r.user_addr, r.size, static_cast<std::uint8_t*>(base) + align, base, len});
    return ok_status();
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
  std::vector<Region> regions_;
};

}  // namespace fbnic::emu
