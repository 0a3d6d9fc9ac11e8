// Firmware: the management firmware's side of the mailbox, as the host sees it.
//
// It serves the Tx ring (host -> firmware) and fills the Rx ring (firmware -> host) the
// way the upstream driver expects: it raises vector 0 (INTR_SET(0) bit 0) whenever the
// host writes a Tx descriptor's low half, passes over "skip" descriptors after a ring
// reset, completes each message with FW_CMPL, and delivers answers into the buffers the
// host posted, with LEN, EOM and FW_CMPL. Answers wait in an outbox until a buffer is
// posted, so nothing is lost to a slow host.
//
// Tests can make it misbehave (Misbehaviour): never get ready, stay silent, answer late,
// flood, storm, send broken or unknown messages, speak attributes the host does not parse,
// or report an old version; and send anything at all (send_raw).
//
// Heartbeat watch (an assumption of the model: upstream shows only the host's side, see
// docs/firmware.md): while the host owns the NIC, the firmware expects its heartbeat
// requests. When none has arrived for heartbeat_lapse_ms (30 s: three of the host's 10 s
// periods), the lapse is a driver mistake, Fault::kHeartbeatLapsed, reported once per
// lapse; with reclaim_on_lapse the firmware also takes ownership back. A firmware that is
// silent or not ready does not watch (it hears nothing); a new heartbeat re-arms the watch.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "fbnic/base/bytes.hpp"
#include "fbnic/desc/mailbox_desc.hpp"
#include "fbnic/fw/messages.hpp"
#include "fbnic/fw/version.hpp"
#include "fbnic/mock/fault.hpp"
#include "fbnic/regs/intr.hpp"
#include "fbnic/regs/mailbox.hpp"
#include "fbnic/regs/pul.hpp"
#include "fbnic/tlv/codec.hpp"

namespace fbnic::mock {

struct FirmwareConfig {
  fw::Capabilities caps = default_caps();
  std::uint32_t latency_us = 20;  // from a Tx descriptor to its answer
  std::int32_t temperature_mc = 45'000;
  std::int32_t voltage_mv = 850;
  std::uint32_t coredump_bytes = 0x2000;
  std::uint32_t eeprom_bytes = 64 * 1024;
  std::uint32_t upgrade_chunk = 2048;  // bytes the firmware asks for at a time
  std::uint32_t version_after_upgrade = fw::Version::make(25, 6, 1, 0).raw;
  std::uint32_t heartbeat_lapse_ms = 30'000;  // 0: the lapse is not watched
  bool reclaim_on_lapse = false;              // a lapse also takes ownership back

  static fw::Capabilities default_caps() {
    fw::Capabilities c;
    c.version = fw::Version::make(25, 5, 7, 0).raw;
    c.stored_version = c.version;
    c.active_slot = 1;
    c.version_commit = fw::CommitString::from("mockfw-0001");
    c.stored_commit = c.version_commit;
    c.cmrt_version = fw::Version::make(1, 2, 3, 0).raw;
    c.stored_cmrt_version = c.cmrt_version;
    c.cmrt_commit = fw::CommitString::from("cmrt-0001");
    c.stored_cmrt_commit = c.cmrt_commit;
    c.uefi_version = fw::Version::make(0, 3, 1, 0).raw;
    c.uefi_commit = fw::CommitString::from("uefi-0001");
    c.link_speed = static_cast<std::uint32_t>(fw::LinkSpeed::k50gR2);
    c.link_fec = static_cast<std::uint32_t>(fw::LinkFec::kRs);
    return c;
  }
};

inline constexpr std::uint16_t kEveryMessage = 0xFFFF;

struct Misbehaviour {
  bool not_ready = false;                 // never raises the mailbox interrupt
  bool silent = false;                    // leaves Tx descriptors alone (served once this clears)
  std::uint64_t late_us = 0;              // extra delay before answers ...
  std::uint16_t late_id = kEveryMessage;  // ... of this message ID only, or of every one
  std::uint32_t flood = 0;                // extra copies of every answer
  bool malformed = false;                 // answers whose first attribute runs past the message
  bool truncated = false;                 // answers cut short: LEN is only the header
  bool garbage = false;                   // answers that are not TLV messages at all
  bool unknown_first = false;             // a message with an unknown ID before every answer
  // A log storm: every Rx buffer the host posts is filled at once (answers still go first).
  bool storm = false;
  // Answers also carry attributes that firmware headers define and the upstream driver's
  // parser does not index (heartbeat message count, firmware state), at odd widths.
  bool unindexed_attrs = false;
  // A firmware update declared finished, without error, once this many bytes came (0: no).
  std::uint32_t finish_after = 0;
};

struct FirmwareStats {
  std::uint64_t requests = 0;    // Tx messages taken
  std::uint64_t answers = 0;     // Rx messages delivered
  std::uint64_t unknown = 0;     // requests with an ID the firmware does not know
  std::uint64_t malformed = 0;   // requests that did not parse
  std::uint64_t dropped = 0;     // answers lost to a full outbox or a ring reset
  std::uint64_t ready_irqs = 0;  // vector-0 interrupts raised
};

template <class DeviceT, std::size_t Outbox>
class Firmware {
 public:
  explicit Firmware(DeviceT& dev) : dev_(dev) {}

  FirmwareConfig& config() { return config_; }
  Misbehaviour& misbehave() { return bad_; }
  [[nodiscard]] const FirmwareStats& stats() const { return stats_; }
  [[nodiscard]] bool host_owns_nic() const { return owned_; }
  // The host owns the NIC and its heartbeats have lapsed (until the next one arrives).
  [[nodiscard]] bool heartbeat_lapsed() const { return lapsed_; }
  // When the last heartbeat request (or the ownership request) was taken, on the model's
  // clock.
  [[nodiscard]] std::uint64_t last_heartbeat_ns() const { return last_heartbeat_ns_; }
  [[nodiscard]] bool logs_enabled() const { return logs_on_; }
  [[nodiscard]] std::uint64_t uptime_ms() const { return (dev_.now_ns() - boot_ns_) / 1'000'000; }

  void reset() {
    tx_head_ = rx_head_ = 0;
    out_count_ = 0;
    owned_ = false;
    lapsed_ = false;
    logs_on_ = false;
    upgrade_ = {};
  }
  // A firmware crash and reboot: its uptime restarts and it forgets the host's ownership,
  // log and update state. The mailbox rings are hardware and keep their positions.
  void reboot() {
    owned_ = false;
    logs_on_ = false;
    upgrade_ = {};
    boot_ns_ = dev_.now_ns();
  }

  // --- test hooks ---
  // A line in the firmware's log; forwarded when the host asked for logs.
  void log(const char* text) {
    LogLine line{next_log_index_++, static_cast<std::uint32_t>(uptime_ms()),
                 fw::LogText::from(text)};
    history_[history_count_ % kHistory] = line;
    ++history_count_;
    if (logs_on_) send_logs(std::span<const LogLine>(&line, 1));
  }
  void raise_sensor_alarm(std::int32_t temperature_mc) {
    fw::SensorAlarm a;
    a.therm_exceeded = 1;
    a.therm_mc = temperature_mc;
    answer(a);
  }
  // The capabilities again, unasked (the firmware does this after a flash update).
  void send_capabilities() { answer(config_.caps); }
  // Any bytes as the next message, with the length the descriptor claims and its FW_ERR
  // bit: a broken or hostile firmware. Bytes beyond a page are dropped.
  void send_raw(std::span<const std::uint8_t> bytes, std::uint32_t desc_len, bool fw_err = false) {
    OutMsg* slot = reserve();
    if (slot == nullptr) return;
    const std::size_t n = bytes.size() < slot->bytes.size() ? bytes.size() : slot->bytes.size();
    copy_bytes(slot->bytes.data(), bytes.data(), n);
    slot->len = static_cast<std::uint32_t>(n);
    slot->desc_len = desc_len;
    slot->fw_err = fw_err;
    slot->due_ns = dev_.now_ns();
  }
  // What the last completed update wrote: its length and an FNV-1a hash of its bytes.
  [[nodiscard]] std::uint32_t flashed_bytes() const { return flashed_bytes_; }
  [[nodiscard]] std::uint64_t flashed_hash() const { return flashed_hash_; }
  [[nodiscard]] const fw::RpcMacSyncReq& bmc_filters() const { return mac_sync_; }

  // --- bus events, from the device ---
  void on_ipc_write(std::uint32_t offset, std::uint32_t value) {
    const std::uint32_t tx0 = regs::MbxDescLo::at(0, regs::kMailboxTx).offset;
    // Writing a Tx descriptor's low half is the doorbell, whatever it wrote.
    if (offset >= tx0 && offset < tx0 + 8 * regs::kMailboxDescs && (offset - tx0) % 8 == 0) {
      tx_kicked_ = true;
      raise_ready();
    }
    const std::uint32_t rx0 = regs::MbxDescLo::at(0, regs::kMailboxRx).offset;
    if (bad_.storm && offset >= rx0 && offset < rx0 + 8 * regs::kMailboxDescs &&
        (offset - rx0) % 8 == 0 && (value & 1u) != 0) {
      storm();  // a buffer was just posted: fill it before the host looks again
    }
  }
  void on_pul_write(std::uint32_t offset, std::uint32_t value) {
    if (offset == regs::PulObTlpHdrArCfg::kOffset &&
        regs::PulObTlpHdrArCfg::from_raw(value).get(regs::PulObTlpHdrArCfg::kFlush) != 0) {
      tx_head_ = 0;
    }
    if (offset == regs::PulObTlpHdrAwCfg::kOffset &&
        regs::PulObTlpHdrAwCfg::from_raw(value).get(regs::PulObTlpHdrAwCfg::kFlush) != 0) {
      rx_head_ = 0;
      stats_.dropped += out_count_;
      out_count_ = 0;
    }
  }

  // Does what is due: takes posted requests, delivers answers whose time has come.
  void run() {
    if (tx_kicked_ && !bad_.silent && !bad_.not_ready) {
      if (!tx_pending_) tx_due_ns_ = dev_.now_ns() + std::uint64_t{config_.latency_us} * 1000;
      tx_pending_ = true;
      tx_kicked_ = false;
    }
    if (tx_pending_ && dev_.now_ns() >= tx_due_ns_ && !bad_.silent) {
      tx_pending_ = false;
      serve_tx_ring();
    }
    deliver_due();
    watch_heartbeat();
  }

  // The earliest time at which run() has something to do, or ~0.
  [[nodiscard]] std::uint64_t next_event_ns() const {
    std::uint64_t t = ~std::uint64_t{0};
    if (tx_pending_ || tx_kicked_) t = tx_due_ns_;
    for (std::size_t i = 0; i < out_count_; ++i) t = outbox_[i].due_ns < t ? outbox_[i].due_ns : t;
    if (watching()) {
      const std::uint64_t lapse = last_heartbeat_ns_ + lapse_ns() + 1;
      t = lapse < t ? lapse : t;
    }
    return t;
  }

 private:
  static constexpr std::size_t kHistory = 32;
  using Desc = desc::MbxDesc;

  struct OutMsg {
    std::array<std::uint8_t, tlv::kMaxMessageBytes> bytes{};
    std::uint32_t len = 0;       // message bytes
    std::uint32_t desc_len = 0;  // what the descriptor will claim
    std::uint64_t due_ns = 0;
    bool fw_err = false;
  };
  struct LogLine {
    std::uint64_t index = 0;
    std::uint32_t msec = 0;
    fw::LogText text;
  };
  struct Upgrade {
    bool active = false;
    std::uint32_t length = 0;
    std::uint32_t offset = 0;
    std::uint32_t asked = 0;
    std::uint64_t hash = 0;
  };

  // --- descriptors ---
  Desc desc_at(std::uint32_t mbx, std::uint32_t slot) {
    const auto lo = dev_.regs().get(regs::MbxDescLo::at(slot, mbx)).raw();
    const auto hi = dev_.regs().get(regs::MbxDescHi::at(slot, mbx)).raw();
    return Desc::from_halves(lo, hi);
  }
  void put_desc(std::uint32_t mbx, std::uint32_t slot, Desc d) {
    dev_.regs().put(regs::MbxDescHi::at(slot, mbx), regs::MbxDescHi::from_raw(d.hi()));
    dev_.regs().put(regs::MbxDescLo::at(slot, mbx), regs::MbxDescLo::from_raw(d.lo()));
  }
  static bool is_skip(Desc d) { return d.get(Desc::kHostCmpl) != 0 && d.get(Desc::kFwCmpl) != 0; }
  static bool is_posted(Desc d) { return d.get(Desc::kHostCmpl) != 0 && d.get(Desc::kFwCmpl) == 0; }

  void raise_ready() {
    if (bad_.not_ready) return;
    ++stats_.ready_irqs;
    dev_.intr().raise(regs::kMailboxVector);
  }

  void serve_tx_ring() {
    bool served = false;
    for (std::uint32_t n = 0; n < regs::kMailboxDescs; ++n) {
      Desc d = desc_at(regs::kMailboxTx, tx_head_);
      if (!is_skip(d) && !is_posted(d)) break;  // the stop marker
      if (is_posted(d)) {
        take_request(d);
        put_desc(regs::kMailboxTx, tx_head_, d.set(Desc::kFwCmpl, 1));
        served = true;
      }
      tx_head_ = (tx_head_ + 1) % regs::kMailboxDescs;
    }
    if (served) raise_ready();
  }

  void take_request(Desc& d) {
    const auto len = static_cast<std::size_t>(d.get(Desc::kLen));
    if (len < tlv::kHeaderBytes || len > in_.size() || !dev_.dma_read(d.addr(), in_.data(), len)) {
      d.set(Desc::kFwErr, 1);
      ++stats_.malformed;
      return;
    }
    ++stats_.requests;
    handle(std::span<const std::uint8_t>(in_.data(), len));
  }

  // --- requests ---
  void handle(std::span<const std::uint8_t> msg) {
    const auto id = tlv::message_id(msg);
    if (!id.ok()) {
      ++stats_.malformed;
      return;
    }
    switch (*id) {
      case fw::msg_id::kHostCapReq: return answer(config_.caps);
      case fw::msg_id::kOwnershipReq: return on_ownership(msg);
      case fw::msg_id::kHeartbeatReq: {
        last_heartbeat_ns_ = dev_.now_ns();
        lapsed_ = false;
        fw::HeartbeatResp r;
        r.uptime_ms = uptime_ms();
        return answer(r);
      }
      case fw::msg_id::kTest: return answer_bytes(msg);  // an echo, byte for byte
      case fw::msg_id::kTseneReadReq: {
        fw::TseneReadResp r;
        r.therm_mc = config_.temperature_mc;
        r.volt_mv = config_.voltage_mv;
        return answer(r);
      }
      case fw::msg_id::kQsfpReadReq: return on_qsfp(msg);
      case fw::msg_id::kEepromReadReq: return on_eeprom(msg);
      case fw::msg_id::kComphySetReq: return on_comphy(msg);
      case fw::msg_id::kCoredumpInfoReq: return on_coredump_info(msg);
      case fw::msg_id::kCoredumpReadReq: return on_coredump_read(msg);
      case fw::msg_id::kUpgradeStartReq: return on_upgrade_start(msg);
      case fw::msg_id::kUpgradeChunkResp: return on_upgrade_chunk(msg);
      case fw::msg_id::kLogSendReq: return on_log_send(msg);
      case fw::msg_id::kRpcMacSyncReq: {
        if (auto r = tlv::decode<fw::RpcMacSyncReq>(msg); r.ok()) mac_sync_ = *r;
        return;
      }
      default: ++stats_.unknown; return;
    }
  }

  template <class T>
  bool parse(std::span<const std::uint8_t> msg, T& out) {
    auto r = tlv::decode<T>(msg);
    if (!r.ok()) {
      ++stats_.malformed;
      return false;
    }
    out = *r;
    return true;
  }

  void on_ownership(std::span<const std::uint8_t> msg) {
    fw::OwnershipReq req;
    if (!parse(msg, req)) return;
    owned_ = req.take;
    last_heartbeat_ns_ = dev_.now_ns();  // the watch starts with the ownership
    lapsed_ = false;
    fw::OwnershipResp r;
    r.time_ms = uptime_ms();
    answer(r);
  }

  // Module pages are 256 bytes; banks and pages beyond the module's are refused.
  static constexpr std::uint32_t kQsfpPageBytes = 256;
  static std::uint8_t qsfp_byte(std::uint32_t page, std::uint32_t at) {
    if (page == 0 && at == 0) return 0x11;  // SFF-8024 identifier: QSFP28
    return static_cast<std::uint8_t>(page * 31 + at * 7 + 3);
  }
  void on_qsfp(std::span<const std::uint8_t> msg) {
    fw::QsfpReadReq req;
    if (!parse(msg, req)) return;
    fw::QsfpReadResp r;
    r.bank = req.bank;
    r.page = req.page;
    r.offset = req.offset;
    r.length = req.length;
    if (req.bank != 0 || req.page > 3 || req.length == 0 || req.offset >= kQsfpPageBytes ||
        req.length > kQsfpPageBytes - req.offset) {
      r.error = -22;
      return answer(r);
    }
    for (std::uint32_t i = 0; i < req.length; ++i)
      scratch_[i] = qsfp_byte(req.page, req.offset + i);
    r.data.data = std::span<const std::uint8_t>(scratch_.data(), req.length);
    answer(r);
  }

  static std::uint8_t eeprom_byte(std::uint32_t at) {
    return static_cast<std::uint8_t>(at ^ (at >> 8) ^ 0xA5);
  }
  void on_eeprom(std::span<const std::uint8_t> msg) {
    fw::EepromReadReq req;
    if (!parse(msg, req)) return;
    const std::uint32_t off = req.offset.value_or(0);
    fw::EepromReadResp r;
    r.offset = off;
    r.length = req.length;
    if (req.length == 0 || req.length > tlv::kMaxDataBytes || off >= config_.eeprom_bytes ||
        req.length > config_.eeprom_bytes - off) {
      r.error = -22;
      return answer(r);
    }
    for (std::uint32_t i = 0; i < req.length; ++i) scratch_[i] = eeprom_byte(off + i);
    r.data.data = std::span<const std::uint8_t>(scratch_.data(), req.length);
    answer(r);
  }

  void on_comphy(std::span<const std::uint8_t> msg) {
    fw::ComphySetReq req;
    if (!parse(msg, req)) return;
    fw::ComphySetResp r;
    if (!owned_) {
      r.error = -1;  // EPERM: only the host that owns the NIC may retrain it
    } else {
      const bool two_lanes = req.lane_mask == 3;
      const auto speed = req.pam4 != 0
                             ? (two_lanes ? fw::LinkSpeed::k100gR2 : fw::LinkSpeed::k50gR1)
                             : (two_lanes ? fw::LinkSpeed::k50gR2 : fw::LinkSpeed::k25gR1);
      config_.caps.link_speed = static_cast<std::uint32_t>(speed);
      if (req.pam4 != 0) config_.caps.link_fec = static_cast<std::uint32_t>(fw::LinkFec::kRs);
    }
    answer(r);
  }

  static std::uint8_t coredump_byte(std::uint32_t at, std::uint32_t size) {
    if (at < 4 || at + 4 >= size)
      return (0xEFBEADDEu >> (8 * (at % 4))) & 0xFF;  // DE AD BE EF tags
    return static_cast<std::uint8_t>(at * 13 + 0x5A);
  }
  void on_coredump_info(std::span<const std::uint8_t> msg) {
    fw::CoredumpInfoReq req;
    if (!parse(msg, req)) return;
    if (req.create) coredump_made_ = true;
    fw::CoredumpInfoResp r;
    r.available = coredump_made_ && config_.coredump_bytes != 0;
    r.size = r.available ? config_.coredump_bytes : 0;
    answer(r);
  }
  void on_coredump_read(std::span<const std::uint8_t> msg) {
    fw::CoredumpReadReq req;
    if (!parse(msg, req)) return;
    const std::uint32_t off = req.offset.value_or(0);
    const std::uint32_t len = req.length.value_or(0);
    fw::CoredumpReadResp r;
    r.offset = off;
    r.length = len;
    const std::uint32_t size = coredump_made_ ? config_.coredump_bytes : 0;
    if (len == 0 || len > tlv::kMaxDataBytes || off >= size || len > size - off) {
      r.error = -22;
      return answer(r);
    }
    for (std::uint32_t i = 0; i < len; ++i) scratch_[i] = coredump_byte(off + i, size);
    r.data.data = std::span<const std::uint8_t>(scratch_.data(), len);
    answer(r);
  }

  void on_upgrade_start(std::span<const std::uint8_t> msg) {
    fw::UpgradeStartReq req;
    if (!parse(msg, req)) return;
    fw::UpgradeStartResp r;
    if (req.image_length == 0 ||
        req.section > static_cast<std::uint32_t>(fw::FlashSection::kUser)) {
      r.error = -22;
    } else if (upgrade_.active) {
      r.error = -16;  // EBUSY
    }
    answer(r);
    if (r.error) return;
    upgrade_ = {true, req.image_length, 0, 0, 0xcbf29ce484222325ull};
    ask_next_chunk();
  }
  void ask_next_chunk() {
    const std::uint32_t left = upgrade_.length - upgrade_.offset;
    upgrade_.asked = left < config_.upgrade_chunk ? left : config_.upgrade_chunk;
    fw::UpgradeChunkReq q;
    q.offset = upgrade_.offset;
    q.length = upgrade_.asked;
    answer(q);
  }
  void finish_upgrade(std::int32_t error) {
    upgrade_.active = false;
    fw::UpgradeFinishReq f;
    if (error != 0) f.error = error;
    answer(f);
  }
  void on_upgrade_chunk(std::span<const std::uint8_t> msg) {
    fw::UpgradeChunkResp c;
    if (!parse(msg, c)) return;
    if (!upgrade_.active) return finish_upgrade(-22);
    if (c.error.value_or(0) != 0) return finish_upgrade(*c.error);  // the host cancelled
    if (c.offset.value_or(0) != upgrade_.offset || c.length.value_or(0) != upgrade_.asked ||
        c.data.size() != upgrade_.asked) {
      return finish_upgrade(-22);
    }
    for (std::uint8_t b : c.data.data) upgrade_.hash = (upgrade_.hash ^ b) * 0x100000001b3ull;
    upgrade_.offset += upgrade_.asked;
    if (bad_.finish_after != 0 && upgrade_.offset >= bad_.finish_after &&
        upgrade_.offset < upgrade_.length) {
      return finish_upgrade(0);  // "done", with part of the image never asked for
    }
    if (upgrade_.offset < upgrade_.length) return ask_next_chunk();
    flashed_bytes_ = upgrade_.length;
    flashed_hash_ = upgrade_.hash;
    config_.caps.stored_version = config_.version_after_upgrade;
    answer(config_.caps);  // the new stored version, before the verdict
    finish_upgrade(0);
  }

  void on_log_send(std::span<const std::uint8_t> msg) {
    fw::LogSendReq req;
    if (!parse(msg, req)) return;
    logs_on_ = req.send_logs;
    if (!logs_on_ || !req.history) return;
    const std::size_t n = history_count_ < kHistory ? history_count_ : kHistory;
    std::array<LogLine, kHistory> lines{};
    for (std::size_t i = 0; i < n; ++i) lines[i] = history_[(history_count_ - n + i) % kHistory];
    send_logs(std::span<const LogLine>(lines.data(), n));
  }
  // Up to 1 + 13 entries per message.
  void send_logs(std::span<const LogLine> lines) {
    while (!lines.empty()) {
      fw::LogMsgReq m;
      m.msec = lines[0].msec;
      m.index = lines[0].index;
      m.text = lines[0].text;
      std::size_t used = 1;
      for (; used < lines.size() && used <= fw::kLogExtraEntries; ++used) {
        (void)m.msec_array.push(lines[used].msec);
        (void)m.index_array.push(lines[used].index);
        (void)m.text_array.push(lines[used].text);
      }
      if (used > 1) m.extra = static_cast<std::uint32_t>(used - 1);
      answer(m);
      lines = lines.subspan(used);
    }
  }

  // --- the host's heartbeat ---
  [[nodiscard]] std::uint64_t lapse_ns() const {
    return std::uint64_t{config_.heartbeat_lapse_ms} * 1'000'000;
  }
  [[nodiscard]] bool watching() const {
    return owned_ && !lapsed_ && config_.heartbeat_lapse_ms != 0 && !bad_.silent && !bad_.not_ready;
  }
  void watch_heartbeat() {
    // Silent, it hears nothing; removed from the bus, no heartbeat can reach it: either
    // way it holds nothing against the host.
    if (bad_.silent || bad_.not_ready || dev_.removed()) {
      last_heartbeat_ns_ = dev_.now_ns();
      return;
    }
    if (!watching()) return;
    const std::uint64_t since = dev_.now_ns() - last_heartbeat_ns_;
    if (since <= lapse_ns()) return;
    lapsed_ = true;
    dev_.faults().record(Fault::kHeartbeatLapsed, since, lapse_ns());
    if (config_.reclaim_on_lapse) owned_ = false;
  }

  // --- answers ---
  template <class T>
  void answer(const T& msg) {
    OutMsg* slot = claim();
    if (slot == nullptr) return;
    auto bytes = tlv::encode(msg, slot->bytes);
    if (!bytes.ok()) {
      --out_count_;
      ++stats_.dropped;
      return;
    }
    auto len = static_cast<std::uint32_t>(bytes->size());
    if (bad_.unindexed_attrs) len = add_unindexed(tlv::Schema<T>::kId, *slot, len);
    finish_answer(*slot, len);
  }

  // Attributes the host must skip: heartbeat NUMBER_OF_MESSAGES (0x1) as 64 bits, and
  // capabilities FW_STATE (0x9) as 2 bytes. Both are in firmware headers; neither is in
  // the upstream parser's index for its message.
  std::uint32_t add_unindexed(std::uint16_t id, OutMsg& m, std::uint32_t len) {
    std::uint16_t attr = 0;
    std::uint32_t width = 0;
    if (id == fw::msg_id::kHeartbeatResp) {
      attr = 0x1;
      width = 8;
    } else if (id == fw::msg_id::kFwCapResp) {
      attr = 0x9;
      width = 2;
    } else {
      return len;
    }
    const std::uint32_t padded = 4 + ((width + 3) & ~3u);
    if (len + padded > m.bytes.size()) return len;
    const std::uint32_t attr_bytes = 4 + width;
    m.bytes[len] = static_cast<std::uint8_t>(attr);
    m.bytes[len + 1] = static_cast<std::uint8_t>(attr >> 8);
    m.bytes[len + 2] = static_cast<std::uint8_t>(attr_bytes);
    m.bytes[len + 3] = static_cast<std::uint8_t>(attr_bytes >> 8);
    for (std::uint32_t i = 0; i < padded - 4; ++i) {
      m.bytes[len + 4 + i] = static_cast<std::uint8_t>(i < width ? 0x40 + i : 0);
    }
    len += padded;
    // The message header counts 4-byte words.
    m.bytes[2] = static_cast<std::uint8_t>(len / 4);
    m.bytes[3] = static_cast<std::uint8_t>((len / 4) >> 8);
    return len;
  }
  void answer_bytes(std::span<const std::uint8_t> msg) {
    OutMsg* slot = claim();
    if (slot == nullptr) return;
    copy_bytes(slot->bytes.data(), msg.data(), msg.size());
    finish_answer(*slot, static_cast<std::uint32_t>(msg.size()));
  }

  OutMsg* claim() {
    if (bad_.unknown_first) {
      if (OutMsg* u = reserve()) {
        fw::HostCapReq none;  // reuse the empty encoding, then give it an unknown ID
        const auto b = tlv::encode(none, u->bytes);
        u->bytes[0] = 0xEE;  // ID 0x7EE: no firmware message has it
        u->bytes[1] = static_cast<std::uint8_t>(0x80 | 0x07);
        u->len = u->desc_len = b.ok() ? static_cast<std::uint32_t>(b->size()) : 4;
        u->fw_err = false;
        u->due_ns = due(0x7EE);
      }
    }
    return reserve();
  }
  OutMsg* reserve() {
    if (out_count_ == Outbox) {
      ++stats_.dropped;
      return nullptr;
    }
    return &outbox_[out_count_++];
  }
  std::uint64_t due(std::uint64_t id) const {
    const bool late = bad_.late_id == kEveryMessage || bad_.late_id == id;
    return dev_.now_ns() + (late ? bad_.late_us * 1000 : 0);
  }

  // Fills every posted Rx buffer: answers that are due first, then log lines.
  void storm() {
    if (in_storm_) return;  // filling a buffer does not post another
    in_storm_ = true;
    deliver_due();
    for (std::uint32_t n = 0; n < regs::kMailboxDescs; ++n) {
      fw::LogMsgReq m;
      m.msec = static_cast<std::uint32_t>(uptime_ms());
      m.index = next_log_index_++;
      m.text = fw::LogText::from("storm");
      OutMsg* slot = reserve();
      if (slot == nullptr) break;
      const auto bytes = tlv::encode(m, slot->bytes);
      slot->len = slot->desc_len = bytes.ok() ? static_cast<std::uint32_t>(bytes->size()) : 0;
      slot->fw_err = false;
      slot->due_ns = 0;
      if (!deliver(*slot)) {
        --out_count_;  // no buffer left: the storm waits for the next post
        break;
      }
      --out_count_;
    }
    in_storm_ = false;
    raise_ready();
  }

  void finish_answer(OutMsg& m, std::uint32_t len) {
    m.len = m.desc_len = len;
    m.fw_err = false;
    m.due_ns = due(
        len >= tlv::kHeaderBytes ? tlv::Header::load(m.bytes.data()).get(tlv::Header::kType) : 0);
    if (bad_.malformed && len >= 8) {
      m.bytes[6] = 0xF0;  // the first attribute now claims 0xF0xx bytes
      m.bytes[7] = 0x0F;
    }
    if (bad_.truncated) m.desc_len = tlv::kHeaderBytes;
    if (bad_.garbage) {
      for (std::uint32_t i = 0; i < len; ++i) m.bytes[i] = static_cast<std::uint8_t>(0x5A ^ i);
      m.bytes[1] = 0x00;  // no is_msg bit: not a message
    }
    for (std::uint32_t i = 0; i < bad_.flood; ++i) {
      OutMsg* copy = reserve();
      if (copy == nullptr) break;
      *copy = m;
    }
  }

  void deliver_due() {
    bool sent = false;
    while (out_count_ != 0 && outbox_[0].due_ns <= dev_.now_ns()) {
      if (!deliver(outbox_[0])) break;
      for (std::size_t i = 1; i < out_count_; ++i) outbox_[i - 1] = outbox_[i];
      --out_count_;
      sent = true;
    }
    if (sent) raise_ready();
  }

  // Into the next buffer the host posted; false when there is none yet.
  bool deliver(const OutMsg& m) {
    for (std::uint32_t n = 0; n < regs::kMailboxDescs; ++n) {
      Desc d = desc_at(regs::kMailboxRx, rx_head_);
      if (is_skip(d)) {
        rx_head_ = (rx_head_ + 1) % regs::kMailboxDescs;
        continue;
      }
      if (!is_posted(d)) return false;
      if (d.get(Desc::kLen) < m.len) {
        dev_.faults().record(Fault::kMailboxProtocol, d.addr(), d.get(Desc::kLen));
        return false;
      }
      if (!dev_.dma_write(d.addr(), m.bytes.data(), m.len)) return false;
      put_desc(regs::kMailboxRx, rx_head_,
               d.set(Desc::kLen, m.desc_len)
                   .set(Desc::kEom, 1)
                   .set(Desc::kFwErr, m.fw_err ? 1 : 0)
                   .set(Desc::kFwCmpl, 1));
      rx_head_ = (rx_head_ + 1) % regs::kMailboxDescs;
      ++stats_.answers;
      return true;
    }
    return false;
  }

  DeviceT& dev_;
  FirmwareConfig config_{};
  Misbehaviour bad_{};
  FirmwareStats stats_{};
  std::uint32_t tx_head_ = 0;
  std::uint32_t rx_head_ = 0;
  bool tx_kicked_ = false;
  bool tx_pending_ = false;
  std::uint64_t tx_due_ns_ = 0;
  std::uint64_t boot_ns_ = 0;
  bool owned_ = false;
  bool lapsed_ = false;
  std::uint64_t last_heartbeat_ns_ = 0;
  bool logs_on_ = false;
  bool coredump_made_ = true;
  Upgrade upgrade_{};
  std::uint32_t flashed_bytes_ = 0;
  std::uint64_t flashed_hash_ = 0;
  fw::RpcMacSyncReq mac_sync_{};
  std::array<LogLine, kHistory> history_{};
  std::size_t history_count_ = 0;
  std::uint64_t next_log_index_ = 0;
  std::array<std::uint8_t, tlv::kMaxMessageBytes> in_{};
  std::array<std::uint8_t, tlv::kMaxDataBytes> scratch_{};
  std::array<OutMsg, Outbox> outbox_{};
  std::size_t out_count_ = 0;
  bool in_storm_ = false;
};

}  // namespace fbnic::mock
