// AddrSet: a fixed-capacity set of page addresses (open addressing, backward-shift
// deletion), for spotting a buffer posted again while the device still owns it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace fbnic::mock {

template <std::size_t Capacity>
class AddrSet {
  static_assert((Capacity & (Capacity - 1)) == 0, "capacity is a power of two");

 public:
  // False if already present (or the set is full).
  bool insert(std::uint64_t a) {
    if (count_ + 1 >= Capacity) return false;
    std::size_t i = slot(a);
    while (used_[i]) {
      if (keys_[i] == a) return false;
      i = (i + 1) & (Capacity - 1);
    }
    used_[i] = true;
    keys_[i] = a;
    ++count_;
    return true;
  }
  [[nodiscard]] bool contains(std::uint64_t a) const {
    for (std::size_t i = slot(a); used_[i]; i = (i + 1) & (Capacity - 1)) {
      if (keys_[i] == a) return true;
    }
    return false;
  }
  void erase(std::uint64_t a) {
    std::size_t i = slot(a);
    while (used_[i] && keys_[i] != a) i = (i + 1) & (Capacity - 1);
    if (!used_[i]) return;
    used_[i] = false;
    --count_;
    // Move later entries of the probe run back so lookups never stop early.
    for (std::size_t j = (i + 1) & (Capacity - 1); used_[j]; j = (j + 1) & (Capacity - 1)) {
      const std::size_t home = slot(keys_[j]);
      if (((j - home) & (Capacity - 1)) >= ((j - i) & (Capacity - 1))) {
        keys_[i] = keys_[j];
        used_[i] = true;
        used_[j] = false;
        i = j;
      }
    }
  }
  void clear() {
    used_.fill(false);
    count_ = 0;
  }
  [[nodiscard]] std::size_t size() const { return count_; }

 private:
  static std::size_t slot(std::uint64_t a) {
    return static_cast<std::size_t>((a >> 12) * 0x9E3779B97F4A7C15ull >> 40) & (Capacity - 1);
  }
  std::array<std::uint64_t, Capacity> keys_{};
  std::array<bool, Capacity> used_{};
  std::size_t count_ = 0;
};

}  // namespace fbnic::mock
