// Action rules: what the classifier does with a frame, by flow type and MAC DA range.
//
// The 64 action entries are laid out as upstream: 0 BMC unicast, 1 BMC all-multicast,
// 2..49 user flow rules, 50..63 RSS rules (7 flow types x {host unicast, multi- and
// broadcast}). A rule's key cares only about the bits set in its value (mask = ~value),
// and the lowest matching entry wins, so the flow types go from the most specific (UDP
// over IPv6) to the least (any Ethernet frame).
#pragma once

#include <array>
#include <cstdint>

#include "fbnic/regs/rpc.hpp"
#include "fbnic/rpc/mac_filter.hpp"

namespace fbnic::rpc {

enum class FlowType : std::uint8_t { kUdp6, kUdp4, kTcp6, kTcp4, kIp6, kIp4, kEther };
inline constexpr std::uint32_t kFlowTypes = 7;
inline constexpr std::uint32_t kActBmcUnicast = 0;
inline constexpr std::uint32_t kActBmcAllMulti = 1;
inline constexpr std::uint32_t kActUserFirst = 2;
inline constexpr std::uint32_t kActUserLast = 49;
inline constexpr std::uint32_t kActRssUnicast = 50;    // + flow type
inline constexpr std::uint32_t kActRssMulticast = 57;  // + flow type

// Hash fields per flow type, upstream's defaults: addresses and ports for TCP, addresses
// for UDP and plain IP, the destination MAC for other Ethernet frames.
struct RssFields {
  std::array<std::uint32_t, kFlowTypes> fields{
      regs::kRssIpSrc | regs::kRssIpDst,                                      // UDP6
      regs::kRssIpSrc | regs::kRssIpDst,                                      // UDP4
      regs::kRssIpSrc | regs::kRssIpDst | regs::kRssL4Src | regs::kRssL4Dst,  // TCP6
      regs::kRssIpSrc | regs::kRssIpDst | regs::kRssL4Src | regs::kRssL4Dst,  // TCP4
      regs::kRssIpSrc | regs::kRssIpDst,                                      // IP6
      regs::kRssIpSrc | regs::kRssIpDst,                                      // IP4
      regs::kRssL2Da,                                                         // Ether
  };
  [[nodiscard]] constexpr std::uint32_t& operator[](FlowType t) {
    return fields[static_cast<std::uint32_t>(t)];
  }
  [[nodiscard]] constexpr std::uint32_t operator[](FlowType t) const {
    return fields[static_cast<std::uint32_t>(t)];
  }
};

// One action entry: the action words and the key (value and mask per word).
struct ActionRule {
  bool valid = false;
  std::uint32_t tbl0 = 0;
  std::uint32_t tbl1 = 0;
  std::array<std::uint16_t, 11> value{};
  std::array<std::uint16_t, 11> mask{};  // 1 = don't care

  static constexpr ActionRule match_all() {
    ActionRule r;
    r.valid = true;
    for (auto& m : r.mask) m = 0xFFFF;
    return r;
  }
};

// The key bits in action TCAM word 1 that select a flow type.
constexpr std::uint16_t flow_bits(FlowType t) {
  using T = regs::RpcTcamAct;
  auto w = T{};
  switch (t) {
    case FlowType::kUdp6: w.set(T::kIpIsV6, 1); [[fallthrough]];
    case FlowType::kUdp4: w.set(T::kL4IsUdp, 1).set(T::kL4Valid, 1).set(T::kIpValid, 1); break;
    case FlowType::kTcp6: w.set(T::kIpIsV6, 1); [[fallthrough]];
    case FlowType::kTcp4: w.set(T::kL4Valid, 1).set(T::kIpValid, 1); break;
    case FlowType::kIp6: w.set(T::kIpIsV6, 1); [[fallthrough]];
    case FlowType::kIp4: w.set(T::kIpValid, 1); break;
    case FlowType::kEther: break;
  }
  return static_cast<std::uint16_t>(w.raw());
}

// An RSS rule: frames of flow type t whose MAC DA hit is in the host unicast range
// (unicast = true) or anywhere (unicast = false) go to `dest` through RSS.
constexpr ActionRule rss_rule(FlowType t, bool unicast, std::uint32_t dest, std::uint32_t fields) {
  using A = regs::RpcActTbl0;
  using T = regs::RpcTcamAct;
  ActionRule r = ActionRule::match_all();
  auto tbl0 = A{}.set(A::kDmaHint, regs::kDmaHintL4);
  if (dest == 0) {
    tbl0.set(A::kDrop, 1);
  } else {
    tbl0.set(A::kDest, dest);
  }
  r.tbl0 = tbl0.raw();
  r.tbl1 = regs::RpcActTbl1{}.set(regs::RpcActTbl1::kRssEnable, fields).raw();
  auto w1 = T::from_raw(flow_bits(t)).set(T::kMacdaValid, 1);
  if (unicast) w1.set(T::kMacdaIndex, kUnicastBoundary);
  r.value[1] = static_cast<std::uint16_t>(w1.raw());
  r.mask[1] = static_cast<std::uint16_t>(~w1.raw());
  return r;
}

// A user rule's match: any field left out matches everything.
struct FlowMatch {
  enum class L4 : std::uint8_t { kAny, kTcp, kUdp };
  bool ipv6 = false;  // with an L4 or port match: which IP version
  L4 l4 = L4::kAny;
  std::uint16_t src_port = 0;  // 0 = any
  std::uint16_t dst_port = 0;
  std::int32_t macda_slot = -1;  // a MAC DA TCAM slot the frame must hit, or -1
};

// What a user rule does.
struct FlowAction {
  enum class Kind : std::uint8_t { kDrop, kQueue, kRss };
  Kind kind = Kind::kQueue;
  std::uint32_t queue = 0;
  bool rss_context1 = false;  // use indirection table 1
};

constexpr ActionRule user_rule(const FlowMatch& m, const FlowAction& a) {
  using A = regs::RpcActTbl0;
  using T = regs::RpcTcamAct;
  ActionRule r = ActionRule::match_all();
  auto tbl0 = A{}.set(A::kDmaHint, regs::kDmaHintL4);
  switch (a.kind) {
    case FlowAction::Kind::kDrop: tbl0.set(A::kDrop, 1); break;
    case FlowAction::Kind::kQueue:
      tbl0.set(A::kDest, regs::kActDestHost).set(A::kQSel, 1).set(A::kQId, a.queue);
      break;
    case FlowAction::Kind::kRss:
      tbl0.set(A::kDest, regs::kActDestHost).set(A::kRssCtxtId, a.rss_context1 ? 1 : 0);
      r.tbl1 = regs::RpcActTbl1{}
                   .set(regs::RpcActTbl1::kRssEnable,
                        regs::kRssIpSrc | regs::kRssIpDst | regs::kRssL4Src | regs::kRssL4Dst)
                   .raw();
      break;
  }
  r.tbl0 = tbl0.raw();
  auto value = T{};
  auto care = T{};
  if (m.l4 != FlowMatch::L4::kAny) {
    value.set(T::kL4Valid, 1)
        .set(T::kIpValid, 1)
        .set(T::kIpIsV6, m.ipv6 ? 1 : 0)
        .set(T::kL4IsUdp, m.l4 == FlowMatch::L4::kUdp ? 1 : 0);
    care.set(T::kL4Valid, 1).set(T::kIpValid, 1).set(T::kIpIsV6, 1).set(T::kL4IsUdp, 1);
  }
  if (m.macda_slot >= 0) {
    value.set(T::kMacdaValid, 1).set(T::kMacdaIndex, static_cast<std::uint32_t>(m.macda_slot));
    care.set(T::kMacdaValid, 1).set_all(T::kMacdaIndex);
  }
  r.value[1] = static_cast<std::uint16_t>(value.raw());
  r.mask[1] = static_cast<std::uint16_t>(~care.raw());
  if (m.src_port != 0) {
    r.value[regs::kActWordL4Src] = m.src_port;
    r.mask[regs::kActWordL4Src] = 0;
  }
  if (m.dst_port != 0) {
    r.value[regs::kActWordL4Dst] = m.dst_port;
    r.mask[regs::kActWordL4Dst] = 0;
  }
  if (!(tbl0.fits())) r.valid = false;
  return r;
}

}  // namespace fbnic::rpc
