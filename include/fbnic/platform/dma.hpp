// DMA-able memory as the core sees it: where the CPU reaches it and where the device does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace fbnic {

struct DmaBuffer {
  void* cpu = nullptr;        // CPU virtual address
  std::uint64_t device = 0;   // address the device uses (IOVA, bus or physical address)
  std::size_t size = 0;       // bytes usable at cpu/device
  std::uintptr_t cookie = 0;  // the platform's own handle; the core never reads it

  [[nodiscard]] constexpr bool valid() const { return cpu != nullptr && size != 0; }
  [[nodiscard]] std::span<std::uint8_t> bytes() const {
    return {static_cast<std::uint8_t*>(cpu), size};
  }
};

}  // namespace fbnic
