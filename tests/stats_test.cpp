// Statistics: Device::stats() after real traffic and real drops on the device model, the
// ethtool -S names, and the way the counters are read (wrap, split 64-bit reads, the
// clear-on-read FEC counters, service() keeping 32-bit counters from wrapping unseen).
#include <gtest/gtest.h>

#include <fbnic/mock/testing.hpp>

#include "support/gtest_glue.hpp"

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace {
using namespace fbnic;
using namespace fbnic::mock::testing;

template <class N>
typename N::Dev::Stats read_stats(N& nic) {
  typename N::Dev::Stats s;
  EXPECT_OK(nic.dev.stats(s));
  return s;
}
template <class N>
std::uint64_t stat(N& nic, const char* name) {
  const auto s = read_stats(nic);
  const Result<std::uint64_t> v = find_stat(s, name);
  EXPECT_TRUE(v.ok()) << name;
  return v.value_or(~std::uint64_t{0});
}

TEST(Stats, NamesAreEthtoolStyleUniqueAndComplete) {
  Stats<2, 4> s;
  std::set<std::string> names;
  std::size_t n = 0;
  for_each_stat(s, [&](const char* name, std::uint64_t) {
    names.insert(name);
    ++n;
  });
  EXPECT_EQ(n, (stat_count<2, 4>()));
  EXPECT_EQ(names.size(), n) << "a name is used twice";
  for (const char* want :
       {"tx_queue_1_packets", "rx_queue_3_bytes", "rde_3_pkt_bdq_drop", "rde_0_pkt_cq_drop",
        "eth-mac-FramesReceivedOK", "eth-mac-FrameTooLongErrors", "rmon-etherStatsOversizePkts",
        "eth-phy-SymbolErrorDuringCarrier", "fec-corrected_blocks", "rpc_unkn_etype",
        "rpc_tcp_opt_err", "rpc_ovr_size_err", "rpc_tcam_act_miss", "rxb_fifo4_dropped_frames",
        "rxb_drbo0_bytes", "rxb_intf3_frames", "rxb_parser_err0"}) {
    EXPECT_EQ(names.count(want), 1u) << want;
  }
  EXPECT_EQ(find_stat(s, "no_such_counter").status(), Error::kNotFound);
}

TEST(Stats, BeforeTheFirstOpenThereIsNothingToCountFrom) {
  Nic<> nic;
  typename Nic<>::Dev::Stats s;
  EXPECT_EQ(nic.dev.stats(s), Error::kFailedPrecondition);
}

TEST(Stats, TrafficIsCountedPerQueueAtTheMacAndInTheRxBuffer) {
  Nic<> nic;
  ASSERT_OK(nic.open_loopback());
  const auto opened = read_stats(nic);
  std::uint64_t nonzero = 0;
  for_each_stat(opened, [&](const char*, std::uint64_t v) { nonzero += v != 0 ? 1 : 0; });
  EXPECT_EQ(nonzero, 0u) << "totals count from open()";

  for (std::uint32_t i = 0; i < 10; ++i) ASSERT_OK(nic.send(make_raw(kStation, 100, i)));
  ASSERT_OK(nic.send(make_raw(kBroadcastMac, 200, 10)));
  nic.model.run();
  EXPECT_EQ(nic.collect().size(), 11u);
  EXPECT_EQ(nic.reclaim(), 11u);

  const auto s = read_stats(nic);
  EXPECT_EQ(s.tx[0].packets, 11u);
  EXPECT_EQ(s.tx[0].bytes, 1200u);
  EXPECT_EQ(s.rx[0].packets, 11u);
  EXPECT_EQ(s.rx[0].bytes, 1200u);
  EXPECT_EQ(s.mac.frames_transmitted_ok, 11u);
  EXPECT_EQ(s.mac.octets_transmitted_ok, 1200u);
  EXPECT_EQ(s.mac.broadcast_frames_xmitted_ok, 1u);
  EXPECT_EQ(s.mac.frames_received_ok, 11u);
  EXPECT_EQ(s.mac.octets_received_ok, 1200u);
  EXPECT_EQ(s.mac.broadcast_frames_received_ok, 1u);
  EXPECT_EQ(s.rxb.enqueue[regs::kRxbEnqueueNetwork].drbo_frames, 11u);
  EXPECT_EQ(s.rxb.enqueue[regs::kRxbEnqueueNetwork].drbo_bytes, 1200u);
  EXPECT_EQ(s.rxb.dequeue[regs::kRxbDequeueHost].intf_frames, 11u);
  EXPECT_EQ(s.rxb.dequeue[regs::kRxbDequeueHost].pbuf_bytes, 1200u);
  // make_raw's EtherType (0x88B5, local experimental) is none the parser knows.
  EXPECT_EQ(s.rpc.unkn_etype, 11u);
  EXPECT_EQ(s.rpc.macda_miss, 0u);
  EXPECT_EQ(s.rpc.tcam_act_miss, 0u);
  EXPECT_EQ(s.rx[0].rde_pkt_bdq_drop + s.rx[0].rde_pkt_cq_drop, 0u);
  EXPECT_EQ(find_stat(s, "eth-mac-FramesReceivedOK").value_or(0), 11u);
  EXPECT_EQ(nic.cookie_errors(), 0u);
}

TEST(Stats, ReadingThemIsTheOnlyMmioReadAndTheDataPathDoesNone) {
  Nic<> nic;
  ASSERT_OK(nic.open_loopback());
  auto& log = nic.model.access_log();
  log.clear();
  ASSERT_OK(nic.send(make_raw(kStation, 100, 1)));
  nic.model.run();
  EXPECT_EQ(nic.collect().size(), 1u);
  EXPECT_EQ(nic.reclaim(), 1u);
  EXPECT_EQ(log.reads(), 0u);
  read_stats(nic);
  EXPECT_GT(log.reads(), 150u);  // every device counter, on request
}

// A unicast frame for someone else: the MAC DA TCAM misses, no rule matches, the default
// action drops it. It arrives from the wire through a reflecting far end, so the library
// runs as it would on a real port.
TEST(Stats, AnUnknownUnicastFrameIsCountedAsUnmatched) {
  Nic<> nic;
  Reflector reflector(nic.model);
  ASSERT_OK(nic.dev.open(nic.config()));
  ASSERT_OK(nic.dev.wait_link_up(nic.in_us(1'000'000)));
  const MacAddress stranger{{0x02, 0, 0, 0, 0, 0x99}};
  ASSERT_OK(nic.send(make_raw(stranger, 100, 1)));
  ASSERT_OK(nic.send(make_raw(kStation, 100, 2)));
  nic.model.run();
  EXPECT_EQ(reflector.frames(), 2u);
  EXPECT_EQ(nic.collect().size(), 1u);
  const auto s = read_stats(nic);
  EXPECT_EQ(s.rpc.macda_miss, 1u);
  EXPECT_EQ(s.rpc.tcam_act_miss, 1u);
  EXPECT_EQ(s.mac.frames_received_ok, 2u);
  EXPECT_EQ(s.rxb.enqueue[regs::kRxbEnqueueNetwork].drbo_frames, 2u);
  EXPECT_EQ(s.rxb.dequeue[regs::kRxbDequeueHost].intf_frames, 1u);
  EXPECT_EQ(s.rx[0].packets, 1u);
  EXPECT_EQ(nic.model.counters().rx_classified_drop, 1u);
}

struct NoDeviceCounters : DefaultPolicy {
  static constexpr bool kDeviceCounters = false;
};

// A policy without the device's running counters (a boot driver's): stats() says so, and
// service() reads no counter register; the default policy, the control, reads each.
TEST(Stats, APolicyWithoutDeviceCountersReadsNoCounter) {
  const auto unkn_etype_reads = [](auto& nic) {
    return nic.model.access_log().count_recent([](const mock::Access& a) {
      return !a.write && a.bar == Bar::kCsr && a.offset == regs::RpcCntrUnknEtype::kOffset;
    });
  };
  Nic<> with;
  Nic<NoDeviceCounters> without;
  ASSERT_OK(with.open_loopback());
  ASSERT_OK(without.open_loopback());
  with.model.access_log().clear();
  without.model.access_log().clear();
  ASSERT_OK(with.dev.service());
  ASSERT_OK(without.dev.service());
  EXPECT_EQ(unkn_etype_reads(with), 1u);
  EXPECT_EQ(unkn_etype_reads(without), 0u);
  typename Nic<NoDeviceCounters>::Dev::Stats s;
  EXPECT_EQ(without.dev.stats(s).code(), Error::kNotSupported);
  ASSERT_OK(without.send(make_raw(kStation, 100, 1)));  // the data path does not care
  without.model.run();
  without.reclaim();
  EXPECT_EQ(without.collect().size(), 1u);
}

struct SmallRings : DefaultPolicy {
  static constexpr std::uint32_t kTxRing = 64;
  static constexpr std::uint32_t kTcqRing = 64;
  static constexpr std::uint32_t kHpqRing = 64;
  static constexpr std::uint32_t kPpqRing = 64;
  static constexpr std::uint32_t kRcqRing = 64;
  static constexpr std::uint32_t kRxSparePages = 64;
};

TEST(Stats, RxWithoutBuffersIsABdqDrop) {
  Nic<SmallRings> nic;
  ASSERT_OK(nic.open_loopback());
  // Every packet held: the pages run out, the device drops for want of buffers.
  std::vector<typename Nic<SmallRings>::Packet> held;
  std::vector<typename Nic<SmallRings>::Packet> batch(32);
  const auto big = make_raw(kStation, 3000, 9);  // one header page per frame
  constexpr std::uint32_t kSent = 300;
  for (std::uint32_t i = 0; i < kSent; ++i) {
    ASSERT_OK(nic.send(big));
    nic.model.run();
    nic.reclaim();
    const std::uint32_t n = nic.dev.rx(0).poll(batch);
    held.insert(held.end(), batch.begin(), batch.begin() + n);
  }
  const auto s = read_stats(nic);
  EXPECT_GT(s.rx[0].rde_pkt_bdq_drop, 0u);
  EXPECT_EQ(s.rx[0].rde_pkt_bdq_drop, nic.model.queues().counters().rx_no_buffer);
  EXPECT_EQ(held.size() + s.rx[0].rde_pkt_bdq_drop, kSent);
  EXPECT_EQ(s.rx[0].packets, held.size());
  EXPECT_EQ(s.rx[0].rde_pkt_cq_drop, 0u);
  EXPECT_GT(s.rx[0].alloc_failed, 0u);
  EXPECT_EQ(s.rxb.dequeue[regs::kRxbDequeueHost].intf_frames, kSent);  // all reached the DMA
  nic.dev.rx(0).release(held);
}

TEST(Stats, AFullCompletionQueueIsACqDrop) {
  Nic<SmallRings> nic;
  ASSERT_OK(nic.open_loopback());
  // Small frames share header pages; nobody polls, so the 64-entry completion queue (two
  // completions a frame) fills before the buffers run out.
  constexpr std::uint32_t kSent = 40;
  for (std::uint32_t i = 0; i < kSent; ++i) {
    ASSERT_OK(nic.send(make_raw(kStation, 60, i)));
    if (i % 10 == 9) {
      nic.model.run();
      nic.reclaim();
    }
  }
  const auto s = read_stats(nic);
  EXPECT_GT(s.rx[0].rde_pkt_cq_drop, 0u);
  EXPECT_EQ(s.rx[0].rde_pkt_cq_drop, nic.model.queues().counters().rx_no_completion_room);
  EXPECT_EQ(s.rx[0].rde_pkt_bdq_drop, 0u);
  EXPECT_EQ(nic.collect().size() + s.rx[0].rde_pkt_cq_drop, kSent);
}

struct HoldingRings : SmallRings {
  static constexpr bool kRxBackPressure = true;
};

TEST(Stats, AFullRxFifoIsAFifoDropAndOneTransition) {
  Nic<HoldingRings> nic;
  ASSERT_OK(nic.open_loopback());
  // Never-drop mode and nobody polling: frames wait in the device's FIFO until it is full,
  // then the FIFO drops. One stretch of drops is one transition into the drop state.
  const auto frame = make_raw(kStation, 1514, 1);
  constexpr std::uint32_t kPushed = 400;
  static_assert(kPushed * 1514 > mock::DefaultConfig::kRxbBytes);
  for (std::uint32_t i = 0; i < kPushed; ++i) nic.model.receive(frame);
  const auto s = read_stats(nic);
  const auto& fifo = s.rxb.fifo[regs::kRxbFifoNetToHost];
  EXPECT_GT(fifo.dropped_frames, 0u);
  EXPECT_EQ(fifo.dropped_frames, nic.model.counters().rx_fifo_drops);
  EXPECT_EQ(fifo.drop, 1u);
  EXPECT_GT(fifo.level * 64, mock::DefaultConfig::kRxbBytes - 1514);  // full, in 64-byte units
  EXPECT_EQ(s.rxb.enqueue[regs::kRxbEnqueueNetwork].drbo_frames, kPushed);
  EXPECT_EQ(find_stat(s, "rxb_fifo4_dropped_frames").value_or(0), fifo.dropped_frames);
}

TEST(Stats, OversizeFramesAreCountedAtTheMacAndAtTheParser) {
  Nic<> nic;
  ASSERT_OK(nic.open_loopback());
  // Longer than the MAC's limit (MAC_FRM_LENGTH, 9742): too long, dropped by the MAC.
  nic.model.receive(make_raw(kStation, 9800, 1));
  nic.model.run();
  auto s = read_stats(nic);
  EXPECT_EQ(s.mac.frame_too_long_errors, 1u);
  EXPECT_EQ(s.mac.oversize_pkts, 1u);
  EXPECT_EQ(s.mac.frames_received_ok, 0u);
  EXPECT_EQ(s.rxb.enqueue[regs::kRxbEnqueueNetwork].drbo_frames, 0u);
  // Within the MAC's limit, beyond the parser's MTU: counted and dropped by the parser.
  ASSERT_OK(nic.dev.io().modify<regs::RpcRmiConfig>(
      [](regs::RpcRmiConfig& r) { r.set(regs::RpcRmiConfig::kMtu, 1514); }));
  nic.model.receive(make_raw(kStation, 2000, 2));
  nic.model.receive(make_raw(kStation, 1514, 3));
  nic.model.run();
  EXPECT_EQ(nic.collect().size(), 1u);
  s = read_stats(nic);
  EXPECT_EQ(s.rpc.ovr_size_err, 1u);
  EXPECT_EQ(s.mac.frames_received_ok, 2u);
  EXPECT_EQ(s.rx[0].packets, 1u);
}

// Frames the parser flags, built from the kit's frames by changing a few header bytes.
std::vector<std::uint8_t> ipv4_fragment() {
  FlowSpec f;
  f.dst = kStation;
  auto v = make_frame(f, 100, 1);
  v[14 + 6] |= 0x20;  // more fragments
  return v;
}
std::vector<std::uint8_t> ipv6_with(std::uint8_t next_header, std::uint8_t payload_proto) {
  FlowSpec f;
  f.dst = kStation;
  f.ipv6 = true;
  auto v = make_frame(f, 100, 2);
  // An 8-byte extension header after the IPv6 header: next header, length 0, six bytes.
  const std::uint8_t ext[8] = {payload_proto, 0, 0, 0, 0, 0, 0, 1};
  v.insert(v.begin() + 14 + 40, ext, ext + 8);
  v[14 + 6] = next_header;
  put16(v, 14 + 4, static_cast<std::uint16_t>(be16(&v[14 + 4]) + 8));
  return v;
}
std::vector<std::uint8_t> esp(bool v6) {
  FlowSpec f;
  f.dst = kStation;
  f.ipv6 = v6;
  auto v = make_frame(f, 100, 3);
  v[v6 ? 14 + 6 : 14 + 9] = 50;  // IPsec ESP
  return v;
}
std::vector<std::uint8_t> tcp_with_bad_options() {
  FlowSpec f;
  f.dst = kStation;
  f.tcp = true;
  auto v = make_frame(f, 100, 4);
  const std::size_t tcp = 14 + 20;
  v[tcp + 12] = 0x80;  // 32-byte header: 12 bytes of options, over the payload's first bytes
  v[tcp + 20] = 2;     // MSS, claiming 0xF0 bytes
  v[tcp + 21] = 0xF0;
  return v;
}
std::vector<std::uint8_t> truncated_ipv4() {
  FlowSpec f;
  f.dst = kStation;
  auto v = make_frame(f, 100, 5);
  v[14] = 0x4F;  // a 60-byte IPv4 header in a 34-byte frame
  v.resize(14 + 20);
  return v;
}

TEST(Stats, ParserCountersFollowWhatArrives) {
  Nic<> nic;
  ASSERT_OK(nic.open_loopback());
  const std::vector<std::vector<std::uint8_t>> frames = {
      ipv4_fragment(), ipv6_with(44, 17),      ipv6_with(51, 17), esp(false),
      esp(true),       tcp_with_bad_options(), truncated_ipv4()};
  for (const auto& f : frames) nic.model.receive(f);
  nic.model.run();
  const auto s = read_stats(nic);
  EXPECT_EQ(s.rpc.ipv4_frag, 1u);
  EXPECT_EQ(s.rpc.ipv6_frag, 1u);
  EXPECT_EQ(s.rpc.unkn_ext_hdr, 1u);
  EXPECT_EQ(s.rpc.ipv4_esp, 1u);
  EXPECT_EQ(s.rpc.ipv6_esp, 1u);
  EXPECT_EQ(s.rpc.tcp_opt_err, 1u);
  EXPECT_EQ(s.rpc.out_of_hdr_err, 1u);
  EXPECT_EQ(s.rxb.enqueue[regs::kRxbEnqueueNetwork].parser_err, 1u);
  EXPECT_EQ(s.rpc.unkn_etype, 0u);
  EXPECT_EQ(s.mac.undersize_pkts, 1u);  // the truncated one: 34 bytes
  EXPECT_EQ(s.mac.frames_received_ok, frames.size());
}

TEST(Stats, PcsAndFecCountersAddUpAcrossReads) {
  Pair<> p;
  p.cable();
  ASSERT_OK(p.open());
  p.poll_links();
  for (int i = 0; i < 5; ++i) ASSERT_OK(p.a->send(make_raw(kMacB, 100, 1)));
  ASSERT_OK(p.a->send(make_raw(kBroadcastMac, 100, 1)));
  p.run();
  const auto a = read_stats(*p.a);
  auto b = read_stats(*p.b);
  EXPECT_EQ(a.mac.frames_transmitted_ok, 6u);
  EXPECT_EQ(a.mac.octets_transmitted_ok, 600u);
  EXPECT_EQ(a.mac.broadcast_frames_xmitted_ok, 1u);
  EXPECT_EQ(b.mac.frames_received_ok, 6u);
  EXPECT_EQ(b.mac.broadcast_frames_received_ok, 1u);
  EXPECT_EQ(b.mac.frame_check_sequence_errors, 0u);

  p.b->model.mac().inject_fec_errors(70'000, 3);  // more than 16 bits: both halves used
  p.b->model.mac().inject_symbol_errors(2, 9);
  p.b->model.mac().inject_symbol_errors(3, 1);
  b = read_stats(*p.b);
  p.b->model.mac().inject_fec_errors(5, 0);
  ASSERT_OK(p.b->dev.service());  // reads the clear-on-read counters too
  b = read_stats(*p.b);
  EXPECT_EQ(b.phy.fec_corrected_blocks, 70'005u);
  EXPECT_EQ(b.phy.fec_uncorrectable_blocks, 3u);
  EXPECT_EQ(b.phy.symbol_errors, 10u);
}

TEST(Stats, A32BitCounterWrapIsCountedAndServiceKeepsTwoWrapsApart) {
  Nic<> nic;
  // The device has counted for a while: its counter is just below the wrap at open().
  auto& regs = nic.model.regs();
  const auto drbo = regs::RxbDrboFrmCntSrc::at(regs::kRxbEnqueueNetwork);
  regs.put(drbo, regs::RxbDrboFrmCntSrc::from_raw(0xFFFF'FFF0u));
  ASSERT_OK(nic.open_loopback());
  for (std::uint32_t i = 0; i < 32; ++i) ASSERT_OK(nic.send(make_raw(kStation, 60, i)));
  nic.model.run();
  EXPECT_EQ(stat(nic, "rxb_drbo0_frames"), 32u);  // 0xFFFFFFF0 -> 0x10: across the wrap
  // 2^32 - 1 frames later (written straight into the counter), service() sees the counter
  // once; 32 more frames wrap it again. Both wraps are in the total.
  regs.put(drbo, regs::RxbDrboFrmCntSrc::from_raw(regs.get(drbo).raw() - 1));
  ASSERT_OK(nic.dev.service());
  for (std::uint32_t i = 0; i < 32; ++i) ASSERT_OK(nic.send(make_raw(kStation, 60, i)));
  nic.model.run();
  EXPECT_EQ(stat(nic, "rxb_drbo0_frames"), 32u + std::uint64_t{0xFFFF'FFFFu} + 32u);
}

TEST(Stats, A64BitCounterCarriesIntoItsHighHalf) {
  Nic<> nic;
  auto& regs = nic.model.regs();
  regs.put(regs::MacStatRxReceivedOk::addr(), regs::MacStatRxReceivedOk::from_raw(0xFFFF'FFFEu));
  ASSERT_OK(nic.open_loopback());
  for (std::uint32_t i = 0; i < 4; ++i) ASSERT_OK(nic.send(make_raw(kStation, 60, i)));
  nic.model.run();
  EXPECT_EQ(stat(nic, "eth-mac-FramesReceivedOK"), 4u);
  EXPECT_EQ(regs.get(regs::RegAddr<regs::MacStatRxReceivedOk>{
                         regs::MacStatRxReceivedOk::kHighOffset, true})
                .raw(),
            1u);
}

// A counter whose high half moves between the two reads of it: the read keeps only the
// high half (never more than the counter held), and the next read adds the rest.
struct RacingCounter {
  std::uint64_t value = 0x1'FFFF'FFF0ull;
  std::uint32_t reads = 0;
  std::uint32_t read32(Bar, std::uint32_t off) {
    ++reads;
    const bool high = off == regs::MacStatRxByteCount::kHighOffset;
    if (reads == 2) value += 0x20;  // counts on between the first high read and the low read
    return high ? static_cast<std::uint32_t>(value >> 32) : static_cast<std::uint32_t>(value);
  }
  void write32(Bar, std::uint32_t, std::uint32_t) {}
  Result<DmaBuffer> dma_alloc(std::size_t, std::size_t) { return Error::kNoMemory; }
  void dma_free(const DmaBuffer&) {}
  std::uint64_t now_ns() { return 0; }
  void delay_us(std::uint32_t) {}
  void log(LogLevel, const char*) {}
};

TEST(Stats, ASplitReadRacingTheHighHalfKeepsOnlyTheHighHalf) {
  RacingCounter dev;
  Io<RacingCounter> io(dev);
  const auto first = read_split64(io, regs::MacStatRxByteCount::addr());
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(*first, 0x2'0000'0000ull);  // high moved from 1 to 2: high:0, no torn value
  const auto second = read_split64(io, regs::MacStatRxByteCount::addr());
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*second, 0x2'0000'0010ull);  // settled: the rest comes in
  Count64 c;
  c.start(0x1'FFFF'FFF0ull);
  c.update(*first);
  c.update(*second);
  EXPECT_EQ(c.value, 0x20u);
}

TEST(Stats, ARemovedDeviceFailsTheReadAndKeepsTheTotals) {
  Nic<> nic;
  ASSERT_OK(nic.open_loopback());
  ASSERT_OK(nic.send(make_raw(kStation, 100, 1)));
  nic.model.run();
  EXPECT_EQ(stat(nic, "eth-mac-FramesReceivedOK"), 1u);
  nic.model.set_removed(true);
  typename Nic<>::Dev::Stats s;
  EXPECT_EQ(nic.dev.stats(s), Error::kDeviceRemoved);
}

}  // namespace
