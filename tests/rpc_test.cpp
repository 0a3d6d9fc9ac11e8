// Rx classification on the device model: MAC DA filtering (unicast, multicast,
// broadcast, promiscuous, all-multicast), RSS against a Toeplitz reference checked with
// Microsoft's verification vectors, user flow rules, and a port shared by four hosts.
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

// --- the reference: Toeplitz written from its definition, bit by bit ---
std::uint32_t toeplitz_ref(std::span<const std::uint8_t> key, std::span<const std::uint8_t> in) {
  std::uint32_t result = 0;
  for (std::size_t bit = 0; bit < in.size() * 8; ++bit) {
    if ((in[bit / 8] >> (7 - bit % 8)) & 1u) {
      std::uint32_t window = 0;  // key bits [bit, bit + 32)
      for (std::size_t k = 0; k < 32; ++k) {
        const std::size_t kb = bit + k;
        const std::uint32_t b = kb / 8 < key.size() ? (key[kb / 8] >> (7 - kb % 8)) & 1u : 0u;
        window = (window << 1) | b;
      }
      result ^= window;
    }
  }
  return result;
}

std::vector<std::uint8_t> tuple(const std::uint8_t* src, const std::uint8_t* dst, std::size_t alen,
                                std::uint16_t sp, std::uint16_t dp, bool ports) {
  std::vector<std::uint8_t> v(src, src + alen);
  v.insert(v.end(), dst, dst + alen);
  if (ports) {
    v.insert(v.end(), {static_cast<std::uint8_t>(sp >> 8), static_cast<std::uint8_t>(sp),
                       static_cast<std::uint8_t>(dp >> 8), static_cast<std::uint8_t>(dp)});
  }
  return v;
}

const std::array<std::uint8_t, 40> kMsKey{
    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
    0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
    0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa};

TEST(Toeplitz, ReferenceMatchesMicrosoftVerificationVectors) {
  struct V4 {
    std::uint8_t src[4], dst[4];
    std::uint16_t sp, dp;
    std::uint32_t ip, tcp;
  };
  const V4 v4[] = {
      {{66, 9, 149, 187}, {161, 142, 100, 80}, 2794, 1766, 0x323e8fc2, 0x51ccc178},
      {{199, 92, 111, 2}, {65, 69, 140, 83}, 14230, 4739, 0xd718262a, 0xc626b0ea},
      {{24, 19, 198, 95}, {12, 22, 207, 184}, 12898, 38024, 0xd2d0a5de, 0x5c2b394a},
      {{38, 27, 205, 30}, {209, 142, 163, 6}, 48228, 2217, 0x82989176, 0xafc7327f},
      {{153, 39, 163, 191}, {202, 188, 127, 2}, 44251, 1303, 0x5d1809c5, 0x10e828a2},
  };
  for (const V4& v : v4) {
    EXPECT_EQ(toeplitz_ref(kMsKey, tuple(v.src, v.dst, 4, v.sp, v.dp, false)), v.ip);
    EXPECT_EQ(toeplitz_ref(kMsKey, tuple(v.src, v.dst, 4, v.sp, v.dp, true)), v.tcp);
  }
  struct V6 {
    std::uint8_t src[16], dst[16];
    std::uint16_t sp, dp;
    std::uint32_t ip, tcp;
  };
  const V6 v6[] = {
      {{0x3f, 0xfe, 0x25, 0x01, 0x02, 0x00, 0x1f, 0xff, 0, 0, 0, 0, 0, 0, 0, 0x07},
       {0x3f, 0xfe, 0x25, 0x01, 0x02, 0x00, 0x00, 0x03, 0, 0, 0, 0, 0, 0, 0, 0x01},
       2794,
       1766,
       0x2cc18cd5,
       0x40207d3d},
      {{0x3f, 0xfe, 0x05, 0x01, 0x00, 0x08, 0, 0, 0x02, 0x60, 0x97, 0xff, 0xfe, 0x40, 0xef, 0xab},
       {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01},
       14230,
       4739,
       0x0f0c461c,
       0xdde51bbf},
      {{0x3f, 0xfe, 0x19, 0x00, 0x45, 0x45, 0x00, 0x03, 0x02, 0x00, 0xf8, 0xff, 0xfe, 0x21, 0x67,
        0xcf},
       {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x02, 0x00, 0xf8, 0xff, 0xfe, 0x21, 0x67, 0xcf},
       44251,
       38024,
       0x4b61e985,
       0x02d1feef},
  };
  for (const V6& v : v6) {
    EXPECT_EQ(toeplitz_ref(kMsKey, tuple(v.src, v.dst, 16, v.sp, v.dp, false)), v.ip);
    EXPECT_EQ(toeplitz_ref(kMsKey, tuple(v.src, v.dst, 16, v.sp, v.dp, true)), v.tcp);
  }
}

struct FourQueues : DefaultPolicy {
  static constexpr std::uint32_t kRxQueues = 4;
  static constexpr std::uint32_t kHpqRing = 64;
  static constexpr std::uint32_t kPpqRing = 64;
  static constexpr std::uint32_t kRxSparePages = 64;
};

// A NIC fed from the test: a far end that agrees on the mode, and frames injected as if
// they came off the wire.
template <class Policy = DefaultPolicy>
struct Fed : Nic<Policy> {
  std::vector<std::vector<std::uint8_t>> wire_out;
  Fed() : Nic<Policy>(32u << 20, 64) {
    this->model.plug({{[](void* ctx, std::span<const std::uint8_t> f) {
                         static_cast<Fed*>(ctx)->wire_out.emplace_back(f.begin(), f.end());
                       },
                       this},
                      &this->model.mode()});
  }
  explicit Fed(DeviceConfig cfg) : Fed() { open(cfg); }
  void open(DeviceConfig cfg) {
    cfg.link.training_ms = 0;
    EXPECT_TRUE(this->dev.open(cfg).ok());
    EXPECT_TRUE(this->dev.wait_link_up(this->in_us(1'000'000)).ok());
  }
  ~Fed() { this->model.unplug(); }
  void inject(const std::vector<std::uint8_t>& f) {
    this->model.receive(f);
    this->model.run();
  }
  std::size_t received(std::uint32_t q = 0) { return this->collect(q).size(); }
};

DeviceConfig station() {
  DeviceConfig c;
  c.mac = kStation;
  return c;
}

// One Policy of four Rx queues, opened with two and then with four: RSS spreads over the
// queues open, and the closed ones take no DMA memory.
TEST(Rss, SpreadsOverTheQueuesOpenChosenAtRunTime) {
  Fed<FourQueues> nic;
  std::size_t bytes[2] = {};
  for (std::uint32_t open : {2u, 4u}) {
    const std::size_t before = nic.plat.bytes_allocated();
    DeviceConfig cfg = station();
    cfg.rx_queues = open;
    nic.open(cfg);
    ASSERT_EQ(nic.dev.rx_queues(), open);
    bytes[open / 4] = nic.plat.bytes_allocated() - before;
    std::array<std::uint32_t, 4> per_queue{};
    for (std::uint32_t i = 0; i < 64; ++i) {
      FlowSpec f;
      f.dst = kStation;
      f.tcp = true;
      f.src_port = static_cast<std::uint16_t>(1024 + i * 251);
      const std::uint32_t want =
          toeplitz_ref(cfg.rss.key, tuple(f.src_ip, f.dst_ip, 4, f.src_port, f.dst_port, true));
      nic.inject(make_frame(f, 32, i));
      for (std::uint32_t q = 0; q < 4; ++q) {
        const std::size_t got = nic.received(q);
        EXPECT_EQ(got, q == (want & 0xFF) % open ? 1u : 0u) << "flow " << i << " queue " << q;
        per_queue[q] += static_cast<std::uint32_t>(got);
      }
    }
    for (std::uint32_t q = 0; q < 4; ++q) EXPECT_EQ(per_queue[q] != 0, q < open) << q;
    // The statistics list the queues open.
    decltype(nic.dev)::Stats s;
    ASSERT_OK(nic.dev.stats(s));
    EXPECT_EQ(s.rx_queues, open);
    std::size_t listed = 0;
    for_each_stat(s, [&](const char*, std::uint64_t) { ++listed; });
    EXPECT_EQ(listed, stat_count(s));
    EXPECT_TRUE(find_stat(s, ("rx_queue_" + std::to_string(open - 1) + "_packets").c_str()).ok());
    EXPECT_EQ(find_stat(s, ("rx_queue_" + std::to_string(open) + "_packets").c_str()).status(),
              Error::kNotFound);
    ASSERT_OK(nic.dev.close());
  }
  // Two more Rx queues, each its rings and page pool.
  using Rx = decltype(nic.dev)::Rx;
  const std::size_t per_queue = std::size_t{Rx::kPages} * 4096 + 2 * 4096 + Rx::kRcq * 8;
  EXPECT_EQ(bytes[1] - bytes[0], 2 * per_queue);
}

TEST(Classifier, UnicastBroadcastAndUnknownUnicast) {
  Fed<> nic(station());
  nic.inject(make_raw(kStation, 100, 1));
  EXPECT_EQ(nic.received(), 1u);
  nic.inject(make_raw(kBroadcastMac, 100, 2));
  EXPECT_EQ(nic.received(), 1u);
  const auto drops = nic.model.counters().rx_classified_drop;
  nic.inject(make_raw(MacAddress{{0x02, 0, 0, 0, 0, 0x99}}, 100, 3));  // someone else's
  EXPECT_EQ(nic.received(), 0u);
  EXPECT_EQ(nic.model.counters().rx_classified_drop, drops + 1);
  // The MAC still saw it: dropped by the classifier, not lost on the wire.
  EXPECT_EQ(nic.model.mac().counters().rx_frames, 3u);
}

TEST(Classifier, MulticastOnlyWhenSubscribedOrAllMulticast) {
  Fed<> nic(station());
  const MacAddress group{{0x01, 0x00, 0x5e, 0x00, 0x00, 0x42}};
  const MacAddress other{{0x01, 0x00, 0x5e, 0x00, 0x00, 0x43}};
  nic.inject(make_raw(group, 100, 1));
  EXPECT_EQ(nic.received(), 0u);

  rpc::RxMode mode = nic.dev.rx_mode();
  const MacAddress groups[] = {group};
  mode.multicast = groups;
  ASSERT_TRUE(nic.dev.set_rx_mode(mode).ok());
  nic.inject(make_raw(group, 100, 2));
  nic.inject(make_raw(other, 100, 3));
  EXPECT_EQ(nic.received(), 1u);

  mode.all_multicast = true;
  ASSERT_TRUE(nic.dev.set_rx_mode(mode).ok());
  nic.inject(make_raw(other, 100, 4));
  nic.inject(make_raw(MacAddress{{0x02, 0, 0, 0, 0, 0x99}}, 100, 5));  // unicast: still not
  EXPECT_EQ(nic.received(), 1u);
}

TEST(Classifier, PromiscuousTakesEverything) {
  DeviceConfig cfg = station();
  cfg.promiscuous = true;
  Fed<> nic(cfg);
  nic.inject(make_raw(MacAddress{{0x02, 0, 0, 0, 0, 0x99}}, 100, 1));
  nic.inject(make_raw(MacAddress{{0x01, 0, 0x5e, 0, 0, 0x99}}, 100, 2));
  nic.inject(make_raw(kStation, 100, 3));
  EXPECT_EQ(nic.received(), 3u);
}

TEST(Classifier, TooManyAddressesFallBackToPromiscuousAndAllMulticast) {
  Fed<> nic(station());
  std::vector<MacAddress> uc(8);
  std::vector<MacAddress> mc(30);
  for (std::size_t i = 0; i < uc.size(); ++i) {
    uc[i] = MacAddress{{0x02, 0, 0, 0, 1, static_cast<std::uint8_t>(i)}};
  }
  for (std::size_t i = 0; i < mc.size(); ++i) {
    mc[i] = MacAddress{{0x01, 0, 0x5e, 0, 1, static_cast<std::uint8_t>(i)}};
  }
  rpc::RxMode mode = nic.dev.rx_mode();
  mode.unicast = uc;
  mode.multicast = mc;
  ASSERT_TRUE(nic.dev.set_rx_mode(mode).ok());
  EXPECT_TRUE(nic.dev.classifier().mac_table().promiscuous);    // 6 unicast slots
  EXPECT_TRUE(nic.dev.classifier().mac_table().all_multicast);  // 19 multicast slots
}

TEST(Classifier, RssSpreadsFlowsExactlyAsTheReferenceSays) {
  DeviceConfig cfg = station();
  std::copy(kMsKey.begin(), kMsKey.end(), cfg.rss.key.begin());
  Fed<FourQueues> nic(cfg);
  const auto key = cfg.rss.key;
  std::array<std::uint32_t, 4> per_queue{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    FlowSpec f;
    f.dst = kStation;
    f.tcp = (i % 2) == 0;
    f.ipv6 = (i % 3) == 0;
    for (std::uint8_t b = 0; b < 16; ++b) {
      f.src_ip[b] = static_cast<std::uint8_t>(i * 37 + b * 11);
      f.dst_ip[b] = static_cast<std::uint8_t>(0xC0 + b);
    }
    f.src_port = static_cast<std::uint16_t>(1024 + i * 251);
    f.dst_port = static_cast<std::uint16_t>(80 + i);
    const std::size_t alen = f.ipv6 ? 16 : 4;
    // Upstream's defaults: TCP hashes addresses and ports, UDP addresses only.
    const std::uint32_t want =
        toeplitz_ref(key, tuple(f.src_ip, f.dst_ip, alen, f.src_port, f.dst_port, f.tcp));
    const std::uint32_t queue = (want & 0xFF) % 4;  // entry i of the table is queue i mod 4
    nic.inject(make_frame(f, 32, i));
    for (std::uint32_t q = 0; q < 4; ++q) {
      const auto got = nic.collect(q);
      if (q != queue) {
        ASSERT_TRUE(got.empty()) << "flow " << i << " went to queue " << q << ", not " << queue;
        continue;
      }
      ASSERT_EQ(got.size(), 1u) << "flow " << i;
      EXPECT_EQ(got[0].meta.rss_hash(), want) << "flow " << i;
      ++per_queue[q];
    }
  }
  for (std::uint32_t q = 0; q < 4; ++q) EXPECT_GT(per_queue[q], 32u) << "queue " << q;
}

TEST(Classifier, FlowRulesSteerAndDrop) {
  Fed<FourQueues> nic(station());
  rpc::FlowMatch web;
  web.l4 = rpc::FlowMatch::L4::kTcp;
  web.dst_port = 443;
  auto to_q3 = nic.dev.classifier().add_rule(web, {rpc::FlowAction::Kind::kQueue, 3});
  ASSERT_TRUE(to_q3.ok());
  rpc::FlowMatch noise;
  noise.l4 = rpc::FlowMatch::L4::kUdp;
  noise.dst_port = 9;
  ASSERT_TRUE(nic.dev.classifier().add_rule(noise, {rpc::FlowAction::Kind::kDrop}).ok());
  for (std::uint16_t sp = 1; sp <= 20; ++sp) {
    FlowSpec f;
    f.dst = kStation;
    f.tcp = true;
    f.src_port = static_cast<std::uint16_t>(sp * 1000);
    f.dst_port = 443;
    nic.inject(make_frame(f, 10, sp));
  }
  EXPECT_EQ(nic.received(3), 20u);
  FlowSpec d;
  d.dst = kStation;
  d.dst_port = 9;
  nic.inject(make_frame(d, 10, 1));
  for (std::uint32_t q = 0; q < 4; ++q) EXPECT_EQ(nic.received(q), 0u);
  ASSERT_TRUE(nic.dev.classifier().remove_rule(*to_q3).ok());
}

TEST(Classifier, TheBmcKeepsItsAddressesAndSharesBroadcast) {
  // Firmware reports a BMC on the port: frames to its address go to the BMC only,
  // broadcast to both, the station's own address to the host only.
  const MacAddress bmc_mac{{0x02, 0xbb, 0, 0, 0, 1}};
  Fed<> nic;
  nic.model.firmware().config().caps.bmc_present = true;
  (void)nic.model.firmware().config().caps.bmc_macs.push(bmc_mac);
  std::size_t to_bmc = 0;
  nic.model.set_bmc(
      {[](void* ctx, std::span<const std::uint8_t>) { ++*static_cast<std::size_t*>(ctx); },
       &to_bmc});
  nic.open(station());
  ASSERT_TRUE(nic.dev.classifier().has_bmc());
  nic.inject(make_raw(bmc_mac, 100, 1));
  EXPECT_EQ(nic.received(), 0u);
  EXPECT_EQ(to_bmc, 1u);
  nic.inject(make_raw(kBroadcastMac, 100, 2));
  EXPECT_EQ(nic.received(), 1u);
  EXPECT_EQ(to_bmc, 2u);
  nic.inject(make_raw(kStation, 100, 3));
  EXPECT_EQ(nic.received(), 1u);
  EXPECT_EQ(to_bmc, 2u);
  // The Rx buffer counted them out to the BMC and to the host.
  typename Fed<>::Dev::Stats st;
  ASSERT_OK(nic.dev.stats(st));
  EXPECT_EQ(st.rxb.dequeue[regs::kRxbDequeueBmc].intf_frames, 2u);
  EXPECT_EQ(st.rxb.dequeue[regs::kRxbDequeueHost].intf_frames, 2u);
  // With a BMC, closing leaves the BMC's path in place and the port up.
  ASSERT_TRUE(nic.dev.close().ok());
  nic.inject(make_raw(bmc_mac, 100, 4));
  EXPECT_EQ(to_bmc, 3u);
}

// Defect 9: the BMC addresses from the capabilities were used unchecked. A broadcast or
// multicast "BMC address" took that traffic from the host, and an all-zero one took
// frames to 00:00:00:00:00:00. As upstream does: zero addresses are skipped, multicast
// ones (broadcast included) are shared with the host, only unicast ones are the BMC's.
TEST(Classifier, BmcAddressesAreCheckedAsUpstreamDoes) {
  const MacAddress bmc_mac{{0x02, 0xbb, 0, 0, 0, 1}};
  const MacAddress bmc_group{{0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb}};
  Fed<> nic;
  auto& caps = nic.model.firmware().config().caps;
  caps.bmc_present = true;
  (void)caps.bmc_macs.push(kBroadcastMac);
  (void)caps.bmc_macs.push(MacAddress{});
  (void)caps.bmc_macs.push(bmc_group);
  (void)caps.bmc_macs.push(bmc_mac);
  std::size_t to_bmc = 0;
  nic.model.set_bmc(
      {[](void* ctx, std::span<const std::uint8_t>) { ++*static_cast<std::size_t*>(ctx); },
       &to_bmc});
  nic.open(station());
  ASSERT_TRUE(nic.dev.classifier().has_bmc());
  nic.inject(make_raw(kBroadcastMac, 100, 1));
  EXPECT_EQ(nic.received(), 1u) << "broadcast must reach the host";
  EXPECT_EQ(to_bmc, 1u);
  nic.inject(make_raw(bmc_group, 100, 2));
  EXPECT_EQ(nic.received(), 1u) << "the BMC's multicast group is shared with the host";
  EXPECT_EQ(to_bmc, 2u);
  nic.inject(make_raw(bmc_mac, 100, 3));
  EXPECT_EQ(nic.received(), 0u);
  EXPECT_EQ(to_bmc, 3u);
  nic.inject(make_raw(MacAddress{}, 100, 4));
  EXPECT_EQ(nic.received(), 0u);
  EXPECT_EQ(to_bmc, 3u) << "an all-zero address is no BMC address";
}

// --- four hosts and a BMC on one port ---

TEST(MultiHost, OneSliceNeverReceivesAnothersUnicast) {
  constexpr std::size_t kSlices = 4;
  std::array<std::unique_ptr<Nic<>>, kSlices> host;
  mock::SharedPort<Nic<>::Model> port;
  std::vector<std::vector<std::uint8_t>> to_wire;
  std::size_t bmc_saw = 0;
  const mock::LinkMode far_mode{static_cast<std::uint32_t>(fw::LinkSpeed::k50gR2),
                                static_cast<std::uint32_t>(fw::LinkFec::kRs)};
  port.plug({{[](void* ctx, std::span<const std::uint8_t> f) {
                static_cast<std::vector<std::vector<std::uint8_t>>*>(ctx)->emplace_back(f.begin(),
                                                                                        f.end());
              },
              &to_wire},
             &far_mode});
  port.set_bmc({[](void* ctx, std::span<const std::uint8_t>) { ++*static_cast<std::size_t*>(ctx); },
                &bmc_saw});
  auto mac_of = [](std::size_t i) {
    return MacAddress{{0x02, 0x1d, 0x9b, 0, 0, static_cast<std::uint8_t>(0x10 + i)}};
  };
  for (std::size_t i = 0; i < kSlices; ++i) {
    host[i] = std::make_unique<Nic<>>(24u << 20, 64);
    ASSERT_TRUE(port.attach(host[i]->model));
    DeviceConfig c = host[i]->config();
    c.mac = mac_of(i);
    ASSERT_TRUE(host[i]->dev.open(c).ok());
    ASSERT_TRUE(host[i]->dev.wait_link_up(host[i]->in_us(1'000'000)).ok());
  }
  auto deliver = [&](const std::vector<std::uint8_t>& f) {
    port.wire_sink()(f);
    for (auto& h : host) h->model.run();
  };
  // Unicast to each slice in turn: only that slice has it.
  for (std::size_t target = 0; target < kSlices; ++target) {
    for (int n = 0; n < 5; ++n)
      deliver(make_raw(mac_of(target), 200, static_cast<std::uint32_t>(n)));
    for (std::size_t i = 0; i < kSlices; ++i) {
      EXPECT_EQ(host[i]->collect().size(), i == target ? 5u : 0u)
          << "slice " << i << ", frames for " << target;
    }
  }
  // Broadcast reaches everyone; the BMC sees every frame on the port.
  deliver(make_raw(kBroadcastMac, 200, 9));
  for (auto& h : host) EXPECT_EQ(h->collect().size(), 1u);
  EXPECT_EQ(bmc_saw, 4u * 5u + 1u);
  // A slice's transmissions reach the wire.
  ASSERT_TRUE(host[2]->send(make_raw(MacAddress{{0x02, 0, 0, 0, 0, 0x77}}, 100, 1)).ok());
  host[2]->model.run();
  EXPECT_EQ(to_wire.size(), 1u);
  for (auto& h : host) h->model.unplug();
}

}  // namespace
