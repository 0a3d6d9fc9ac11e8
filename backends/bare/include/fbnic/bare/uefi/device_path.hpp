// EFI_DEVICE_PATH_PROTOCOL: a handle's path as a packed list of nodes (type, subtype,
// 16-bit length, data) ended by an End node. A network driver names its child by the
// controller's path with a MAC address node appended; EDK2's network stack and its boot
// manager look for that node (e.g. `.../Pci(0x3,0x0)/MAC(02...,0x1)` for "UEFI PXEv4").
#pragma once

#include <cstddef>
#include <cstdint>

#include "fbnic/bare/uefi/efi.hpp"

namespace fbnic::bare::uefi {

inline constexpr Guid kDevicePathProtocolGuid{
    0x0957'6E91, 0x6D3F, 0x11D2, {0x8E, 0x39, 0x00, 0xA0, 0xC9, 0x69, 0x72, 0x3B}};

struct DevicePath {  // EFI_DEVICE_PATH_PROTOCOL: a node's header
  std::uint8_t type;
  std::uint8_t subtype;
  std::uint8_t length[2];  // of the whole node, header included; unaligned, little-endian
};

inline constexpr std::uint8_t kMessagingDevicePath = 0x03;
inline constexpr std::uint8_t kMacAddressSubtype = 0x0B;  // MSG_MAC_ADDR_DP
inline constexpr std::uint8_t kEndDevicePath = 0x7F;
inline constexpr std::uint8_t kEndEntireSubtype = 0xFF;

struct MacAddressNode {  // MAC_ADDR_DEVICE_PATH
  DevicePath header;
  std::uint8_t mac[32];
  std::uint8_t if_type;  // RFC 1700 hardware type: 1 = Ethernet
};
static_assert(sizeof(MacAddressNode) == 37);

inline constexpr std::size_t kMaxDevicePathBytes = 4096;
inline constexpr std::size_t kBrokenDevicePath = ~std::size_t{0};

// Bytes of the path before its End node, or kBrokenDevicePath if a node is shorter than
// its header or no End node comes within kMaxDevicePathBytes (a path is not walked
// further than that).
inline std::size_t device_path_bytes(const DevicePath* path) {
  const auto* p = reinterpret_cast<const std::uint8_t*>(path);
  std::size_t at = 0;
  while (at + sizeof(DevicePath) <= kMaxDevicePathBytes) {
    if (p[at] == kEndDevicePath && p[at + 1] == kEndEntireSubtype) return at;
    const std::size_t len = p[at + 2] | (std::size_t{p[at + 3]} << 8);
    if (len < sizeof(DevicePath)) return kBrokenDevicePath;
    at += len;
  }
  return kBrokenDevicePath;
}

inline void set_node_length(DevicePath& node, std::size_t bytes) {
  node.length[0] = static_cast<std::uint8_t>(bytes & 0xFFu);
  node.length[1] = static_cast<std::uint8_t>(bytes >> 8);
}

}  // namespace fbnic::bare::uefi
