// Offloads on the device model: Tx checksum insertion, TSO, Rx checksum verdicts, header
// split layout, RSS hash reporting.
#include <gtest/gtest.h>

#include <fbnic/mock/testing.hpp>

#include "support/gtest_glue.hpp"

#include <cstdint>
#include <vector>

namespace {
using namespace fbnic;
using namespace fbnic::mock::testing;

TxOffload csum_offload(const FlowSpec& f) {
  TxOffload o;
  o.checksum = true;
  o.l2_len = 14;
  o.l3_len = static_cast<std::uint16_t>(l3_header(f));
  o.csum_field = f.tcp ? 16 : 6;
  return o;
}

TEST(Offload, TxChecksumIsInsertedForTcpAndUdpOverIpv4AndIpv6) {
  Nic<> nic;
  ASSERT_OK(nic.open_loopback());
  for (bool v6 : {false, true}) {
    for (bool tcp : {false, true}) {
      FlowSpec f;
      f.ipv6 = v6;
      f.tcp = tcp;
      if (v6) {
        for (std::uint8_t i = 0; i < 16; ++i) {
          f.src_ip[i] = static_cast<std::uint8_t>(0x20 + i);
          f.dst_ip[i] = static_cast<std::uint8_t>(0x40 + i);
        }
      }
      for (std::size_t payload : {1u, 17u, 100u, 1400u, 8000u}) {
        const auto sent =
            make_frame(f, payload, static_cast<std::uint32_t>(payload), {.leave_l4_csum = true});
        ASSERT_FALSE(checksums_ok(sent, f));
        ASSERT_TRUE(nic.send(sent, 2, csum_offload(f)).ok());
        nic.model.run();
        nic.reclaim();
        const auto got = nic.collect();
        ASSERT_EQ(got.size(), 1u);
        EXPECT_TRUE(checksums_ok(got[0].bytes, f))
            << "v6=" << v6 << " tcp=" << tcp << " payload=" << payload;
        EXPECT_TRUE(got[0].meta.l4_csum_ok());
        EXPECT_EQ(got[0].meta.l3(), v6 ? 2 : 1);
        EXPECT_EQ(got[0].meta.l4(), tcp ? 1 : 2);
        // The frame is what was sent, apart from the checksum field.
        const std::size_t field = 14 + l3_header(f) + (tcp ? 16 : 6);
        for (std::size_t i = 0; i < sent.size(); ++i) {
          if (i != field && i != field + 1) {
            ASSERT_EQ(got[0].bytes[i], sent[i]) << i;
          }
        }
      }
    }
  }
  EXPECT_EQ(nic.cookie_errors(), 0u);
}

TEST(Offload, RxReportsBadChecksumsAndTheL2Sum) {
  Nic<> nic;
  ASSERT_OK(nic.open_loopback());
  FlowSpec f;
  f.tcp = true;
  const auto good = make_frame(f, 300, 1);
  const auto bad = make_frame(f, 300, 1, {.bad_l4_csum = true});
  ASSERT_TRUE(nic.send(good).ok());
  ASSERT_TRUE(nic.send(bad).ok());
  nic.model.run();
  const auto got = nic.collect();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_TRUE(got[0].meta.l4_csum_ok());
  EXPECT_FALSE(got[1].meta.l4_csum_ok());
  // The L2 checksum: the sum of everything after the Ethernet header, little-endian words.
  const std::uint16_t be = fold(sum16(std::span(bad).subspan(14)));
  EXPECT_EQ(got[1].meta.l2_csum(), static_cast<std::uint16_t>(be >> 8 | be << 8));
  EXPECT_EQ(nic.dev.rx(0).counters().dropped, 0u);  // reported, not dropped
}

TEST(Offload, OddHeaderLengthsAreRefusedNotTruncated) {
  Nic<> nic;
  ASSERT_OK(nic.open_loopback());
  FlowSpec f;
  const auto frame = make_frame(f, 64, 1, {.leave_l4_csum = true});
  TxOffload o = csum_offload(f);
  o.l2_len = 15;  // cannot be said in 2-byte units
  EXPECT_EQ(nic.send(frame, 1, o), Error::kInvalidArgument);
  EXPECT_EQ(nic.dev.tx(0).counters().rejected, 1u);
  EXPECT_EQ(nic.dev.tx(0).in_flight(), 0u);
}

TEST(Offload, TsoCutsIntoMssSegmentsWithHeadersFixedUp) {
  Nic<> nic;
  ASSERT_OK(nic.open_loopback());
  for (bool v6 : {false, true}) {
    FlowSpec f;
    f.tcp = true;
    f.ipv6 = v6;
    f.tcp_flags = 0x19;    // FIN | PSH | ACK
    f.seq = 0xFFFF'F000u;  // and the sequence number wraps inside the burst
    constexpr std::size_t kPayload = 60'000;
    constexpr std::uint16_t kMss = 1448;
    const auto big = make_frame(f, kPayload, 42, {.tso_seed = true});
    TxOffload o = csum_offload(f);
    o.mss = kMss;
    o.l4_header_len = 20;
    o.l3 = v6 ? TxOffload::L3::kIpv6 : TxOffload::L3::kIpv4;
    o.l4 = TxOffload::L4::kTcp;
    ASSERT_TRUE(nic.send(big, 4, o).ok());
    nic.model.run();
    nic.reclaim();
    const auto got = nic.collect(0, 128);
    const std::size_t expect_segments = (kPayload + kMss - 1) / kMss;
    ASSERT_EQ(got.size(), expect_segments);
    const std::size_t hdr = 14 + l3_header(f) + 20;
    std::vector<std::uint8_t> payload;
    for (std::size_t s = 0; s < got.size(); ++s) {
      const auto& seg = got[s].bytes;
      const std::size_t chunk = s + 1 < got.size() ? kMss : kPayload - s * kMss;
      ASSERT_EQ(seg.size(), hdr + chunk);
      EXPECT_TRUE(checksums_ok(seg, f)) << "segment " << s;
      EXPECT_TRUE(got[s].meta.l4_csum_ok());
      EXPECT_EQ(be32(&seg[14 + l3_header(f) + 4]), static_cast<std::uint32_t>(f.seq + s * kMss));
      const std::uint8_t flags = seg[14 + l3_header(f) + 13];
      if (s == 0) {
        EXPECT_EQ(flags, 0x10) << "FIN and PSH cleared in the first segment";
      } else if (s + 1 == got.size()) {
        EXPECT_EQ(flags, 0x19) << "the last keeps FIN and PSH";
      } else {
        EXPECT_EQ(flags, 0x10);
      }
      if (!v6) {
        EXPECT_EQ(be16(&seg[14 + 4]), static_cast<std::uint16_t>(42 + s)) << "IPv4 ID increments";
      }
      payload.insert(payload.end(), seg.begin() + static_cast<std::ptrdiff_t>(hdr), seg.end());
    }
    EXPECT_TRUE(
        std::equal(payload.begin(), payload.end(), big.begin() + static_cast<std::ptrdiff_t>(hdr)));
  }
  EXPECT_EQ(nic.model.faults().total(), 0u);
  EXPECT_EQ(nic.cookie_errors(), 0u);
}

struct NoTxOffloads : DefaultPolicy {
  static constexpr bool kTxOffloads = false;
};

// A policy without Tx offloads refuses a packet that asks for one, counts it, and sends
// nothing of it; plain packets go as always.
TEST(Offload, APolicyWithoutTxOffloadsRefusesThem) {
  Nic<NoTxOffloads> nic;
  ASSERT_OK(nic.open_loopback());
  FlowSpec f;
  f.tcp = true;
  const auto frame = make_frame(f, 200, 1, {.leave_l4_csum = true});
  EXPECT_EQ(nic.send(frame, 1, csum_offload(f)).code(), Error::kNotSupported);
  EXPECT_EQ(nic.dev.tx(0).counters().rejected, 1u);
  nic.model.run();
  EXPECT_TRUE(nic.collect().empty());
  ASSERT_OK(nic.send(make_frame(f, 200, 2)));
  nic.model.run();
  nic.reclaim();
  EXPECT_EQ(nic.collect().size(), 1u);
  EXPECT_EQ(nic.cookie_errors(), 0u);
}

struct HeaderSplit : DefaultPolicy {
  static constexpr bool kRxHeaderSplit = true;
};

TEST(Offload, HeaderSplitPutsHeadersAndPayloadInSeparateBuffers) {
  Nic<HeaderSplit> nic;
  ASSERT_OK(nic.open_loopback());
  FlowSpec f;
  f.tcp = true;
  const auto frame = make_frame(f, 6000, 5);
  ASSERT_TRUE(nic.send(frame).ok());
  ASSERT_TRUE(nic.send(make_frame(f, 100, 6)).ok());
  nic.model.run();
  std::vector<typename Nic<HeaderSplit>::Packet> batch(8);
  ASSERT_EQ(nic.dev.rx(0).poll(batch), 2u);
  const auto& p = batch[0];
  // Header buffer: Ethernet + IPv4 + TCP, placed after the headroom; then two payload
  // pieces, each at the start of its own 4 KiB buffer.
  ASSERT_EQ(p.frags, 3);
  EXPECT_EQ(p.frag[0].len, 54u);
  EXPECT_EQ(p.frag[0].offset, 128u);  // headroom 64 rounded up to the 128-byte placement grid
  EXPECT_EQ(p.frag[1].offset, 0u);
  EXPECT_EQ(p.frag[1].len, 4096u);
  EXPECT_EQ(p.frag[2].len, 6000u + 54 - 54 - 4096);
  EXPECT_NE(p.frag[0].page, p.frag[1].page);
  EXPECT_EQ(p.len, frame.size());
  // The small frame's headers share the first frame's header buffer.
  const auto& q = batch[1];
  EXPECT_EQ(q.frag[0].page, p.frag[0].page);
  EXPECT_GT(q.frag[0].offset, p.frag[0].offset);
  EXPECT_EQ(q.frag[0].offset % 128, 0u);
  nic.dev.rx(0).release(std::span<const typename Nic<HeaderSplit>::Packet>(batch.data(), 2));
}

TEST(Offload, RssHashIsReported) {
  Nic<> nic;
  ASSERT_OK(nic.open_loopback());
  FlowSpec f;
  f.tcp = true;
  ASSERT_TRUE(nic.send(make_frame(f, 64, 1)).ok());
  nic.model.run();
  const auto got = nic.collect();
  ASSERT_EQ(got.size(), 1u);
  // The hash of (src ip, dst ip, src port, dst port) with the default key.
  EXPECT_NE(got[0].meta.rss_hash(), 0u);
  f.src_port = 1001;
  ASSERT_TRUE(nic.send(make_frame(f, 64, 1)).ok());
  nic.model.run();
  const auto got2 = nic.collect();
  ASSERT_EQ(got2.size(), 1u);
  EXPECT_NE(got2[0].meta.rss_hash(), got[0].meta.rss_hash());
}

}  // namespace
