// libFuzzer target: the firmware mailbox's receive path and the client above it, through
// the public API, against the firmware model and the bus in hostile mode. The input
// drives the host (start, stop, every request with its own deadline, keepalive, poll,
// firmware updates) and the firmware (any bytes as a message, with any claimed length
// and FW_ERR; silence, late answers for one message or all, floods, storms, broken and
// unknown messages, attributes upstream does not parse, an update finished early; FW_CMPL
// stuck at 1 on the Rx or Tx descriptors; surprise removal).
//
// Oracles beyond ASan and UBSan (each DMA buffer between guard pages, so a message read
// past its buffer faults):
//   - every call returns by its deadline (virtual time)
//   - after stop() the mailbox is closed and every DMA buffer freed
//   - a stop() while the firmware and the bus behave, on a device still present, leaves
//     the firmware not believing the host owns the NIC, whatever the firmware did before.
//     Two exceptions no driver can help: a firmware silent at stop() cannot be told
//     anything, and a completion bit stuck at 1 during the session makes host and
//     firmware disagree about the Tx ring until the mailbox is reset (the next start())
#include "harness.hpp"

#include <cstdint>
#include <memory>
#include <vector>

namespace {
using namespace fbnic;
using namespace fbnic::fuzz;
using Client = fw::Client<FuzzPlatform>;

struct Rig {
  std::unique_ptr<Model> model = std::make_unique<Model>();
  FuzzPlatform plat{*model};
  Io<FuzzPlatform> io{plat};
  fw::Mailbox<FuzzPlatform> mbx{io};
  Client client{mbx};
  std::vector<std::uint8_t> buf = std::vector<std::uint8_t>(fw::kLogTextBytes * 16);
  bool troubled = false;          // a firmware or bus fault is on
  bool stuck_in_session = false;  // bits were stuck while the mailbox was open
  bool last_stop_clean = true;    // the last stop() ran with no fault on

  // A deadline 1 ms to 256 ms away.
  Deadline deadline(Input& in) {
    return Deadline::after_us(plat.now_ns(), 1000 * (1 + std::uint64_t{in.u8()}));
  }
  template <class Fn>
  void by_deadline(Input& in, const char* what, Fn&& fn) {
    const Deadline d = deadline(in);
    (void)fn(d);
    FUZZ_CHECK(plat.now_ns() <= d.ns(), "%s returned %llu ns after its deadline", what,
               static_cast<unsigned long long>(plat.now_ns() - d.ns()));
  }

  void request(Input& in) {
    switch (in.u8() % 10) {
      case 0:
        by_deadline(in, "heartbeat", [&](Deadline d) { return client.heartbeat(d).status(); });
        break;
      case 1:
        by_deadline(in, "read_sensors",
                    [&](Deadline d) { return client.read_sensors(d).status(); });
        break;
      case 2: {
        const fw::QsfpLocation at{in.u8() % 2u, in.u8() % 5u, in.u8()};
        const std::size_t n = 1 + in.u8();
        by_deadline(in, "read_qsfp", [&](Deadline d) {
          return client.read_qsfp(at, std::span(buf.data(), n), d).status();
        });
        break;
      }
      case 3: {
        const std::uint32_t off = in.u16();
        const std::size_t n = 1 + in.u16() % buf.size();
        by_deadline(in, "read_eeprom", [&](Deadline d) {
          return client.read_eeprom(off, std::span(buf.data(), n), d).status();
        });
        break;
      }
      case 4: {
        const bool create = (in.u8() & 1) != 0;
        by_deadline(in, "coredump_info",
                    [&](Deadline d) { return client.coredump_info(create, d).status(); });
        break;
      }
      case 5: {
        const std::size_t n = 1 + in.u16() % buf.size();
        by_deadline(in, "read_coredump", [&](Deadline d) {
          return client.read_coredump(std::span(buf.data(), n), d).status();
        });
        break;
      }
      case 6: {
        const bool pam4 = (in.u8() & 1) != 0;
        const std::uint32_t lanes = in.u8() & 3u;
        by_deadline(in, "set_comphy_mode",
                    [&](Deadline d) { return client.set_comphy_mode(pam4, lanes, d); });
        break;
      }
      case 7: {
        const std::uint64_t seed = in.u32();
        by_deadline(in, "self_test", [&](Deadline d) { return client.self_test(seed, d); });
        break;
      }
      case 8: {
        std::vector<std::uint8_t> image(1 + in.u16() % 12'000, in.u8());
        fw::UpdateProgress progress;
        std::uint32_t cancel_at = (in.u8() & 1) != 0 ? in.u16() : ~0u;
        progress.ctx = &cancel_at;
        progress.should_cancel = [](void* ctx, std::uint32_t done) {
          return done >= *static_cast<std::uint32_t*>(ctx);
        };
        const auto section = static_cast<fw::FlashSection>(in.u8() % 6);
        by_deadline(in, "update_firmware", [&](Deadline d) {
          return client.update_firmware(section, image, d, progress);
        });
        break;
      }
      default: {
        const bool on = (in.u8() & 1) != 0;
        (void)(on ? client.enable_logs(in.u8() & 1) : client.disable_logs());
        while (client.pop_log()) {
        }
        break;
      }
    }
  }

  void firmware(Input& in) {
    mock::Misbehaviour& bad = model->firmware().misbehave();
    mock::Hostility& h = model->hostile();
    const std::uint8_t what = in.u8();
    const std::uint8_t v = in.u8();
    troubled = what % 17 < 16;
    switch (what % 17) {
      case 0: bad.silent = (v & 1) != 0; break;
      case 1: bad.late_us = std::uint64_t{v} * 4000; break;
      case 2:
        bad.late_id =
            (v & 1) != 0 ? mock::kEveryMessage : static_cast<std::uint16_t>(0x10 + v % 0x40);
        break;
      case 3: bad.flood = v % 40; break;
      case 4: bad.malformed = (v & 1) != 0; break;
      case 5: bad.truncated = (v & 1) != 0; break;
      case 6: bad.garbage = (v & 1) != 0; break;
      case 7: bad.unknown_first = (v & 1) != 0; break;
      case 8: bad.storm = (v & 1) != 0; break;
      case 9: bad.unindexed_attrs = (v & 1) != 0; break;
      case 10: bad.finish_after = v * 64u; break;
      case 11: bad.not_ready = (v & 1) != 0; break;
      case 12:  // FW_CMPL (and maybe FW_ERR) stuck at 1 on every Rx or Tx descriptor
        stuck_in_session = true;
        h.stuck[v % 2] = {
            Bar::kIpc,
            regs::MbxDescLo::at(0, (v & 2) != 0 ? regs::kMailboxTx : regs::kMailboxRx).offset,
            (v & 4) != 0 ? 0x6u : 0x2u,
            0,
            regs::kMailboxDescs,
            8};
        break;
      case 13: h.remove_after = 1 + v * 8u; break;
      case 14: {  // any bytes as a message, claiming any length
        const std::uint16_t claim = in.u16();
        const bool err = (in.u8() & 1) != 0;
        const auto bytes = in.bytes(v);
        model->firmware().send_raw(bytes, claim, err);
        break;
      }
      case 15:
        if ((v & 1) != 0) {
          model->firmware().config().caps.version = in.u32();
          model->firmware().send_capabilities();
        } else {
          model->firmware().raise_sensor_alarm(in.u16());
        }
        break;
      default:
        bad = {};
        h.calm();
        break;
    }
  }

  void stop(Input& in) {
    // A stop() of nothing changes nothing.
    if (mbx.is_open()) last_stop_clean = !troubled && !stuck_in_session;
    by_deadline(in, "stop", [&](Deadline d) { return client.stop(d); });
    FUZZ_CHECK(!mbx.is_open(), "the mailbox is still open after stop()");
    FUZZ_CHECK(plat.live_allocations() == 0, "%zu DMA buffers left after stop()",
               plat.live_allocations());
  }

  // The firmware behaves again and the host stops: nothing may stay allocated, and after
  // a stop() in calm nothing stays owned.
  void finish() {
    model->firmware().misbehave() = {};
    model->hostile().calm();
    if (mbx.is_open()) {
      const Deadline d = Deadline::after_us(plat.now_ns(), 2'000'000);
      (void)client.stop(d);
      FUZZ_CHECK(plat.now_ns() <= d.ns(), "stop returned after its deadline");
      last_stop_clean = !stuck_in_session;
    }
    FUZZ_CHECK(!mbx.is_open(), "the mailbox is still open after stop()");
    FUZZ_CHECK(plat.live_allocations() == 0, "%zu DMA buffers left after stop()",
               plat.live_allocations());
    model->advance(10'000'000);  // whatever the firmware still had queued, it does now
    if (last_stop_clean && !model->removed()) {
      FUZZ_CHECK(!model->firmware().host_owns_nic(),
                 "the firmware still believes the host owns the NIC after stop()");
    }
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Split s = split(data, size);
  Rig rig;
  rig.model->hostile().entropy.seed(size);
  rig.model->hostile().entropy.feed(s.entropy);
  for (int step = 0; step < 256 && !s.ops.empty(); ++step) {
    const std::uint8_t op = s.ops.u8() % 16;
    if (op == 0) {
      // A new session: the rings are reset, and only bits stuck from now on count.
      if (!rig.mbx.is_open()) {
        rig.stuck_in_session =
            rig.model->hostile().stuck[0].active() || rig.model->hostile().stuck[1].active();
      }
      rig.by_deadline(s.ops, "start", [&](Deadline d) { return rig.client.start(d); });
    } else if (op == 1) {
      rig.stop(s.ops);
    } else if (op < 7) {
      rig.request(s.ops);
    } else if (op < 11) {
      rig.firmware(s.ops);
    } else if (op == 11) {
      rig.model->advance(std::uint64_t{s.ops.u8()} * 100'000'000);  // up to 25.5 s
      (void)rig.client.keepalive();
    } else if (op == 12) {
      (void)rig.client.poll();
    } else {
      rig.model->advance(std::uint64_t{s.ops.u16()} * 1000);
    }
  }
  rig.finish();
  return 0;
}
