// Hosted conveniences beside the model core: host RAM from the heap and a log sink
// that prints. Not for freestanding builds.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <span>

#include "fbnic/base/log.hpp"
#include "fbnic/mock/mock.hpp"

namespace fbnic::mock {

// Page-aligned, zeroed host memory for a mock::Platform.
class HostRam {
 public:
  explicit HostRam(std::size_t bytes)
      : size_(bytes), mem_(static_cast<std::byte*>(std::aligned_alloc(4096, round(bytes)))) {
    if (mem_ != nullptr) std::fill_n(mem_.get(), round(bytes), std::byte{0});
  }
  [[nodiscard]] std::span<std::byte> span() const { return {mem_.get(), mem_ ? size_ : 0}; }

 private:
  static std::size_t round(std::size_t n) { return (n + 4095) & ~std::size_t{4095}; }
  struct Free {
    void operator()(std::byte* p) const { std::free(p); }
  };
  std::size_t size_;
  std::unique_ptr<std::byte, Free> mem_;
};

// Prints lines at or above a level to stderr.
struct StderrLog {
  LogLevel max = LogLevel::kWarning;
  void operator()(LogLevel level, const char* line) const {
    if (level <= max) std::fprintf(stderr, "[%s] %s\n", level_name(level), line);
  }
};

}  // namespace fbnic::mock
