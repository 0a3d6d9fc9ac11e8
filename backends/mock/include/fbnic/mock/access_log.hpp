// AccessLog: every MMIO access the driver made, counted, with the most recent kept.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "fbnic/platform/bar.hpp"

namespace fbnic::mock {

struct Access {
  Bar bar = Bar::kCsr;
  bool write = false;
  std::uint32_t offset = 0;
  std::uint32_t value = 0;
};

template <std::size_t Capacity>
class AccessLog {
 public:
  void record(Bar bar, bool write, std::uint32_t offset, std::uint32_t value) {
    (write ? writes_ : reads_)++;
    recent_[next_] = {bar, write, offset, value};
    next_ = (next_ + 1) % Capacity;
    if (filled_ < Capacity) ++filled_;
  }

  [[nodiscard]] std::uint64_t reads() const { return reads_; }
  [[nodiscard]] std::uint64_t writes() const { return writes_; }
  [[nodiscard]] std::size_t size() const { return filled_; }
  // The i-th most recent access (0 = newest); i < size().
  [[nodiscard]] const Access& recent(std::size_t i) const {
    return recent_[(next_ + Capacity - 1 - i) % Capacity];
  }
  // How many of the kept accesses match; for asserting on a short sequence.
  template <class Pred>
  [[nodiscard]] std::size_t count_recent(Pred&& pred) const {
    std::size_t n = 0;
    for (std::size_t i = 0; i < filled_; ++i) n += pred(recent(i)) ? 1 : 0;
    return n;
  }

  void clear() { *this = AccessLog(); }

 private:
  std::array<Access, Capacity> recent_{};
  std::size_t next_ = 0;
  std::size_t filled_ = 0;
  std::uint64_t reads_ = 0;
  std::uint64_t writes_ = 0;
};

}  // namespace fbnic::mock
