// Link bring-up per mode and FEC, mismatches, flaps through the link interrupt, training,
// loopbacks, pause frames and the link counters, on cabled device models.
#include <gtest/gtest.h>

#include <fbnic/mock/testing.hpp>

#include "support/gtest_glue.hpp"

#include <cstdint>
#include <memory>
#include <vector>

namespace {
using namespace fbnic;
using namespace fbnic::mock::testing;
using fw::LinkFec;
using fw::LinkSpeed;

struct ModeCase {
  LinkSpeed speed;
  LinkFec fec;
  std::uint32_t gbps;
};

TEST(Link, EveryModeAndFecPairComesUpAndCarriesTraffic) {
  const ModeCase cases[] = {
      {LinkSpeed::k25gR1, LinkFec::kNone, 25},  {LinkSpeed::k25gR1, LinkFec::kRs, 25},
      {LinkSpeed::k25gR1, LinkFec::kBaseR, 25}, {LinkSpeed::k50gR2, LinkFec::kNone, 50},
      {LinkSpeed::k50gR2, LinkFec::kRs, 50},    {LinkSpeed::k50gR2, LinkFec::kBaseR, 50},
      {LinkSpeed::k50gR1, LinkFec::kRs, 50},    {LinkSpeed::k100gR2, LinkFec::kRs, 100},
  };
  for (const ModeCase& c : cases) {
    SCOPED_TRACE(testing::Message()
                 << "speed " << static_cast<int>(c.speed) << " fec " << static_cast<int>(c.fec));
    Pair<> p;
    p.set_mode(*p.a, c.speed, c.fec);
    p.set_mode(*p.b, c.speed, c.fec);
    p.cable();
    ASSERT_OK(p.open());
    p.poll_links();
    ASSERT_TRUE(p.a->dev.link().up());
    ASSERT_TRUE(p.b->dev.link().up());
    EXPECT_EQ(p.a->dev.link().config().gbps(), c.gbps);
    EXPECT_EQ(p.a->dev.link().config().fec, c.fec);
    // What the PCS reports for this mode: link, and the lane locks of the FEC in use.
    const auto out0 = p.a->model.regs().get<regs::SigPcsOut0>();
    EXPECT_EQ(out0.get(regs::SigPcsOut0::kLink), 1u);
    // The MAC's fault handling is off only without FEC.
    const auto cmd = p.a->model.regs().get<regs::MacCommandConfig>();
    EXPECT_EQ(cmd.get(regs::MacCommandConfig::kFltHdlDis), c.fec == LinkFec::kNone ? 1u : 0u);
    EXPECT_EQ(cmd.get(regs::MacCommandConfig::kRxEna), 1u);

    FlowSpec f;
    f.dst = kMacB;
    f.src = kMacA;
    const auto frame = make_frame(f, 200, 1);
    ASSERT_TRUE(p.a->send(frame).ok());
    p.run();
    const auto got = p.b->collect();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].bytes, frame);
  }
}

TEST(Link, MismatchedSpeedOrFecStaysDown) {
  {
    Pair<> p;
    p.set_mode(*p.a, LinkSpeed::k25gR1, LinkFec::kRs);
    p.set_mode(*p.b, LinkSpeed::k50gR2, LinkFec::kRs);
    p.cable();
    ASSERT_OK(p.open());
    EXPECT_EQ(p.a->dev.wait_link_up(p.a->in_us(2'000'000)), Error::kLinkDown);
    p.poll_links();
    EXPECT_FALSE(p.b->dev.link().up());
    EXPECT_EQ(p.a->model.regs().get<regs::SigPcsOut0>().raw(), 0u);
  }
  {
    Pair<> p;
    p.set_mode(*p.a, LinkSpeed::k50gR2, LinkFec::kNone);
    p.set_mode(*p.b, LinkSpeed::k50gR2, LinkFec::kBaseR);
    p.cable();
    ASSERT_OK(p.open());
    p.poll_links();
    EXPECT_FALSE(p.a->dev.link().up());
    EXPECT_FALSE(p.b->dev.link().up());
    // Frames sent anyway go nowhere (the MAC is disabled while down).
    ASSERT_TRUE(p.a->send(make_raw(kMacB, 100, 1)).ok());
    p.run();
    EXPECT_TRUE(p.b->collect().empty());
  }
}

TEST(Link, FlapsArriveThroughTheLinkInterrupt) {
  Pair<> p;
  p.cable();
  std::vector<std::uint32_t> irqs;
  p.a->model.set_irq_sink({[](void* ctx, std::uint32_t v) {
                             static_cast<std::vector<std::uint32_t>*>(ctx)->push_back(v);
                           },
                           &irqs});
  ASSERT_OK(p.open());
  p.poll_links();
  ASSERT_TRUE(p.a->dev.link().up());
  irqs.clear();

  for (int flap = 0; flap < 3; ++flap) {
    p.a->model.unplug();
    p.b->model.unplug();
    p.run();
    // The PCS raised its cause, routed to vector 1, which was unmasked.
    ASSERT_EQ(std::count(irqs.begin(), irqs.end(), regs::kLinkVector), 2 * flap + 1);
    auto ev = p.a->dev.link().on_interrupt();
    ASSERT_TRUE(ev.ok());
    EXPECT_EQ(*ev, mac::LinkEvent::kDown);
    EXPECT_FALSE(p.a->dev.link().up());

    p.cable();
    p.run();
    ASSERT_EQ(std::count(irqs.begin(), irqs.end(), regs::kLinkVector), 2 * flap + 2);
    ev = p.a->dev.link().on_interrupt();
    ASSERT_TRUE(ev.ok());
    EXPECT_EQ(*ev, mac::LinkEvent::kUp);
  }
  EXPECT_EQ(p.a->dev.link().counters().downs, 3u);
  EXPECT_EQ(p.a->dev.link().counters().ups, 4u);
}

TEST(Link, TrainingHoldsTheLinkDownUntilTheSignalIsStable) {
  Pair<> p;
  p.a->model.mac().set_training_ns(2'500'000'000ull);  // the PHY trains 2.5 s
  p.b->model.mac().set_training_ns(2'500'000'000ull);
  p.cable();
  ASSERT_OK(p.open({.training_ms = 4000}));
  const std::uint64_t t0 = p.a->plat.now_ns();
  ASSERT_TRUE(p.a->dev.wait_link_up(p.a->in_us(10'000'000)).ok());
  const std::uint64_t took = p.a->plat.now_ns() - t0;
  EXPECT_GE(took, 6'400'000'000ull);  // 2.5 s to a signal (counted from the cable), then 4 s
  EXPECT_LT(took, 7'000'000'000ull);
}

TEST(Link, MacAndPcsLoopbackNeedNoCable) {
  for (bool pcs : {false, true}) {
    Nic<> nic(24u << 20, 64);
    ASSERT_TRUE(nic.dev.open(nic.config()).ok());
    ASSERT_TRUE(
        (pcs ? nic.dev.link().set_pcs_loopback(true) : nic.dev.link().set_mac_loopback(true)).ok());
    ASSERT_TRUE(nic.dev.wait_link_up(nic.in_us(1'000'000)).ok());
    const auto frame = make_raw(kStation, 300, 7);
    ASSERT_TRUE(nic.send(frame).ok());
    nic.model.run();
    const auto got = nic.collect();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].bytes, frame);
  }
}

// A loopback is a diagnostic of one session: after close and open the port is on the wire.
TEST(Link, LoopbacksEndWithTheSession) {
  for (bool pcs : {false, true}) {
    Pair<> p;
    p.cable();
    ASSERT_OK(p.open());
    auto& link = p.a->dev.link();
    ASSERT_TRUE((pcs ? link.set_pcs_loopback(true) : link.set_mac_loopback(true)).ok());
    ASSERT_TRUE(p.a->dev.close().ok());
    DeviceConfig again = p.a->config();
    again.mac = kMacA;
    again.link = {.training_ms = 0};
    ASSERT_TRUE(p.a->dev.open(again).ok());
    p.poll_links();
    ASSERT_TRUE(p.a->dev.wait_link_up(p.a->in_us(1'000'000)).ok());
    const auto frame = make_raw(kMacB, 200, 3);
    ASSERT_TRUE(p.a->send(frame).ok());
    p.run();
    const auto got = p.b->collect();
    ASSERT_EQ(got.size(), 1u) << (pcs ? "PCS" : "MAC") << " loopback outlived close";
    EXPECT_EQ(got[0].bytes, frame);
  }
}

struct BackPressure : DefaultPolicy {
  static constexpr bool kRxBackPressure = true;
  static constexpr std::uint32_t kHpqRing = 64;
  static constexpr std::uint32_t kRxSparePages = 0;
};

TEST(Link, PauseFramesStopTheSenderUntilTheReceiverDrains) {
  Pair<Nic<BackPressure>> p;
  p.cable();
  ASSERT_OK(p.open({.training_ms = 0, .tx_pause = true, .rx_pause = true}));
  p.poll_links();
  ASSERT_TRUE(p.a->dev.link().up());
  // B holds everything it receives: its buffers run out, frames wait in its FIFO until
  // the FIFO passes the pause threshold, and B sends XOFF; A stops sending.
  std::vector<typename Nic<BackPressure>::Packet> held;
  std::vector<typename Nic<BackPressure>::Packet> batch(64);
  const auto frame = make_raw(kMacB, 9000, 1);
  std::uint32_t sent = 0;
  for (int round = 0; round < 200; ++round) {
    while (p.a->send(frame).ok()) ++sent;
    p.run();
    p.a->reclaim();
    const std::uint32_t n = p.b->dev.rx(0).poll(batch);
    held.insert(held.end(), batch.begin(), batch.begin() + n);
  }
  EXPECT_GT(p.b->model.mac().counters().pause_sent, 0u);
  EXPECT_GT(p.a->model.mac().counters().pause_received, 0u);
  EXPECT_TRUE(p.a->model.mac().paused(p.a->model.now_ns()));
  EXPECT_GT(p.a->dev.tx(0).in_flight(), 0u);  // A holds what it could not send
  EXPECT_EQ(p.b->model.counters().rx_fifo_drops, 0u);
  // B lets go: its FIFO drains, XON follows, and every frame A sent arrives.
  p.b->dev.rx(0).release(held);
  std::uint32_t received = static_cast<std::uint32_t>(held.size());
  for (int round = 0; round < 2000 && received < sent; ++round) {
    p.a->model.advance(10'000);
    p.b->model.advance(10'000);
    p.a->reclaim();
    received += static_cast<std::uint32_t>(p.b->collect(0, 64).size());
  }
  EXPECT_EQ(received, sent);
  EXPECT_EQ(p.b->model.counters().rx_fifo_drops, 0u);
  EXPECT_GE(p.b->model.mac().counters().pause_sent, 2u);  // XOFF, then XON
  typename Nic<BackPressure>::Dev::Stats stats;
  ASSERT_OK(p.a->dev.stats(stats));
  EXPECT_GT(stats.mac.rx_pause_frames, 0u);
  ASSERT_OK(p.b->dev.stats(stats));
  EXPECT_GE(stats.mac.tx_pause_frames, 2u);
  EXPECT_EQ(p.a->cookie_errors(), 0u);
}

}  // namespace
