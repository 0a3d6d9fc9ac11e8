// IovaAllocator: hands out device addresses for DMA mappings inside the windows the
// IOMMU accepts. First fit over a sorted map: a driver maps tens of buffers, not millions.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <utility>
#include <vector>

namespace fbnic::vfio {

struct IovaRange {
  std::uint64_t first = 0;
  std::uint64_t last = 0;  // inclusive, so a range can end at 2^64 - 1
};

class IovaAllocator {
 public:
  void reset(std::vector<IovaRange> windows) {
    windows_ = std::move(windows);
    used_.clear();
  }

  // align must be a power of two.
  std::optional<std::uint64_t> allocate(std::uint64_t size, std::uint64_t align) {
    if (size == 0 || align == 0 || (align & (align - 1)) != 0) return std::nullopt;
    for (const IovaRange& w : windows_) {
      std::optional<std::uint64_t> at = align_up(w.first, align);
      for (const auto& [start, length] : used_) {
        if (!at) break;
        if (start + length <= *at) continue;
        if (*at <= ~std::uint64_t{0} - size && start >= *at + size) break;
        at = align_up(start + length, align);
      }
      if (at && *at >= w.first && *at <= w.last && size - 1 <= w.last - *at) {
        used_.emplace(*at, size);
        return at;
      }
    }
    return std::nullopt;
  }

  void release(std::uint64_t iova) { used_.erase(iova); }

  [[nodiscard]] const std::vector<IovaRange>& windows() const { return windows_; }
  [[nodiscard]] std::size_t mappings() const { return used_.size(); }

 private:
  static std::optional<std::uint64_t> align_up(std::uint64_t v, std::uint64_t align) {
    if (v > ~std::uint64_t{0} - (align - 1)) return std::nullopt;
    return (v + align - 1) & ~(align - 1);
  }

  std::vector<IovaRange> windows_;
  std::map<std::uint64_t, std::uint64_t> used_;  // start -> size
};

}  // namespace fbnic::vfio
