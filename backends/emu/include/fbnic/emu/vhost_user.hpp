// The vhost-user wire format and the virtio-pcidev message format, as far as User-Mode
// Linux's virtio_uml and virt-pci use them.
//
// vhost-user: a Unix stream socket carrying a 12-byte header (request, flags, payload
// size) and a payload, with file descriptors passed as SCM_RIGHTS. UML is the front-end
// (client); this process is the back-end (server). virtio-pcidev: two virtqueues, 0 for
// commands from the guest (config and BAR accesses) and 1 for interrupts to it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fbnic::emu::vhost {

// --- vhost-user ---
inline constexpr std::uint32_t kVersion = 1;
inline constexpr std::uint32_t kFlagVersionMask = 0x3;
inline constexpr std::uint32_t kFlagReply = 1u << 2;
inline constexpr std::uint32_t kFlagNeedReply = 1u << 3;

inline constexpr std::uint64_t kFeatureProtocolFeatures = 1ull << 30;
inline constexpr std::uint64_t kFeatureVersion1 = 1ull << 32;

inline constexpr std::uint64_t kProtocolReplyAck = 1ull << 3;
// The back-end request channel. Without it virtio_uml allocates no IRQ of its own for
// the device and the PCI transport fails to probe (IRQ 0 is the timer's).
inline constexpr std::uint64_t kProtocolSlaveReq = 1ull << 5;
inline constexpr std::uint64_t kProtocolConfig = 1ull << 9;
inline constexpr std::uint64_t kProtocolInbandNotifications = 1ull << 14;

inline constexpr std::uint64_t kVringIndexMask = 0xFF;
inline constexpr std::uint64_t kVringNoFd = 1u << 8;

enum class Request : std::uint32_t {
  kGetFeatures = 1,
  kSetFeatures = 2,
  kSetOwner = 3,
  kResetOwner = 4,
  kSetMemTable = 5,
  kSetLogBase = 6,
  kSetLogFd = 7,
  kSetVringNum = 8,
  kSetVringAddr = 9,
  kSetVringBase = 10,
  kGetVringBase = 11,
  kSetVringKick = 12,
  kSetVringCall = 13,
  kSetVringErr = 14,
  kGetProtocolFeatures = 15,
  kSetProtocolFeatures = 16,
  kGetQueueNum = 17,
  kSetVringEnable = 18,
  kSetSlaveReqFd = 21,
  kGetConfig = 24,
  kSetConfig = 25,
  kVringKick = 35,
};

struct Header {
  std::uint32_t request;
  std::uint32_t flags;
  std::uint32_t size;
};
static_assert(sizeof(Header) == 12);

struct VringState {
  std::uint32_t index;
  std::uint32_t num;
};

struct VringAddr {
  std::uint32_t index;
  std::uint32_t flags;
  std::uint64_t desc;
  std::uint64_t used;
  std::uint64_t avail;
  std::uint64_t log;
};
static_assert(sizeof(VringAddr) == 40);

struct MemRegion {
  std::uint64_t guest_addr;
  std::uint64_t size;
  std::uint64_t user_addr;
  std::uint64_t mmap_offset;
};

inline constexpr std::size_t kMaxMemRegions = 8;
struct MemTable {
  std::uint32_t num;
  std::uint32_t padding;
  MemRegion regions[kMaxMemRegions];
};

inline constexpr std::size_t kMaxPayload = 4096;
inline constexpr std::size_t kMaxFds = 8;

// --- virtio-pcidev (virtqueue payloads) ---
enum class PciOp : std::uint8_t {
  kReserved = 0,
  kCfgRead = 1,
  kCfgWrite = 2,
  kMmioRead = 3,
  kMmioWrite = 4,
  kMmioMemset = 5,
  kInt = 6,
  kMsi = 7,
  kPme = 8,
};

// Fields in host order; data bytes are little endian.
struct PciMsgHeader {
  std::uint8_t op;
  std::uint8_t bar;
  std::uint16_t reserved;
  std::uint32_t size;
  std::uint64_t addr;
};
static_assert(sizeof(PciMsgHeader) == 16);

inline constexpr std::uint32_t kCmdQueue = 0;
inline constexpr std::uint32_t kIrqQueue = 1;
inline constexpr std::uint32_t kQueues = 2;

inline const char* request_name(std::uint32_t r) {
  switch (static_cast<Request>(r)) {
    case Request::kGetFeatures: return "GET_FEATURES";
    case Request::kSetFeatures: return "SET_FEATURES";
    case Request::kSetOwner: return "SET_OWNER";
    case Request::kResetOwner: return "RESET_OWNER";
    case Request::kSetMemTable: return "SET_MEM_TABLE";
    case Request::kSetLogBase: return "SET_LOG_BASE";
    case Request::kSetLogFd: return "SET_LOG_FD";
    case Request::kSetVringNum: return "SET_VRING_NUM";
    case Request::kSetVringAddr: return "SET_VRING_ADDR";
    case Request::kSetVringBase: return "SET_VRING_BASE";
    case Request::kGetVringBase: return "GET_VRING_BASE";
    case Request::kSetVringKick: return "SET_VRING_KICK";
    case Request::kSetVringCall: return "SET_VRING_CALL";
    case Request::kSetVringErr: return "SET_VRING_ERR";
    case Request::kGetProtocolFeatures: return "GET_PROTOCOL_FEATURES";
    case Request::kSetProtocolFeatures: return "SET_PROTOCOL_FEATURES";
    case Request::kGetQueueNum: return "GET_QUEUE_NUM";
    case Request::kSetVringEnable: return "SET_VRING_ENABLE";
    case Request::kSetSlaveReqFd: return "SET_SLAVE_REQ_FD";
    case Request::kGetConfig: return "GET_CONFIG";
    case Request::kSetConfig: return "SET_CONFIG";
    case Request::kVringKick: return "VRING_KICK";
  }
  return "unknown";
}

}  // namespace fbnic::emu::vhost
