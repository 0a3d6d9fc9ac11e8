// The device model's core: DMA checking, removal, the access log, interrupt delivery, and
// the hostile mode's bus faults (the queue and firmware faults are exercised through the
// library in hostile_datapath_test and hostile_fw_test).
#include <gtest/gtest.h>

#include <fbnic/fbnic.hpp>
#include <fbnic/mock/mock.hpp>

#include <array>
#include <cstddef>
#include <vector>

namespace {
using namespace fbnic;
using Model = mock::Device<>;

struct Bench {
  Model dev;
  std::vector<std::byte> ram = std::vector<std::byte>(1 << 20);
  mock::Platform<Model> plat{dev, ram};
  Io<mock::Platform<Model>> io{plat};

  void enable_bus_mastering() {
    ASSERT_TRUE(io.write(regs::PulObTlpHdrArCfg{}.set(regs::PulObTlpHdrArCfg::kBme, 1)).ok());
    ASSERT_TRUE(io.write(regs::PulObTlpHdrAwCfg{}.set(regs::PulObTlpHdrAwCfg::kBme, 1)).ok());
  }
};

TEST(ModelDma, DeviceAddressesDifferFromCpuPointers) {
  Bench b;
  auto buf = b.plat.dma_alloc(4096, 4096);
  ASSERT_TRUE(buf.ok());
  EXPECT_NE(buf->device, reinterpret_cast<std::uintptr_t>(buf->cpu));
  EXPECT_EQ(buf->device % 4096, 0u);
  EXPECT_LT(buf->device, 1ull << 46);
  b.plat.dma_free(*buf);
}

TEST(ModelDma, AccessOutsideEveryMappingIsReportedNotPerformed) {
  Bench b;
  b.enable_bus_mastering();
  auto buf = b.plat.dma_alloc(256, 64);
  ASSERT_TRUE(buf.ok());
  std::array<std::uint8_t, 16> data{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

  EXPECT_TRUE(b.dev.dma_write(buf->device, data.data(), data.size()));
  EXPECT_EQ(buf->bytes()[15], 16u);
  EXPECT_EQ(b.dev.faults().total(), 0u);

  // Straddling the end of the mapping, and wholly outside it.
  EXPECT_FALSE(b.dev.dma_write(buf->device + 250, data.data(), data.size()));
  EXPECT_FALSE(b.dev.dma_read(0x1234'5000, data.data(), 4));
  EXPECT_EQ(b.dev.faults().count(mock::Fault::kDmaUnmapped), 2u);
  EXPECT_EQ(b.dev.faults().recent(0).a, 0x1234'5000u);
  EXPECT_EQ(b.dev.faults().recent(1).a, buf->device + 250);
  EXPECT_EQ(b.dev.faults().recent(1).b, data.size());

  // After free the memory is unmapped: a late DMA is a fault, not a write to freed RAM.
  const auto iova = buf->device;
  b.plat.dma_free(*buf);
  EXPECT_FALSE(b.dev.dma_write(iova, data.data(), 4));
  EXPECT_EQ(b.dev.faults().count(mock::Fault::kDmaUnmapped), 3u);
  EXPECT_EQ(b.plat.live_allocations(), 0u);
}

TEST(ModelDma, BusMasteringGatesEachDirection) {
  Bench b;
  auto buf = b.plat.dma_alloc(64, 64);
  ASSERT_TRUE(buf.ok());
  std::uint8_t byte = 0;
  EXPECT_FALSE(b.dev.dma_read(buf->device, &byte, 1));
  EXPECT_EQ(b.dev.faults().count(mock::Fault::kDmaBusMasterOff), 1u);
  ASSERT_TRUE(b.io.write(regs::PulObTlpHdrArCfg{}.set(regs::PulObTlpHdrArCfg::kBme, 1)).ok());
  EXPECT_TRUE(b.dev.dma_read(buf->device, &byte, 1));
  EXPECT_FALSE(b.dev.dma_write(buf->device, &byte, 1));  // the write direction is still off
  EXPECT_EQ(b.dev.faults().count(mock::Fault::kDmaBusMasterOff), 2u);
  b.plat.dma_free(*buf);
}

TEST(ModelRemoval, RemovedDeviceReadsAllOnesAndDropsWrites) {
  Bench b;
  using regs::TimThreshold;
  ASSERT_TRUE(b.io.write(TimThreshold::at(0), TimThreshold{}.set(TimThreshold::kCount, 5)).ok());
  b.dev.set_removed(true);
  EXPECT_EQ(b.dev.read32(Bar::kCsr, TimThreshold::at(0).offset), 0xFFFF'FFFFu);
  EXPECT_EQ(b.dev.read32(Bar::kIpc, regs::MbxDescLo::at(0, 0).offset), 0xFFFF'FFFFu);
  b.dev.write32(Bar::kCsr, TimThreshold::at(0).offset, 9);
  EXPECT_EQ(b.dev.dropped_accesses(), 3u);

  // The library tells removal from a genuine all-ones value by the sentinel register.
  auto r = b.io.read(TimThreshold::at(0));
  EXPECT_EQ(r.status(), Error::kDeviceRemoved);
  EXPECT_TRUE(b.io.removed());
  EXPECT_EQ(b.io.write(TimThreshold::at(0), TimThreshold{}), Error::kDeviceRemoved);

  b.dev.set_removed(false);
  EXPECT_EQ(b.dev.read32(Bar::kCsr, TimThreshold::at(0).offset), 5u);  // the write was dropped
}

TEST(ModelRemoval, GenuineAllOnesIsNotRemoval) {
  Bench b;
  // Idle bitmaps of a quiet device read all ones.
  auto r = b.io.read(regs::QmTwqIdle::at(0));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->raw(), 0xFFFF'FFFFu);
  EXPECT_FALSE(b.io.removed());
}

TEST(ModelAccessLog, CountsReadsAndWrites) {
  Bench b;
  b.dev.access_log().clear();
  for (std::uint32_t q = 0; q < 3; ++q) {
    ASSERT_TRUE(
        b.io.write(regs::TimCtl::at(q), regs::TimCtl{}.set(regs::TimCtl::kVector, q + 2)).ok());
  }
  auto v = b.io.read(regs::TimCtl::at(2));
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->get(regs::TimCtl::kVector), 4u);
  EXPECT_EQ(b.dev.access_log().writes(), 3u);
  EXPECT_EQ(b.dev.access_log().reads(), 1u);
  const auto& last = b.dev.access_log().recent(0);
  EXPECT_FALSE(last.write);
  EXPECT_EQ(last.offset, regs::TimCtl::at(2).offset);
  EXPECT_EQ(b.dev.access_log().count_recent([](const mock::Access& a) { return a.write; }), 3u);
}

TEST(ModelIntr, VectorIsDeliveredOnceThenLeftMaskedUntilUnmasked) {
  Bench b;
  std::vector<std::uint32_t> got;
  b.dev.set_irq_sink({[](void* ctx, std::uint32_t v) {
                        static_cast<std::vector<std::uint32_t>*>(ctx)->push_back(v);
                      },
                      &got});
  // Vectors come out of reset masked: a raise is only latched.
  b.dev.intr().raise(3);
  EXPECT_TRUE(got.empty());
  EXPECT_TRUE(b.dev.intr().pending(3));
  // Unmasking delivers it; it auto-clears (SW_AC_MODE reset value) and stays masked.
  b.dev.write32(Bar::kCsr, regs::IntrMaskClear::at(0).offset, 1u << 3);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], 3u);
  EXPECT_FALSE(b.dev.intr().pending(3));
  EXPECT_TRUE(b.dev.intr().masked(3));
  b.dev.intr().raise(3);
  EXPECT_EQ(got.size(), 1u);
  // INTR_CQ_REARM with INTR_UNMASK rearms it.
  b.dev.write32(Bar::kCsr, regs::IntrCqRearm::at(3).offset,
                regs::IntrCqRearm{}.set(regs::IntrCqRearm::kIntrUnmask, 1).raw());
  EXPECT_EQ(got.size(), 2u);
}

TEST(ModelIntr, SoftwareClearedVectorStaysPendingUntilCleared) {
  Bench b;
  int fired = 0;
  b.dev.set_irq_sink({[](void* ctx, std::uint32_t) { ++*static_cast<int*>(ctx); }, &fired});
  b.dev.write32(Bar::kCsr, regs::IntrSwAcMode::at(0).offset, ~1u);  // vector 0: software clears
  b.dev.write32(Bar::kCsr, regs::IntrMaskClear::at(0).offset, 1);
  b.dev.write32(Bar::kCsr, regs::IntrSet::at(0).offset, 1);
  EXPECT_EQ(fired, 1);
  EXPECT_TRUE(b.dev.intr().pending(0));
  EXPECT_EQ(b.dev.read32(Bar::kCsr, regs::IntrStatus::at(0).offset) & 1u, 1u);
  b.dev.write32(Bar::kCsr, regs::IntrClear::at(0).offset, 1);
  EXPECT_FALSE(b.dev.intr().pending(0));
}

TEST(ModelDeterminism, SameCallsSameState) {
  auto run = [] {
    Bench b;
    b.enable_bus_mastering();
    for (std::uint32_t i = 0; i < 100; ++i) {
      b.dev.write32(Bar::kCsr, regs::RpcTcamMacda::at(i % 32, i % 4).offset, i * 2654435761u);
      b.dev.advance(1000);
    }
    std::uint64_t h = b.dev.now_ns();
    for (std::uint32_t i = 0; i < 32; ++i)
      h = h * 31 + b.dev.read32(Bar::kCsr, regs::RpcTcamMacda::at(i, 1).offset);
    return h;
  };
  EXPECT_EQ(run(), run());
}

// --- hostile mode ---

TEST(ModelHostile, EntropyIsSeededAndTakesFedBytesFirst) {
  mock::Entropy a;
  mock::Entropy b;
  a.seed(42);
  b.seed(42);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(a.u32(), b.u32());
  b.seed(43);
  EXPECT_NE(a.u32(), b.u32());
  const std::array<std::uint8_t, 6> bytes{0x12, 0x34, 0x56, 0x78, 0x9A, 0xBC};
  a.feed(bytes);
  EXPECT_EQ(a.u32(), 0x1234'5678u);
  EXPECT_EQ(a.u32(), 0x9ABCu);  // what is left of the bytes, then the generator
  EXPECT_TRUE(a.chance(mock::kAlways));
  EXPECT_FALSE(a.chance(0));
}

TEST(ModelHostile, SurpriseRemovalAtTheNthAccess) {
  Bench b;
  const std::uint32_t off = regs::TimThreshold::at(0).offset;
  b.dev.write32(Bar::kCsr, off, 5);
  b.dev.hostile().remove_after = 3;
  EXPECT_EQ(b.dev.read32(Bar::kCsr, off), 5u);
  EXPECT_EQ(b.dev.read32(Bar::kCsr, off), 5u);
  EXPECT_EQ(b.dev.read32(Bar::kCsr, off), 0xFFFF'FFFFu);  // gone before the third
  EXPECT_TRUE(b.dev.removed());
}

TEST(ModelHostile, StuckBitsReadBackFixed) {
  Bench b;
  const std::uint32_t off = regs::MbxDescLo::at(3, regs::kMailboxRx).offset;
  b.dev.hostile().stuck[0] = {Bar::kIpc, off, 0x2, 0x1};  // FW_CMPL stuck at 1, HOST_CMPL at 0
  b.dev.write32(Bar::kIpc, off, 0x1);
  EXPECT_EQ(b.dev.read32(Bar::kIpc, off), 0x2u);
  b.dev.hostile().calm();
  EXPECT_EQ(b.dev.read32(Bar::kIpc, off), 0x1u);
}

TEST(ModelHostile, NeverIdleClearsTheIdleBits) {
  Bench b;
  EXPECT_EQ(b.dev.read32(Bar::kCsr, regs::QmRcqIdle::at(0).offset), 0xFFFF'FFFFu);
  b.dev.hostile().never_idle = true;
  EXPECT_EQ(b.dev.read32(Bar::kCsr, regs::QmRcqIdle::at(0).offset), 0u);
  EXPECT_EQ(b.dev.read32(Bar::kCsr, regs::QmTwqIdle::at(0).offset), 0u);
}

}  // namespace
