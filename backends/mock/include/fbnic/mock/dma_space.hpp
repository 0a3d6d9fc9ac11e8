// DmaSpace: the device's view of host memory, as an IOMMU would give it.
//
// Only what the driver mapped is reachable, and device addresses differ from CPU
// pointers. An access that is not wholly inside one mapping is refused and reported.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "fbnic/base/bytes.hpp"
#include "fbnic/mock/fault.hpp"

namespace fbnic::mock {

struct Mapping {
  std::uint64_t iova = 0;
  std::uint8_t* cpu = nullptr;
  std::size_t size = 0;
};

template <std::size_t Capacity>
class DmaSpace {
 public:
  // False when the table is full or the range overlaps an existing mapping.
  bool map(std::uint64_t iova, void* cpu, std::size_t size) {
    if (size == 0 || cpu == nullptr) return false;
    for (const Mapping& m : maps_) {
      if (m.size != 0 && iova < m.iova + m.size && m.iova < iova + size) return false;
    }
    for (Mapping& m : maps_) {
      if (m.size == 0) {
        m = {iova, static_cast<std::uint8_t*>(cpu), size};
        ++live_;
        return true;
      }
    }
    return false;
  }

  bool unmap(std::uint64_t iova) {
    for (Mapping& m : maps_) {
      if (m.size != 0 && m.iova == iova) {
        m = {};
        --live_;
        last_ = kNone;
        return true;
      }
    }
    return false;
  }

  // The CPU address of [iova, iova + len), or nullptr when no single mapping covers it.
  [[nodiscard]] std::uint8_t* translate(std::uint64_t iova, std::size_t len) {
    if (last_ != kNone && covers(maps_[last_], iova, len)) return at(maps_[last_], iova);
    for (std::size_t i = 0; i < Capacity; ++i) {
      if (maps_[i].size != 0 && covers(maps_[i], iova, len)) {
        last_ = i;
        return at(maps_[i], iova);
      }
    }
    return nullptr;
  }

  [[nodiscard]] std::size_t live_mappings() const { return live_; }

 private:
  static constexpr std::size_t kNone = Capacity;

  static std::uint8_t* at(const Mapping& m, std::uint64_t iova) {
    return m.cpu + static_cast<std::size_t>(iova - m.iova);
  }
  static bool covers(const Mapping& m, std::uint64_t iova, std::size_t len) {
    return iova >= m.iova && len <= m.size && iova - m.iova <= m.size - len;
  }

  std::array<Mapping, Capacity> maps_{};
  std::size_t last_ = kNone;  // the mapping that answered last: most DMA repeats it
  std::size_t live_ = 0;
};

}  // namespace fbnic::mock
