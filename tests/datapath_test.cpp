// The Tx/Rx data path on the device model: frames out through the Tx queue, back through
// MAC loopback, into the Rx queue; what arrives is compared byte for byte.
#include <gtest/gtest.h>

#include <fbnic/mock/testing.hpp>

#include "support/gtest_glue.hpp"

#include <cstdint>
#include <cstring>
#include <vector>

namespace {
using namespace fbnic;
using namespace fbnic::mock::testing;

TEST(DataPath, FrameSizesFrom60ToJumboAndMultiDescriptorFrames) {
  Nic<> nic;
  ASSERT_OK(nic.open_loopback());
  const std::size_t sizes[] = {60,   61,   64,   65,   127,  128,  129,  255,  256,
                               511,  1024, 1500, 1514, 1518, 1519, 1535, 1536, 1537,
                               2048, 3000, 4095, 4096, 4097, 6000, 8192, 9000};
  std::uint32_t seed = 0;
  for (std::uint32_t pieces : {1u, 2u, 3u, 7u}) {
    for (std::size_t size : sizes) {
      if (size / pieces == 0) continue;
      const auto frame = make_raw(kStation, size, ++seed);
      ASSERT_TRUE(nic.send(frame, pieces).ok()) << size;
      nic.model.run();
      const auto got = nic.collect();
      ASSERT_EQ(got.size(), 1u) << "size " << size << " pieces " << pieces;
      EXPECT_EQ(got[0].bytes, frame) << "size " << size << " pieces " << pieces;
      EXPECT_EQ(nic.reclaim(), 1u);
    }
  }
  EXPECT_EQ(nic.model.faults().total(), 0u);
  EXPECT_EQ(nic.dev.rx(0).counters().bad_completions, 0u);
  EXPECT_EQ(nic.cookie_errors(), 0u);
}

// A burst bigger than the Rx FIFO arrives whole when the host has buffers for it: the Rx
// engine drains the FIFO while the burst comes in, as the hardware's DMA does.
TEST(DataPath, BurstLargerThanTheRxFifoArrivesWhole) {
  Nic<> nic(64u << 20, 320);
  ASSERT_OK(nic.open_loopback());
  constexpr std::uint32_t kFrames = 300;
  static_assert(kFrames * 1514 > mock::DefaultConfig::kRxbBytes);
  std::vector<std::vector<std::uint8_t>> sent;
  for (std::uint32_t i = 0; i < kFrames; ++i) {
    sent.push_back(make_raw(kStation, 1514, i));
    ASSERT_TRUE(nic.send(sent.back()).ok()) << i;
  }
  nic.model.run();  // the whole burst leaves the Tx queue in one step of the model
  std::vector<std::vector<std::uint8_t>> got;
  for (int round = 0; round < 16 && got.size() < kFrames; ++round) {
    for (auto& r : nic.collect(0, 64)) got.push_back(std::move(r.bytes));
    nic.model.run();
  }
  ASSERT_EQ(got.size(), kFrames);
  for (std::uint32_t i = 0; i < kFrames; ++i) EXPECT_EQ(got[i], sent[i]) << i;
  EXPECT_EQ(nic.model.counters().rx_fifo_drops, 0u);
}

// Small rings wrap constantly: 10^6 packets through 64-entry rings.
struct SmallRings : DefaultPolicy {
  static constexpr std::uint32_t kTxRing = 64;
  static constexpr std::uint32_t kTcqRing = 64;
  static constexpr std::uint32_t kHpqRing = 64;
  static constexpr std::uint32_t kPpqRing = 64;
  static constexpr std::uint32_t kRcqRing = 64;
  static constexpr std::uint32_t kRxSparePages = 64;
};

// Frames of one buffer (TxFrame) take the packets' path: the same bytes arrive, each cookie
// comes back once and in order, one doorbell per batch, and a full ring is kBusy with the
// frames that fit sent.
TEST(DataPath, TxFramesArriveWholeWithOneDoorbellAndTheirCookiesBack) {
  Nic<SmallRings> nic(64u << 20, 256);
  ASSERT_OK(nic.open_loopback());
  constexpr std::uint32_t kFrames = 40;
  auto mem = nic.plat.dma_alloc(kFrames * 2048, 4096);
  ASSERT_TRUE(mem.ok());
  std::vector<std::vector<std::uint8_t>> sent;
  std::vector<TxFrame> frames(kFrames);
  for (std::uint32_t i = 0; i < kFrames; ++i) {
    sent.push_back(make_raw(kStation, 60 + i * 37, i));
    std::memcpy(static_cast<std::uint8_t*>(mem->cpu) + i * 2048, sent[i].data(), sent[i].size());
    frames[i] = {{mem->device + i * 2048, static_cast<std::uint32_t>(sent[i].size())}, 1000 + i};
  }
  auto& tx = nic.dev.tx(0);
  std::vector<std::uint64_t> cookies;
  const auto reclaim = [&] { tx.reclaim([&](std::uint64_t c) { cookies.push_back(c); }); };
  const std::uint64_t doorbells = tx.counters().doorbells;
  const SendResult first = tx.send(std::span<const TxFrame>(frames));
  EXPECT_EQ(first.status, Error::kBusy);
  EXPECT_EQ(first.sent, 31u);  // 2 descriptors each in a 64-entry ring, one slot always free
  EXPECT_EQ(tx.counters().doorbells, doorbells + 1);
  EXPECT_EQ(tx.counters().full, 1u);
  nic.model.run();
  reclaim();
  auto got = nic.collect();
  const SendResult rest = tx.send(std::span<const TxFrame>(frames).subspan(first.sent));
  EXPECT_OK(rest.status);
  EXPECT_EQ(rest.sent, kFrames - first.sent);
  EXPECT_EQ(tx.counters().doorbells, doorbells + 2);
  nic.model.run();
  reclaim();
  for (auto& r : nic.collect()) got.push_back(std::move(r));
  ASSERT_EQ(got.size(), kFrames);
  ASSERT_EQ(cookies.size(), kFrames);
  for (std::uint32_t i = 0; i < kFrames; ++i) {
    EXPECT_EQ(got[i].bytes, sent[i]) << i;
    EXPECT_EQ(cookies[i], 1000 + i);
  }
  EXPECT_EQ(tx.counters().packets, kFrames);
  EXPECT_EQ(nic.model.faults().total(), 0u);
  nic.plat.dma_free(*mem);
}

TEST(DataPath, MillionPacketsWrapTheRingsAndEveryByteArrives) {
  Nic<SmallRings> nic(64u << 20, 256);
  ASSERT_OK(nic.open_loopback());
  constexpr std::uint32_t kPackets = 1'000'000;
  constexpr std::uint32_t kBatch = 16;
  std::uint32_t sent = 0;
  std::uint32_t received = 0;
  std::uint64_t bytes_checked = 0;
  std::vector<std::vector<std::uint8_t>> expected(kBatch);
  std::vector<typename Nic<SmallRings>::Packet> batch(kBatch);
  while (received < kPackets) {
    // A batch of frames of varying size, each with its sequence number in the payload.
    std::uint32_t queued = 0;
    for (; queued < kBatch && sent < kPackets; ++queued, ++sent) {
      expected[queued] = make_raw(kStation, 60 + (sent * 37) % 1400, sent);
      expected[queued][14] = static_cast<std::uint8_t>(sent);
      expected[queued][15] = static_cast<std::uint8_t>(sent >> 8);
      expected[queued][16] = static_cast<std::uint8_t>(sent >> 16);
      ASSERT_TRUE(nic.send(expected[queued]).ok()) << sent;
    }
    nic.model.run();
    std::uint32_t got = 0;
    while (got < queued) {
      const std::uint32_t n = nic.dev.rx(0).poll(std::span(batch.data(), batch.size()));
      ASSERT_GT(n, 0u) << "lost packets after " << received;
      for (std::uint32_t i = 0; i < n; ++i, ++got) {
        const auto& want = expected[got];
        ASSERT_EQ(batch[i].len, want.size());
        std::size_t at = 0;
        for (const RxFragment& f : batch[i].fragments()) {
          ASSERT_TRUE(
              std::equal(f.data, f.data + f.len, want.begin() + static_cast<std::ptrdiff_t>(at)))
              << "packet " << received + got;
          at += f.len;
        }
        bytes_checked += want.size();
      }
      nic.dev.rx(0).release(std::span<const typename Nic<SmallRings>::Packet>(batch.data(), n));
    }
    received += got;
    nic.reclaim();
  }
  EXPECT_EQ(received, kPackets);
  EXPECT_GT(bytes_checked, 500'000'000u);
  // 2 descriptors per packet on a 64-entry TWQ: the ring wrapped over 30000 times.
  EXPECT_GT(nic.dev.tx(0).counters().packets * 2 / 64, 30'000u);
  EXPECT_EQ(nic.model.faults().total(), 0u);
  EXPECT_EQ(nic.dev.rx(0).counters().bad_completions, 0u);
  EXPECT_EQ(nic.dev.tx(0).counters().bad_completions, 0u);
  EXPECT_EQ(nic.cookie_errors(), 0u);
}

// Frames that fit one header buffer take poll()'s fast path (two completions at a time);
// those packets count as held like any other, so their release() gives every page back.
TEST(DataPath, SingleBufferPacketsAreHeldUntilReleasedAndReleaseTheirPages) {
  Nic<> nic;
  ASSERT_OK(nic.open_loopback());
  auto& rx = nic.dev.rx(0);
  const std::uint32_t free_pages = rx.free_pages();
  constexpr std::uint32_t kRounds = 100;  // 3,200 packets: the page pool over and over
  std::vector<Nic<>::Packet> batch(32);
  for (std::uint32_t round = 0; round < kRounds; ++round) {
    for (std::uint32_t i = 0; i < batch.size(); ++i) {
      ASSERT_TRUE(nic.send(make_raw(kStation, 60 + i * 40, round * 32 + i)).ok());
    }
    nic.model.run();
    std::uint32_t got = 0;
    for (int tries = 0; tries < 4 && got < batch.size(); ++tries) {
      const std::uint32_t n = rx.poll(std::span(batch.data() + got, batch.size() - got));
      got += n;
      nic.model.run();
    }
    ASSERT_EQ(got, batch.size()) << "round " << round;
    EXPECT_EQ(rx.held(), batch.size());
    rx.release(std::span<const Nic<>::Packet>(batch.data(), got));
    EXPECT_EQ(rx.held(), 0u);
    nic.reclaim();
  }
  EXPECT_EQ(rx.counters().bad_releases, 0u);
  rx.poll(std::span<Nic<>::Packet>{});  // refill from the pages given back
  EXPECT_EQ(rx.free_pages(), free_pages);
  EXPECT_EQ(nic.model.faults().total(), 0u);
}

TEST(DataPath, FullTxRingIsReportedAsBusyAndRecovers) {
  Nic<SmallRings> nic;
  ASSERT_OK(nic.open_loopback());
  // The model does not run: nothing completes, the 64-entry ring fills up.
  std::uint32_t accepted = 0;
  Status st = ok_status();
  const auto frame = make_raw(kStation, 100, 1);
  while ((st = nic.send(frame)).ok()) ++accepted;
  EXPECT_EQ(st, Error::kBusy);
  EXPECT_EQ(accepted, 31u);  // 2 descriptors each, one slot always free
  EXPECT_EQ(nic.dev.tx(0).counters().full, 1u);
  nic.model.run();
  EXPECT_EQ(nic.reclaim(), accepted);
  EXPECT_EQ(nic.collect().size(), accepted);
  EXPECT_TRUE(nic.send(frame).ok());
  EXPECT_EQ(nic.cookie_errors(), 0u);
}

struct NeverDrop : SmallRings {};

TEST(DataPath, RxWithoutBuffersDropsAndCountsThenRecovers) {
  Nic<SmallRings> nic;
  ASSERT_OK(nic.open_loopback());
  // Hold every received packet: the page pool runs dry and the device starts dropping.
  std::vector<typename Nic<SmallRings>::Packet> held;
  std::vector<typename Nic<SmallRings>::Packet> batch(32);
  const auto big = make_raw(kStation, 3000, 9);  // one header page per frame
  for (int i = 0; i < 400; ++i) {
    ASSERT_TRUE(nic.send(big).ok());
    nic.model.run();
    nic.reclaim();
    const std::uint32_t n = nic.dev.rx(0).poll(batch);
    held.insert(held.end(), batch.begin(), batch.begin() + n);
  }
  const auto drops = nic.model.regs().get(regs::RdeBdqDropCnt::at(0)).raw();
  EXPECT_GT(drops, 0u);
  EXPECT_EQ(held.size() + drops, 400u);
  EXPECT_GT(nic.dev.rx(0).counters().refill_short, 0u);
  ASSERT_OK(nic.dev.service());  // brings the device's drop count into the queue's counters
  EXPECT_EQ(nic.dev.rx(0).counters().no_buffers, drops);
  // Releasing the packets refills the rings and traffic flows again.
  nic.dev.rx(0).release(held);
  nic.dev.rx(0).poll(batch);
  ASSERT_TRUE(nic.send(big).ok());
  nic.model.run();
  EXPECT_EQ(nic.collect().size(), 1u);
}

TEST(DataPath, StoppingQueuesWithPacketsInFlightLeaksNothing) {
  Nic<SmallRings> nic;
  ASSERT_OK(nic.open_loopback());
  const auto frame = make_raw(kStation, 200, 3);
  std::uint32_t sent = 0;
  while (nic.send(frame).ok()) ++sent;  // the device has not run: all still posted
  // The device never ran: closing must hand every packet back as aborted.
  std::uint32_t done = 0;
  std::uint32_t aborted = 0;
  std::uint32_t delivered = 0;
  const Status st = nic.dev.close(
      [&](std::uint64_t c) {
        ++done;
        nic.free_cookie(c);
      },
      [&](std::uint64_t c) {
        ++aborted;
        nic.free_cookie(c);
      },
      [&](const typename Nic<SmallRings>::Packet& p) {
        ++delivered;
        nic.dev.rx(0).release(p);
      });
  EXPECT_TRUE(st.ok()) << st.name();
  EXPECT_EQ(done + aborted, sent);
  EXPECT_TRUE(nic.in_flight.empty());
  EXPECT_EQ(nic.cookie_errors(), 0u);
  EXPECT_EQ(nic.plat.live_allocations(), 1u);  // only the test's own Tx buffer pool
  EXPECT_EQ(nic.model.firmware().host_owns_nic(), false);
  EXPECT_EQ(nic.model.faults().total(), 0u);
}

TEST(DataPath, StoppingAfterTheDeviceTookPacketsDeliversThem) {
  Nic<SmallRings> nic;
  ASSERT_OK(nic.open_loopback());
  const auto frame = make_raw(kStation, 200, 4);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(nic.send(frame).ok());
  nic.model.run();  // sent, looped back, waiting in the Rx completion queue
  std::uint32_t done = 0;
  std::uint32_t delivered = 0;
  ASSERT_TRUE(nic.dev
                  .close([&](std::uint64_t c) { ++done, nic.free_cookie(c); },
                         [&](std::uint64_t) { FAIL() << "nothing should be aborted"; },
                         [&](const auto& p) {
                           ++delivered;
                           nic.dev.rx(0).release(p);
                         })
                  .ok());
  EXPECT_EQ(done, 10u);
  EXPECT_EQ(delivered, 10u);
  EXPECT_EQ(nic.cookie_errors(), 0u);
}

TEST(DataPath, NoMmioReadsAndOneDoorbellPerBatch) {
  Nic<> nic;
  ASSERT_OK(nic.open_loopback());
  std::vector<std::vector<std::uint8_t>> frames;
  std::vector<TxBuffer> bufs;
  std::vector<TxPacket> pkts;
  for (std::uint32_t i = 0; i < 32; ++i) frames.push_back(make_raw(kStation, 64, i));
  for (std::uint32_t i = 0; i < 32; ++i) {
    std::copy(frames[i].begin(), frames[i].end(), nic.slot_cpu(i));
    bufs.push_back({nic.slot_dma(i), 64});
  }
  for (std::uint32_t i = 0; i < 32; ++i) pkts.push_back({std::span(&bufs[i], 1), {}, i});
  auto& log = nic.model.access_log();
  log.clear();
  ASSERT_EQ(nic.dev.tx(0).send(pkts).sent, 32u);
  EXPECT_EQ(log.reads(), 0u);
  EXPECT_EQ(log.writes(), 1u);  // the TWQ tail
  nic.model.run();
  log.clear();
  std::vector<typename Nic<>::Packet> batch(32);
  ASSERT_EQ(nic.dev.rx(0).poll(batch), 32u);
  nic.dev.rx(0).release(std::span<const typename Nic<>::Packet>(batch.data(), 32));
  EXPECT_EQ(nic.dev.tx(0).reclaim([](std::uint64_t) {}), 32u);
  EXPECT_EQ(log.reads(), 0u);
  // RCQ head, HPQ tail (the pages the 32 frames used), TCQ head; PPQ untouched.
  EXPECT_LE(log.writes(), 3u);
}

}  // namespace
