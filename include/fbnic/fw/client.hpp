// Client: the firmware's services as typed calls over the mailbox.
//
// Each call sends one request and waits, until the caller's deadline, for its response;
// whatever else arrives meanwhile is handled on the side: firmware log entries are kept,
// refreshed capabilities replace the cached ones, unexpected or unknown messages are
// counted and dropped. So a firmware that stays silent, answers late, floods, or sends
// garbage costs the caller one error and leaves the mailbox usable:
//
//   silent or late        kTimeout at the deadline; a late answer is dropped when it comes;
//                         a request finding the Tx ring full waits for room until then
//   flood                 the first answer is used, the copies are dropped and counted
//   malformed, truncated  kBadMessage as soon as the awaited message arrives broken
//   unknown message IDs   dropped and counted; the awaited answer is still taken
//   firmware too old      kTooOld from capabilities(); later requests are refused (giving
//                         ownership back never is)
//   unsolicited capabilities  refresh the cached ones, unless they are unusable (version 0
//                         or below the minimum): then dropped and counted, nothing changes
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <type_traits>

#include "fbnic/base/result.hpp"
#include "fbnic/base/status.hpp"
#include "fbnic/fw/mailbox.hpp"
#include "fbnic/fw/messages.hpp"
#include "fbnic/fw/version.hpp"
#include "fbnic/platform/deadline.hpp"
#include "fbnic/tlv/codec.hpp"

namespace fbnic::fw {

struct Sensors {
  std::int32_t temperature_mc = 0;  // millidegrees Celsius
  std::int32_t voltage_mv = 0;
};

struct CoredumpInfo {
  bool available = false;
  std::uint32_t size = 0;
};

struct QsfpLocation {
  std::uint32_t bank = 0;
  std::uint32_t page = 0;
  std::uint32_t offset = 0;
};

struct LogEntry {
  std::uint32_t msec = 0;
  std::uint64_t index = 0;
  LogText text;
};

struct ClientStats {
  std::uint64_t unexpected = 0;    // a known message nobody was waiting for (late, flooded)
  std::uint64_t unknown = 0;       // a message ID the library does not know
  std::uint64_t malformed = 0;     // dropped because it did not parse
  std::uint64_t logs_dropped = 0;  // firmware log entries lost to a full log ring
  std::uint64_t heartbeats = 0;    // heartbeat answers seen
  std::uint64_t alarms = 0;        // sensor threshold events
};

// What update_firmware reports as it goes, and how a caller asks it to stop.
struct UpdateProgress {
  void (*on_progress)(void* ctx, std::uint32_t done, std::uint32_t total) = nullptr;
  bool (*should_cancel)(void* ctx, std::uint32_t done) = nullptr;
  void* ctx = nullptr;
};

template <Platform P, std::size_t LogCapacity = 16>
class Client {
 public:
  static constexpr std::uint32_t kPollStepUs = 1000;
  static constexpr std::uint64_t kHeartbeatPeriodNs = 10'000'000'000ull;
  static constexpr std::int32_t kErrCanceled = -125;  // ECANCELED, as the firmware reads it
  static constexpr std::int32_t kErrInvalid = -22;    // EINVAL

  explicit Client(Mailbox<P>& mailbox) : mbx_(mailbox) {}

  // --- lifecycle ---

  // Announces the host: opens the mailbox, checks the firmware version, takes ownership
  // and sends the first heartbeat. If anything fails once the ownership request went out
  // (its answer may only be late), ownership is given back before returning. The steps
  // get three quarters of the time to the deadline; the rest is kept for that release and
  // for the firmware to read it before the mailbox closes, so start() returns by its
  // deadline with the firmware not owning the NIC.
  Status start(Deadline deadline) {
    const Deadline steps = share(deadline, 3, 4);
    FBNIC_TRY(mbx_.open(steps));
    Status st = request_capabilities(steps).status();
    bool asked = false;
    if (st.ok()) {
      asked = true;
      st = take_ownership(steps);
      if (st.ok()) st = heartbeat(steps).status();
    }
    if (!st.ok()) {
      if (asked) release_ownership(share(deadline, 1, 2)).ignore();
      mbx_.close(deadline).ignore();
    }
    return st;
  }

  // Gives ownership back and closes the mailbox; both are attempted whatever happens.
  // The release waits at most half the time, so the firmware still gets to read it
  // before the mailbox closes.
  Status stop(Deadline deadline) {
    if (!mbx_.is_open()) return ok_status();
    const Status released = owned_ ? release_ownership(share(deadline, 1, 2)) : ok_status();
    const Status closed = mbx_.close(deadline);
    heartbeats_on_ = false;
    return released.ok() ? closed : released;
  }

  // --- capabilities, ownership, liveness ---

  Result<Capabilities> request_capabilities(Deadline deadline) {
    Result<FwCapResp> caps = Error::kTimeout;
    FBNIC_TRY(transact(HostCapReq{}, msg_id::kFwCapResp, deadline, [&](auto bytes) {
      return (caps = tlv::decode<FwCapResp>(bytes)).status();
    }));
    FBNIC_TRY(accept_capabilities(caps.value()));
    return caps_;
  }
  [[nodiscard]] const Capabilities& capabilities() const { return caps_; }

  Status take_ownership(Deadline deadline) { return ownership(true, deadline); }
  Status release_ownership(Deadline deadline) { return ownership(false, deadline); }
  [[nodiscard]] bool owns_device() const { return owned_; }

  Result<HeartbeatResp> heartbeat(Deadline deadline) {
    Result<HeartbeatResp> resp = Error::kTimeout;
    last_heartbeat_req_ns_ = last_check_ns_ = now();
    FBNIC_TRY(transact(HeartbeatReq{}, msg_id::kHeartbeatResp, deadline, [&](auto bytes) {
      resp = tlv::decode<HeartbeatResp>(bytes);
      if (resp.ok()) note_heartbeat(resp->uptime_ms);
      return resp.status();
    }));
    heartbeats_on_ = true;
    return resp;
  }

  // Call about once a second. Every ten seconds it checks that the last heartbeat was
  // answered and that the firmware's uptime did not go backwards (a reboot), then sends
  // the next one. kTimeout means the firmware is presumed dead (reported every period
  // until it answers); kAborted that it rebooted. Another heartbeat goes out only once the
  // firmware has taken everything posted: a silent firmware would otherwise have the Tx
  // ring filled with heartbeats, and every request would then find it full.
  Status keepalive() {
    FBNIC_TRY(poll());
    if (!heartbeats_on_ || now() - last_check_ns_ < kHeartbeatPeriodNs) return ok_status();
    last_check_ns_ = now();
    Status health = ok_status();
    if (last_heartbeat_resp_ns_ < last_heartbeat_req_ns_) {
      health = Error::kTimeout;
      log(mbx_.platform(), LogLevel::kError, "fbnic: firmware missed a heartbeat");
    } else if (firmware_rebooted_) {
      health = Error::kAborted;
      log(mbx_.platform(), LogLevel::kError, "fbnic: firmware uptime went backwards: it rebooted");
    }
    firmware_rebooted_ = false;
    if (mbx_.tx_in_flight() == 0) {
      last_heartbeat_req_ns_ = now();
      FBNIC_TRY(mbx_.send(HeartbeatReq{}));
    }
    return health;
  }

  // --- sensors, modules, flash ---

  Result<Sensors> read_sensors(Deadline deadline) {
    Sensors out;
    FBNIC_TRY(transact(TseneReadReq{}, msg_id::kTseneReadResp, deadline, [&](auto bytes) -> Status {
      FBNIC_TRY_ASSIGN(const auto r, tlv::decode<TseneReadResp>(bytes));
      if (r.error.value_or(0) != 0) return Error::kFirmwareError;
      if (!r.therm_mc || !r.volt_mv) return Error::kBadMessage;
      out = {*r.therm_mc, *r.volt_mv};
      return ok_status();
    }));
    return out;
  }

  // Reads out.size() bytes (at most one message's worth) of a QSFP module page.
  Result<std::size_t> read_qsfp(QsfpLocation at, std::span<std::uint8_t> out, Deadline deadline) {
    if (out.empty() || out.size() > tlv::kMaxDataBytes) return refuse_size("read_qsfp", out.size());
    const QsfpReadReq req{at.bank, at.page, at.offset, static_cast<std::uint32_t>(out.size())};
    std::size_t got = 0;
    FBNIC_TRY(transact(req, msg_id::kQsfpReadResp, deadline, [&](auto bytes) -> Status {
      FBNIC_TRY_ASSIGN(const auto r, tlv::decode<QsfpReadResp>(bytes));
      if (r.error.value_or(0) != 0) return Error::kFirmwareError;
      // The answer must be for this request, not a stale one.
      if (r.bank.value_or(0) != req.bank || r.page.value_or(0) != req.page ||
          r.offset.value_or(0) != req.offset || r.length.value_or(0) != req.length ||
          r.data.size() != req.length) {
        return Error::kBadMessage;
      }
      got = copy_out(r.data.data, out);
      return ok_status();
    }));
    return got;
  }

  Result<std::size_t> read_eeprom(std::uint32_t offset, std::span<std::uint8_t> out,
                                  Deadline deadline) {
    if (out.empty() || out.size() > tlv::kMaxDataBytes)
      return refuse_size("read_eeprom", out.size());
    EepromReadReq req;
    if (offset != 0) req.offset = offset;
    req.length = static_cast<std::uint32_t>(out.size());
    std::size_t got = 0;
    FBNIC_TRY(transact(req, msg_id::kEepromReadResp, deadline, [&](auto bytes) -> Status {
      FBNIC_TRY_ASSIGN(const auto r, tlv::decode<EepromReadResp>(bytes));
      if (r.error.value_or(0) != 0) return Error::kFirmwareError;
      if (r.offset.value_or(0) != offset || r.data.size() != out.size()) return Error::kBadMessage;
      got = copy_out(r.data.data, out);
      return ok_status();
    }));
    return got;
  }

  // Asks the firmware to retrain the SerDes for NRZ or PAM4 on the given lanes.
  Status set_comphy_mode(bool pam4, std::uint32_t lane_mask, Deadline deadline) {
    return transact(ComphySetReq{pam4 ? 1u : 0u, lane_mask}, msg_id::kComphySetResp, deadline,
                    [&](auto bytes) -> Status {
                      FBNIC_TRY_ASSIGN(const auto r, tlv::decode<ComphySetResp>(bytes));
                      return r.error.value_or(0) == 0 ? ok_status() : Status(Error::kFirmwareError);
                    });
  }

  // --- coredump ---

  Result<CoredumpInfo> coredump_info(bool create, Deadline deadline) {
    CoredumpInfo info;
    FBNIC_TRY(transact(CoredumpInfoReq{create}, msg_id::kCoredumpInfoResp, deadline,
                       [&](auto bytes) -> Status {
                         FBNIC_TRY_ASSIGN(const auto r, tlv::decode<CoredumpInfoResp>(bytes));
                         if (r.error.value_or(0) != 0) return Error::kFirmwareError;
                         info = {r.available, r.size.value_or(0)};
                         return ok_status();
                       }));
    return info;
  }

  // Reads the coredump into out in chunks of one message's data; returns bytes read.
  Result<std::size_t> read_coredump(std::span<std::uint8_t> out, Deadline deadline) {
    std::size_t done = 0;
    while (done < out.size()) {
      const std::size_t want =
          out.size() - done < tlv::kMaxDataBytes ? out.size() - done : tlv::kMaxDataBytes;
      CoredumpReadReq req;
      if (done != 0) req.offset = static_cast<std::uint32_t>(done);
      req.length = static_cast<std::uint32_t>(want);
      FBNIC_TRY(transact(req, msg_id::kCoredumpReadResp, deadline, [&](auto bytes) -> Status {
        FBNIC_TRY_ASSIGN(const auto r, tlv::decode<CoredumpReadResp>(bytes));
        if (r.error.value_or(0) != 0) return Error::kFirmwareError;
        if (r.offset.value_or(0) != done || r.data.size() != want) return Error::kBadMessage;
        copy_out(r.data.data, out.subspan(done));
        return ok_status();
      }));
      done += want;
    }
    return done;
  }

  // --- firmware update ---

  // Writes image to a flash section. The firmware drives the transfer: it asks for each
  // chunk by offset and length, and ends with a finish message carrying its verdict.
  // A cancel (should_cancel) or a bad chunk request is answered with an error, and the
  // call returns kAborted or kBadMessage once the firmware has confirmed it stopped. A
  // finish without error before the firmware asked for every byte of the image is
  // kBadMessage too: the image it took is not the one given.
  Status update_firmware(FlashSection section, std::span<const std::uint8_t> image,
                         Deadline deadline, const UpdateProgress& progress = {}) {
    if (image.empty() || image.size() > 0xFFFF'FFFFu) {
      log(mbx_.platform(), LogLevel::kError, "fbnic: update_firmware(): an image of ", image.size(),
          " bytes; it must hold 1 byte to 4 GiB - 1");
      return Error::kInvalidArgument;
    }
    if (tx_refused_) return Error::kTooOld;
    const auto total = static_cast<std::uint32_t>(image.size());
    FBNIC_TRY(pump_for(nullptr));
    FBNIC_TRY(mbx_.send(UpgradeStartReq{static_cast<std::uint32_t>(section), total}));

    // The start answer and the first chunk request can arrive together, so one loop
    // takes all three kinds of message.
    Status verdict = Error::kBusy;
    Status refused = ok_status();  // why the host said no; final once the firmware confirms
    std::uint32_t covered = 0;     // the firmware has asked for every byte before this
    std::optional<UpgradeChunkResp> unsent;  // a reply that found the Tx ring full
    auto send_or_keep = [&](const UpgradeChunkResp& reply) {
      const Status st = mbx_.send(reply);
      if (st == Error::kBusy) unsent = reply;
      return st == Error::kBusy ? ok_status() : st;
    };
    const Status waited = poll_until(mbx_.platform(), deadline, kPollStepUs, [&]() -> Status {
      if (unsent) {
        const UpgradeChunkResp again = *unsent;
        unsent.reset();
        FBNIC_TRY(send_or_keep(again));
      }
      FBNIC_TRY(pump([&](std::uint16_t id, auto bytes) {
        if (id == msg_id::kUpgradeStartResp && verdict == Error::kBusy) {
          const auto r = tlv::decode<UpgradeStartResp>(bytes);
          if (!r.ok()) verdict = r.status();
          if (r.ok() && r->error.value_or(0) != 0) verdict = Error::kFirmwareError;
          return true;
        }
        if (id == msg_id::kUpgradeFinishReq && verdict == Error::kBusy) {
          const auto r = tlv::decode<UpgradeFinishReq>(bytes);
          if (!refused.ok()) {
            verdict = refused;
          } else if (!r.ok()) {
            verdict = r.status();
          } else if (r->error.value_or(0) != 0) {
            verdict = Error::kFirmwareError;
          } else if (covered != total) {
            log(mbx_.platform(), LogLevel::kError, "fbnic: firmware finished the update after ",
                covered, " of ", total, " bytes");
            verdict = Error::kBadMessage;
          } else {
            verdict = ok_status();
          }
          return true;
        }
        if (id != msg_id::kUpgradeChunkReq || verdict != Error::kBusy || !refused.ok())
          return false;
        const auto r = tlv::decode<UpgradeChunkReq>(bytes);
        const std::uint32_t off = r.ok() ? r->offset.value_or(0) : 0;
        const std::uint32_t len = r.ok() ? r->length.value_or(0) : 0;
        UpgradeChunkResp reply;
        if (!r.ok() || len == 0 || len > tlv::kMaxDataBytes || off > total || len > total - off) {
          reply.error = kErrInvalid;  // the firmware asked for bytes the image does not have
          refused = Error::kBadMessage;
        } else if (progress.should_cancel != nullptr && progress.should_cancel(progress.ctx, off)) {
          reply.error = kErrCanceled;
          refused = Error::kAborted;
        } else {
          reply.offset = off;
          reply.length = len;
          reply.data.data = image.subspan(off, len);
          if (off <= covered && off + len > covered) covered = off + len;
          if (progress.on_progress != nullptr) progress.on_progress(progress.ctx, off + len, total);
        }
        send_or_keep(reply).ignore();
        return true;
      }));
      return verdict;
    });
    if (waited == Error::kTimeout) cancel_update();
    return waited;
  }

  // Tells the firmware to abandon an update in progress.
  void cancel_update() {
    UpgradeChunkResp cancel;
    cancel.error = kErrCanceled;
    mbx_.send(cancel).ignore();
  }

  // --- firmware log ---

  Status enable_logs(bool with_history) {
    if (LogCapacity == 0 || caps_.version < kMinFirmwareLogs.raw) return Error::kNotSupported;
    LogSendReq req;
    req.send_logs = true;
    req.version = 1;
    req.history = with_history;
    return mbx_.send(req);
  }
  Status disable_logs() { return mbx_.send(LogSendReq{}); }

  // The oldest firmware log entry not yet taken.
  std::optional<LogEntry> pop_log() {
    if constexpr (LogCapacity == 0) {
      return std::nullopt;
    } else {
      if (log_count_ == 0) return std::nullopt;
      const LogEntry e = logs_[log_head_];
      log_head_ = (log_head_ + 1) % LogCapacity;
      --log_count_;
      return e;
    }
  }

  // --- BMC filter sync, self-test ---

  Status sync_mac_filters(const RpcMacSyncReq& req) { return mbx_.send(req); }

  // Sends the TEST message with values from `seed` and checks the firmware echoes it.
  Status self_test(std::uint64_t seed, Deadline deadline) {
    const TestMsg sent = make_test_message(seed);
    return transact(sent, msg_id::kTest, deadline, [&](auto bytes) -> Status {
      FBNIC_TRY_ASSIGN(const auto echo, tlv::decode<TestMsg>(bytes));
      return same(echo, sent) && same(echo.nested, sent.nested) ? ok_status()
                                                                : Status(Error::kBadMessage);
    });
  }

  // Handles whatever the firmware sent (logs, alarms, refreshed capabilities).
  Status poll() { return pump_for(nullptr); }

  [[nodiscard]] const ClientStats& stats() const { return stats_; }

 private:
  std::uint64_t now() { return mbx_.platform().now_ns(); }

  // A deadline `num/den` of the way from now to `d`.
  Deadline share(Deadline d, std::uint64_t num, std::uint64_t den) {
    const std::uint64_t t = now();
    return d.expired(t) ? d : Deadline::at_ns(t + (d.ns() - t) / den * num);
  }

  Status accept_capabilities(const FwCapResp& caps) {
    if (caps.version == 0) return Error::kBadMessage;
    caps_ = caps;
    if (Version{caps.version} < kMinFirmware) {
      tx_refused_ = true;
      log(mbx_.platform(), LogLevel::kError, "fbnic: firmware ", Version{caps.version},
          " is older than the minimum ", kMinFirmware, "; only a flash update can help");
      return Error::kTooOld;
    }
    tx_refused_ = false;
    return ok_status();
  }

  Status ownership(bool take, Deadline deadline) {
    // Giving ownership back is never refused, whatever the firmware's version.
    const bool refusable = take;
    FBNIC_TRY(
        transact(OwnershipReq{take}, msg_id::kOwnershipResp, deadline, refusable, [&](auto bytes) {
          const auto r = tlv::decode<OwnershipResp>(bytes);
          if (r.ok()) note_heartbeat(r->time_ms);
          return r.status();
        }));
    owned_ = take;
    return ok_status();
  }

  void note_heartbeat(std::optional<std::uint64_t> uptime_ms) {
    ++stats_.heartbeats;
    last_heartbeat_resp_ns_ = now();
    if (uptime_ms) {
      if (*uptime_ms < last_uptime_ms_) firmware_rebooted_ = true;
      last_uptime_ms_ = *uptime_ms;
    }
  }

  [[gnu::cold, gnu::noinline]] Status refuse_size(const char* call, std::size_t bytes) {
    log(mbx_.platform(), LogLevel::kError, "fbnic: ", call, "(): ", bytes,
        " bytes asked; one call reads 1 to ", tlv::kMaxDataBytes,
        " bytes (one message's data): split the read");
    return Error::kInvalidArgument;
  }
  // A call waiting for its answer: the message ID, and what turns the bytes into the
  // outcome (kBusy until it came).
  struct Awaited {
    std::uint16_t id;
    Status (*decode)(void* ctx, std::span<const std::uint8_t> bytes);
    void* ctx;
    Status outcome = Error::kBusy;
  };

  // Sends req and waits for a message with ID resp_id, which on_resp(bytes) turns into
  // the outcome. Other messages are handled on the side. Only the encoding and the
  // decoding are per message type; the waiting is shared.
  template <class Req, class OnResp>
  Status transact(const Req& req, std::uint16_t resp_id, Deadline deadline, OnResp&& on_resp) {
    return transact(req, resp_id, deadline, resp_id != msg_id::kFwCapResp, on_resp);
  }
  template <class Req, class OnResp>
  Status transact(const Req& req, std::uint16_t resp_id, Deadline deadline, bool refusable,
                  OnResp&& on_resp) {
    Awaited awaited{resp_id,
                    [](void* ctx, std::span<const std::uint8_t> bytes) -> Status {
                      return (*static_cast<std::remove_reference_t<OnResp>*>(ctx))(bytes);
                    },
                    &on_resp};
    return exchange(Mailbox<P>::encoder(req), refusable, awaited, deadline);
  }

  Status exchange(typename Mailbox<P>::Encoder req, bool refusable, Awaited& awaited,
                  Deadline deadline) {
    if (tx_refused_ && refusable) return Error::kTooOld;
    if (!mbx_.is_open()) {
      log(mbx_.platform(), LogLevel::kError,
          "fbnic: a firmware request with the mailbox not open: open() the device (with "
          "DeviceConfig::use_firmware) first");
      return Error::kFailedPrecondition;
    }
    FBNIC_TRY(pump_for(nullptr));  // stale answers go first
    // A Tx ring full of requests the firmware has not read yet: wait for room, as long
    // as the deadline allows, rather than failing at once.
    FBNIC_TRY(
        poll_until(mbx_.platform(), deadline, kPollStepUs, [&] { return mbx_.send_encoded(req); }));
    return await(awaited, deadline);
  }

  Status await(Awaited& awaited, Deadline deadline) {
    return poll_until(mbx_.platform(), deadline, kPollStepUs, [&]() -> Status {
      FBNIC_TRY(pump_for(&awaited));
      return awaited.outcome;
    });
  }

  // pump() for a waiting call (or none): its answer to it, the rest to the side handlers.
  Status pump_for(Awaited* awaited) {
    return pump([awaited](std::uint16_t id, std::span<const std::uint8_t> bytes) {
      if (awaited == nullptr || id != awaited->id || awaited->outcome != Error::kBusy) {
        return false;
      }
      awaited->outcome = awaited->decode(awaited->ctx, bytes);
      if (awaited->outcome == Error::kBusy) awaited->outcome = Error::kBadMessage;
      return true;
    });
  }

  // Takes the interrupt, reaps Tx and dispatches every received message: first to
  // `mine(id, bytes)`, which returns true if it took the message, then to the side
  // handlers.
  template <class Mine>
  Status pump(Mine&& mine) {
    FBNIC_TRY(mbx_.take_interrupt().status());
    FBNIC_TRY(mbx_.reap());
    return mbx_.receive([&](std::span<const std::uint8_t> bytes) {
      // The ID is read from the first header alone, so that a broken awaited message
      // is reported as broken rather than left to time out.
      if (bytes.size() < tlv::kHeaderBytes ||
          tlv::Header::load(bytes.data()).get(tlv::Header::kIsMsg) == 0) {
        ++stats_.malformed;
        return;
      }
      const auto id =
          static_cast<std::uint16_t>(tlv::Header::load(bytes.data()).get(tlv::Header::kType));
      if (mine(id, bytes)) return;
      on_unsolicited(id, bytes);
    });
  }

  void on_unsolicited(std::uint16_t id, std::span<const std::uint8_t> bytes) {
    switch (id) {
      case msg_id::kFwCapResp: {  // sent again after a flash update
        const auto caps = tlv::decode<FwCapResp>(bytes);
        if (!caps.ok()) {
          ++stats_.malformed;
        } else if (caps->version == 0 || Version{caps->version} < kMinFirmware) {
          // The version gate is start()'s; an unasked message cannot take the mailbox away.
          ++stats_.unexpected;
          log(mbx_.platform(), LogLevel::kWarning,
              "fbnic: dropped unsolicited capabilities with firmware version ",
              Version{caps->version});
        } else {
          caps_ = *caps;
        }
        return;
      }
      case msg_id::kHeartbeatResp: {
        const auto r = tlv::decode<HeartbeatResp>(bytes);
        if (r.ok()) note_heartbeat(r->uptime_ms);
        return;
      }
      case msg_id::kOwnershipResp: ++stats_.unexpected; return;
      case msg_id::kLogMsgReq:
        if constexpr (LogCapacity == 0) {
          ++stats_.unexpected;  // never asked for
        } else {
          take_logs(bytes);
        }
        return;
      case msg_id::kSensorAlarm: ++stats_.alarms; return;
      case msg_id::kTest:
      case msg_id::kCoredumpInfoResp:
      case msg_id::kCoredumpReadResp:
      case msg_id::kUpgradeStartResp:
      case msg_id::kUpgradeChunkReq:
      case msg_id::kUpgradeFinishReq:
      case msg_id::kEepromReadResp:
      case msg_id::kQsfpReadResp:
      case msg_id::kTseneReadResp:
      case msg_id::kComphySetResp: ++stats_.unexpected; return;
      default:
        ++stats_.unknown;
        log(mbx_.platform(), LogLevel::kWarning, "fbnic: dropped firmware message with unknown id ",
            Hex{id});
        return;
    }
  }

  void take_logs(std::span<const std::uint8_t> bytes) {
    const auto r = tlv::decode<LogMsgReq>(bytes);
    if (!r.ok()) {
      ++stats_.malformed;
      return;
    }
    push_log({r->msec.value_or(0), r->index.value_or(0), r->text});
    const std::size_t extra = r->text_array.count;
    for (std::size_t i = 0; i < extra; ++i) {
      push_log({i < r->msec_array.count ? r->msec_array.items[i] : 0,
                i < r->index_array.count ? r->index_array.items[i] : 0, r->text_array.items[i]});
    }
  }

  void push_log(const LogEntry& e) {
    if (log_count_ == LogCapacity) {
      ++stats_.logs_dropped;
      log_head_ = (log_head_ + 1) % LogCapacity;
      --log_count_;
    }
    logs_[(log_head_ + log_count_) % LogCapacity] = e;
    ++log_count_;
  }

  static std::size_t copy_out(std::span<const std::uint8_t> from, std::span<std::uint8_t> to) {
    const std::size_t n = from.size() < to.size() ? from.size() : to.size();
    copy_bytes(to.data(), from.data(), n);
    return n;
  }

  static TestMsg make_test_message(std::uint64_t seed) {
    std::uint64_t x = seed | 1;
    auto next = [&x] {  // xorshift64: any values will do, the same on both ends
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      return x;
    };
    TestAttrs a;
    a.u64 = next();
    a.s64 = static_cast<std::int64_t>(next());
    a.u32 = static_cast<std::uint32_t>(next());
    a.s32 = static_cast<std::int32_t>(static_cast<std::uint32_t>(next()));
    a.u16 = static_cast<std::uint16_t>(next());
    a.s16 = static_cast<std::int16_t>(static_cast<std::uint16_t>(next()));
    for (auto& b : a.mac.bytes) b = static_cast<std::uint8_t>(next());
    for (std::size_t i = 0; i < a.macs.kCapacity; ++i) {
      MacAddress m;
      for (auto& b : m.bytes) b = static_cast<std::uint8_t>(next());
      (void)a.macs.push(m);
    }
    a.flag_true = true;
    for (std::size_t i = 0; i + 1 < a.string.kMaxWire; ++i) {
      a.string.chars[i] = static_cast<char>(64 + next() % 32);  // printable, never NUL
    }
    a.string.size = a.string.kMaxWire - 1;
    TestMsg m;
    static_cast<TestAttrs&>(m) = a;
    m.nested = a;
    return m;
  }

  static bool same(const TestAttrs& a, const TestAttrs& b) {
    return a.u64 == b.u64 && a.s64 == b.s64 && a.u32 == b.u32 && a.s32 == b.s32 && a.u16 == b.u16 &&
           a.s16 == b.s16 && a.mac == b.mac && a.macs == b.macs && a.flag_true == b.flag_true &&
           a.flag_false == b.flag_false && a.string == b.string;
  }

  Mailbox<P>& mbx_;
  Capabilities caps_{};
  bool tx_refused_ = false;
  bool owned_ = false;
  bool heartbeats_on_ = false;
  bool firmware_rebooted_ = false;
  std::uint64_t last_heartbeat_req_ns_ = 0;
  std::uint64_t last_check_ns_ = 0;
  std::uint64_t last_heartbeat_resp_ns_ = 0;
  std::uint64_t last_uptime_ms_ = 0;
  std::array<LogEntry, LogCapacity> logs_{};
  std::size_t log_head_ = 0;
  std::size_t log_count_ = 0;
  ClientStats stats_{};
};

}  // namespace fbnic::fw
