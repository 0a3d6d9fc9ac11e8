// libFuzzer target: the Tx completion ring, through the public API, on the device model
// in hostile mode. The input drives the host (batches of packets of one to three
// buffers, reclaims with budgets, close and reopen) and the model's hostile choices
// (completions with random fields, stale, duplicated, written after disable or repeated for ever; a
// Tx engine that stalls; queues that never go idle; surprise removal).
//
// Oracles beyond ASan and UBSan:
//   - every cookie is reported exactly once, done or aborted, and in the order sent
//   - a reclaim hands back no more packets than its budget
//   - close() returns by its idle deadline, with every packet reported
//   - no DMA after close(), whatever the device does
//   - no leak: every DMA buffer freed at the end
//   - while no completion was forged or replayed: a packet reported done was fetched by
//     the device (a replay bit for bit identical to the next genuine completion cannot
//     be told apart by any driver, so that check stops once the device may lie)
#include "harness.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

namespace {
using namespace fbnic;
using namespace fbnic::fuzz;
using Dev = Device<FuzzPlatform, Policy>;

constexpr MacAddress kStation{{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}};
constexpr std::uint32_t kSlots = 96;
constexpr std::uint32_t kSlotBytes = 2048;
constexpr std::uint32_t kIdleMs = 2;

struct Sent {
  std::vector<std::uint32_t> slots;
  std::uint64_t end = 0;  // descriptors posted in this session up to its last one
};

struct Rig {
  std::unique_ptr<Model> model = std::make_unique<Model>();
  FuzzPlatform plat{*model};
  std::unique_ptr<Dev> dev = std::make_unique<Dev>(plat);
  DmaBuffer tx_mem{};
  std::vector<std::uint32_t> free_slots;
  std::map<std::uint64_t, Sent> in_flight;
  std::uint64_t next_cookie = 1;
  std::uint64_t last_reported = 0;
  std::uint64_t session_fetched = 0;  // the model's fetch count when the session began
  std::uint64_t session_descs = 0;    // descriptors posted in this session
  bool open = false;
  bool lying = false;  // completions may have been forged or replayed

  Rig() {
    auto mem = plat.dma_alloc(std::size_t{kSlots} * kSlotBytes, 4096);
    FUZZ_CHECK(mem.ok(), "tx memory");
    tx_mem = *mem;
    for (std::uint32_t i = 0; i < kSlots; ++i) free_slots.push_back(i);
  }

  void start() {
    DeviceConfig c;
    c.mac = kStation;
    c.mtu = kMaxMtu;         // frames of every size the device carries
    c.use_firmware = false;  // the mailbox has mailbox_fuzz
    const auto& caps = model->firmware().config().caps;
    c.link_mode = mac::LinkConfig::from_firmware(caps.link_speed, caps.link_fec);
    c.link.training_ms = 0;
    c.idle_timeout_ms = kIdleMs;
    if (!dev->open(c).ok()) return;
    open = true;
    session_fetched = model->queues().tx_fetched(0);
    session_descs = 0;
    dev->link().set_mac_loopback(true).ignore();
    dev->wait_link_up(Deadline::after_us(plat.now_ns(), 10'000)).ignore();
  }

  void report(std::uint64_t c, bool done) {
    const auto it = in_flight.find(c);
    FUZZ_CHECK(it != in_flight.end(), "cookie %llu reported twice or never sent",
               static_cast<unsigned long long>(c));
    FUZZ_CHECK(c > last_reported, "cookie %llu reported after %llu",
               static_cast<unsigned long long>(c), static_cast<unsigned long long>(last_reported));
    if (done && !lying) {
      const std::uint64_t fetched = model->queues().tx_fetched(0) - session_fetched;
      FUZZ_CHECK(fetched >= it->second.end,
                 "cookie %llu reported done; the device fetched %llu of its %llu descriptors",
                 static_cast<unsigned long long>(c), static_cast<unsigned long long>(fetched),
                 static_cast<unsigned long long>(it->second.end));
    }
    last_reported = c;
    for (std::uint32_t s : it->second.slots) free_slots.push_back(s);
    in_flight.erase(it);
  }

  void send(Input& in) {
    if (!open) return;
    const std::uint32_t count = 1 + in.u8() % 8;
    std::vector<TxPacket> pkts;
    std::vector<std::vector<TxBuffer>> bufs(count);
    std::vector<Sent> sent(count);
    std::uint64_t descs = session_descs;
    for (std::uint32_t p = 0; p < count; ++p) {
      const std::uint32_t pieces = 1 + in.u8() % 3;
      if (free_slots.size() < pieces) break;
      for (std::uint32_t b = 0; b < pieces; ++b) {
        const std::uint32_t slot = free_slots.back();
        free_slots.pop_back();
        auto* f = static_cast<std::uint8_t*>(tx_mem.cpu) + std::size_t{slot} * kSlotBytes;
        const std::uint32_t len = b == 0 ? 60 + in.u8() * 4u : 1 + in.u8() * 4u;
        if (b == 0) {
          std::copy(kStation.bytes.begin(), kStation.bytes.end(), f);
          f[12] = 0x88;
          f[13] = 0xB5;
          f[14] = static_cast<std::uint8_t>(next_cookie + p);
        }
        bufs[p].push_back({tx_mem.device + std::uint64_t{slot} * kSlotBytes, len});
        sent[p].slots.push_back(slot);
      }
      descs += pieces + 1;
      sent[p].end = descs;
      pkts.push_back({bufs[p], {}, next_cookie + p});
    }
    const SendResult r = dev->tx(0).send(pkts);
    FUZZ_CHECK(r.sent <= pkts.size(), "sent %u of %zu", r.sent, pkts.size());
    for (std::uint32_t p = 0; p < pkts.size(); ++p) {
      if (p < r.sent) {
        session_descs = sent[p].end;
        in_flight[next_cookie + p] = std::move(sent[p]);
      } else {
        for (std::uint32_t s : sent[p].slots) free_slots.push_back(s);
      }
    }
    next_cookie += pkts.size();
  }

  void reclaim(Input& in) {
    if (!open) return;
    const std::uint32_t budget = 1 + in.u8() % 64;
    std::uint32_t calls = 0;
    const std::uint32_t n =
        dev->tx(0).reclaim([&](std::uint64_t c) { ++calls, report(c, true); }, budget);
    FUZZ_CHECK(n == calls && n <= budget, "reclaim said %u, reported %u, budget %u", n, calls,
               budget);
  }

  void hostility(Input& in) {
    mock::Hostility& h = model->hostile();
    const std::uint8_t what = in.u8();
    const std::uint8_t v = in.u8();
    switch (what % 8) {
      case 0: h.tx.corrupt = rate(v); break;
      case 1: h.tx.stale = rate(v); break;
      case 2: h.tx.duplicate = rate(v); break;
      case 3:
        h.tx.ignore_disable = (v & 1) != 0;
        h.tx.repeat = (v & 2) != 0;
        break;
      case 4:
        h.tx_stall = (v & 1) != 0;
        h.mac_stuck = (v & 2) != 0;
        return;
      case 5: h.never_idle = (v & 1) != 0; return;
      case 6: h.remove_after = 1 + v * 16u; return;
      default: h.calm(); return;
    }
    lying = true;
  }

  void stop() {
    if (!open) return;
    const std::uint64_t t0 = plat.now_ns();
    dev->close([this](std::uint64_t c) { report(c, true); },
               [this](std::uint64_t c) { report(c, false); },
               [this](const Dev::Rx::Packet& p) { dev->rx(0).release(p); })
        .ignore();
    FUZZ_CHECK(plat.now_ns() - t0 <= std::uint64_t{kIdleMs} * 1'000'000, "close took %llu ns",
               static_cast<unsigned long long>(plat.now_ns() - t0));
    open = false;
    FUZZ_CHECK(in_flight.empty(), "%zu packets neither done nor aborted after close()",
               in_flight.size());
    const std::uint64_t before = dma_done(*model);
    model->advance(1'000'000);
    FUZZ_CHECK(dma_done(*model) == before, "the device DMA'd after close()");
  }

  void finish() {
    stop();
    FUZZ_CHECK(free_slots.size() == kSlots, "%zu of %u Tx buffers back", free_slots.size(), kSlots);
    FUZZ_CHECK(plat.live_allocations() == 1, "%zu DMA buffers left (1 is the harness's)",
               plat.live_allocations());
    plat.dma_free(tx_mem);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Split s = split(data, size);
  Rig rig;
  rig.model->hostile().entropy.seed(size);
  rig.model->hostile().entropy.feed(s.entropy);
  rig.start();
  // Opening and closing cost the most; one operation in sixteen does it.
  for (int step = 0; step < 512 && !s.ops.empty(); ++step) {
    const std::uint8_t op = s.ops.u8() % 16;
    if (op < 6) {
      rig.send(s.ops);
    } else if (op < 8) {
      rig.model->advance(std::uint64_t{s.ops.u8()} * 10'000);
    } else if (op < 12) {
      rig.reclaim(s.ops);
    } else if (op < 15) {
      rig.hostility(s.ops);
    } else if (rig.open) {
      rig.stop();
    } else {
      rig.start();
    }
  }
  rig.finish();
  return 0;
}
