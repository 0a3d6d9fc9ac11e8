// IovaAllocator: hands out device addresses for DMA mappings inside the windows the
// IOMMU accepts, or records fixed ones (physical addresses) after checking they fit. First
// fit over a sorted map: a driver maps tens of buffers, not millions.
#pragma once

#include <cstdint>
#include <iterator>
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

  // Claims [start, start + size) when it lies inside one window and overlaps nothing.
  bool reserve(std::uint64_t start, std::uint64_t size) {
    if (size == 0 || start > ~std::uint64_t{0} - (size - 1) || !inside_window(start, size)) {
      return false;
    }
    const std::uint64_t last = start + (size - 1);
    auto next = used_.lower_bound(start);
    if (next != used_.end() && next->first <= last) return false;
    if (next != used_.begin()) {
      const auto& [s, len] = *std::prev(next);
      if (s + (len - 1) >= start) return false;
    }
    used_.emplace(start, size);
    return true;
  }

  [[nodiscard]] bool inside_window(std::uint64_t start, std::uint64_t size) const {
    for (const IovaRange& w : windows_) {
      if (start >= w.first && start <= w.last && size - 1 <= w.last - start) return true;
    }
    return false;
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
