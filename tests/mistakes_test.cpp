// A user's mistakes, each made on purpose: every one must come back as an error (or a
// documented no-op) with a log line that names what was wrong, never as a crash, an access
// out of bounds or a silent success. The clang stage runs this under ASan and UBSan.
#include <gtest/gtest.h>

#include <fbnic/mock/testing.hpp>

#include "support/gtest_glue.hpp"

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace {
using namespace fbnic;
using namespace fbnic::mock::testing;

// Keeps every log line, so that a test can check that the mistake was named.
struct CaptureLog {
  std::shared_ptr<std::vector<std::string>> lines = std::make_shared<std::vector<std::string>>();
  void operator()(LogLevel /*level*/, const char* line) const { lines->emplace_back(line); }
};

template <class Policy = DefaultPolicy>
struct Rig {
  CaptureLog log;
  Nic<Policy, mock::DefaultConfig, CaptureLog> nic{96u << 20, 2048, log};
  using Packet = typename decltype(nic)::Packet;

  // True when some line logged since the last clear() contains every one of the words.
  [[nodiscard]] bool logged(std::initializer_list<const char*> words) const {
    for (const std::string& line : *log.lines) {
      bool all = true;
      for (const char* w : words) all = all && line.find(w) != std::string::npos;
      if (all) return true;
    }
    return false;
  }
  void clear() { log.lines->clear(); }
  [[nodiscard]] std::string lines() const {
    std::string s;
    for (const std::string& l : *log.lines) s += l + "\n";
    return s;
  }
};

// --- item 1: queues that are not open, queue indexes past the count ---

TEST(Mistakes, PollAndReclaimBeforeOpenDoNothing) {
  Rig<> r;
  std::array<Rig<>::Packet, 8> out{};
  EXPECT_EQ(r.nic.dev.rx(0).poll(out), 0u);
  EXPECT_EQ(r.nic.dev.tx(0).reclaim([](std::uint64_t) { ADD_FAILURE() << "no packet was sent"; }),
            0u);
  EXPECT_EQ(r.nic.model.faults().total(), 0u);
}

TEST(Mistakes, PollAndReclaimAfterCloseDoNothing) {
  Rig<> r;
  ASSERT_OK(r.nic.open_loopback());
  ASSERT_OK(r.nic.send(make_raw(kStation, 100, 1)));
  r.nic.model.run();
  ASSERT_OK(r.nic.dev.close());
  std::array<Rig<>::Packet, 8> out{};
  EXPECT_EQ(r.nic.dev.rx(0).poll(out), 0u);
  EXPECT_EQ(r.nic.dev.tx(0).reclaim([](std::uint64_t) { ADD_FAILURE() << "reported at close"; }),
            0u);
}

TEST(Mistakes, SendOnAQueueNotOpenIsRefusedAndNamed) {
  Rig<> r;
  const TxBuffer buf{0x1000, 60};
  const TxPacket pkt{std::span(&buf, 1), {}, 1};
  const SendResult s = r.nic.dev.tx(0).send(std::span(&pkt, 1));
  EXPECT_EQ(s.sent, 0u);
  EXPECT_EQ(s.status, Error::kFailedPrecondition);
  EXPECT_TRUE(r.logged({"tx queue 0", "not open"})) << r.lines();
}

TEST(Mistakes, QueueIndexPastTheCapacityIsRefusedNotIndexed) {
  Rig<> r;
  ASSERT_OK(r.nic.open_loopback());
  r.clear();
  const TxBuffer buf{0x1000, 60};
  const TxPacket pkt{std::span(&buf, 1), {}, 1};
  for (std::uint32_t i : {1u, 2u, 1000u, 0xFFFF'FFFFu}) {
    const SendResult s = r.nic.dev.tx(i).send(std::span(&pkt, 1));
    EXPECT_EQ(s.sent, 0u) << i;
    EXPECT_EQ(s.status, Error::kOutOfRange) << i;
    EXPECT_EQ(r.nic.dev.tx(i).reclaim([](std::uint64_t) {}), 0u);
    EXPECT_EQ(r.nic.dev.tx(i).counters().packets, 0u);
    std::array<Rig<>::Packet, 4> out{};
    EXPECT_EQ(r.nic.dev.rx(i).poll(out), 0u) << i;
    r.nic.dev.rx(i).release(std::span<const Rig<>::Packet>(out.data(), 0));
    EXPECT_EQ(r.nic.dev.rx(i).counters().packets, 0u);
  }
  const Deadline soon = r.nic.in_us(1000);
  EXPECT_EQ(r.nic.dev.tx(9).disable(
                soon, [](std::uint64_t) {}, [](std::uint64_t) {}),
            Error::kOutOfRange);
  EXPECT_EQ(r.nic.dev.rx(9).disable(soon, [](const Rig<>::Packet&) {}), Error::kOutOfRange);
  EXPECT_TRUE(r.logged({"tx(1)", "1 Tx queue"})) << r.lines();
  EXPECT_TRUE(r.logged({"rx(1000)", "1 Rx queue"})) << r.lines();
  // Queue 0 is untouched and still works.
  ASSERT_OK(r.nic.send(make_raw(kStation, 100, 2)));
  r.nic.model.run();
  EXPECT_EQ(r.nic.collect().size(), 1u);
  EXPECT_EQ(r.nic.model.faults().total(), 0u);
}

// --- item 2: Tx lengths against the device's limits and the MTU ---

// A DMA buffer of `bytes` in the rig's host memory, filled with a pattern.
struct Buffer {
  DmaBuffer mem{};
  template <class R>
  Buffer(R& r, std::size_t bytes) {
    mem = r.nic.plat.dma_alloc(bytes, 4096).value();
    for (std::size_t i = 0; i < bytes; ++i) static_cast<std::uint8_t*>(mem.cpu)[i] = 0x5A;
    static_cast<std::uint8_t*>(mem.cpu)[0] = 0x02;  // a unicast destination
  }
};

// Sends one packet of these buffers; what came back, and what left on the wire.
template <class R>
SendResult send_one(R& r, std::initializer_list<TxBuffer> bufs, TxOffload off = {}) {
  const std::vector<TxBuffer> b(bufs);
  const TxPacket pkt{std::span<const TxBuffer>(b), off, 77};
  const SendResult s = r.nic.dev.tx(0).send(std::span(&pkt, 1));
  r.nic.model.run();
  return s;
}

std::uint64_t wire_frames(auto& r) { return r.nic.model.queues().counters().tx_frames; }

TEST(Mistakes, TxBufferLongerThanTheDescriptorLengthFieldIsRefused) {
  Rig<> r;
  ASSERT_OK(r.nic.open_loopback());
  const Buffer big(r, 70'000);
  for (std::uint32_t len : {70'000u, 65'536u}) {
    r.clear();
    const SendResult s = send_one(r, {{big.mem.device, len}});
    EXPECT_EQ(s.sent, 0u) << len;
    EXPECT_EQ(s.status, Error::kInvalidArgument) << len;
    EXPECT_TRUE(r.logged({"TxBuffer::len", std::to_string(len).c_str(), "65535"})) << r.lines();
  }
  EXPECT_EQ(wire_frames(r), 0u) << "nothing truncated went out";
  EXPECT_EQ(r.nic.dev.tx(0).counters().rejected, 2u);
  EXPECT_EQ(r.nic.dev.tx(0).counters().packets, 0u);
  EXPECT_EQ(r.nic.dev.tx(0).in_flight(), 0u);
}

TEST(Mistakes, TxBufferOfZeroBytesIsRefused) {
  Rig<> r;
  ASSERT_OK(r.nic.open_loopback());
  const Buffer b(r, 4096);
  const SendResult s = send_one(r, {{b.mem.device, 60}, {b.mem.device, 0}});
  EXPECT_EQ(s.status, Error::kInvalidArgument);
  EXPECT_EQ(s.sent, 0u);
  EXPECT_TRUE(r.logged({"buffer 1", "TxBuffer::len = 0"})) << r.lines();
  EXPECT_EQ(wire_frames(r), 0u);
  EXPECT_EQ(r.nic.dev.tx(0).counters().rejected, 1u);
}

TEST(Mistakes, TxBufferAddressBeyondTheDescriptorsAddressFieldIsRefused) {
  Rig<> r;
  ASSERT_OK(r.nic.open_loopback());
  const SendResult s = send_one(r, {{std::uint64_t{1} << 46, 60}});
  EXPECT_EQ(s.status, Error::kInvalidArgument);
  EXPECT_TRUE(r.logged({"TxBuffer::dma", "46 bits"})) << r.lines();
  EXPECT_EQ(r.nic.model.faults().total(), 0u) << "the device never saw it";
}

// send(frames) refuses what send(packets) refuses, by the same names, and stops the batch at
// the frame: those before it go out, nothing of it or after it is posted.
TEST(Mistakes, TxFramesTheDeviceCannotCarryAreRefusedByName) {
  Rig<> r;
  DeviceConfig cfg = r.nic.config();
  cfg.mtu = 1500;  // frames up to 1518 bytes
  ASSERT_OK(r.nic.open_loopback(cfg));
  const Buffer b(r, 4096);
  struct Case {
    TxBuffer bad;
    const char* words;
  };
  const std::array<Case, 3> cases{{{{b.mem.device, 0}, "TxBuffer::len = 0"},
                                   {{b.mem.device, 1519}, "the frame's length = 1519"},
                                   {{std::uint64_t{1} << 46, 60}, "TxBuffer::dma"}}};
  for (const Case& c : cases) {
    r.clear();
    const std::array<TxFrame, 3> frames{
        {{{b.mem.device, 60}, 1}, {c.bad, 2}, {{b.mem.device, 60}, 3}}};
    const SendResult s = r.nic.dev.tx(0).send(std::span<const TxFrame>(frames));
    EXPECT_EQ(s.sent, 1u) << c.words;
    EXPECT_EQ(s.status, Error::kInvalidArgument) << c.words;
    EXPECT_TRUE(r.logged({"packet 1 of the batch", c.words})) << r.lines();
    r.nic.model.run();
  }
  EXPECT_EQ(wire_frames(r), cases.size()) << "the frame before each bad one, and no other";
  EXPECT_EQ(r.nic.dev.tx(0).counters().rejected, cases.size());
  EXPECT_EQ(r.nic.model.faults().total(), 0u);
}

TEST(Mistakes, TxPacketsWithNoBuffersOrTooManyAreRefused) {
  Rig<> r;
  ASSERT_OK(r.nic.open_loopback());
  const SendResult none = send_one(r, {});
  EXPECT_EQ(none.status, Error::kInvalidArgument);
  EXPECT_TRUE(r.logged({"no buffers"})) << r.lines();
  const Buffer b(r, 4096);
  std::vector<TxBuffer> many(DefaultPolicy::kMaxTxBuffers + 1, TxBuffer{b.mem.device, 60});
  const TxPacket pkt{std::span<const TxBuffer>(many), {}, 1};
  EXPECT_EQ(r.nic.dev.tx(0).send(std::span(&pkt, 1)).status, Error::kInvalidArgument);
  EXPECT_TRUE(r.logged({"17 buffers", "kMaxTxBuffers = 16"})) << r.lines();
  EXPECT_EQ(r.nic.dev.tx(0).counters().rejected, 2u);
}

TEST(Mistakes, TxFrameLongerThanTheMtuIsRefusedAndTheLimitFollowsTheMtu) {
  for (std::uint32_t mtu : {1500u, 9000u, 9728u}) {
    Rig<> r;
    DeviceConfig cfg = r.nic.config();
    cfg.mtu = mtu;
    ASSERT_OK(r.nic.open_loopback(cfg));
    const std::uint32_t limit = mtu + 18 < 9742 ? mtu + 18 : 9742;  // header and a VLAN tag
    const Buffer b(r, 16384);
    EXPECT_OK(send_one(r, {{b.mem.device, limit}}).status);
    EXPECT_OK(send_one(r, {{b.mem.device, limit - 100}, {b.mem.device + 8192, 100}}).status);
    r.clear();
    const SendResult s = send_one(r, {{b.mem.device, limit - 100}, {b.mem.device + 8192, 101}});
    EXPECT_EQ(s.status, Error::kInvalidArgument) << mtu;
    EXPECT_TRUE(r.logged({std::to_string(limit + 1).c_str(), "DeviceConfig::mtu"})) << r.lines();
    EXPECT_EQ(wire_frames(r), 2u) << mtu;
    EXPECT_EQ(r.nic.dev.tx(0).counters().rejected, 1u);
    EXPECT_EQ(r.nic.reclaim(), 2u);
  }
}

TEST(Mistakes, MtuOutsideTheDevicesRangeIsRefusedAtOpen) {
  for (std::uint32_t mtu : {0u, 1279u, 9729u, 65536u}) {
    Rig<> r;
    DeviceConfig cfg = r.nic.config();
    cfg.mtu = mtu;
    EXPECT_EQ(r.nic.dev.open(cfg), Error::kInvalidArgument) << mtu;
    EXPECT_FALSE(r.nic.dev.is_open());
    EXPECT_TRUE(r.logged({"DeviceConfig::mtu", std::to_string(mtu).c_str(), "1280", "9728"}))
        << r.lines();
  }
}

TEST(Mistakes, TxOffloadFieldsTheDescriptorCannotCarryAreRefusedByName) {
  Rig<> r;
  ASSERT_OK(r.nic.open_loopback());
  const Buffer b(r, 4096);
  TxOffload odd;
  odd.checksum = true;
  odd.l2_len = 15;
  odd.l3_len = 20;
  odd.csum_field = 6;
  EXPECT_EQ(send_one(r, {{b.mem.device, 100}}, odd).status, Error::kInvalidArgument);
  EXPECT_TRUE(r.logged({"TxOffload::l2_len = 15", "2-byte"})) << r.lines();
  TxOffload wide = odd;
  wide.l2_len = 14;
  wide.l3_len = 1024;
  EXPECT_EQ(send_one(r, {{b.mem.device, 1100}}, wide).status, Error::kInvalidArgument);
  EXPECT_TRUE(r.logged({"TxOffload::l3_len = 1024", "510"})) << r.lines();
  TxOffload tso = odd;
  tso.l2_len = 14;
  tso.mss = 1460;
  tso.l4_header_len = 20;
  EXPECT_EQ(send_one(r, {{b.mem.device, 3000}}, tso).status, Error::kInvalidArgument);
  EXPECT_TRUE(r.logged({"TxOffload::l3", "TSO"})) << r.lines();
  EXPECT_EQ(wire_frames(r), 0u);
  EXPECT_EQ(r.nic.dev.tx(0).counters().rejected, 3u);
}

TEST(Mistakes, TsoSegmentsLargerThanTheMtuAreRefused) {
  Rig<> r;
  DeviceConfig cfg = r.nic.config();
  cfg.mtu = 1500;
  ASSERT_OK(r.nic.open_loopback(cfg));
  FlowSpec f;
  f.tcp = true;
  const auto big = make_frame(f, 20'000, 1, {.tso_seed = true});
  TxOffload o;
  o.checksum = true;
  o.l2_len = 14;
  o.l3_len = 20;
  o.csum_field = 16;
  o.l4_header_len = 20;
  o.l3 = TxOffload::L3::kIpv4;
  o.l4 = TxOffload::L4::kTcp;
  o.mss = 1465;  // 54 + 1465 = 1519 > 1518
  EXPECT_EQ(r.nic.send(big, 2, o), Error::kInvalidArgument);
  EXPECT_TRUE(r.logged({"TxOffload::mss = 1465", "1519", "1518"})) << r.lines();
  o.mss = 1464;
  EXPECT_OK(r.nic.send(big, 2, o));
  r.nic.model.run();
  EXPECT_EQ(wire_frames(r), (20'000u + 1463) / 1464);
}

TEST(Mistakes, TsoPacketLargerThanTheDeviceSegmentsIsRefused) {
  Rig<> r;
  ASSERT_OK(r.nic.open_loopback());
  const Buffer b(r, 70'000);
  TxOffload o;
  o.l2_len = 14;
  o.l3_len = 20;
  o.csum_field = 16;
  o.l4_header_len = 20;
  o.l3 = TxOffload::L3::kIpv4;
  o.l4 = TxOffload::L4::kTcp;
  o.mss = 1448;
  const SendResult s = send_one(r, {{b.mem.device, 60'000}, {b.mem.device + 60'000, 5'537}}, o);
  EXPECT_EQ(s.status, Error::kInvalidArgument);
  EXPECT_TRUE(r.logged({"65537", "65536"})) << r.lines();
  EXPECT_EQ(wire_frames(r), 0u);
}

// A bad packet in the middle of a batch: those before it go, it and those after do not, and
// its slots are not left posted (the next send reuses them).
TEST(Mistakes, ABadPacketStopsTheBatchThereAndPostsNothingOfItself) {
  Rig<> r;
  ASSERT_OK(r.nic.open_loopback());
  const Buffer b(r, 4096);
  const TxBuffer good{b.mem.device, 100};
  const TxBuffer bad{b.mem.device, 0};
  const std::array<TxPacket, 3> batch{
      {{std::span(&good, 1), {}, 1}, {std::span(&bad, 1), {}, 2}, {std::span(&good, 1), {}, 3}}};
  const SendResult s = r.nic.dev.tx(0).send(batch);
  EXPECT_EQ(s.sent, 1u);
  EXPECT_EQ(s.status, Error::kInvalidArgument);
  EXPECT_TRUE(r.logged({"packet 1 of the batch"})) << r.lines();
  r.nic.model.run();
  EXPECT_EQ(wire_frames(r), 1u);
  std::vector<std::uint64_t> done;
  r.nic.dev.tx(0).reclaim([&](std::uint64_t c) { done.push_back(c); });
  EXPECT_EQ(done, std::vector<std::uint64_t>{1});
  EXPECT_EQ(r.nic.dev.tx(0).in_flight(), 0u);
  EXPECT_EQ(r.nic.model.faults().total(), 0u);
}

// --- item 3: an application that never releases Rx packets ---

struct SmallRings : DefaultPolicy {
  static constexpr std::uint32_t kTxRing = 64;
  static constexpr std::uint32_t kTcqRing = 64;
  static constexpr std::uint32_t kHpqRing = 64;
  static constexpr std::uint32_t kPpqRing = 64;
  static constexpr std::uint32_t kRcqRing = 64;
  static constexpr std::uint32_t kRxSparePages = 64;
};

TEST(Mistakes, NeverReleasingRxPacketsCountsTheDropsAndCloseSaysWhatIsHeld) {
  Rig<SmallRings> r;
  ASSERT_OK(r.nic.open_loopback());
  std::vector<Rig<SmallRings>::Packet> held;
  std::vector<Rig<SmallRings>::Packet> batch(32);
  constexpr std::uint32_t kSent = 400;
  for (std::uint32_t i = 0; i < kSent; ++i) {
    ASSERT_OK(r.nic.send(make_raw(kStation, 1000, i)));
    r.nic.model.run();
    r.nic.reclaim();
    const std::uint32_t n = r.nic.dev.rx(0).poll(batch);  // polled again and again
    held.insert(held.end(), batch.begin(), batch.begin() + n);
  }
  const std::uint64_t dropped = r.nic.model.regs().get(regs::RdeBdqDropCnt::at(0)).raw();
  ASSERT_GT(dropped, 0u);
  ASSERT_EQ(held.size() + dropped, kSent);
  EXPECT_TRUE(r.logged({"rx queue 0", "no free Rx buffers"})) << r.lines();
  // The queue's no_buffers counts frames the device dropped, not the refills that failed.
  ASSERT_OK(r.nic.dev.service());
  EXPECT_EQ(r.nic.dev.rx(0).counters().no_buffers, dropped);
  EXPECT_GT(r.nic.dev.rx(0).counters().refill_short, 0u);
  typename decltype(r.nic.dev)::Stats s;
  ASSERT_OK(r.nic.dev.stats(s));
  EXPECT_EQ(s.rx[0].rde_pkt_bdq_drop, dropped);
  EXPECT_EQ(r.nic.dev.rx(0).held(), held.size());
  // close() succeeds (the packets stay valid), and says how many the application holds.
  r.clear();
  EXPECT_OK(r.nic.dev.close());
  EXPECT_EQ(r.nic.dev.rx(0).held(), held.size());
  EXPECT_TRUE(r.logged({"rx queue 0", std::to_string(held.size()).c_str(), "still holds"}))
      << r.lines();
  r.nic.dev.rx(0).release(held);
  EXPECT_EQ(r.nic.dev.rx(0).held(), 0u);
  EXPECT_EQ(r.nic.plat.live_allocations(), 1u) << "only the kit's Tx pool is left";
}

struct TwoQueues : DefaultPolicy {
  static constexpr std::uint32_t kRxQueues = 2;
};

TEST(Mistakes, ReleasingAnRxPacketTwiceOrToAnotherQueueIsRefused) {
  Rig<TwoQueues> r;
  ASSERT_OK(r.nic.open_loopback());
  ASSERT_OK(r.nic.send(make_raw(kStation, 100, 1)));
  r.nic.model.run();
  std::array<Rig<TwoQueues>::Packet, 4> got{};
  std::uint32_t q = 0;
  std::uint32_t n = 0;
  for (; q < 2 && n == 0; ++q) n = r.nic.dev.rx(q).poll(got);
  ASSERT_EQ(n, 1u);
  const std::uint32_t mine = q - 1;
  const std::uint32_t other = 1 - mine;
  const std::uint32_t free_before = r.nic.dev.rx(other).free_pages();
  r.nic.dev.rx(other).release(got[0]);  // the wrong queue
  EXPECT_EQ(r.nic.dev.rx(other).free_pages(), free_before);
  EXPECT_EQ(r.nic.dev.rx(other).counters().bad_releases, 1u);
  EXPECT_TRUE(r.logged({"release", "does not hold"})) << r.lines();
  r.nic.dev.rx(mine).release(got[0]);
  EXPECT_EQ(r.nic.dev.rx(mine).held(), 0u);
  const std::uint32_t free_after = r.nic.dev.rx(mine).free_pages();
  r.nic.dev.rx(mine).release(got[0]);  // twice
  EXPECT_EQ(r.nic.dev.rx(mine).free_pages(), free_after);
  EXPECT_EQ(r.nic.dev.rx(mine).counters().bad_releases, 1u);
  RxFragment forged = got[0].frag[0];
  forged.page = 60'000;
  r.nic.dev.rx(mine).release(forged);
  EXPECT_EQ(r.nic.dev.rx(mine).counters().bad_releases, 2u);
  // Traffic still flows on both queues, nothing leaked.
  ASSERT_OK(r.nic.send(make_raw(kStation, 100, 2)));
  r.nic.model.run();
  EXPECT_EQ(r.nic.collect(0).size() + r.nic.collect(1).size(), 1u);
  ASSERT_OK(r.nic.dev.close());
  EXPECT_EQ(r.nic.plat.live_allocations(), 1u);
}

// A packet released twice while the application holds others: the second release must
// not drop the reference that keeps a page the device may still write to off the free
// stack (the device would write into a page refill() posts again elsewhere).
TEST(Mistakes, ReleasingAnRxPacketTwiceNeverFreesAPageTheDeviceOwns) {
  using Packet = Rig<>::Packet;
  Rig<> r;
  ASSERT_OK(r.nic.open_loopback());
  auto& rx = r.nic.dev.rx(0);
  // 1000-byte frames: a few fill a header page; the last one sits alone in the next page,
  // which stays posted.
  std::array<Packet, 8> got{};
  std::uint32_t n = 0;
  for (std::uint32_t i = 0; n < 2 || got[n - 1].frag[0].page == got[0].frag[0].page; ++i) {
    ASSERT_LT(i, got.size());
    ASSERT_OK(r.nic.send(make_raw(kStation, 1000, i)));
    r.nic.model.run();
    r.nic.reclaim();
    n += rx.poll(std::span<Packet>(got.data() + n, got.size() - n));
  }
  const Packet alone = got[n - 1];
  const std::uint32_t free_before = rx.free_pages();
  rx.release(alone);
  EXPECT_EQ(rx.counters().bad_releases, 0u);
  rx.release(alone);  // twice
  EXPECT_EQ(rx.counters().bad_releases, 1u);
  EXPECT_EQ(rx.free_pages(), free_before) << "the page is still posted";
  EXPECT_TRUE(r.logged({"release", "does not hold"})) << r.lines();
  rx.release(std::span<const Packet>(got.data(), n - 1));
  EXPECT_EQ(rx.counters().bad_releases, 1u);
  // The same packet twice in one call, alone in a posted page: the second copy is refused.
  ASSERT_OK(r.nic.send(make_raw(kStation, 1000, 99)));
  r.nic.model.run();
  ASSERT_EQ(rx.poll(got), 1u);
  const std::array<Packet, 2> twice{got[0], got[0]};
  const std::uint32_t free_mid = rx.free_pages();
  rx.release(twice);
  EXPECT_EQ(rx.counters().bad_releases, 2u);
  EXPECT_EQ(rx.free_pages(), free_mid) << "the page is still posted";
  EXPECT_EQ(rx.held(), 0u);
  // The ring still delivers every frame, byte for byte, and nothing leaks.
  for (std::uint32_t i = 0; i < 300; ++i) {
    ASSERT_OK(r.nic.send(make_raw(kStation, 100 + i, i)));
    r.nic.model.run();
    r.nic.reclaim();
    const auto frames = r.nic.collect(0);
    ASSERT_EQ(frames.size(), 1u) << i;
    EXPECT_EQ(frames[0].bytes, make_raw(kStation, 100 + i, i)) << i;
  }
  ASSERT_OK(r.nic.dev.close());
  EXPECT_EQ(r.nic.plat.live_allocations(), 1u) << "only the kit's Tx pool is left";
}

// --- item 6: queue counts chosen at run time ---

struct FourPairs : DefaultPolicy {
  static constexpr std::uint32_t kTxQueues = 4;
  static constexpr std::uint32_t kRxQueues = 4;
  static constexpr std::uint32_t kHpqRing = 64;
  static constexpr std::uint32_t kPpqRing = 64;
  static constexpr std::uint32_t kRxSparePages = 64;
};

// release_pages() checks each page as release(fragment) does: a page nobody outside the ring
// holds, or one past the pool, is refused and counted, and the ring keeps its reference.
TEST(Mistakes, ReleasingPagesNobodyHoldsIsRefused) {
  Rig<> r;
  ASSERT_OK(r.nic.open_loopback());
  auto& rx = r.nic.dev.rx(0);
  for (std::uint32_t i = 0; i < 3; ++i) ASSERT_OK(r.nic.send(make_raw(kStation, 100, i)));
  r.nic.model.run();
  std::array<Rig<>::Packet, 8> got{};
  ASSERT_EQ(rx.poll(got), 3u);
  std::array<std::uint16_t, 3> pages{};
  for (std::uint32_t i = 0; i < 3; ++i) pages[i] = got[i].frag[0].page;
  rx.release_pages(pages);  // the packets' references, given back by page (a forwarder's way)
  EXPECT_EQ(rx.counters().bad_releases, 0u);
  EXPECT_EQ(rx.held(), 0u);
  r.clear();
  rx.release_pages(pages);  // again: nobody holds them any more
  EXPECT_EQ(rx.counters().bad_releases, 3u);
  EXPECT_TRUE(r.logged({"release_pages()", "ignored"})) << r.lines();
  const std::array<std::uint16_t, 1> past{0xFFFE};
  rx.release_pages(past);
  EXPECT_EQ(rx.counters().bad_releases, 4u);
  // The page the device still fills kept the ring's reference: traffic goes on, every page
  // comes back.
  for (std::uint32_t i = 0; i < 40; ++i) ASSERT_OK(r.nic.send(make_raw(kStation, 1000, i)));
  r.nic.model.run();
  EXPECT_EQ(r.nic.collect().size(), 40u);
  EXPECT_EQ(r.nic.model.faults().total(), 0u);
}

// A page counts its references in 16 bits: retain() past what it can count is refused by
// name, and every reference taken before it is given back as usual.
TEST(Mistakes, RetainingPastWhatAPageCanCountIsRefused) {
  Rig<> r;
  using Rx = decltype(r.nic)::Dev::Rx;
  ASSERT_OK(r.nic.open_loopback());
  auto rx = r.nic.dev.rx(0);
  ASSERT_OK(r.nic.send(make_raw(kStation, 100, 1)));
  r.nic.model.run();
  std::array<Rig<>::Packet, 1> got{};
  ASSERT_EQ(rx.poll(got), 1u);
  const RxFragment f = got[0].frag[0];
  for (std::uint32_t i = 1; i < Rx::kMaxUserRefs; ++i) rx.retain(f);
  EXPECT_EQ(rx.counters().bad_releases, 0u);
  r.clear();
  rx.retain(f);
  EXPECT_EQ(rx.counters().bad_releases, 1u);
  EXPECT_TRUE(r.logged({"retain() refused", "65534 page references"})) << r.lines();
  // While the application holds that many, poll() hands out nothing and says why.
  ASSERT_OK(r.nic.send(make_raw(kStation, 100, 2)));
  r.nic.model.run();
  EXPECT_EQ(rx.poll(got), 0u);
  EXPECT_TRUE(r.logged({"poll() hands out fewer until release()"})) << r.lines();
  for (std::uint32_t i = 1; i < Rx::kMaxUserRefs; ++i) rx.release(f);
  rx.release(got[0]);
  EXPECT_EQ(rx.counters().bad_releases, 1u);
  EXPECT_EQ(rx.held(), 0u);
  EXPECT_EQ(r.nic.collect().size(), 1u);  // the frame that waited
  EXPECT_EQ(r.nic.model.faults().total(), 0u);
}

TEST(Mistakes, MoreQueuesThanThePolicyHoldsAreRefusedAtOpen) {
  Rig<> r;
  DeviceConfig cfg = r.nic.config();
  cfg.tx_queues = 2;
  EXPECT_EQ(r.nic.dev.open(cfg), Error::kInvalidArgument);
  EXPECT_TRUE(r.logged({"DeviceConfig::tx_queues = 2", "holds 1", "Policy::kTxQueues"}))
      << r.lines();
  cfg.tx_queues = 1;
  cfg.rx_queues = 129;
  EXPECT_EQ(r.nic.dev.open(cfg), Error::kInvalidArgument);
  EXPECT_TRUE(r.logged({"DeviceConfig::rx_queues = 129"})) << r.lines();
  EXPECT_FALSE(r.nic.dev.is_open());
  EXPECT_EQ(r.nic.plat.live_allocations(), 1u) << "nothing but the kit's Tx pool";
}

TEST(Mistakes, QueuesPastTheRunTimeCountStayClosedAndRefuse) {
  Rig<FourPairs> r;
  DeviceConfig cfg = r.nic.config();
  cfg.tx_queues = 2;
  cfg.rx_queues = 2;
  ASSERT_OK(r.nic.open_loopback(cfg));
  EXPECT_EQ(r.nic.dev.tx_queues(), 2u);
  EXPECT_EQ(r.nic.dev.rx_queues(), 2u);
  EXPECT_EQ(r.nic.send(make_raw(kStation, 100, 1), 1, {}, 3), Error::kFailedPrecondition);
  EXPECT_TRUE(r.logged({"tx queue 3", "not open"})) << r.lines();
  std::array<Rig<FourPairs>::Packet, 4> out{};
  EXPECT_EQ(r.nic.dev.rx(2).poll(out), 0u);
  EXPECT_FALSE(r.nic.dev.rx(3).enabled());
  EXPECT_OK(r.nic.send(make_raw(kStation, 100, 2), 1, {}, 1));
  EXPECT_EQ(r.nic.model.faults().total(), 0u);
}

TEST(Mistakes, RulesAndRssEntriesNamingAQueueNotOpenAreRefused) {
  Rig<FourPairs> r;
  DeviceConfig cfg = r.nic.config();
  cfg.rx_queues = 2;
  cfg.spread_rss = false;
  cfg.rss.table[1][7] = 3;
  EXPECT_EQ(r.nic.dev.open(cfg), Error::kInvalidArgument);
  EXPECT_TRUE(r.logged({"rss.table[1][7] = 3", "2 Rx queue(s)"})) << r.lines();
  cfg.rss.table[1][7] = 1;
  ASSERT_OK(r.nic.open_loopback(cfg));
  rpc::FlowMatch web;
  web.l4 = rpc::FlowMatch::L4::kTcp;
  web.dst_port = 443;
  const auto rule = r.nic.dev.classifier().add_rule(web, {rpc::FlowAction::Kind::kQueue, 2});
  EXPECT_EQ(rule.status(), Error::kInvalidArgument);
  EXPECT_TRUE(r.logged({"FlowAction::queue = 2", "2 Rx queue(s)"})) << r.lines();
  EXPECT_EQ(r.nic.dev.classifier().remove_rule(5), Error::kInvalidArgument);
  EXPECT_TRUE(r.logged({"remove_rule(5)", "no user rule"})) << r.lines();
}

// --- item 5: every error says what was wrong, how much, and the fix ---

TEST(Mistakes, TooLittleDmaMemorySaysHowMuchForWhat) {
  CaptureLog log;
  Nic<DefaultPolicy, mock::DefaultConfig, CaptureLog> nic(1u << 20, 1, log);
  ASSERT_OK(nic.setup());
  EXPECT_EQ(nic.dev.open(nic.config()), Error::kNoMemory);
  bool named = false;
  for (const std::string& l : *log.lines) {
    named = named || (l.find("rx queue 0") != std::string::npos &&
                      l.find("page pool") != std::string::npos &&
                      l.find("3145728 bytes") != std::string::npos &&
                      l.find("docs/porting.md") != std::string::npos);
  }
  EXPECT_TRUE(named) << "no line names the allocation";
  EXPECT_EQ(nic.plat.live_allocations(), 1u) << "open() undid what it took";
}

TEST(Mistakes, CallsInTheWrongStateAndBadConfigurationsAreNamed) {
  Rig<> r;
  EXPECT_EQ(r.nic.dev.service(), Error::kFailedPrecondition);
  EXPECT_TRUE(r.logged({"service()", "not open"})) << r.lines();
  DeviceConfig cfg = r.nic.config();
  cfg.mac = MacAddress{{0x01, 0, 0, 0, 0, 1}};  // a multicast address
  EXPECT_EQ(r.nic.dev.open(cfg), Error::kInvalidArgument);
  EXPECT_TRUE(r.logged({"DeviceConfig::mac", "01:00:00:00:00:01", "unicast"})) << r.lines();
  ASSERT_OK(r.nic.open_loopback());
  EXPECT_EQ(r.nic.dev.open(r.nic.config()), Error::kFailedPrecondition);
  EXPECT_TRUE(r.logged({"open()", "already open", "close()"})) << r.lines();
  std::array<std::uint8_t, 8> none{};
  EXPECT_EQ(r.nic.dev.firmware()
                .read_eeprom(0, std::span<std::uint8_t>(none.data(), 0), r.nic.in_us(1000))
                .status(),
            Error::kInvalidArgument);
  EXPECT_TRUE(r.logged({"read_eeprom()", "0 bytes"})) << r.lines();
  ASSERT_OK(r.nic.dev.close());
  EXPECT_EQ(r.nic.dev.firmware().read_eeprom(0, none, r.nic.in_us(1000)).status(),
            Error::kFailedPrecondition);
  EXPECT_TRUE(r.logged({"mailbox", "not open"})) << r.lines();
}

// --- descriptor fields: a platform whose DMA addresses the device cannot reach ---

// mock::Platform, except that large allocations come back at device addresses past the
// 46 bits a buffer descriptor carries.
struct FarPlatform {
  mock::Platform<mock::Device<>, CaptureLog>& inner;
  static constexpr std::uint64_t kFar = std::uint64_t{1} << 46;
  std::uint32_t read32(Bar bar, std::uint32_t offset) { return inner.read32(bar, offset); }
  void write32(Bar bar, std::uint32_t offset, std::uint32_t value) {
    inner.write32(bar, offset, value);
  }
  Result<DmaBuffer> dma_alloc(std::size_t size, std::size_t align) {
    Result<DmaBuffer> r = inner.dma_alloc(size, align);
    if (r.ok() && size > (1u << 20)) r->device += kFar;
    return r;
  }
  void dma_free(const DmaBuffer& b) {
    DmaBuffer real = b;
    if (real.device >= kFar) real.device -= kFar;
    inner.dma_free(real);
  }
  std::uint64_t now_ns() { return inner.now_ns(); }
  void delay_us(std::uint32_t us) { inner.delay_us(us); }
  void log(LogLevel level, const char* line) { inner.log(level, line); }
};

TEST(Mistakes, DmaAddressesBeyondWhatTheDescriptorsCarryAreRefused) {
  mock::Device<> model;
  mock::HostRam ram(64u << 20);
  CaptureLog log;
  mock::Platform<mock::Device<>, CaptureLog> inner(model, ram.span(), log);
  FarPlatform far{inner};
  fbnic::Device<FarPlatform> nic(far);
  DeviceConfig cfg;
  cfg.mac = kStation;
  cfg.link.training_ms = 0;
  EXPECT_EQ(nic.open(cfg), Error::kOutOfRange);
  bool named = false;
  for (const std::string& l : *log.lines) {
    named = named ||
            (l.find("page pool") != std::string::npos && l.find("46 bits") != std::string::npos);
  }
  EXPECT_TRUE(named);
  EXPECT_EQ(inner.live_allocations(), 0u) << "open() gave back what it took";
  EXPECT_EQ(model.faults().total(), 0u) << "the device never saw a truncated address";
}

// --- a platform that keeps the core's log text short, or leaves it out ---

// mock::Platform with a kLogText (fbnic::log_text): the same mistakes must come back with
// the same errors; only the words change.
template <LogText Text>
struct TextPlatform {
  static constexpr LogText kLogText = Text;
  mock::Platform<mock::Device<>, CaptureLog>& inner;
  std::uint32_t read32(Bar bar, std::uint32_t offset) { return inner.read32(bar, offset); }
  void write32(Bar bar, std::uint32_t offset, std::uint32_t value) {
    inner.write32(bar, offset, value);
  }
  Result<DmaBuffer> dma_alloc(std::size_t size, std::size_t align) {
    return inner.dma_alloc(size, align);
  }
  void dma_free(const DmaBuffer& b) { inner.dma_free(b); }
  std::uint64_t now_ns() { return inner.now_ns(); }
  void delay_us(std::uint32_t us) { inner.delay_us(us); }
  void log(LogLevel level, const char* line) { inner.log(level, line); }
};

// Makes four mistakes (the last one the platform's: too little DMA memory) and returns
// what was logged.
template <LogText Text>
std::vector<std::string> mistakes_logged_with(std::size_t ram_bytes) {
  mock::Device<> model;
  mock::HostRam ram(ram_bytes);
  CaptureLog log;
  mock::Platform<mock::Device<>, CaptureLog> inner(model, ram.span(), log);
  TextPlatform<Text> plat{inner};
  static_assert(fbnic::log_text<TextPlatform<Text>>() == Text);
  fbnic::Device<TextPlatform<Text>> nic(plat);
  DeviceConfig cfg;
  cfg.mac = kStation;
  cfg.link.training_ms = 0;
  const TxBuffer buf{0x1000, 60};
  const TxPacket pkt{std::span(&buf, 1), {}, 1};
  EXPECT_EQ(nic.tx(0).send(std::span(&pkt, 1)).status, Error::kFailedPrecondition);
  cfg.mtu = 100;
  EXPECT_EQ(nic.open(cfg), Error::kInvalidArgument);
  cfg.mtu = 1500;
  EXPECT_EQ(nic.service(), Error::kFailedPrecondition);
  EXPECT_EQ(nic.open(cfg), Error::kNoMemory);  // too little RAM for the Rx page pool
  EXPECT_EQ(inner.live_allocations(), 0u) << "open() gave back what it took";
  EXPECT_EQ(model.faults().total(), 0u);
  return *log.lines;
}

TEST(Mistakes, ShortLogTextKeepsEachLinesSubjectAndValues) {
  const std::vector<std::string> full = mistakes_logged_with<LogText::kFull>(1u << 20);
  ASSERT_EQ(full.size(), 5u);
  EXPECT_NE(full[1].find("(1500 for Ethernet, 9000 for jumbo frames)"), std::string::npos);
  EXPECT_NE(full[3].find("docs/porting.md"), std::string::npos);
  EXPECT_EQ(mistakes_logged_with<LogText::kShort>(1u << 20),
            (std::vector<std::string>{
                "fbnic: tx queue 0",
                "fbnic: open(): DeviceConfig::mtu = 100 1280 9728",
                "fbnic: service() on a device not open: open() it first",
                "fbnic: dma_alloc failed (bytes, status): 3145728 no memory",
                "fbnic: bring-up failed: no memory",
            }));
}

TEST(Mistakes, NoLogTextLogsNothingAndStillRefusesEveryMistake) {
  EXPECT_TRUE(mistakes_logged_with<LogText::kNone>(1u << 20).empty());
}

}  // namespace
