// libFuzzer target: the Rx completion ring, through the public API, on the device model
// in hostile mode. The input drives the host (send frames over MAC loopback, poll with a
// budget, hold and release packets, close and reopen) and the model's hostile choices
// (completions with random fields, stale, duplicated, written after disable or repeated for ever,
// queues that never go idle, surprise removal).
//
// Oracles beyond ASan and UBSan:
//   - every fragment lies inside one buffer the host posted, and is what the CPU sees at
//     that device address
//   - a poll returns no more packets than its budget
//   - close() returns by its deadlines (idle + firmware), and every Tx frame is reported
//   - no DMA after close(), whatever the device does
//   - no reference-count drift: once every held packet is released, every page is free
//     and every DMA buffer freed
//   - with no hostility at all: each packet is, in order, the frame sent (drops only
//     where the device counted them), and the model saw no driver mistake
#include "harness.hpp"

#include <algorithm>
#include <cstdint>
#include <deque>
#include <memory>
#include <unordered_map>
#include <vector>

namespace {
using namespace fbnic;
using namespace fbnic::fuzz;
using Dev = Device<FuzzPlatform, Policy>;
using Packet = Dev::Rx::Packet;

constexpr MacAddress kStation{{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}};
constexpr std::uint32_t kSlots = 32;
constexpr std::uint32_t kSlotBytes = 9216;
constexpr std::size_t kMaxHeld = 96;
constexpr std::uint32_t kIdleMs = 2;
constexpr std::uint32_t kFirmwareMs = 200;

struct Rig {
  std::unique_ptr<Model> model = std::make_unique<Model>();
  FuzzPlatform plat{*model};
  std::unique_ptr<Dev> dev = std::make_unique<Dev>(plat);
  DmaBuffer tx_mem{};
  std::vector<std::uint32_t> free_slots;
  std::unordered_map<std::uint64_t, std::uint32_t> in_flight;  // cookie -> slot
  std::vector<Packet> held;
  std::deque<std::vector<std::uint8_t>> expected;  // faithful runs: sent, not yet received
  std::uint64_t drops_seen = 0;                    // device drops already matched
  std::uint64_t next_cookie = 1;
  bool open = false;
  bool hostile = false;  // once anything hostile happened, frames may be lost or forged

  Rig() {
    auto mem = plat.dma_alloc(std::size_t{kSlots} * kSlotBytes, 4096);
    FUZZ_CHECK(mem.ok(), "tx memory");
    tx_mem = *mem;
    for (std::uint32_t i = 0; i < kSlots; ++i) free_slots.push_back(i);
  }

  // Without the firmware: the mailbox has a fuzzer of its own (mailbox_fuzz), and here
  // every execution goes to the rings.
  DeviceConfig config() const {
    DeviceConfig c;
    c.mac = kStation;
    c.mtu = kMaxMtu;  // frames of every size the device carries
    c.use_firmware = false;
    const auto& caps = model->firmware().config().caps;
    c.link_mode = mac::LinkConfig::from_firmware(caps.link_speed, caps.link_fec);
    c.link.training_ms = 0;
    c.idle_timeout_ms = kIdleMs;
    c.firmware_timeout_ms = kFirmwareMs;
    return c;
  }

  void start() {
    const std::uint64_t t0 = plat.now_ns();
    const Status st = dev->open(config());
    FUZZ_CHECK(plat.now_ns() - t0 <= std::uint64_t{kFirmwareMs} * 1'000'000, "open took %llu ns",
               static_cast<unsigned long long>(plat.now_ns() - t0));
    if (!st.ok()) return;
    open = true;
    dev->link().set_mac_loopback(true).ignore();
    dev->wait_link_up(Deadline::after_us(plat.now_ns(), 10'000)).ignore();
  }

  void free_cookie(std::uint64_t c) {
    const auto it = in_flight.find(c);
    FUZZ_CHECK(it != in_flight.end(), "Tx cookie %llu reported twice or never sent",
               static_cast<unsigned long long>(c));
    free_slots.push_back(it->second);
    in_flight.erase(it);
  }

  void send(Input& in) {
    if (!open || free_slots.empty()) return;
    const std::uint16_t r = in.u16();
    const std::uint32_t len = (r & 0x8000) != 0 ? 60 + r % 9000 : 60 + r % 1500;
    const std::uint32_t slot = free_slots.back();
    auto* f = static_cast<std::uint8_t*>(tx_mem.cpu) + std::size_t{slot} * kSlotBytes;
    for (std::size_t i = 0; i < 6; ++i) f[i] = kStation.bytes[i];
    const std::uint8_t src[6] = {0x02, 0, 0, 0, 0, 0x02};
    for (std::size_t i = 0; i < 6; ++i) f[6 + i] = src[i];
    f[12] = 0x88;
    f[13] = 0xB5;
    std::uint32_t x = static_cast<std::uint32_t>(next_cookie) * 2654435761u;
    for (std::uint32_t i = 14; i < len; ++i)
      f[i] = static_cast<std::uint8_t>((x = x * 1103515245u + 12345u) >> 16);
    const TxBuffer buf{tx_mem.device + std::uint64_t{slot} * kSlotBytes, len};
    const TxPacket pkt{std::span(&buf, 1), {}, next_cookie};
    if (dev->tx(0).send(std::span(&pkt, 1)).sent != 1) return;
    free_slots.pop_back();
    in_flight[next_cookie++] = slot;
    if (!hostile) expected.emplace_back(f, f + len);
  }

  void reclaim() {
    if (open) dev->tx(0).reclaim([this](std::uint64_t c) { free_cookie(c); });
  }

  void check(const Packet& p) {
    FUZZ_CHECK(p.frags >= 1 && p.frags <= Policy::kMaxRxFrags, "%u fragments", p.frags);
    std::uint32_t total = 0;
    std::vector<std::uint8_t> bytes;
    for (const RxFragment& f : p.fragments()) {
      FUZZ_CHECK(f.len > 0 && f.offset + f.len <= desc::kRxBufferBytes, "fragment %u+%u", f.offset,
                 f.len);
      const std::uint64_t dma = dev->rx(0).dma(f);
      FUZZ_CHECK(model->queues().was_posted(0, dma), "fragment at %#llx in no posted buffer",
                 static_cast<unsigned long long>(dma));
      FUZZ_CHECK(model->dma_space().translate(dma, f.len) == f.data,
                 "fragment data is not what the device address holds");
      total += f.len;
      if (!hostile) bytes.insert(bytes.end(), f.data, f.data + f.len);
    }
    FUZZ_CHECK(total == p.len, "length %u, fragments %u", p.len, total);
    if (hostile) return;
    // Faithful: the next frame sent, save those the device counted as dropped.
    const std::uint64_t drops = model->counters().rx_queue_drops + model->counters().rx_fifo_drops;
    while (!expected.empty() && expected.front() != bytes && drops_seen < drops) {
      expected.pop_front();
      ++drops_seen;
    }
    FUZZ_CHECK(!expected.empty() && expected.front() == bytes,
               "a packet that is not the next frame sent (%u bytes)", p.len);
    expected.pop_front();
  }

  void keep_or_release(const Packet& p, bool keep) {
    if (keep && held.size() < kMaxHeld) {
      held.push_back(p);
    } else {
      dev->rx(0).release(p);
    }
  }

  void poll(Input& in) {
    if (!open) return;
    const std::uint32_t budget = 1 + in.u8() % 16;
    std::vector<Packet> out(budget);
    const std::uint32_t n = dev->rx(0).poll(out);
    FUZZ_CHECK(n <= budget, "poll returned %u for a budget of %u", n, budget);
    const std::uint8_t keep = in.u8();
    for (std::uint32_t i = 0; i < n; ++i) {
      check(out[i]);
      keep_or_release(out[i], ((keep >> (i % 8)) & 1) != 0);
    }
  }

  void release(Input& in) {
    std::size_t n = in.u8() % 8 + 1;
    while (n-- > 0 && !held.empty()) {
      const std::size_t i = in.u8() % held.size();
      dev->rx(0).release(held[i]);
      held[i] = held.back();
      held.pop_back();
    }
  }

  void hostility(Input& in) {
    mock::Hostility& h = model->hostile();
    const std::uint8_t what = in.u8();
    const std::uint8_t v = in.u8();
    switch (what % 7) {
      case 0: h.rx.corrupt = rate(v); break;
      case 1: h.rx.stale = rate(v); break;
      case 2: h.rx.duplicate = rate(v); break;
      case 3:
        h.rx.ignore_disable = (v & 1) != 0;
        h.rx.repeat = (v & 2) != 0;
        break;
      case 4: h.never_idle = (v & 1) != 0; break;
      case 5: h.remove_after = 1 + v * 16u; break;
      default: h.calm(); return;
    }
    hostile = true;
  }

  void stop() {
    if (!open) return;
    const std::uint64_t t0 = plat.now_ns();
    const Status st = dev->close([this](std::uint64_t c) { free_cookie(c); },
                                 [this](std::uint64_t c) { free_cookie(c); },
                                 [this](const Packet& p) {
                                   check(p);
                                   keep_or_release(p, (p.len & 1) != 0);
                                 });
    (void)st;
    const std::uint64_t bound = std::uint64_t{kIdleMs + kFirmwareMs} * 1'000'000;
    FUZZ_CHECK(plat.now_ns() - t0 <= bound, "close took %llu ns",
               static_cast<unsigned long long>(plat.now_ns() - t0));
    open = false;
    FUZZ_CHECK(in_flight.empty(), "%zu Tx packets neither done nor aborted", in_flight.size());
    expected.clear();  // whatever was still on its way is gone with the queues
    // Whatever the device does now, nothing reaches host memory.
    const std::uint64_t before = dma_done(*model);
    std::vector<std::uint8_t> frame(200, 0x5A);
    std::copy(kStation.bytes.begin(), kStation.bytes.end(), frame.begin());
    model->receive(frame);
    model->advance(1'000'000);
    FUZZ_CHECK(dma_done(*model) == before, "the device DMA'd after close()");
  }

  void finish() {
    stop();
    dev->rx(0).release(held);
    held.clear();
    FUZZ_CHECK(dev->rx(0).free_pages() == Dev::Rx::kPages, "%u of %u pages free",
               dev->rx(0).free_pages(), Dev::Rx::kPages);
    FUZZ_CHECK(plat.live_allocations() == 1, "%zu DMA buffers left (1 is the harness's)",
               plat.live_allocations());
    if (!hostile) {
      FUZZ_CHECK(model->faults().total() == 0, "a faithful device saw a driver mistake: %s",
                 mock::fault_name(model->faults().recent(0).fault));
      FUZZ_CHECK(dev->rx(0).counters().bad_completions == 0,
                 "a faithful device's completion "
                 "was refused");
    }
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
    if (op < 5) {
      rig.send(s.ops);
    } else if (op == 5) {
      rig.model->advance(std::uint64_t{s.ops.u8()} * 10'000);
    } else if (op == 6) {
      rig.reclaim();
    } else if (op < 11) {
      rig.poll(s.ops);
    } else if (op < 13) {
      rig.release(s.ops);
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
