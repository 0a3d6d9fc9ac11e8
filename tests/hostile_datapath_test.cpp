// The data path and the Device against a hostile device model (mock::Hostility): whatever
// the device writes or stops doing, every call returns, nothing handed out is lost or
// freed under the user, and nothing the device never did is reported done.
#include <gtest/gtest.h>

#include <fbnic/mock/testing.hpp>

#include "support/gtest_glue.hpp"

#include <cstdint>
#include <vector>

namespace {
using namespace fbnic;
using namespace fbnic::mock::testing;

struct SmallRings : DefaultPolicy {
  static constexpr std::uint32_t kTxRing = 64;
  static constexpr std::uint32_t kTcqRing = 64;
  static constexpr std::uint32_t kHpqRing = 64;
  static constexpr std::uint32_t kPpqRing = 64;
  static constexpr std::uint32_t kRcqRing = 64;
  static constexpr std::uint32_t kRxSparePages = 64;
};
using SmallNic = Nic<SmallRings>;
using SmallPacket = SmallNic::Packet;

// A test's own end to a loop the library failed to bound: the device vanishes after this
// many more MMIO accesses, so a regression fails the test instead of hanging it.
constexpr std::uint64_t kBackstopAccesses = 20000;

// Defect 1: Rx disable drained completions until none was left, so a device that keeps
// completing after its completion queue is turned off kept close() spinning.
TEST(HostileRx, DisableDrainsAtMostOneRingFromADeviceThatIgnoresDisable) {
  SmallNic nic;
  ASSERT_OK(nic.open_loopback());
  const auto frame = make_raw(kStation, 200, 1);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(nic.send(frame).ok());
  nic.model.run();  // twenty packets wait in the completion ring
  nic.model.hostile().rx.ignore_disable = true;
  nic.model.hostile().remove_after = kBackstopAccesses;
  std::uint32_t delivered = 0;
  const Status st = nic.dev.close([&](std::uint64_t c) { nic.free_cookie(c); },
                                  [&](std::uint64_t c) { nic.free_cookie(c); },
                                  [&](const SmallPacket& p) {
                                    ++delivered;
                                    nic.dev.rx(0).release(p);
                                  });
  EXPECT_FALSE(nic.model.removed()) << "close() drained until the device vanished";
  EXPECT_TRUE(st.ok()) << st.name();
  EXPECT_GE(delivered, 20u);
  // A packet takes at least two completions: one ring holds at most half as many.
  EXPECT_LE(delivered, SmallRings::kRcqRing / 2);
  EXPECT_EQ(nic.plat.live_allocations(), 1u);  // only the test's Tx buffers
}

}  // namespace

// Defect 3: a replayed Tx completion whose head is behind the last one was taken for a
// head far ahead once most of the ring was in flight, and packets the device never
// fetched were reported done (their buffers then reused while still posted).
TEST(HostileTx, ReplayedOldHeadNeverReportsUnfetchedPacketsDone) {
  SmallNic nic;
  ASSERT_OK(nic.open_loopback());
  const auto frame = make_raw(kStation, 100, 2);
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(nic.send(frame).ok());
    nic.model.run();
  }
  ASSERT_EQ(nic.reclaim(), 2u);  // completions with heads 2 and 4
  auto& hostile = nic.model.hostile();
  hostile.tx_stall = true;  // from now on the device fetches nothing
  std::uint32_t posted = 0;
  while (nic.send(frame).ok()) ++posted;
  ASSERT_EQ(posted, 31u);  // 62 of 63 usable descriptors in flight
  hostile.entropy.seed(3);
  hostile.tx.stale = mock::kAlways;  // the old completions again, one per model step
  std::uint32_t done = 0;
  for (int i = 0; i < 40; ++i) {
    nic.model.run();
    done += nic.reclaim();
  }
  EXPECT_EQ(nic.model.queues().tx_fetched(0), 4u);
  EXPECT_EQ(done, 0u) << "packets the device never fetched were reported done";
  EXPECT_GT(nic.dev.tx(0).counters().bad_completions, 0u);
  hostile.calm();
  std::uint32_t aborted = 0;
  nic.dev
      .close([&](std::uint64_t c) { nic.free_cookie(c); },
             [&](std::uint64_t c) {
               ++aborted;
               nic.free_cookie(c);
             },
             [&](const SmallPacket& p) { nic.dev.rx(0).release(p); })
      .ignore();
  EXPECT_EQ(aborted, posted);
  EXPECT_TRUE(nic.in_flight.empty());
}

// Defect 13: a poll with budget 1 consumed every completion in the ring (1,024 of them
// when none made a packet); per call the work must follow the caller's budget.
TEST(HostileRx, PollTakesNoMoreCompletionsThanItsBudgetCovers) {
  SmallNic nic;
  ASSERT_OK(nic.open_loopback());
  auto& hostile = nic.model.hostile();
  hostile.entropy.seed(7);
  hostile.rx.corrupt = mock::kAlways;  // completions with random fields: hardly any packet
  const auto frame = make_raw(kStation, 100, 3);
  for (int i = 0; i < 31; ++i) ASSERT_TRUE(nic.send(frame).ok());
  nic.model.run();
  hostile.calm();
  std::vector<SmallPacket> one(1);
  auto head = [&] { return nic.model.regs().get(regs::RcqHead::at(0)).raw(); };
  const std::uint32_t before = head();
  const std::uint32_t n = nic.dev.rx(0).poll(one);
  nic.dev.rx(0).release(std::span<const SmallPacket>(one.data(), n));
  const std::uint32_t taken = (head() - before) & (SmallRings::kRcqRing - 1);
  EXPECT_GT(taken, 0u);
  // One packet's worth: a header, the payload pieces, an optional and a final META.
  EXPECT_LE(taken, SmallRings::kMaxRxFrags + 2);
}
// A device that reports the same packet in the same header buffer for ever (never
// PAGE_FIN) while the application keeps every packet: the buffer's page counts its
// references in 16 bits, which wrapped after 65,535 packets and then refused their
// releases. poll() now stops handing out packets before that; each one held still reads
// the frame (its page never went back to the device), and all of them are released.
TEST(HostileRx, ABufferNamedForEverNeverWrapsItsPageReferences) {
  using Rx = SmallNic::Dev::Rx;
  SmallNic nic;
  ASSERT_OK(nic.open_loopback());
  const auto frame = make_raw(kStation, 60, 5);
  ASSERT_TRUE(nic.send(frame).ok());
  nic.model.run();
  nic.model.hostile().rx.repeat = true;
  auto rx = nic.dev.rx(0);
  std::vector<SmallPacket> held;
  std::vector<SmallPacket> batch(32);
  while (held.size() <= 0x10000) {  // past what 16 bits count, had poll() not stopped
    const std::uint32_t n = rx.poll(batch);
    if (n == 0) break;
    held.insert(held.end(), batch.begin(), batch.begin() + n);
    nic.model.run();
  }
  EXPECT_LE(held.size(), Rx::kMaxUserRefs);
  EXPECT_GE(held.size(), Rx::kMaxUserRefs - SmallRings::kMaxRxFrags);
  EXPECT_EQ(rx.held(), held.size());
  for (const SmallPacket& p : held) ASSERT_EQ(bytes_of(p), frame);
  nic.model.hostile().calm();
  rx.release(held);
  EXPECT_EQ(rx.counters().bad_releases, 0u);
  EXPECT_EQ(rx.held(), 0u);
  // Traffic flows again once what the device repeated into the ring is taken.
  for (std::uint32_t n = 0; (n = rx.poll(batch)) != 0;) {
    rx.release(std::span<const SmallPacket>(batch.data(), n));
  }
  const auto next = make_raw(kStation, 200, 6);
  ASSERT_TRUE(nic.send(next).ok());
  nic.model.run();
  ASSERT_EQ(rx.poll(batch), 1u);
  EXPECT_EQ(bytes_of(batch[0]), next);
  rx.release(batch[0]);
  EXPECT_EQ(rx.counters().bad_releases, 0u);
  EXPECT_EQ(nic.model.faults().total(), 0u);
}

// Defect 13, Tx side: reclaim took no budget at all; it now takes one.
TEST(HostileTx, ReclaimHandsBackNoMorePacketsThanItsBudget) {
  SmallNic nic;
  ASSERT_OK(nic.open_loopback());
  const auto frame = make_raw(kStation, 100, 4);
  std::copy(frame.begin(), frame.end(), nic.slot_cpu(0));
  const TxBuffer buf{nic.slot_dma(0), static_cast<std::uint32_t>(frame.size())};
  std::vector<TxPacket> batch;
  for (std::uint64_t c = 0; c < 10; ++c) batch.push_back({std::span(&buf, 1), {}, c});
  ASSERT_EQ(nic.dev.tx(0).send(batch).sent, 10u);  // one batch: one completion covers all
  nic.model.run();
  std::vector<std::uint64_t> got;
  auto note = [&](std::uint64_t c) { got.push_back(c); };
  EXPECT_EQ(nic.dev.tx(0).reclaim(note, 3), 3u);
  EXPECT_EQ(nic.dev.tx(0).reclaim(note, 3), 3u);
  EXPECT_EQ(nic.dev.tx(0).reclaim(note, 64), 4u);
  EXPECT_EQ(got, (std::vector<std::uint64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  EXPECT_EQ(nic.dev.tx(0).reclaim(note, 64), 0u);
}

// Defect 4: on a removed device Tx disable returned at its first register access, before
// reporting the packets in flight (neither done nor aborted); a second close reported
// nothing either.
TEST(HostileRemoval, TxDisableOnARemovedDeviceReportsEveryPacketOnce) {
  SmallNic nic;
  ASSERT_OK(nic.open_loopback());
  const auto frame = make_raw(kStation, 100, 5);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(nic.send(frame).ok());
  nic.model.run();  // ten sent; their completions are in host memory
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(nic.send(frame).ok());  // five never fetched
  nic.model.set_removed(true);
  std::uint32_t done = 0;
  std::uint32_t aborted = 0;
  auto on_done = [&](std::uint64_t c) {
    ++done;
    nic.free_cookie(c);
  };
  auto on_aborted = [&](std::uint64_t c) {
    ++aborted;
    nic.free_cookie(c);
  };
  auto on_rx = [&](const SmallPacket& p) { nic.dev.rx(0).release(p); };
  EXPECT_EQ(nic.dev.close(on_done, on_aborted, on_rx), Error::kDeviceRemoved);
  EXPECT_EQ(done, 10u);
  EXPECT_EQ(aborted, 5u);
  EXPECT_TRUE(nic.in_flight.empty());
  EXPECT_TRUE(nic.dev.close(on_done, on_aborted, on_rx).ok());  // nothing twice
  EXPECT_EQ(done + aborted, 15u);
  EXPECT_EQ(nic.plat.live_allocations(), 1u);
}

// Defect 5: on a removed device Rx disable returned before handing over the completions
// already in host memory.
TEST(HostileRemoval, RxDisableOnARemovedDeviceHandsOverWhatArrived) {
  SmallNic nic;
  ASSERT_OK(nic.open_loopback());
  std::vector<std::vector<std::uint8_t>> sent;
  for (std::uint32_t i = 0; i < 10; ++i) {
    sent.push_back(make_raw(kStation, 100 + i, 6 + i));
    ASSERT_TRUE(nic.send(sent.back()).ok());
  }
  nic.model.run();  // looped back: ten packets in the completion ring
  nic.model.set_removed(true);
  std::vector<std::vector<std::uint8_t>> got;
  EXPECT_EQ(nic.dev.close([&](std::uint64_t c) { nic.free_cookie(c); },
                          [&](std::uint64_t c) { nic.free_cookie(c); },
                          [&](const SmallPacket& p) {
                            got.push_back(bytes_of(p));
                            nic.dev.rx(0).release(p);
                          }),
            Error::kDeviceRemoved);
  EXPECT_EQ(got.size(), sent.size());
  EXPECT_TRUE(got == sent);
  EXPECT_EQ(nic.dev.rx(0).free_pages(), SmallNic::Dev::Rx::kPages);
}

// Defect 6: Device::close() freed the Rx page pool while packets handed out earlier,
// documented to stay valid until released, still pointed into it.
TEST(Lifetime, PacketsHeldAcrossCloseStayValidUntilReleased) {
  SmallNic nic;
  ASSERT_OK(nic.open_loopback());
  std::vector<std::vector<std::uint8_t>> sent;
  for (std::uint32_t i = 0; i < 3; ++i) {
    sent.push_back(make_raw(kStation, 300 + i, 20 + i));
    ASSERT_TRUE(nic.send(sent.back()).ok());
  }
  nic.model.run();
  std::vector<SmallPacket> held(8);
  ASSERT_EQ(nic.dev.rx(0).poll(held), 3u);
  held.resize(3);
  ASSERT_TRUE(nic.dev.close().ok());
  // Memory freed by close() would be handed out again here, and overwritten.
  auto other = nic.plat.dma_alloc(1u << 20, 4096);
  ASSERT_TRUE(other.ok());
  std::fill_n(static_cast<std::uint8_t*>(other->cpu), other->size, std::uint8_t{0xEE});
  for (std::uint32_t i = 0; i < 3; ++i) {
    EXPECT_TRUE(bytes_of(held[i]) == sent[i]) << "packet " << i << " changed after close()";
  }
  EXPECT_EQ(nic.plat.live_allocations(), 3u);  // Tx buffers, other, and the held pool
  nic.dev.rx(0).release(held);
  EXPECT_EQ(nic.plat.live_allocations(), 2u);  // the pool went with the last packet
  nic.plat.dma_free(*other);
  // A new session on the same Device works.
  ASSERT_OK(nic.open_loopback());
  ASSERT_TRUE(nic.send(sent[0]).ok());
  nic.model.run();
  const auto got = nic.collect();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(got[0].bytes == sent[0]);
  EXPECT_EQ(nic.model.faults().total(), 0u);
}

// Issue 15, item 7 (with defect 6): the default close() handed every queue's leftover
// packets to queue 0's release, adjusting queue 0's counts for other queues' pages.
struct TwoRxQueues : SmallRings {
  static constexpr std::uint32_t kRxQueues = 2;
};

TEST(Lifetime, DefaultCloseReturnsEachLeftoverToItsOwnQueue) {
  Nic<TwoRxQueues> nic;
  ASSERT_OK(nic.open_loopback());
  // RSS spreads flows over both queues; nothing is polled.
  FlowSpec flow;
  flow.dst = kStation;
  for (std::uint16_t port = 0; port < 16; ++port) {
    flow.src_port = static_cast<std::uint16_t>(1000 + port);
    ASSERT_TRUE(nic.send(make_frame(flow, 100, port)).ok());
  }
  nic.model.run();
  ASSERT_TRUE(nic.dev.close().ok());
  using Rx = Nic<TwoRxQueues>::Dev::Rx;
  EXPECT_EQ(nic.dev.rx(0).free_pages(), Rx::kPages);
  EXPECT_EQ(nic.dev.rx(1).free_pages(), Rx::kPages);
  EXPECT_EQ(nic.plat.live_allocations(), 1u);
}

// Defect 12: with use_firmware = false nothing enabled bus mastering: open() succeeded,
// the link came up, and no packet ever moved, silently.
TEST(NoFirmware, OpenWithoutFirmwareMovesPacketsAndStopsDmaAtClose) {
  SmallNic nic;
  DeviceConfig cfg = nic.config();
  cfg.use_firmware = false;
  const auto& caps = nic.model.firmware().config().caps;
  cfg.link_mode = mac::LinkConfig::from_firmware(caps.link_speed, caps.link_fec);
  ASSERT_OK(nic.open_loopback(cfg));
  const auto frame = make_raw(kStation, 500, 30);
  ASSERT_TRUE(nic.send(frame).ok());
  nic.model.run();
  const auto got = nic.collect();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(got[0].bytes == frame);
  EXPECT_EQ(nic.reclaim(), 1u);
  EXPECT_EQ(nic.model.faults().count(mock::Fault::kDmaBusMasterOff), 0u);
  ASSERT_TRUE(nic.dev.close().ok());
  // Nothing the device does after close() reaches host memory.
  using Ar = regs::PulObTlpHdrArCfg;
  using Aw = regs::PulObTlpHdrAwCfg;
  EXPECT_EQ(nic.model.regs().get<Ar>().get(Ar::kBme), 0u);
  EXPECT_EQ(nic.model.regs().get<Aw>().get(Aw::kBme), 0u);
}

// --- every wait on the device ends by its deadline or its budget ---

TEST(HostileTx, DisableDrainsAtMostOneRingFromADeviceThatIgnoresDisable) {
  SmallNic nic;
  ASSERT_OK(nic.open_loopback());
  const auto frame = make_raw(kStation, 100, 40);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(nic.send(frame).ok());
  nic.model.run();  // twenty completions wait in the TCQ
  nic.model.hostile().tx.ignore_disable = true;
  nic.model.hostile().remove_after = kBackstopAccesses;
  std::uint32_t done = 0;
  const Status st = nic.dev.close(
      [&](std::uint64_t c) {
        ++done;
        nic.free_cookie(c);
      },
      [&](std::uint64_t c) { nic.free_cookie(c); },
      [&](const SmallPacket& p) { nic.dev.rx(0).release(p); });
  EXPECT_FALSE(nic.model.removed()) << "close() drained until the device vanished";
  EXPECT_TRUE(st.ok()) << st.name();
  EXPECT_EQ(done, 20u);  // the replays of old heads were refused
  EXPECT_TRUE(nic.in_flight.empty());
}

TEST(HostileQueues, QueuesThatNeverGoIdleEndCloseByTheIdleDeadline) {
  SmallNic nic;
  DeviceConfig cfg = nic.config();
  cfg.idle_timeout_ms = 300;
  ASSERT_OK(nic.open_loopback(cfg));
  const auto frame = make_raw(kStation, 100, 41);
  nic.model.hostile().tx_stall = true;
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(nic.send(frame).ok());
  nic.model.hostile().never_idle = true;
  const std::uint64_t t0 = nic.plat.now_ns();
  std::uint32_t aborted = 0;
  EXPECT_EQ(nic.dev.close([&](std::uint64_t c) { nic.free_cookie(c); },
                          [&](std::uint64_t c) {
                            ++aborted;
                            nic.free_cookie(c);
                          },
                          [&](const SmallPacket& p) { nic.dev.rx(0).release(p); }),
            Error::kTimeout);
  // One idle deadline for every queue (the TMI drop and its second wait included), then
  // the firmware's few microseconds to take the ownership release.
  EXPECT_LE(nic.plat.now_ns() - t0, 300'000'000u + 1'000'000u);
  EXPECT_EQ(aborted, 5u);
  EXPECT_EQ(nic.plat.live_allocations(), 1u);
  EXPECT_FALSE(nic.model.firmware().host_owns_nic());
}

// A Tx path stuck behind the MAC (a link partner that pauses for ever) keeps the queue
// busy after it is turned off. close() drops what waits at the MAC interface, within its
// idle deadline, and reports every packet. Before the drain had time of its own, it got
// one look after the whole deadline was spent waiting, and close() timed out.
TEST(HostileQueues, CloseDrainsATxPathStuckBehindTheMacByTheTmiDrop) {
  SmallNic nic;
  ASSERT_OK(nic.open_loopback());
  nic.model.hostile().mac_stuck = true;
  const auto frame = make_raw(kStation, 100, 42);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(nic.send(frame).ok());
  nic.model.run();
  ASSERT_EQ(nic.model.queues().counters().tx_frames, 0u);
  const std::uint64_t t0 = nic.plat.now_ns();
  std::uint32_t aborted = 0;
  EXPECT_OK(nic.dev.close([&](std::uint64_t c) { nic.free_cookie(c); },
                          [&](std::uint64_t c) {
                            ++aborted;
                            nic.free_cookie(c);
                          },
                          [&](const SmallPacket& p) { nic.dev.rx(0).release(p); }));
  EXPECT_LE(nic.plat.now_ns() - t0, 500'000'000u + 1'000'000u);  // idle_timeout_ms
  EXPECT_EQ(nic.model.queues().counters().tx_tmi_drops, 1u);
  EXPECT_EQ(nic.model.regs().get<regs::TmiDropPkts>().raw(), 1u);
  EXPECT_EQ(nic.model.queues().counters().tx_frames, 0u);
  EXPECT_EQ(aborted, 3u);  // the one dropped too: its completion queue was off by then
  EXPECT_EQ(nic.model.regs().get<regs::TmiDropCtrl>().raw(), 0u);
  EXPECT_TRUE(nic.in_flight.empty());
}

TEST(HostileQueues, WaitForALinkThatNeverComesEndsByItsDeadline) {
  SmallNic nic;
  ASSERT_TRUE(nic.dev.open(nic.config()).ok());  // no cable, no loopback
  const Deadline d = nic.in_us(750'000);
  EXPECT_EQ(nic.dev.wait_link_up(d), Error::kLinkDown);
  EXPECT_LE(nic.plat.now_ns(), d.ns());
}

// Resource exhaustion: DMA memory runs out part way through open(); what was done is
// undone, ownership included, and nothing stays allocated.
TEST(Exhaustion, OpenWithoutEnoughDmaMemoryUndoesEverything) {
  SmallNic nic(1u << 20, 16);  // 1 MiB of host RAM, 256 KiB of it the test's Tx buffers
  EXPECT_EQ(nic.dev.open(nic.config()), Error::kNoMemory);
  EXPECT_FALSE(nic.dev.is_open());
  EXPECT_EQ(nic.plat.live_allocations(), 1u);
  EXPECT_FALSE(nic.model.firmware().host_owns_nic());
  EXPECT_EQ(nic.model.faults().total(), 0u);
}
