// Tx work descriptors (TWD): 64 bits, little-endian in ring memory.
//
// A packet is a META descriptor (offload requests, lengths, destination) followed by one
// AL per buffer, the last one LAST_AL. On TWQ1 packets may omit META; the queue manager
// then applies QM_TWQ_DEFAULT_META.
#pragma once

#include <cstdint>

#include "fbnic/base/bitfield.hpp"

namespace fbnic::desc {

struct Twd : Packed<Twd, std::uint64_t> {
  using W = std::uint64_t;
  static constexpr BitField<W, 47, 46> kType{};
  static constexpr std::uint64_t kTypeMeta = 0;
  static constexpr std::uint64_t kTypeOptMeta = 1;
  static constexpr std::uint64_t kTypeAl = 2;
  static constexpr std::uint64_t kTypeLastAl = 3;

  // META
  static constexpr BitField<W, 5, 0> kL2Hlen{};        // 2-byte units
  static constexpr BitField<W, 7, 6> kL3Type{};        // 0 other, 1 IPv4, 2 IPv6, 3 IPv6-in-IPv6
  static constexpr BitField<W, 15, 8> kL3Ohlen{};      // outer L3 header, 2-byte units
  static constexpr BitField<W, 23, 16> kL3Ihlen{};     // (inner) L3 header, 2-byte units
  static constexpr BitField<W, 27, 24> kCsumOffset{};  // checksum field in L4, 2-byte units
  static constexpr BitField<W, 31, 28> kL4Hlen{};      // L4 header, 4-byte units
  static constexpr BitField<W, 33, 32> kL4Type{};      // 0 other, 1 TCP, 2 UDP
  static constexpr BitField<W, 34> kReqTs{};
  static constexpr BitField<W, 35> kReqLso{};
  static constexpr BitField<W, 36> kReqCso{};
  static constexpr BitField<W, 37> kReqCompletion{};
  static constexpr BitField<W, 43> kDestMac{};
  static constexpr BitField<W, 44> kDestBmc{};
  static constexpr BitField<W, 45> kDestFw{};
  static constexpr BitField<W, 61, 48> kMss{};

  // AL / LAST_AL
  static constexpr BitField<W, 45, 0> kAddr{};
  static constexpr BitField<W, 63, 48> kLen{};

  static constexpr std::uint64_t kL3Ipv4 = 1;
  static constexpr std::uint64_t kL3Ipv6 = 2;
  static constexpr std::uint64_t kL3Ipv6InIpv6 = 3;
  static constexpr std::uint64_t kL4Tcp = 1;
  static constexpr std::uint64_t kL4Udp = 2;

  // An AL: the sender checks that dma and len fit (bits beyond are dropped here). Composed
  // with plain operations: it is built once per buffer on the Tx hot path.
  static constexpr Twd buffer(std::uint64_t dma, std::uint32_t len, bool last) {
    return from_raw(kAddr.place(dma) | kLen.place(len) | kType.place(last ? kTypeLastAl : kTypeAl));
  }
};

// What a Tx work queue can carry. A buffer: 1 to 65535 bytes (AL.LEN is 16 bits; upstream
// FBNIC_TWD_LEN_MASK, GENMASK(63, 48), fbnic_csr.h) at a 46-bit address (AL.ADDR). A frame:
// at most 9742 bytes (FBNIC_MAX_JUMBO_FRAME_SIZE, fbnic_mac.h; upstream's largest MTU is
// that less the 14-byte Ethernet header, fbnic_netdev.c). A TSO packet: at most 65536
// bytes with its headers, the most upstream hands the device (fbnic leaves netdev's
// tso_max_size at Linux's GSO_LEGACY_MAX_SIZE).
inline constexpr auto kMaxTxBufferBytes = static_cast<std::uint32_t>(Twd::kLen.kMax);
inline constexpr std::uint64_t kMaxTxBufferAddress = Twd::kAddr.kMax;
inline constexpr std::uint32_t kMaxFrameBytes = 9742;
inline constexpr std::uint32_t kMaxTsoBytes = 65536;

}  // namespace fbnic::desc
