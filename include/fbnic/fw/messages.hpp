// The firmware messages, each declared once: a struct and its attribute table.
//
// IDs and attribute numbers are the firmware's (upstream fbnic_fw.h and fbnic_tlv.h); the
// few the upstream driver does not send (flash EEPROM, COMPHY mode, sensor threshold
// events) follow Meta's mock firmware. H->F: host to firmware; F->H: firmware to host.
//
// A message the host receives declares only the attributes the upstream driver's parser
// indexes for it (fbnic_fw.c, one fbnic_tlv_index per message), with the same kinds and
// widths; everything else the firmware sends is skipped, whatever its width, as upstream
// skips it. docs/reliability.md lists each message against its upstream index.
#pragma once

#include <cstdint>
#include <optional>
#include <tuple>

#include "fbnic/base/mac_address.hpp"
#include "fbnic/tlv/header.hpp"
#include "fbnic/tlv/schema.hpp"
#include "fbnic/tlv/values.hpp"

namespace fbnic::fw {

namespace msg_id {
inline constexpr std::uint16_t kTest = 0x00;
inline constexpr std::uint16_t kHostCapReq = 0x10;
inline constexpr std::uint16_t kFwCapResp = 0x11;
inline constexpr std::uint16_t kOwnershipReq = 0x12;
inline constexpr std::uint16_t kOwnershipResp = 0x13;
inline constexpr std::uint16_t kHeartbeatReq = 0x14;
inline constexpr std::uint16_t kHeartbeatResp = 0x15;
inline constexpr std::uint16_t kCoredumpInfoReq = 0x18;
inline constexpr std::uint16_t kCoredumpInfoResp = 0x19;
inline constexpr std::uint16_t kCoredumpReadReq = 0x20;
inline constexpr std::uint16_t kCoredumpReadResp = 0x21;
inline constexpr std::uint16_t kUpgradeStartReq = 0x22;
inline constexpr std::uint16_t kUpgradeStartResp = 0x23;
inline constexpr std::uint16_t kUpgradeChunkReq = 0x24;   // F->H: "send me this chunk"
inline constexpr std::uint16_t kUpgradeChunkResp = 0x25;  // H->F: the chunk, or a cancel
inline constexpr std::uint16_t kUpgradeFinishReq = 0x28;  // F->H: done, or failed
inline constexpr std::uint16_t kEepromReadReq = 0x2A;
inline constexpr std::uint16_t kEepromReadResp = 0x2B;
inline constexpr std::uint16_t kQsfpReadReq = 0x38;
inline constexpr std::uint16_t kQsfpReadResp = 0x39;
inline constexpr std::uint16_t kTseneReadReq = 0x3C;
inline constexpr std::uint16_t kTseneReadResp = 0x3D;
inline constexpr std::uint16_t kComphySetReq = 0x3E;
inline constexpr std::uint16_t kComphySetResp = 0x3F;
inline constexpr std::uint16_t kSensorAlarm = 0x40;  // F->H, unsolicited
inline constexpr std::uint16_t kLogSendReq = 0x43;
inline constexpr std::uint16_t kLogMsgReq = 0x44;  // F->H, unsolicited
inline constexpr std::uint16_t kRpcMacSyncReq = 0x46;
}  // namespace msg_id

// Commit strings: 19 bytes on the wire with the NUL.
using CommitString = tlv::String<19>;
using Data = tlv::Bytes<tlv::kMaxDataBytes>;

// --- capabilities ---
struct HostCapReq {};

enum class LinkSpeed : std::uint32_t {
  kUnknown = 0,
  k25gR1 = 1,   // 25G-CR, one NRZ lane
  k50gR2 = 2,   // 50G-CR2, two NRZ lanes
  k50gR1 = 3,   // 50G-CR, one PAM4 lane
  k100gR2 = 4,  // 100G-CR2, two PAM4 lanes
};
enum class LinkFec : std::uint32_t { kUnknown = 0, kNone = 1, kRs = 2, kBaseR = 3 };

struct FwCapResp {
  std::uint32_t version = 0;  // running management firmware
  bool bmc_present = false;
  tlv::Array<MacAddress, 4> bmc_macs;
  std::uint32_t stored_version = 0;
  std::uint32_t active_slot = 0;
  CommitString version_commit;
  std::optional<std::uint32_t> bmc_all_multi;
  std::uint32_t link_speed = 0;  // LinkSpeed
  std::uint32_t link_fec = 0;    // LinkFec
  CommitString stored_commit;
  std::uint32_t cmrt_version = 0;
  std::uint32_t stored_cmrt_version = 0;
  CommitString cmrt_commit;
  CommitString stored_cmrt_commit;
  std::uint32_t uefi_version = 0;
  CommitString uefi_commit;
  std::optional<std::uint32_t> anti_rollback_version;
};

// What the firmware reports about itself and the port.
using Capabilities = FwCapResp;

// --- ownership and liveness ---
struct OwnershipReq {
  bool take = false;  // absent flag = release
};
struct OwnershipResp {
  std::optional<std::uint64_t> time_ms;  // firmware uptime
};
struct HeartbeatReq {};
struct HeartbeatResp {
  std::optional<std::uint64_t> uptime_ms;
  // Attribute 0x1 (a message count) exists in firmware headers but upstream does not
  // parse it: skipped, not typed.
};

// --- coredump ---
struct CoredumpInfoReq {
  bool create = false;
};
struct CoredumpInfoResp {
  bool available = false;
  std::optional<std::uint32_t> size;
  std::optional<std::int32_t> error;
};
struct CoredumpReadReq {
  std::optional<std::uint32_t> offset;  // not sent when 0
  std::optional<std::uint32_t> length;
};
struct CoredumpReadResp {
  std::optional<std::uint32_t> offset;
  std::optional<std::uint32_t> length;
  Data data;
  std::optional<std::int32_t> error;
};

// --- firmware update ---
enum class FlashSection : std::uint32_t {
  kCmrt = 0,       // "boot1"
  kControlFw = 1,  // "boot2"
  kUcode = 2,
  kOptionRom = 3,  // "option-rom"
  kUser = 4,
};
struct UpgradeStartReq {
  std::uint32_t section = 0;  // FlashSection
  std::uint32_t image_length = 0;
};
struct UpgradeStartResp {
  std::optional<std::int32_t> error;
};
struct UpgradeChunkReq {
  std::optional<std::uint32_t> offset;
  std::optional<std::uint32_t> length;
};
struct UpgradeChunkResp {
  std::optional<std::uint32_t> offset;
  std::optional<std::uint32_t> length;
  Data data;
  std::optional<std::int32_t> error;  // sent alone to cancel
};
struct UpgradeFinishReq {
  std::optional<std::int32_t> error;
};

// --- flash EEPROM, QSFP module, sensors, SerDes ---
struct EepromReadReq {
  std::optional<std::uint32_t> offset;
  std::uint32_t length = 0;
};
struct EepromReadResp {
  std::optional<std::uint32_t> offset;
  std::optional<std::uint32_t> length;
  std::optional<std::int32_t> error;
  Data data;
};
struct QsfpReadReq {
  std::uint32_t bank = 0;
  std::uint32_t page = 0;
  std::uint32_t offset = 0;
  std::uint32_t length = 0;
};
struct QsfpReadResp {
  std::optional<std::uint32_t> bank;
  std::optional<std::uint32_t> page;
  std::optional<std::uint32_t> offset;
  std::optional<std::uint32_t> length;
  std::optional<std::int32_t> error;
  Data data;
};
struct TseneReadReq {};
struct TseneReadResp {
  std::optional<std::int32_t> therm_mc;  // millidegrees Celsius
  std::optional<std::int32_t> volt_mv;   // millivolts
  std::optional<std::int32_t> error;
};
struct ComphySetReq {
  std::uint32_t pam4 = 0;
  std::uint32_t lane_mask = 0;
};
struct ComphySetResp {
  std::optional<std::int32_t> error;
};
struct SensorAlarm {
  std::optional<std::int32_t> therm_exceeded;
  std::optional<std::int32_t> volt_exceeded;
  std::optional<std::int32_t> therm_mc;
  std::optional<std::int32_t> volt_mv;
};

// --- firmware log ---
struct LogSendReq {
  bool send_logs = false;  // absent = stop forwarding
  std::optional<std::uint32_t> version;
  bool history = false;
};
inline constexpr std::size_t kLogTextBytes = 256;
inline constexpr std::size_t kLogExtraEntries = 13;  // 1 + 13 entries fill a page
using LogText = tlv::String<kLogTextBytes>;
struct LogMsgReq {
  std::optional<std::uint32_t> msec;
  std::optional<std::uint64_t> index;
  LogText text;
  std::optional<std::uint32_t> extra;  // how many entries the arrays add
  tlv::Array<std::uint32_t, kLogExtraEntries> msec_array;
  tlv::Array<std::uint64_t, kLogExtraEntries> index_array;
  tlv::Array<LogText, kLogExtraEntries> text_array;
};

// --- BMC filter sync ---
inline constexpr std::uint32_t kMacSyncPromisc = 1;
inline constexpr std::uint32_t kMacSyncAllMulti = 2;
inline constexpr std::uint32_t kMacSyncBroadcast = 4;
struct RpcMacSyncReq {
  tlv::Array<MacAddress, 8> unicast;
  tlv::Array<MacAddress, 8> multicast;
  std::uint32_t rx_flags = 0;
};

// --- mailbox self-test: the same attribute set at the top level and nested ---
struct TestAttrs {
  std::uint64_t u64 = 0;
  std::int64_t s64 = 0;
  std::uint32_t u32 = 0;
  std::int32_t s32 = 0;
  std::uint16_t u16 = 0;
  std::int16_t s16 = 0;
  MacAddress mac;
  tlv::Array<MacAddress, 4> macs;
  bool flag_true = false;
  bool flag_false = false;
  tlv::String<32> string;
};
struct TestMsg : TestAttrs {
  TestAttrs nested;
};

}  // namespace fbnic::fw

namespace fbnic::tlv {

template <class T, std::uint16_t Id>
struct EmptySchema {
  static constexpr std::uint16_t kId = Id;
  static constexpr auto kAttrs = std::tuple<>{};
};

template <>
struct Schema<fw::HostCapReq> : EmptySchema<fw::HostCapReq, fw::msg_id::kHostCapReq> {};
template <>
struct Schema<fw::HeartbeatReq> : EmptySchema<fw::HeartbeatReq, fw::msg_id::kHeartbeatReq> {};
template <>
struct Schema<fw::TseneReadReq> : EmptySchema<fw::TseneReadReq, fw::msg_id::kTseneReadReq> {};

template <>
struct Schema<fw::FwCapResp> {
  using M = fw::FwCapResp;
  static constexpr std::uint16_t kId = fw::msg_id::kFwCapResp;
  static constexpr auto kAttrs = std::tuple{
      Attr<&M::version>{0x0},
      Attr<&M::bmc_present>{0x1},
      Attr<&M::bmc_macs>{0x3, 0x2},
      Attr<&M::stored_version>{0x4},
      Attr<&M::active_slot>{0x5},
      Attr<&M::version_commit>{0x6},
      Attr<&M::bmc_all_multi>{0x8},
      Attr<&M::link_speed>{0xA},
      Attr<&M::link_fec>{0xB},
      Attr<&M::stored_commit>{0xC},
      Attr<&M::cmrt_version>{0xD},
      Attr<&M::stored_cmrt_version>{0xE},
      Attr<&M::cmrt_commit>{0xF},
      Attr<&M::stored_cmrt_commit>{0x10},
      Attr<&M::uefi_version>{0x11},
      Attr<&M::uefi_commit>{0x12},
      Attr<&M::anti_rollback_version>{0x15},
  };
};

template <>
struct Schema<fw::OwnershipReq> {
  static constexpr std::uint16_t kId = fw::msg_id::kOwnershipReq;
  static constexpr auto kAttrs = std::tuple{Attr<&fw::OwnershipReq::take>{0x0}};
};
template <>
struct Schema<fw::OwnershipResp> {
  static constexpr std::uint16_t kId = fw::msg_id::kOwnershipResp;
  static constexpr auto kAttrs = std::tuple{Attr<&fw::OwnershipResp::time_ms>{0x1}};
};
template <>
struct Schema<fw::HeartbeatResp> {
  static constexpr std::uint16_t kId = fw::msg_id::kHeartbeatResp;
  static constexpr auto kAttrs = std::tuple{Attr<&fw::HeartbeatResp::uptime_ms>{0x0}};
};

template <>
struct Schema<fw::CoredumpInfoReq> {
  static constexpr std::uint16_t kId = fw::msg_id::kCoredumpInfoReq;
  static constexpr auto kAttrs = std::tuple{Attr<&fw::CoredumpInfoReq::create>{0x0}};
};
template <>
struct Schema<fw::CoredumpInfoResp> {
  using M = fw::CoredumpInfoResp;
  static constexpr std::uint16_t kId = fw::msg_id::kCoredumpInfoResp;
  static constexpr auto kAttrs =
      std::tuple{Attr<&M::available>{0x0}, Attr<&M::size>{0x1}, Attr<&M::error>{0x2}};
};
template <>
struct Schema<fw::CoredumpReadReq> {
  using M = fw::CoredumpReadReq;
  static constexpr std::uint16_t kId = fw::msg_id::kCoredumpReadReq;
  static constexpr auto kAttrs = std::tuple{Attr<&M::offset>{0x0}, Attr<&M::length>{0x1}};
};
template <>
struct Schema<fw::CoredumpReadResp> {
  using M = fw::CoredumpReadResp;
  static constexpr std::uint16_t kId = fw::msg_id::kCoredumpReadResp;
  static constexpr auto kAttrs = std::tuple{Attr<&M::offset>{0x0}, Attr<&M::length>{0x1},
                                            Attr<&M::data>{0x2}, Attr<&M::error>{0x3}};
};

template <>
struct Schema<fw::UpgradeStartReq> {
  using M = fw::UpgradeStartReq;
  static constexpr std::uint16_t kId = fw::msg_id::kUpgradeStartReq;
  static constexpr auto kAttrs = std::tuple{Attr<&M::section>{0x1}, Attr<&M::image_length>{0x2}};
};
template <>
struct Schema<fw::UpgradeStartResp> {
  static constexpr std::uint16_t kId = fw::msg_id::kUpgradeStartResp;
  static constexpr auto kAttrs = std::tuple{Attr<&fw::UpgradeStartResp::error>{0x0}};
};
template <>
struct Schema<fw::UpgradeChunkReq> {
  using M = fw::UpgradeChunkReq;
  static constexpr std::uint16_t kId = fw::msg_id::kUpgradeChunkReq;
  static constexpr auto kAttrs = std::tuple{Attr<&M::offset>{0x0}, Attr<&M::length>{0x1}};
};
template <>
struct Schema<fw::UpgradeChunkResp> {
  using M = fw::UpgradeChunkResp;
  static constexpr std::uint16_t kId = fw::msg_id::kUpgradeChunkResp;
  static constexpr auto kAttrs = std::tuple{Attr<&M::offset>{0x0}, Attr<&M::length>{0x1},
                                            Attr<&M::data>{0x2}, Attr<&M::error>{0x3}};
};
template <>
struct Schema<fw::UpgradeFinishReq> {
  static constexpr std::uint16_t kId = fw::msg_id::kUpgradeFinishReq;
  static constexpr auto kAttrs = std::tuple{Attr<&fw::UpgradeFinishReq::error>{0x0}};
};

template <>
struct Schema<fw::EepromReadReq> {
  using M = fw::EepromReadReq;
  static constexpr std::uint16_t kId = fw::msg_id::kEepromReadReq;
  static constexpr auto kAttrs = std::tuple{Attr<&M::offset>{0x0}, Attr<&M::length>{0x1}};
};
template <>
struct Schema<fw::EepromReadResp> {
  using M = fw::EepromReadResp;
  static constexpr std::uint16_t kId = fw::msg_id::kEepromReadResp;
  static constexpr auto kAttrs = std::tuple{Attr<&M::offset>{0x0}, Attr<&M::length>{0x1},
                                            Attr<&M::error>{0x3}, Attr<&M::data>{0x4}};
};
template <>
struct Schema<fw::QsfpReadReq> {
  using M = fw::QsfpReadReq;
  static constexpr std::uint16_t kId = fw::msg_id::kQsfpReadReq;
  static constexpr auto kAttrs = std::tuple{Attr<&M::bank>{0x0}, Attr<&M::page>{0x1},
                                            Attr<&M::offset>{0x2}, Attr<&M::length>{0x3}};
};
template <>
struct Schema<fw::QsfpReadResp> {
  using M = fw::QsfpReadResp;
  static constexpr std::uint16_t kId = fw::msg_id::kQsfpReadResp;
  static constexpr auto kAttrs =
      std::tuple{Attr<&M::bank>{0x0},   Attr<&M::page>{0x1},  Attr<&M::offset>{0x2},
                 Attr<&M::length>{0x3}, Attr<&M::error>{0x4}, Attr<&M::data>{0x5}};
};
template <>
struct Schema<fw::TseneReadResp> {
  using M = fw::TseneReadResp;
  static constexpr std::uint16_t kId = fw::msg_id::kTseneReadResp;
  static constexpr auto kAttrs =
      std::tuple{Attr<&M::therm_mc>{0x0}, Attr<&M::volt_mv>{0x1}, Attr<&M::error>{0x2}};
};
template <>
struct Schema<fw::ComphySetReq> {
  using M = fw::ComphySetReq;
  static constexpr std::uint16_t kId = fw::msg_id::kComphySetReq;
  static constexpr auto kAttrs = std::tuple{Attr<&M::pam4>{0x0}, Attr<&M::lane_mask>{0x4}};
};
template <>
struct Schema<fw::ComphySetResp> {
  static constexpr std::uint16_t kId = fw::msg_id::kComphySetResp;
  static constexpr auto kAttrs = std::tuple{Attr<&fw::ComphySetResp::error>{0x1}};
};
template <>
struct Schema<fw::SensorAlarm> {
  using M = fw::SensorAlarm;
  static constexpr std::uint16_t kId = fw::msg_id::kSensorAlarm;
  static constexpr auto kAttrs =
      std::tuple{Attr<&M::therm_exceeded>{0x0}, Attr<&M::volt_exceeded>{0x1},
                 Attr<&M::therm_mc>{0x2}, Attr<&M::volt_mv>{0x3}};
};

template <>
struct Schema<fw::LogSendReq> {
  using M = fw::LogSendReq;
  static constexpr std::uint16_t kId = fw::msg_id::kLogSendReq;
  static constexpr auto kAttrs =
      std::tuple{Attr<&M::send_logs>{0x0}, Attr<&M::version>{0x1}, Attr<&M::history>{0x2}};
};
template <>
struct Schema<fw::LogMsgReq> {
  using M = fw::LogMsgReq;
  static constexpr std::uint16_t kId = fw::msg_id::kLogMsgReq;
  static constexpr auto kAttrs = std::tuple{
      Attr<&M::msec>{0x0},
      Attr<&M::index>{0x1},
      Attr<&M::text>{0x2},
      Attr<&M::extra>{0x3},
      Attr<&M::msec_array>{0x4, 0x0},
      Attr<&M::index_array>{0x5, 0x1},
      Attr<&M::text_array>{0x6, 0x2},
  };
};
template <>
struct Schema<fw::RpcMacSyncReq> {
  using M = fw::RpcMacSyncReq;
  static constexpr std::uint16_t kId = fw::msg_id::kRpcMacSyncReq;
  static constexpr auto kAttrs = std::tuple{Attr<&M::unicast>{0x1, 0x3},
                                            Attr<&M::multicast>{0x2, 0x3}, Attr<&M::rx_flags>{0x0}};
};

// The self-test attribute order is the upstream driver's, so the bytes match its encoder.
template <>
struct Schema<fw::TestAttrs> {
  using M = fw::TestAttrs;
  static constexpr std::uint16_t kId = kNestedOnly;
  static constexpr auto kAttrs = std::tuple{
      Attr<&M::u64>{0},       Attr<&M::s64>{1},        Attr<&M::u32>{2},    Attr<&M::s32>{3},
      Attr<&M::u16>{4},       Attr<&M::s16>{5},        Attr<&M::mac>{6},    Attr<&M::macs>{11, 6},
      Attr<&M::flag_true>{7}, Attr<&M::flag_false>{8}, Attr<&M::string>{9},
  };
};
template <>
struct Schema<fw::TestMsg> {
  static constexpr std::uint16_t kId = fw::msg_id::kTest;
  static constexpr auto kAttrs =
      std::tuple_cat(Schema<fw::TestAttrs>::kAttrs, std::tuple{Attr<&fw::TestMsg::nested>{10}});
};

}  // namespace fbnic::tlv
