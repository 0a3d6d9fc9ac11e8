// The firmware mailbox end to end: the library's client against the model's firmware.
#include <gtest/gtest.h>

#include <fbnic/fw/client.hpp>
#include <fbnic/mock/hosted.hpp>
#include <fbnic/mock/mock.hpp>
#include <fbnic/mock/testing/nic.hpp>

#include <cstdint>
#include <numeric>
#include <vector>

namespace {
using namespace fbnic;
using Model = mock::Device<>;
using Plat = mock::Platform<Model>;

constexpr std::uint64_t kSecond = 1'000'000;  // in microseconds, for Deadline::after_us

struct Fixture : ::testing::Test {
  Model dev;
  mock::HostRam ram{4 << 20};
  Plat plat{dev, ram.span()};
  Io<Plat> io{plat};
  fw::Mailbox<Plat> mbx{io};
  fw::Client<Plat> client{mbx};

  Deadline in(std::uint64_t us) { return Deadline::after_us(plat.now_ns(), us); }
  mock::Misbehaviour& bad() { return dev.firmware().misbehave(); }
  void start() { ASSERT_TRUE(client.start(in(10 * kSecond)).ok()); }

  // The status and how long (virtual time) the call took.
  template <class Fn>
  std::pair<Status, std::uint64_t> timed(Fn&& fn) {
    const std::uint64_t t0 = plat.now_ns();
    const Status st = fn();
    return {st, plat.now_ns() - t0};
  }
};

TEST_F(Fixture, BringUpAnnouncesTakesOwnershipAndHeartbeats) {
  auto& cfg = dev.firmware().config();
  cfg.caps.version = fw::Version::make(1, 2, 3, 4).raw;
  cfg.caps.bmc_present = true;
  (void)cfg.caps.bmc_macs.push(MacAddress{{0x02, 0x11, 0x22, 0x33, 0x44, 0x55}});
  cfg.caps.bmc_all_multi = 1;
  cfg.caps.link_speed = static_cast<std::uint32_t>(fw::LinkSpeed::k100gR2);
  cfg.caps.uefi_commit = fw::CommitString::from("uefi-abcdef");
  start();
  const auto& caps = client.capabilities();
  EXPECT_EQ(caps.version, fw::Version::make(1, 2, 3, 4).raw);
  EXPECT_TRUE(caps.bmc_present);
  ASSERT_EQ(caps.bmc_macs.count, 1u);
  EXPECT_EQ(caps.bmc_macs.items[0], (MacAddress{{0x02, 0x11, 0x22, 0x33, 0x44, 0x55}}));
  EXPECT_EQ(caps.bmc_all_multi, 1u);
  EXPECT_EQ(caps.link_speed, 4u);
  EXPECT_STREQ(caps.uefi_commit.c_str(), "uefi-abcdef");
  EXPECT_EQ(caps.cmrt_version, cfg.caps.cmrt_version);
  EXPECT_TRUE(dev.firmware().host_owns_nic());
  EXPECT_TRUE(client.owns_device());
  EXPECT_GE(client.stats().heartbeats, 2u);  // ownership answer and first heartbeat

  ASSERT_TRUE(client.stop(in(kSecond)).ok());
  EXPECT_FALSE(dev.firmware().host_owns_nic());
  EXPECT_EQ(plat.live_allocations(), 0u);
  EXPECT_EQ(dev.faults().total(), 0u);
}

TEST_F(Fixture, HeartbeatReportsFirmwareUptime) {
  start();
  plat.delay_us(3 * kSecond);
  auto hb = client.heartbeat(in(kSecond));
  ASSERT_TRUE(hb.ok());
  EXPECT_LE(*hb->uptime_ms, dev.firmware().uptime_ms());
  EXPECT_GE(*hb->uptime_ms, 3000u);
}

TEST_F(Fixture, SensorsQsfpEepromAndComphy) {
  dev.firmware().config().temperature_mc = 61'500;
  dev.firmware().config().voltage_mv = 912;
  start();
  auto s = client.read_sensors(in(kSecond));
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->temperature_mc, 61'500);
  EXPECT_EQ(s->voltage_mv, 912);

  std::vector<std::uint8_t> page(128);
  auto n = client.read_qsfp({0, 0, 0}, page, in(kSecond));
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 128u);
  EXPECT_EQ(page[0], 0x11);  // QSFP28 identifier
  EXPECT_EQ(page[5], static_cast<std::uint8_t>(5 * 7 + 3));
  EXPECT_EQ(client.read_qsfp({0, 9, 0}, page, in(kSecond)).status(), Error::kFirmwareError);

  std::vector<std::uint8_t> flash(3000);
  ASSERT_TRUE(client.read_eeprom(0x100, flash, in(kSecond)).ok());
  EXPECT_EQ(flash[7], static_cast<std::uint8_t>(0x107 ^ 0x1 ^ 0xA5));

  ASSERT_TRUE(client.set_comphy_mode(true, 1, in(kSecond)).ok());
  EXPECT_EQ(dev.firmware().config().caps.link_speed, 3u);  // 50G over one PAM4 lane
}

TEST_F(Fixture, ComphyChangeIsRefusedWithoutOwnership) {
  start();
  ASSERT_TRUE(client.release_ownership(in(kSecond)).ok());
  EXPECT_EQ(client.set_comphy_mode(false, 3, in(kSecond)), Error::kFirmwareError);
}

TEST_F(Fixture, CoredumpInfoAndReadInChunks) {
  dev.firmware().config().coredump_bytes = 9000;  // three chunks: 3584, 3584, 1832
  start();
  auto info = client.coredump_info(false, in(kSecond));
  ASSERT_TRUE(info.ok());
  EXPECT_TRUE(info->available);
  ASSERT_EQ(info->size, 9000u);
  std::vector<std::uint8_t> dump(info->size);
  auto got = client.read_coredump(dump, in(kSecond));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, 9000u);
  EXPECT_EQ(dump[0], 0xDE);
  EXPECT_EQ(dump[3], 0xEF);
  EXPECT_EQ(dump[4000], static_cast<std::uint8_t>(4000 * 13 + 0x5A));
  EXPECT_EQ(dump[8999], 0xEF);
}

TEST_F(Fixture, FirmwareUpdateTransfersTheImageAndRefreshesVersions) {
  start();
  std::vector<std::uint8_t> image(10'000);
  std::iota(image.begin(), image.end(), 7);
  std::uint32_t last_done = 0;
  fw::UpdateProgress progress;
  progress.ctx = &last_done;
  progress.on_progress = [](void* ctx, std::uint32_t done, std::uint32_t) {
    *static_cast<std::uint32_t*>(ctx) = done;
  };
  const Status st =
      client.update_firmware(fw::FlashSection::kControlFw, image, in(10 * kSecond), progress);
  ASSERT_TRUE(st.ok()) << st.name();
  EXPECT_EQ(last_done, 10'000u);
  std::uint64_t hash = 0xcbf29ce484222325ull;
  for (std::uint8_t b : image) hash = (hash ^ b) * 0x100000001b3ull;
  EXPECT_EQ(dev.firmware().flashed_bytes(), 10'000u);
  EXPECT_EQ(dev.firmware().flashed_hash(), hash);
  client.poll().ignore();
  EXPECT_EQ(client.capabilities().stored_version, dev.firmware().config().version_after_upgrade);
}

TEST_F(Fixture, FirmwareUpdateCanBeCancelled) {
  start();
  std::vector<std::uint8_t> image(10'000, 0xAB);
  fw::UpdateProgress progress;
  progress.should_cancel = [](void*, std::uint32_t done) { return done >= 4096; };
  EXPECT_EQ(client.update_firmware(fw::FlashSection::kOptionRom, image, in(10 * kSecond), progress),
            Error::kAborted);
  EXPECT_EQ(dev.firmware().flashed_bytes(), 0u);
  // The firmware accepts a new update after the cancel.
  ASSERT_TRUE(client.update_firmware(fw::FlashSection::kOptionRom, image, in(10 * kSecond)).ok());
}

TEST_F(Fixture, FirmwareLogHistoryAndLiveEntries) {
  dev.firmware().log("boot ok");
  dev.firmware().log("link training");
  start();
  ASSERT_TRUE(client.enable_logs(true).ok());
  plat.delay_us(1000);
  dev.firmware().log("live line");
  plat.delay_us(1000);
  ASSERT_TRUE(client.poll().ok());
  std::vector<std::string> got;
  while (auto e = client.pop_log()) got.emplace_back(e->text.c_str());
  EXPECT_EQ(got, (std::vector<std::string>{"boot ok", "link training", "live line"}));
  ASSERT_TRUE(client.disable_logs().ok());
  plat.delay_us(1000);
  dev.firmware().log("not forwarded");
  plat.delay_us(1000);
  ASSERT_TRUE(client.poll().ok());
  EXPECT_FALSE(client.pop_log().has_value());
}

TEST_F(Fixture, MacFilterSyncAndSelfTest) {
  start();
  fw::RpcMacSyncReq sync;
  (void)sync.unicast.push(MacAddress{{2, 0, 0, 0, 0, 1}});
  (void)sync.multicast.push(MacAddress{{1, 0, 0x5e, 0, 0, 1}});
  sync.rx_flags = fw::kMacSyncBroadcast;
  ASSERT_TRUE(client.sync_mac_filters(sync).ok());
  plat.delay_us(1000);
  EXPECT_EQ(dev.firmware().bmc_filters().unicast, sync.unicast);
  EXPECT_EQ(dev.firmware().bmc_filters().rx_flags, fw::kMacSyncBroadcast);
  EXPECT_TRUE(client.self_test(42, in(kSecond)).ok());
}

// --- a firmware that misbehaves ---

TEST_F(Fixture, FirmwareThatNeverGetsReadyTimesOutAtTheDeadline) {
  bad().not_ready = true;
  auto [st, took] = timed([&] { return client.start(in(2 * kSecond)); });
  EXPECT_EQ(st, Error::kTimeout);
  EXPECT_LE(took, 2 * kSecond * 1000 + 20'000'000);  // one 20 ms poll step of slack
  EXPECT_EQ(plat.live_allocations(), 0u);
}

TEST_F(Fixture, SilentFirmwareTimesOutAndTheNextRequestWorks) {
  start();
  bad().silent = true;
  auto [st, took] = timed([&] { return client.heartbeat(in(500'000)).status(); });
  EXPECT_EQ(st, Error::kTimeout);
  EXPECT_LE(took, 501'000'000u);
  bad().silent = false;
  EXPECT_TRUE(client.read_sensors(in(kSecond)).ok());
}

TEST_F(Fixture, LateAnswerTimesOutThenIsDroppedNotMistakenForTheNext) {
  start();
  bad().late_us = 800'000;
  EXPECT_EQ(client.read_sensors(in(500'000)).status(), Error::kTimeout);
  bad().late_us = 0;
  plat.delay_us(kSecond);  // the late answer arrives now
  auto hb = client.heartbeat(in(kSecond));
  EXPECT_TRUE(hb.ok());
  EXPECT_GE(client.stats().unexpected, 1u);
}

TEST_F(Fixture, FloodOfThirtyAnswersIsAbsorbed) {
  start();
  bad().flood = 29;  // thirty messages for one request
  auto s = client.read_sensors(in(kSecond));
  ASSERT_TRUE(s.ok());
  bad().flood = 0;
  plat.delay_us(100'000);
  EXPECT_TRUE(client.read_sensors(in(kSecond)).ok());
  EXPECT_EQ(client.stats().unexpected, 29u);
  EXPECT_EQ(dev.firmware().stats().dropped, 0u);
}

TEST_F(Fixture, MalformedAndTruncatedAnswersAreBadMessages) {
  start();
  bad().malformed = true;
  auto [st1, t1] = timed([&] { return client.read_sensors(in(kSecond)).status(); });
  EXPECT_EQ(st1, Error::kBadMessage);
  EXPECT_LT(t1, 100'000'000u);  // reported when it arrives, not at the deadline
  bad().malformed = false;
  bad().truncated = true;
  EXPECT_EQ(client.read_sensors(in(kSecond)).status(), Error::kBadMessage);
  bad().truncated = false;
  EXPECT_TRUE(client.read_sensors(in(kSecond)).ok());
}

TEST_F(Fixture, GarbageIsDroppedAndTheRequestTimesOut) {
  start();
  bad().garbage = true;
  EXPECT_EQ(client.read_sensors(in(300'000)).status(), Error::kTimeout);
  EXPECT_GE(client.stats().malformed, 1u);
  bad().garbage = false;
  EXPECT_TRUE(client.read_sensors(in(kSecond)).ok());
}

TEST_F(Fixture, UnknownMessagesAreCountedAndSkipped) {
  start();
  bad().unknown_first = true;
  EXPECT_TRUE(client.read_sensors(in(kSecond)).ok());
  EXPECT_GE(client.stats().unknown, 1u);
}

TEST_F(Fixture, OldFirmwareIsRefused) {
  dev.firmware().config().caps.version = fw::Version::make(0, 10, 5, 99).raw;
  EXPECT_EQ(client.start(in(10 * kSecond)), Error::kTooOld);
  EXPECT_FALSE(dev.firmware().host_owns_nic());
  EXPECT_FALSE(mbx.is_open());
  EXPECT_EQ(plat.live_allocations(), 0u);
}

TEST_F(Fixture, SecondBringUpAfterADriverRestartWorks) {
  start();
  {
    // A second driver instance takes over without the first having stopped cleanly.
    fw::Mailbox<Plat> mbx2{io};
    fw::Client<Plat> client2{mbx2};
    ASSERT_TRUE(client2.start(in(10 * kSecond)).ok());
    EXPECT_TRUE(client2.read_sensors(in(kSecond)).ok());
    ASSERT_TRUE(client2.stop(in(kSecond)).ok());
  }
  EXPECT_FALSE(dev.firmware().host_owns_nic());
  EXPECT_EQ(dev.faults().total(), 0u);
}

TEST_F(Fixture, KeepaliveNoticesADeadOrRebootedFirmware) {
  start();
  for (int s = 0; s < 11; ++s) {
    plat.delay_us(kSecond);
    ASSERT_TRUE(client.keepalive().ok());
  }
  bad().silent = true;
  Status health = ok_status();
  for (int s = 0; s < 21 && health.ok(); ++s) {
    plat.delay_us(kSecond);
    health = client.keepalive();
  }
  EXPECT_EQ(health, Error::kTimeout);
  bad().silent = false;
  plat.delay_us(kSecond);
  dev.firmware().reboot();
  plat.delay_us(10 * kSecond);
  client.keepalive().ignore();  // sends, the answer has a smaller uptime
  plat.delay_us(kSecond);
  for (int s = 0; s < 11 && health != Error::kAborted; ++s) {
    plat.delay_us(kSecond);
    health = client.keepalive();
  }
  EXPECT_EQ(health, Error::kAborted);
}

// --- the host's heartbeat, as the model's firmware watches it (docs/firmware.md) ---

TEST(Heartbeat, AHostThatCallsServiceEverySecondIsNeverLapsed) {
  mock::testing::Nic<> nic(16u << 20, 16);
  ASSERT_TRUE(nic.dev.open(nic.config()).ok());
  for (int s = 0; s < 95; ++s) {
    nic.plat.delay_us(kSecond);
    ASSERT_TRUE(nic.dev.service().ok()) << s;
  }
  EXPECT_EQ(nic.model.faults().count(mock::Fault::kHeartbeatLapsed), 0u);
  EXPECT_FALSE(nic.model.firmware().heartbeat_lapsed());
  EXPECT_GE(nic.model.firmware().stats().requests, 2u + 9u);  // ownership, heartbeats
  EXPECT_TRUE(nic.model.firmware().host_owns_nic());
}

TEST(Heartbeat, AHostThatForgetsServiceIsReportedOnceAfterThirtySeconds) {
  mock::testing::Nic<> nic(16u << 20, 16);
  ASSERT_TRUE(nic.dev.open(nic.config()).ok());
  auto& faults = nic.model.faults();
  nic.plat.delay_us(29 * kSecond);
  EXPECT_EQ(faults.count(mock::Fault::kHeartbeatLapsed), 0u);
  nic.plat.delay_us(2 * kSecond);
  ASSERT_EQ(faults.count(mock::Fault::kHeartbeatLapsed), 1u);
  EXPECT_EQ(faults.recent(0).fault, mock::Fault::kHeartbeatLapsed);
  EXPECT_EQ(faults.recent(0).b, 30'000'000'000u);  // the bound, in ns
  EXPECT_GT(faults.recent(0).a, 30'000'000'000u);  // the time since the last heartbeat ...
  EXPECT_LT(faults.recent(0).a, 30'000'001'000u);  // ... seen when the bound passed
  EXPECT_TRUE(nic.model.firmware().heartbeat_lapsed());
  EXPECT_TRUE(nic.model.firmware().host_owns_nic());  // by default the firmware only reports
  nic.plat.delay_us(60 * kSecond);
  EXPECT_EQ(faults.count(mock::Fault::kHeartbeatLapsed), 1u);  // once per lapse
  // The host remembers: its next service() sends a heartbeat, which re-arms the watch.
  ASSERT_TRUE(nic.dev.service().ok());
  nic.plat.delay_us(1000);
  EXPECT_FALSE(nic.model.firmware().heartbeat_lapsed());
  EXPECT_TRUE(nic.dev.close().ok());
  EXPECT_FALSE(nic.model.firmware().host_owns_nic());
  EXPECT_EQ(faults.total(), 1u);
}

TEST(Heartbeat, ReclaimOnLapseTakesOwnershipBack) {
  mock::testing::Nic<> nic(16u << 20, 16);
  nic.model.firmware().config().reclaim_on_lapse = true;
  ASSERT_TRUE(nic.dev.open(nic.config()).ok());
  nic.plat.delay_us(31 * kSecond);
  EXPECT_EQ(nic.model.faults().count(mock::Fault::kHeartbeatLapsed), 1u);
  EXPECT_FALSE(nic.model.firmware().host_owns_nic());
  EXPECT_TRUE(nic.dev.close().ok());
}

TEST_F(Fixture, ASilentFirmwareHoldsNoLapseAgainstTheHost) {
  start();
  bad().silent = true;
  plat.delay_us(60 * kSecond);
  bad().silent = false;
  plat.delay_us(kSecond);
  EXPECT_EQ(dev.faults().count(mock::Fault::kHeartbeatLapsed), 0u);
}

TEST_F(Fixture, RemovedDeviceFailsFast) {
  start();
  dev.set_removed(true);
  EXPECT_EQ(client.read_sensors(in(kSecond)).status(), Error::kDeviceRemoved);
  EXPECT_TRUE(io.removed());
}

}  // namespace
