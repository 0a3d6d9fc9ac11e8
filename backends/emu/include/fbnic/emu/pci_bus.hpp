// PciBus: what a transport serves, one PCI function's config space and BARs.
//
// A transport (vhost-user for User-Mode Linux, QEMU's multi-process protocol) turns its
// front end's messages into these calls; the Nic behind it is the same for every
// transport. Addresses reaching mmio_* are BAR offsets: a transport whose front end sends
// bus addresses decodes them with bar_at() first.
#pragma once

#include <cstdint>
#include <optional>

#include "fbnic/emu/guest_memory.hpp"

namespace fbnic::emu {

// One access decoded against the BARs the guest programmed.
struct BarHit {
  std::uint8_t bar = 0;
  std::uint64_t offset = 0;
};

class PciBus {
 public:
  virtual ~PciBus() = default;
  virtual std::uint64_t config_read(std::uint32_t offset, std::uint32_t size) = 0;
  virtual void config_write(std::uint32_t offset, std::uint32_t size, std::uint64_t value) = 0;
  virtual void mmio_read(std::uint8_t bar, std::uint64_t offset, std::uint8_t* out,
                         std::uint32_t size) = 0;
  virtual void mmio_write(std::uint8_t bar, std::uint64_t offset, const std::uint8_t* data,
                          std::uint32_t size) = 0;
  virtual void mmio_memset(std::uint8_t bar, std::uint64_t offset, std::uint8_t value,
                           std::uint32_t size) = 0;
  // The memory BAR that holds [address, address + size) at the base the guest programmed
  // (memory decoding on), or nothing.
  [[nodiscard]] virtual std::optional<BarHit> bar_at(std::uint64_t address,
                                                     std::uint32_t size) const = 0;
  // Guest memory was (re)shared or is going away (empty).
  virtual void memory_changed(const GuestMemory& mem) = 0;
  // A reset of the function from the bus (the front end's reset, not a power cycle of
  // the process): config space, registers and the model start over.
  virtual void bus_reset() = 0;
  // Called before each batch of commands and while polling: the device's clock.
  virtual void tick() = 0;
};

}  // namespace fbnic::emu
