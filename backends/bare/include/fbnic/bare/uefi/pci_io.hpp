// EFI_PCI_IO_PROTOCOL, declared from the UEFI specification's layout: how a UEFI driver
// reaches a PCI function's configuration space and BARs, maps memory for its DMA, and turns
// bus mastering on and off.
#pragma once

#include <cstdint>

#include "fbnic/bare/uefi/efi.hpp"

namespace fbnic::bare::uefi {

inline constexpr Guid kPciIoProtocolGuid{
    0x4CF5'B200, 0x68B8, 0x4CA5, {0x9E, 0xEC, 0xB2, 0x3E, 0x3F, 0x50, 0x02, 0x9A}};

enum class PciIoWidth : std::uint32_t { kUint8 = 0, kUint16 = 1, kUint32 = 2, kUint64 = 3 };
enum class PciIoOperation : std::uint32_t {
  kBusMasterRead = 0,
  kBusMasterWrite = 1,
  kBusMasterCommonBuffer = 2,
};
enum class PciIoAttributeOperation : std::uint32_t {
  kGet = 0,
  kSet = 1,
  kEnable = 2,
  kDisable = 3,
  kSupported = 4,
};
inline constexpr std::uint64_t kPciIoAttributeMemory = 0x0200;
inline constexpr std::uint64_t kPciIoAttributeBusMaster = 0x0400;
inline constexpr std::uint64_t kPciIoAttributeDualAddressCycle = 0x8000;  // 64-bit DMA

struct PciIo;

using PciIoMemAccess = Status(FBNIC_EFIAPI*)(PciIo* self, PciIoWidth width, std::uint8_t bar_index,
                                             std::uint64_t offset, std::uintptr_t count,
                                             void* buffer);
using PciIoConfigAccess = Status(FBNIC_EFIAPI*)(PciIo* self, PciIoWidth width, std::uint32_t offset,
                                                std::uintptr_t count, void* buffer);

struct PciIo {  // EFI_PCI_IO_PROTOCOL
  void* poll_mem;
  void* poll_io;
  struct {
    PciIoMemAccess read;
    PciIoMemAccess write;
  } mem;
  struct {
    PciIoMemAccess read;
    PciIoMemAccess write;
  } io;
  struct {
    PciIoConfigAccess read;
    PciIoConfigAccess write;
  } pci;
  void* copy_mem;
  Status(FBNIC_EFIAPI* map)(PciIo* self, PciIoOperation operation, void* host_address,
                            std::uintptr_t* number_of_bytes, PhysicalAddress* device_address,
                            void** mapping);
  Status(FBNIC_EFIAPI* unmap)(PciIo* self, void* mapping);
  Status(FBNIC_EFIAPI* allocate_buffer)(PciIo* self, AllocateType type, MemoryType memory_type,
                                        std::uintptr_t pages, void** host_address,
                                        std::uint64_t attributes);
  Status(FBNIC_EFIAPI* free_buffer)(PciIo* self, std::uintptr_t pages, void* host_address);
  void* flush;
  Status(FBNIC_EFIAPI* get_location)(PciIo* self, std::uintptr_t* segment, std::uintptr_t* bus,
                                     std::uintptr_t* device, std::uintptr_t* function);
  Status(FBNIC_EFIAPI* attributes)(PciIo* self, PciIoAttributeOperation operation,
                                   std::uint64_t attributes, std::uint64_t* result);
  void* get_bar_attributes;
  void* set_bar_attributes;
  std::uint64_t rom_size;
  void* rom_image;
};

static_assert(sizeof(void*) != 8 || offsetof(PciIo, map) == 0x48);
static_assert(sizeof(void*) != 8 || offsetof(PciIo, attributes) == 0x78);

}  // namespace fbnic::bare::uefi
