// CallbackRegisters: register access through two function pointers and a context, for a
// device that is emulated (the device model compiled into a firmware image, a simulator)
// or reached through firmware services (UEFI's PciIo, see uefi/pci_io_registers.hpp).
//
// Function pointers rather than a template parameter keep the platform one type whatever
// serves the registers, and cost one indirect call per access: register accesses are off
// the hot paths (one doorbell per batch).
#pragma once

#include <cstdint>

#include "fbnic/platform/bar.hpp"

namespace fbnic::bare {

struct CallbackRegisters {
  std::uint32_t (*read)(void* ctx, Bar bar, std::uint32_t offset) = nullptr;
  void (*write)(void* ctx, Bar bar, std::uint32_t offset, std::uint32_t value) = nullptr;
  void* ctx = nullptr;

  // Callbacks onto any object with read32/write32, e.g. a mock::Device.
  template <class Target>
  static CallbackRegisters to(Target& target) {
    return {[](void* c, Bar bar, std::uint32_t offset) -> std::uint32_t {
              return static_cast<Target*>(c)->read32(bar, offset);
            },
            [](void* c, Bar bar, std::uint32_t offset, std::uint32_t value) {
              static_cast<Target*>(c)->write32(bar, offset, value);
            },
            &target};
  }

  // Without callbacks the device reads as removed (all ones) and writes go nowhere.
  [[nodiscard]] std::uint32_t read32(Bar bar, std::uint32_t offset) const {
    return read != nullptr ? read(ctx, bar, offset) : 0xFFFF'FFFFu;
  }
  void write32(Bar bar, std::uint32_t offset, std::uint32_t value) const {
    if (write != nullptr) write(ctx, bar, offset, value);
  }
};

}  // namespace fbnic::bare
