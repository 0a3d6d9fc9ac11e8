#include "sys.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

namespace fbnic::vfio::detail {

std::optional<std::string> read_line(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::string line;
  if (!std::getline(in, line) && !in.eof()) return std::nullopt;
  while (!line.empty() && (line.back() == '\n' || line.back() == ' ')) line.pop_back();
  return line;
}

std::string link_name(const std::string& path) {
  char buf[4096];
  const ssize_t n = ::readlink(path.c_str(), buf, sizeof(buf) - 1);
  if (n <= 0) return {};
  const std::string target(buf, static_cast<std::size_t>(n));
  const auto slash = target.rfind('/');
  return slash == std::string::npos ? target : target.substr(slash + 1);
}

std::vector<std::string> list_dir(const std::string& path) {
  std::vector<std::string> names;
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) return names;
  while (const dirent* e = ::readdir(dir)) {
    const std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  ::closedir(dir);
  std::sort(names.begin(), names.end());
  return names;
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

std::string errno_text(int err) {
  const char* name = strerrorname_np(err);
  return std::string(name != nullptr ? name : "errno " + std::to_string(err)) + ": " +
         std::strerror(err);
}

std::string hex(std::uint64_t value) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(value));
  return buf;
}

std::uint64_t meminfo(const char* field) {
  std::ifstream in("/proc/meminfo");
  std::string line;
  const std::string key = std::string(field) + ":";
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) != 0) continue;
    std::uint64_t value = 0;
    std::size_t i = key.size();
    while (i < line.size() && line[i] == ' ') ++i;
    for (; i < line.size() && line[i] >= '0' && line[i] <= '9'; ++i) {
      value = value * 10 + static_cast<std::uint64_t>(line[i] - '0');
    }
    return line.find("kB") != std::string::npos ? value * 1024 : value;
  }
  return 0;
}

Result<std::uint64_t> physical_address(const void* cpu, std::size_t size) {
  const long page_size = ::sysconf(_SC_PAGESIZE);
  const auto page = static_cast<std::uint64_t>(page_size > 0 ? page_size : 4096);
  const Fd pagemap(::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC));
  if (!pagemap.valid()) {
    // A process that dropped privileges (setuid) cannot even open it.
    return errno == EACCES || errno == EPERM ? Error::kPermissionDenied : Error::kNotSupported;
  }
  const auto vaddr = reinterpret_cast<std::uintptr_t>(cpu);
  if (size == 0) return Error::kInvalidArgument;
  const std::uint64_t first_page = vaddr / page;
  const std::uint64_t last_page = (vaddr + size - 1) / page;
  std::uint64_t first_pfn = 0;
  for (std::uint64_t p = first_page; p <= last_page; ++p) {
    std::uint64_t entry = 0;
    const auto where = static_cast<off_t>(p * sizeof(entry));
    if (::pread(pagemap.get(), &entry, sizeof(entry), where) != sizeof(entry)) {
      return Error::kNotSupported;
    }
    const std::uint64_t pfn = entry & ((std::uint64_t{1} << 55) - 1);
    if ((entry >> 63) == 0) return Error::kNotFound;  // not present
    if (pfn == 0) return Error::kPermissionDenied;    // present, frame number hidden
    if (p == first_page) {
      first_pfn = pfn;
    } else if (pfn != first_pfn + (p - first_page)) {
      return Error::kOutOfRange;
    }
  }
  return first_pfn * page + vaddr % page;
}

void Fd::reset() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

}  // namespace fbnic::vfio::detail
