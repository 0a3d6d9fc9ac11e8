// Small POSIX and sysfs helpers shared by the backend's sources (not installed).
#pragma once

#include <linux/vfio.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "fbnic/base/result.hpp"

namespace fbnic::vfio::detail {

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

// The physical address of [cpu, cpu + size) from /proc/self/pagemap, when that memory is
// resident and physically contiguous. kPermissionDenied: the kernel hides frame numbers
// from this process (not CAP_SYS_ADMIN); kOutOfRange: not contiguous; kNotFound: a page is
// not resident; kNotSupported: pagemap unreadable (errno says why).
Result<std::uint64_t> physical_address(const void* cpu, std::size_t size);

// The first line of a (sysfs) file without its newline; nothing if unreadable.
std::optional<std::string> read_line(const std::string& path);
// The last path component of a symlink's target; empty if it is not a link.
std::string link_name(const std::string& path);
// Entry names of a directory, sorted, without "." and "..".
std::vector<std::string> list_dir(const std::string& path);
bool exists(const std::string& path);
// "EACCES: Permission denied"
std::string errno_text(int err);
std::string hex(std::uint64_t value);
// A value from /proc/meminfo in bytes (fields in kB) or pages (HugePages_*); 0 if absent.
std::uint64_t meminfo(const char* field);

// An owned file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = o.release();
    }
    return *this;
  }
  [[nodiscard]] int get() const { return fd_; }
  [[nodiscard]] bool valid() const { return fd_ >= 0; }
  int release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset();

 private:
  int fd_ = -1;
};

}  // namespace fbnic::vfio::detail
