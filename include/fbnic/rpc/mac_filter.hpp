// MacFilter: which address goes into which of the 32 MAC DA TCAM entries.
//
// The upstream driver's layout, kept because the action rules depend on it: the action
// TCAM only sees the index of the MAC DA hit, so index ranges are what route traffic.
//
//   0..3    BMC addresses            4       broadcast
//   5..23   multicast (lowest free first)
//   24..29  extra unicast (highest free first)
//   30      the station address      31      wildcard: promiscuous or all-multicast
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "fbnic/base/mac_address.hpp"
#include "fbnic/regs/rpc.hpp"

namespace fbnic::rpc {

inline constexpr std::uint32_t kSlotBmcFirst = 0;
inline constexpr std::uint32_t kSlotBmcLast = 3;
inline constexpr std::uint32_t kSlotBroadcast = 4;
inline constexpr std::uint32_t kSlotMulticastFirst = 5;
inline constexpr std::uint32_t kUnicastBoundary = 24;  // first slot routed as host unicast
inline constexpr std::uint32_t kSlotUnicastLast = 29;
inline constexpr std::uint32_t kSlotStation = 30;
inline constexpr std::uint32_t kSlotWildcard = 31;

// One MAC DA TCAM entry: a value and a mask (mask bit 1 = don't care).
struct MacEntry {
  bool valid = false;
  MacAddress value;
  MacAddress mask;

  static constexpr MacEntry exact(const MacAddress& m) { return {true, m, MacAddress{}}; }
  static constexpr MacEntry any() {
    return {true, MacAddress{}, MacAddress{{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}}};
  }
  static constexpr MacEntry any_multicast() {
    return {true, MacAddress{{0x01, 0, 0, 0, 0, 0}},
            MacAddress{{0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}}};
  }
  friend constexpr bool operator==(const MacEntry&, const MacEntry&) = default;
};

// What the host wants to receive.
struct RxMode {
  MacAddress station;                     // the interface's own address
  std::span<const MacAddress> unicast{};  // extra unicast addresses
  std::span<const MacAddress> multicast{};
  bool broadcast = true;
  bool promiscuous = false;
  bool all_multicast = false;
};

// The table the hardware should hold for an RxMode (and BMC addresses). Too many
// addresses turn on promiscuous or all-multicast, as the upstream driver does.
struct MacTable {
  std::array<MacEntry, regs::kMacdaEntries> slot{};
  bool promiscuous = false;  // as applied, after overflow
  bool all_multicast = false;

  // `bmc`: the BMC's unicast addresses (its own slots); `bmc_groups`: its multicast
  // groups, which take multicast slots and so reach the host too.
  static MacTable build(const RxMode& mode, std::span<const MacAddress> bmc = {},
                        std::span<const MacAddress> bmc_groups = {}) {
    MacTable t;
    for (std::uint32_t i = 0; i < bmc.size() && kSlotBmcFirst + i <= kSlotBmcLast; ++i) {
      t.slot[kSlotBmcFirst + i] = MacEntry::exact(bmc[i]);
    }
    if (mode.broadcast) t.slot[kSlotBroadcast] = MacEntry::exact(kBroadcastMac);
    t.promiscuous = mode.promiscuous;
    t.all_multicast = mode.all_multicast;
    std::uint32_t next_uc = kSlotUnicastLast;
    for (const MacAddress& a : mode.unicast) {
      if (next_uc < kUnicastBoundary) {
        t.promiscuous = true;
        break;
      }
      t.slot[next_uc--] = MacEntry::exact(a);
    }
    std::uint32_t next_mc = kSlotMulticastFirst;
    auto add_multicast = [&](const MacAddress& a) {
      for (std::uint32_t i = kSlotBroadcast; i < next_mc; ++i) {
        if (t.slot[i].valid && t.slot[i].value == a) return true;  // already there
      }
      if (next_mc >= kUnicastBoundary) return false;
      t.slot[next_mc++] = MacEntry::exact(a);
      return true;
    };
    for (const MacAddress& a : bmc_groups) {
      if (!add_multicast(a)) t.all_multicast = true;
    }
    for (const MacAddress& a : mode.multicast) {
      if (!add_multicast(a)) {
        t.all_multicast = true;
        break;
      }
    }
    t.slot[kSlotStation] = MacEntry::exact(mode.station);
    if (t.promiscuous) {
      t.slot[kSlotWildcard] = MacEntry::any();
    } else if (t.all_multicast) {
      t.slot[kSlotWildcard] = MacEntry::any_multicast();
    }
    return t;
  }
};

}  // namespace fbnic::rpc
