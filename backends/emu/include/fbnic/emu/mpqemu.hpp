// The wire format of QEMU's multi-process protocol ("mpqemu"), as QEMU 7.2's
// x-pci-proxy-dev speaks it to a device process (hw/remote/mpqemu-link.h, proxy.c,
// proxy-memory-listener.c in QEMU's source; measured in
// ../shared/reference/qemu-pci-device.md).
//
// One connected Unix stream socket, inherited by QEMU (there is no path option). Every
// message is a 16-byte header (command, size) followed by `size` payload bytes; file
// descriptors ride as SCM_RIGHTS with the header. QEMU waits for a RET after each config
// and BAR access and after DEVICE_RESET; SYNC_SYSMEM and SET_IRQFD get no answer. Native
// x86-64 layout, little endian.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fbnic::emu::mpqemu {

enum class Command : std::int32_t {
  kSyncSysmem = 0,   // guest RAM regions, one memfd each (replaces the previous set)
  kRet = 1,          // the answer to a command QEMU waits on
  kPciCfgWrite = 2,  // ConfigMsg
  kPciCfgRead = 3,   // ConfigMsg; answered with the value
  kBarWrite = 4,     // BarMsg
  kBarRead = 5,      // BarMsg; answered with the value
  kSetIrqfd = 6,     // INTx through a KVM irqfd (two fds, no payload)
  kDeviceReset = 7,  // answered with 0 once the function is reset
};

struct Header {
  std::int32_t command;
  std::uint32_t padding;  // the C struct's alignment hole before the 64-bit size
  std::uint64_t size;
};
static_assert(sizeof(Header) == 16);

// PCI_CFGREAD / PCI_CFGWRITE: offset in config space, value, access width (1, 2 or 4).
struct ConfigMsg {
  std::uint32_t addr;
  std::uint32_t value;
  std::int32_t len;
};
static_assert(sizeof(ConfigMsg) == 12);

// BAR_READ / BAR_WRITE: addr is the BAR's bus (guest physical) base plus the offset, so
// the device decodes it against the BARs the guest programmed. memory = 0: I/O space.
struct BarMsg {
  std::uint64_t addr;
  std::uint64_t value;
  std::uint32_t size;  // 1, 2, 4 or 8
  std::uint8_t memory;
  std::uint8_t padding[3];
};
static_assert(sizeof(BarMsg) == 24);

// At most 8 fds per message (REMOTE_MAX_FDS), so at most 8 regions.
inline constexpr std::size_t kMaxFds = 8;

struct SyncSysmemMsg {
  std::uint64_t gpa[kMaxFds];
  std::uint64_t size[kMaxFds];
  std::int64_t offset[kMaxFds];  // offset of the region in its fd
};
static_assert(sizeof(SyncSysmemMsg) == 192);

struct RetMsg {
  std::uint64_t value;
};

// The largest payload QEMU sends (its message union); anything larger is not QEMU.
inline constexpr std::size_t kMaxPayload = sizeof(SyncSysmemMsg);

inline const char* command_name(std::int32_t c) {
  switch (static_cast<Command>(c)) {
    case Command::kSyncSysmem: return "SYNC_SYSMEM";
    case Command::kRet: return "RET";
    case Command::kPciCfgWrite: return "PCI_CFGWRITE";
    case Command::kPciCfgRead: return "PCI_CFGREAD";
    case Command::kBarWrite: return "BAR_WRITE";
    case Command::kBarRead: return "BAR_READ";
    case Command::kSetIrqfd: return "SET_IRQFD";
    case Command::kDeviceReset: return "DEVICE_RESET";
  }
  return "unknown";
}

}  // namespace fbnic::emu::mpqemu
