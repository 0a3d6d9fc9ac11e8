// EFI_SIMPLE_NETWORK_PROTOCOL and its mode structure, declared from the UEFI specification's
// layout: the packet-level interface a UEFI network driver offers (MNP, PXE and HTTP boot
// sit on top of it).
#pragma once

#include <cstdint>

#include "fbnic/bare/uefi/efi.hpp"

namespace fbnic::bare::uefi {

inline constexpr Guid kSimpleNetworkProtocolGuid{
    0xA198'32B9, 0xAC25, 0x11D3, {0x9A, 0x2D, 0x00, 0x90, 0x27, 0x3F, 0xC1, 0x4D}};
inline constexpr std::uint64_t kSimpleNetworkRevision = 0x0001'0000;

struct MacAddr {  // EFI_MAC_ADDRESS
  std::uint8_t addr[32];
};
union IpAddr {  // EFI_IP_ADDRESS
  std::uint32_t addr[4];
  std::uint8_t v4[4];
  std::uint8_t v6[16];
};

enum class SnpState : std::uint32_t { kStopped = 0, kStarted = 1, kInitialized = 2 };

// ReceiveFilters bits.
inline constexpr std::uint32_t kReceiveUnicast = 0x01;
inline constexpr std::uint32_t kReceiveMulticast = 0x02;
inline constexpr std::uint32_t kReceiveBroadcast = 0x04;
inline constexpr std::uint32_t kReceivePromiscuous = 0x08;
inline constexpr std::uint32_t kReceivePromiscuousMulticast = 0x10;
// GetStatus interrupt bits.
inline constexpr std::uint32_t kReceiveInterrupt = 0x01;
inline constexpr std::uint32_t kTransmitInterrupt = 0x02;

inline constexpr std::uint32_t kMaxMcastFilterCount = 16;

struct SimpleNetworkMode {  // EFI_SIMPLE_NETWORK_MODE
  SnpState state;
  std::uint32_t hw_address_size;
  std::uint32_t media_header_size;
  std::uint32_t max_packet_size;
  std::uint32_t nv_ram_size;
  std::uint32_t nv_ram_access_size;
  std::uint32_t receive_filter_mask;
  std::uint32_t receive_filter_setting;
  std::uint32_t max_mcast_filter_count;
  std::uint32_t mcast_filter_count;
  MacAddr mcast_filter[kMaxMcastFilterCount];
  MacAddr current_address;
  MacAddr broadcast_address;
  MacAddr permanent_address;
  std::uint8_t if_type;
  Boolean mac_address_changeable;
  Boolean multiple_tx_supported;
  Boolean media_present_supported;
  Boolean media_present;
};

struct SimpleNetwork {  // EFI_SIMPLE_NETWORK_PROTOCOL
  using Self = SimpleNetwork;
  std::uint64_t revision;
  Status(FBNIC_EFIAPI* start)(Self* self);
  Status(FBNIC_EFIAPI* stop)(Self* self);
  Status(FBNIC_EFIAPI* initialize)(Self* self, std::uintptr_t extra_rx_buffer_size,
                                   std::uintptr_t extra_tx_buffer_size);
  Status(FBNIC_EFIAPI* reset)(Self* self, Boolean extended_verification);
  Status(FBNIC_EFIAPI* shutdown)(Self* self);
  Status(FBNIC_EFIAPI* receive_filters)(Self* self, std::uint32_t enable, std::uint32_t disable,
                                        Boolean reset_mcast_filter,
                                        std::uintptr_t mcast_filter_count,
                                        const MacAddr* mcast_filter);
  Status(FBNIC_EFIAPI* station_address)(Self* self, Boolean reset, const MacAddr* new_address);
  Status(FBNIC_EFIAPI* statistics)(Self* self, Boolean reset, std::uintptr_t* statistics_size,
                                   void* statistics_table);
  Status(FBNIC_EFIAPI* mcast_ip_to_mac)(Self* self, Boolean ipv6, const IpAddr* ip, MacAddr* mac);
  Status(FBNIC_EFIAPI* nv_data)(Self* self, Boolean read_write, std::uintptr_t offset,
                                std::uintptr_t buffer_size, void* buffer);
  Status(FBNIC_EFIAPI* get_status)(Self* self, std::uint32_t* interrupt_status, void** tx_buf);
  Status(FBNIC_EFIAPI* transmit)(Self* self, std::uintptr_t header_size, std::uintptr_t buffer_size,
                                 void* buffer, const MacAddr* src_addr, const MacAddr* dest_addr,
                                 const std::uint16_t* protocol);
  Status(FBNIC_EFIAPI* receive)(Self* self, std::uintptr_t* header_size,
                                std::uintptr_t* buffer_size, void* buffer, MacAddr* src_addr,
                                MacAddr* dest_addr, std::uint16_t* protocol);
  Event wait_for_packet;
  SimpleNetworkMode* mode;
};

static_assert(sizeof(MacAddr) == 32 && sizeof(IpAddr) == 16);
static_assert(offsetof(SimpleNetworkMode, mcast_filter) == 40);
static_assert(offsetof(SimpleNetworkMode, if_type) == 40 + 19 * 32);
static_assert(sizeof(void*) != 8 || offsetof(SimpleNetwork, wait_for_packet) == 0x70);

}  // namespace fbnic::bare::uefi
