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
  EXPECT_TRUE(r.logged({"tx(1)", "1 Tx queue"})) << r.lines();
  EXPECT_TRUE(r.logged({"rx(1000)", "1 Rx queue"})) << r.lines();
  // Queue 0 is untouched and still works.
  ASSERT_OK(r.nic.send(make_raw(kStation, 100, 2)));
  r.nic.model.run();
  EXPECT_EQ(r.nic.collect().size(), 1u);
  EXPECT_EQ(r.nic.model.faults().total(), 0u);
}

}  // namespace
