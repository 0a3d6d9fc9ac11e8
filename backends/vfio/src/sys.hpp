// Small POSIX and sysfs helpers shared by the backend's sources (not installed).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace fbnic::vfio::detail {

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
