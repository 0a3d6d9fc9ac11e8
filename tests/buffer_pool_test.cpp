// BufferPool: carving, bulk alloc and free, refused misuse, and Tx on the device model with
// buffers freed from the reclaim callback while Rx frames go back out without a copy.
#include <gtest/gtest.h>

#include <fbnic/mock/testing.hpp>

#include "support/gtest_glue.hpp"

#include <array>
#include <cstdint>
#include <cstring>
#include <set>
#include <vector>

namespace {
using namespace fbnic;
using namespace fbnic::mock::testing;

DmaBuffer fake_memory(std::vector<std::uint8_t>& bytes, std::uint64_t device) {
  return DmaBuffer{bytes.data(), device, bytes.size(), 1};
}

TEST(BufferPool, InitRefusesWhatCannotHoldABuffer) {
  std::vector<std::uint8_t> bytes(4096);
  BufferPool<8> pool;
  EXPECT_EQ(pool.init(DmaBuffer{}, 256), Error::kInvalidArgument);
  EXPECT_EQ(pool.init(fake_memory(bytes, 0x10000), 0), Error::kInvalidArgument);
  EXPECT_EQ(pool.init(fake_memory(bytes, 0x10000), 256, 48), Error::kInvalidArgument);
  EXPECT_EQ(pool.init(fake_memory(bytes, 0x10020), 256, 64), Error::kInvalidArgument);
  EXPECT_EQ(pool.init(fake_memory(bytes, 0x10000), 8192), Error::kInvalidArgument);
  EXPECT_EQ(pool.count(), 0u);
  EXPECT_EQ(pool.alloc().status(), Error::kNoMemory);
}

TEST(BufferPool, CarvesAlignedBuffersUpToItsCapacity) {
  std::vector<std::uint8_t> bytes(64 * 1024);
  BufferPool<100> small;
  ASSERT_TRUE(small.init(fake_memory(bytes, 0x200000), 1000, 128).ok());
  EXPECT_EQ(small.count(), 64u);  // 64 KiB / 1024-byte stride
  BufferPool<16> capped;
  ASSERT_TRUE(capped.init(fake_memory(bytes, 0x200000), 1000, 128).ok());
  EXPECT_EQ(capped.count(), 16u);
  for (std::uint32_t i = 0; i < small.count(); ++i) {
    const PoolBuffer b = small.at(i);
    EXPECT_EQ(b.dma % 128, 0u);
    EXPECT_EQ(b.dma - 0x200000, static_cast<std::uint64_t>(b.data - bytes.data()));
    EXPECT_LE(b.data + 1000, bytes.data() + bytes.size());
  }
  EXPECT_EQ(small.at(small.count()).data, nullptr);
}

TEST(BufferPool, BulkAllocGivesDistinctBuffersThenFewerWhenShort) {
  std::vector<std::uint8_t> bytes(32 * 2048);
  BufferPool<32> pool;
  ASSERT_TRUE(pool.init(fake_memory(bytes, 0x1000), 2048).ok());
  std::array<PoolBuffer, 20> a{};
  std::array<PoolBuffer, 20> b{};
  EXPECT_EQ(pool.alloc(a), 20u);
  EXPECT_EQ(pool.alloc(b), 12u);
  EXPECT_EQ(pool.available(), 0u);
  EXPECT_EQ(pool.counters().short_allocs, 1u);
  std::set<std::uint32_t> seen;
  for (const auto& x : a) seen.insert(x.index);
  for (std::uint32_t i = 0; i < 12; ++i) seen.insert(b[i].index);
  EXPECT_EQ(seen.size(), 32u);
  EXPECT_EQ(pool.free(std::span<const PoolBuffer>(a)), 20u);
  EXPECT_EQ(pool.free(std::span<const PoolBuffer>(b.data(), 12)), 12u);
  EXPECT_EQ(pool.available(), 32u);
  EXPECT_EQ(pool.counters().allocated, 32u);
  EXPECT_EQ(pool.counters().freed, 32u);
}

TEST(BufferPool, DoubleFreesAndForeignIndexesAreRefusedAndCounted) {
  std::vector<std::uint8_t> bytes(4 * 256);
  BufferPool<4> pool;
  ASSERT_TRUE(pool.init(fake_memory(bytes, 0x1000), 256).ok());
  const auto b = pool.alloc();
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(pool.free(b->index).ok());
  EXPECT_EQ(pool.free(b->index), Error::kFailedPrecondition);
  EXPECT_EQ(pool.free(7), Error::kOutOfRange);
  EXPECT_EQ(pool.free(~std::uint64_t{0}), Error::kOutOfRange);
  EXPECT_EQ(pool.counters().bad_frees, 3u);
  EXPECT_EQ(pool.available(), 4u);  // nothing entered the free list twice
  std::array<PoolBuffer, 8> all{};
  EXPECT_EQ(pool.alloc(all), 4u);
}

// Frames built in pool buffers go out through MAC loopback; the reclaim callback frees
// them by cookie. Half of what arrives is sent out again straight from its Rx page (zero
// copy) and comes back a second time; every byte is compared, and at the end every pool
// buffer and every Rx page is free again.
TEST(BufferPool, TxFromThePoolFreedByReclaimWhileRxFramesGoBackOutWithoutACopy) {
  Nic<> nic;
  ASSERT_OK(nic.open_loopback());
  auto mem = nic.plat.dma_alloc(512 * 2048, 4096);
  ASSERT_TRUE(mem.ok());
  BufferPool<512> pool;
  ASSERT_TRUE(pool.init(*mem, 2048).ok());
  const std::uint32_t rx_pages = nic.dev.rx(0).free_pages();

  constexpr std::uint64_t kZeroCopy = std::uint64_t{1} << 63;  // cookie: an Rx page
  auto& tx = nic.dev.tx(0);
  auto& rx = nic.dev.rx(0);
  auto on_done = [&](std::uint64_t cookie) {
    if ((cookie & kZeroCopy) != 0) {
      rx.release(RxFragment{nullptr, 0, static_cast<std::uint16_t>(cookie), 0});
    } else {
      EXPECT_TRUE(pool.free(cookie).ok());
    }
  };

  std::vector<std::vector<std::uint8_t>> expected;  // in order of arrival
  std::uint32_t compared = 0;
  std::uint32_t forwarded = 0;
  constexpr std::uint32_t kRounds = 200;
  for (std::uint32_t round = 0; round < kRounds; ++round) {
    std::array<PoolBuffer, 8> b{};
    const std::uint32_t n = pool.alloc(b);
    ASSERT_EQ(n, 8u);
    std::array<TxBuffer, 8> bufs{};
    std::array<TxPacket, 8> pkts{};
    for (std::uint32_t i = 0; i < n; ++i) {
      const auto frame = make_raw(kStation, 60 + (round * 8 + i) % 1400, round * 8 + i);
      std::memcpy(b[i].data, frame.data(), frame.size());
      bufs[i] = {b[i].dma, static_cast<std::uint32_t>(frame.size())};
      pkts[i] = {std::span(&bufs[i], 1), {}, b[i].index};
      expected.push_back(frame);
    }
    ASSERT_EQ(tx.send(std::span(pkts.data(), n)).sent, n);
    nic.model.run();
    tx.reclaim(on_done);

    std::array<Nic<>::Packet, 16> got{};
    const std::uint32_t m = rx.poll(got);
    std::array<TxBuffer, 16> fwd_bufs{};
    std::array<TxPacket, 16> fwd{};
    std::uint32_t f = 0;
    for (std::uint32_t i = 0; i < m; ++i) {
      ASSERT_EQ(got[i].frags, 1u);
      const RxFragment& frag = got[i].frag[0];
      ASSERT_LT(compared, expected.size());
      EXPECT_EQ(std::vector<std::uint8_t>(frag.data, frag.data + frag.len), expected[compared]);
      ++compared;
      if (i % 2 == 0) {  // out again from the Rx page: the packet's reference moves to Tx
        fwd_bufs[f] = {rx.dma(frag), frag.len};
        fwd[f] = {std::span(&fwd_bufs[f], 1), {}, kZeroCopy | frag.page};
        expected.push_back(std::vector<std::uint8_t>(frag.data, frag.data + frag.len));
        ++f;
      } else {
        rx.release(got[i]);
      }
    }
    ASSERT_EQ(tx.send(std::span(fwd.data(), f)).sent, f);
    forwarded += f;
  }
  for (int i = 0; i < 20 && compared < expected.size(); ++i) {
    nic.model.run();
    tx.reclaim(on_done);
    std::array<Nic<>::Packet, 16> got{};
    const std::uint32_t m = rx.poll(got);
    for (std::uint32_t k = 0; k < m; ++k) {
      const RxFragment& frag = got[k].frag[0];
      EXPECT_EQ(std::vector<std::uint8_t>(frag.data, frag.data + frag.len), expected[compared]);
      ++compared;
    }
    rx.release(std::span<const Nic<>::Packet>(got.data(), m));
  }
  nic.model.run();
  tx.reclaim(on_done);
  EXPECT_EQ(compared, kRounds * 8 + forwarded);
  EXPECT_GT(forwarded, kRounds * 3);
  EXPECT_EQ(pool.available(), pool.count());
  EXPECT_EQ(pool.counters().bad_frees, 0u);
  rx.poll(std::span<Nic<>::Packet>{});
  EXPECT_EQ(nic.dev.rx(0).free_pages(), rx_pages);
  EXPECT_EQ(nic.model.faults().total(), 0u);
  nic.plat.dma_free(*mem);
}

}  // namespace
