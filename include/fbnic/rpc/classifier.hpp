// Classifier: programs the Rx parser and classifier (MAC DA TCAM, action TCAM and table,
// RSS) in the order the upstream driver does, from a description of what the host wants.
//
//   start(rss)          indirection tables, key, default action = drop, RMI enable
//   set_rx_mode(mode)   MAC DA entries and the action rules that route them
//   add/remove rule     user flow rules (entries 2..49)
//   stop()              host entries cleared; the BMC keeps its path if it has one
//
// A TCAM entry is written data words first, then (after a flush) its validate word, so
// the hardware never matches a half-written entry.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "fbnic/base/result.hpp"
#include "fbnic/hw/io.hpp"
#include "fbnic/regs/rpc.hpp"
#include "fbnic/rpc/mac_filter.hpp"
#include "fbnic/rpc/rss.hpp"
#include "fbnic/rpc/rules.hpp"

namespace fbnic::rpc {

inline constexpr std::uint32_t kMaxFrameBytes = 9742;
inline constexpr std::uint32_t kRmiOverheadBytes = 20;

template <Platform P>
class Classifier {
 public:
  explicit Classifier(Io<P>& io) : io_(io) {}

  // What the BMC shares on this port (from the firmware's capabilities), checked as the
  // upstream driver does: all-zero addresses are skipped; multicast ones (broadcast
  // included) are shared with the host; only unicast ones go to the BMC alone.
  void set_bmc(std::span<const MacAddress> macs, bool all_multi) {
    bmc_.count = 0;
    bmc_groups_.count = 0;
    for (const MacAddress& m : macs) {
      if (m.is_zero()) continue;
      if (m.is_multicast()) {
        if (!bmc_groups_.contains(m)) (void)bmc_groups_.push(m);
      } else if (!bmc_.contains(m)) {
        (void)bmc_.push(m);
      }
    }
    bmc_all_multi_ = all_multi;
  }
  [[nodiscard]] bool has_bmc() const { return bmc_.count != 0 || bmc_groups_.count != 0; }

  Status start(const RssConfig& rss) {
    FBNIC_TRY(write_rss(rss));
    using A0 = regs::RpcActTbl0Default;
    FBNIC_TRY(io_.write(A0{}.set(A0::kDrop, 1)));
    FBNIC_TRY(io_.flush());
    FBNIC_TRY(io_.write(regs::RpcActTbl1Default{}));
    using R = regs::RpcRmiConfig;
    FBNIC_TRY(io_.write(
        R{}.set(R::kMtu, kMaxFrameBytes).set(R::kOhBytes, kRmiOverheadBytes).set(R::kEnable, 1)));
    started_ = true;
    return ok_status();
  }

  // Key, indirection tables and hash fields; takes effect at once.
  Status write_rss(const RssConfig& rss) {
    for (std::uint32_t t = 0; t < 2; ++t) {
      for (std::uint32_t i = 0; i < regs::kRssTableEntries; ++i) {
        FBNIC_TRY(io_.write(regs::RpcRssTbl::at(i, t), regs::RpcRssTbl::from_raw(rss.table[t][i])));
      }
    }
    for (std::uint32_t w = 0; w < regs::kRssKeyWords; ++w) {
      std::uint32_t v = 0;
      for (std::uint32_t b = 0; b < 4; ++b) {
        const std::uint32_t i = 4 * w + b;
        v |= std::uint32_t{i < rss.key.size() ? rss.key[i] : std::uint8_t{0}} << (24 - 8 * b);
      }
      if (w + 1 == regs::kRssKeyWords) v &= 0xFF80'0000u;  // only 425 bits exist
      FBNIC_TRY(io_.write(regs::RpcRssKey::at(w), regs::RpcRssKey::from_raw(v)));
    }
    fields_ = rss.fields;
    return started_ ? write_rss_rules() : ok_status();
  }

  Status set_rx_mode(const RxMode& mode) {
    table_ = MacTable::build(mode, bmc_.view(), bmc_groups_.view());
    // A BMC that wants all multicast gets it through the spare slot below the unicast
    // range and action entry 1, unless the host takes all multicast anyway.
    const bool bmc_multi = has_bmc() && bmc_all_multi_ && !table_.all_multicast &&
                           !table_.promiscuous && !table_.slot[kUnicastBoundary - 1].valid;
    if (bmc_multi) table_.slot[kUnicastBoundary - 1] = MacEntry::any_multicast();
    FBNIC_TRY(write_action(kActBmcAllMulti, bmc_multi ? bmc_all_multi_rule() : ActionRule{}));
    FBNIC_TRY(write_rss_rules());
    for (std::uint32_t i = 0; i < regs::kMacdaEntries; ++i)
      FBNIC_TRY(write_macda(i, table_.slot[i]));
    return ok_status();
  }
  [[nodiscard]] const MacTable& mac_table() const { return table_; }

  // The Rx queues open (Device sets it at open): a rule may send frames only to those.
  void set_rx_queues(std::uint32_t n) { rx_queues_ = n; }

  // A user rule in the highest free entry of 2..49; returns its entry.
  Result<std::uint32_t> add_rule(const FlowMatch& match, const FlowAction& action) {
    if (action.kind == FlowAction::Kind::kQueue && action.queue >= rx_queues_) {
      log(io_.platform(), LogLevel::kError, "fbnic: add_rule(): FlowAction::queue = ", action.queue,
          ", but ", rx_queues_,
          " Rx queue(s) are open (DeviceConfig::rx_queues): frames would go nowhere");
      return Error::kInvalidArgument;
    }
    const ActionRule r = user_rule(match, action);
    if (!r.valid || match.macda_slot >= static_cast<std::int32_t>(regs::kMacdaEntries)) {
      log(io_.platform(), LogLevel::kError,
          "fbnic: add_rule(): the action TCAM cannot hold this rule: FlowMatch::macda_slot = ",
          match.macda_slot, " (-1 or 0..", regs::kMacdaEntries - 1,
          "), FlowAction::queue = ", action.queue);
      return Error::kInvalidArgument;
    }
    for (std::uint32_t e = kActUserLast + 1; e-- > kActUserFirst;) {
      if ((user_used_ & (1ull << e)) == 0) {
        FBNIC_TRY(write_action(e, r));
        user_used_ |= 1ull << e;
        return e;
      }
    }
    log(io_.platform(), LogLevel::kError, "fbnic: add_rule(): all ",
        kActUserLast - kActUserFirst + 1, " user entries of the action TCAM (", kActUserFirst, "..",
        kActUserLast, ") are taken: remove_rule() one first");
    return Error::kNoMemory;
  }
  Status remove_rule(std::uint32_t entry) {
    if (entry < kActUserFirst || entry > kActUserLast || (user_used_ & (1ull << entry)) == 0) {
      log(io_.platform(), LogLevel::kError, "fbnic: remove_rule(", entry,
          "): no user rule there (add_rule() returns the entry to remove)");
      return Error::kInvalidArgument;
    }
    user_used_ &= ~(1ull << entry);
    return write_action(entry, ActionRule{});
  }

  // Teardown: host addresses and rules go; with a BMC, entry 63 keeps sending its traffic
  // to it. Without one the RPC is switched off.
  Status stop() {
    for (std::uint32_t i = 0; i < regs::kMacdaEntries; ++i) {
      if (i > kSlotBmcLast || bmc_.count == 0) FBNIC_TRY(write_macda(i, MacEntry{}));
    }
    for (std::uint32_t e = regs::kActEntries; e-- > 0;) {
      if (e == kActRssMulticast + kFlowTypes - 1 && has_bmc()) {
        ActionRule keep = ActionRule::match_all();
        keep.tbl0 = regs::RpcActTbl0{}.set(regs::RpcActTbl0::kDest, regs::kActDestBmc).raw();
        FBNIC_TRY(write_action(e, keep));
      } else if (e > kActBmcAllMulti || !has_bmc()) {
        FBNIC_TRY(write_action(e, ActionRule{}));
      }
    }
    user_used_ = 0;
    if (!has_bmc()) {
      using R = regs::RpcRmiConfig;
      FBNIC_TRY(io_.write(R{}.set(R::kOhBytes, kRmiOverheadBytes)));
    }
    started_ = false;
    return ok_status();
  }

 private:
  // RSS rules for host traffic: with a BMC, host unicast (MAC DA slots 24..31) and
  // multi/broadcast (every other hit, shared with the BMC) get separate rules; without
  // one, the multicast set alone matches every MAC DA hit.
  Status write_rss_rules() {
    for (std::uint32_t t = 0; t < kFlowTypes; ++t) {
      const auto ft = static_cast<FlowType>(t);
      const std::uint32_t fields = fields_[ft];
      if (has_bmc()) {
        FBNIC_TRY(write_action(kActRssUnicast + t, rss_rule(ft, true, regs::kActDestHost, fields)));
        FBNIC_TRY(
            write_action(kActRssMulticast + t,
                         rss_rule(ft, false, regs::kActDestHost | regs::kActDestBmc, fields)));
      } else {
        FBNIC_TRY(write_action(kActRssUnicast + t, ActionRule{}));
        FBNIC_TRY(
            write_action(kActRssMulticast + t, rss_rule(ft, false, regs::kActDestHost, fields)));
      }
    }
    if (has_bmc()) {
      // Entry 0: the BMC's own unicast addresses (MAC DA slots 0..3) go to the BMC.
      using T = regs::RpcTcamAct;
      ActionRule bmc = ActionRule::match_all();
      bmc.tbl0 = regs::RpcActTbl0{}.set(regs::RpcActTbl0::kDest, regs::kActDestBmc).raw();
      const auto value = T{}.set(T::kMacdaValid, 1);
      bmc.value[1] = static_cast<std::uint16_t>(value.raw());
      bmc.mask[1] =
          static_cast<std::uint16_t>(~(value.raw() | T{}.set(T::kMacdaIndex, 0x1C).raw()));
      FBNIC_TRY(write_action(kActBmcUnicast, bmc));
    }
    return ok_status();
  }

  static ActionRule bmc_all_multi_rule() {
    using T = regs::RpcTcamAct;
    ActionRule r = ActionRule::match_all();
    r.tbl0 = regs::RpcActTbl0{}.set(regs::RpcActTbl0::kDest, regs::kActDestBmc).raw();
    const auto value = T{}.set(T::kMacdaValid, 1).set(T::kMacdaIndex, kUnicastBoundary - 1);
    r.value[1] = static_cast<std::uint16_t>(value.raw());
    r.mask[1] =
        static_cast<std::uint16_t>(~T{}.set(T::kMacdaValid, 1).set_all(T::kMacdaIndex).raw());
    return r;
  }

  Status write_action(std::uint32_t e, const ActionRule& r) {
    using T = regs::RpcTcamAct;
    FBNIC_TRY(io_.write(regs::RpcActTbl0::at(e), regs::RpcActTbl0::from_raw(r.tbl0)));
    FBNIC_TRY(io_.write(regs::RpcActTbl1::at(e), regs::RpcActTbl1::from_raw(r.tbl1)));
    if (!r.valid) {
      for (std::uint32_t w = 0; w <= regs::kActWordValidate; ++w)
        FBNIC_TRY(io_.write(T::at(e, w), T{}));
      return ok_status();
    }
    for (std::uint32_t w = 0; w < regs::kActWordValidate; ++w) {
      FBNIC_TRY(io_.write(T::at(e, w), T{}.set(T::kValue, r.value[w]).set(T::kMask, r.mask[w])));
    }
    FBNIC_TRY(io_.flush());
    return io_.write(T::at(e, regs::kActWordValidate), T{}.set(T::kValidate, 1));
  }

  // Words 0..2: MAC bytes 4-5, 2-3, 0-1, each with byte 4 / 2 / 0 in the high half.
  Status write_macda(std::uint32_t slot, const MacEntry& m) {
    using T = regs::RpcTcamMacda;
    if (!m.valid) {
      for (std::uint32_t w = 0; w <= regs::kMacdaWordValidate; ++w)
        FBNIC_TRY(io_.write(T::at(slot, w), T{}));
      return ok_status();
    }
    for (std::uint32_t w = 0; w < 3; ++w) {
      const std::uint32_t hi = 4 - 2 * w;
      const auto v = static_cast<std::uint32_t>(m.value.bytes[hi] << 8 | m.value.bytes[hi + 1]);
      const auto k = static_cast<std::uint32_t>(m.mask.bytes[hi] << 8 | m.mask.bytes[hi + 1]);
      FBNIC_TRY(io_.write(T::at(slot, w), T{}.set(T::kValue, v).set(T::kMask, k)));
    }
    FBNIC_TRY(io_.flush());
    return io_.write(T::at(slot, regs::kMacdaWordValidate), T{}.set(T::kValidate, 1));
  }

  Io<P>& io_;
  std::uint32_t rx_queues_ = regs::kMaxQueues;
  MacTable table_{};
  RssFields fields_{};
  template <std::size_t N>
  struct MacList {
    std::array<MacAddress, N> items{};
    std::uint32_t count = 0;
    [[nodiscard]] bool contains(const MacAddress& m) const {
      for (std::uint32_t i = 0; i < count; ++i) {
        if (items[i] == m) return true;
      }
      return false;
    }
    bool push(const MacAddress& m) {
      if (count == N) return false;
      items[count++] = m;
      return true;
    }
    [[nodiscard]] std::span<const MacAddress> view() const { return {items.data(), count}; }
  };
  MacList<kSlotBmcLast - kSlotBmcFirst + 1> bmc_{};  // the BMC's own unicast addresses
  MacList<4> bmc_groups_{};                          // its multicast groups, shared
  bool bmc_all_multi_ = false;
  std::uint64_t user_used_ = 0;
  bool started_ = false;
};

}  // namespace fbnic::rpc
