// soak: packets through the library and the device model over MAC loopback, every byte
// of every frame checked on arrival. Not part of CI (10^8 packets take minutes); run it
// by hand:
//
//   cmake --build build --target soak && build/tests/soak [packets] [seed]
//
// Frames are 60 to 1514 bytes, sent in batches of 1 to 32, each filled from a generator
// keyed by its sequence number, so a frame that arrives late, twice, out of order or
// with one wrong byte is caught. Prints the packets, bytes, wall time, packets/s, and
// every kind of error counted; exits non-zero if any.
#include <fbnic/fbnic.hpp>
#include <fbnic/mock/hosted.hpp>
#include <fbnic/mock/mock.hpp>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

namespace {
using namespace fbnic;

struct SoakPolicy : DefaultPolicy {
  static constexpr std::uint32_t kTxRing = 256;
  static constexpr std::uint32_t kTcqRing = 256;
  static constexpr std::uint32_t kHpqRing = 128;
  static constexpr std::uint32_t kPpqRing = 128;
  static constexpr std::uint32_t kRcqRing = 256;
  static constexpr std::uint32_t kRxSparePages = 128;
};
using Model = mock::Device<>;
using Plat = mock::Platform<Model>;
using Dev = Device<Plat, SoakPolicy>;
using Packet = Dev::Rx::Packet;

constexpr MacAddress kStation{{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}};
constexpr std::uint32_t kBatch = 32;
constexpr std::uint32_t kSlotBytes = 2048;

std::uint32_t frame_len(std::uint64_t seq) {
  return 60 + static_cast<std::uint32_t>((seq * 7919) % 1455);
}

// The frame for a sequence number: the station address, an experimental ethertype, the
// sequence number, then bytes from a generator keyed by it.
void fill(std::uint8_t* f, std::uint64_t seq, std::uint64_t seed) {
  const std::uint32_t len = frame_len(seq);
  for (std::size_t i = 0; i < 6; ++i) f[i] = kStation.bytes[i];
  for (std::size_t i = 6; i < 12; ++i) f[i] = static_cast<std::uint8_t>(0x10 + i);
  f[12] = 0x88;
  f[13] = 0xB5;
  for (std::size_t i = 0; i < 8; ++i) f[14 + i] = static_cast<std::uint8_t>(seq >> (8 * i));
  std::uint64_t x = (seq + 1) * 0x9E37'79B9'7F4A'7C15ull ^ seed;
  for (std::uint32_t i = 22; i < len; i += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::memcpy(f + i, &x, len - i < 8 ? len - i : 8);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::uint64_t total = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 100'000'000ull;
  const std::uint64_t seed = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 1;

  auto model = std::make_unique<Model>();
  mock::HostRam ram(64u << 20);
  Plat plat(*model, ram.span());
  auto dev = std::make_unique<Dev>(plat);
  DeviceConfig cfg;
  cfg.mac = kStation;
  cfg.link.training_ms = 0;
  if (!dev->open(cfg).ok() || !dev->link().set_mac_loopback(true).ok() ||
      !dev->wait_link_up(Deadline::after_us(plat.now_ns(), 1'000'000)).ok()) {
    std::fprintf(stderr, "soak: bring-up failed\n");
    return 2;
  }
  auto mem = plat.dma_alloc(std::size_t{kBatch} * kSlotBytes, 4096);
  if (!mem.ok()) return 2;
  auto* slots = static_cast<std::uint8_t*>(mem->cpu);

  std::uint64_t sent = 0;
  std::uint64_t received = 0;
  std::uint64_t bytes = 0;
  std::uint64_t wrong_bytes = 0;   // packets with a byte that differs
  std::uint64_t wrong_length = 0;  // packets of another length than sent
  std::uint64_t out_of_order = 0;  // another sequence number than the next one
  std::uint64_t lost = 0;          // never arrived
  std::uint64_t send_refused = 0;  // send() accepted fewer than the batch
  std::vector<Packet> batch(kBatch);
  std::vector<std::uint8_t> want(kSlotBytes);
  std::vector<TxBuffer> bufs(kBatch);
  std::vector<TxPacket> pkts(kBatch);
  const auto t0 = std::chrono::steady_clock::now();
  std::uint64_t next_report = 10'000'000;

  while (sent < total) {
    const std::uint32_t n = static_cast<std::uint32_t>(
        std::min<std::uint64_t>(1 + (sent / kBatch) % kBatch, total - sent));
    for (std::uint32_t i = 0; i < n; ++i) {
      fill(slots + std::size_t{i} * kSlotBytes, sent + i, seed);
      bufs[i] = {mem->device + std::uint64_t{i} * kSlotBytes, frame_len(sent + i)};
      pkts[i] = {std::span(&bufs[i], 1), {}, sent + i};
    }
    const SendResult r = dev->tx(0).send(std::span(pkts.data(), n));
    if (r.sent != n) ++send_refused;
    const std::uint64_t first = sent;
    sent += r.sent;
    model->run();
    dev->tx(0).reclaim([](std::uint64_t) {});
    std::uint64_t expect = first;
    for (int tries = 0; tries < 4 && expect < sent; ++tries) {
      const std::uint32_t got = dev->rx(0).poll(batch);
      for (std::uint32_t i = 0; i < got; ++i) {
        const Packet& p = batch[i];
        std::uint64_t seq = 0;
        const RxFragment& f0 = p.frag[0];
        for (std::size_t k = 0; k < 8 && 14 + k < f0.len; ++k)
          seq |= std::uint64_t{f0.data[14 + k]} << (8 * k);
        if (seq != expect) ++out_of_order;
        const std::uint32_t len = frame_len(seq);
        if (p.len != len || len > kSlotBytes) {
          ++wrong_length;
        } else {
          fill(want.data(), seq, seed);
          std::uint32_t at = 0;
          bool same = true;
          for (const RxFragment& f : p.fragments()) {
            same = same && std::memcmp(f.data, want.data() + at, f.len) == 0;
            at += f.len;
          }
          if (!same) ++wrong_bytes;
        }
        bytes += p.len;
        ++received;
        expect = seq + 1;
      }
      dev->rx(0).release(std::span<const Packet>(batch.data(), got));
      if (expect < sent) model->run();
    }
    lost += sent - expect;
    if (sent >= next_report) {
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::printf("soak: %" PRIu64 " packets, %.0f s, %.0f packets/s\n", sent, s,
                  static_cast<double>(sent) / s);
      std::fflush(stdout);
      next_report += 10'000'000;
    }
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const Status closed = dev->close();
  plat.dma_free(*mem);
  const std::uint64_t bad_rx = dev->rx(0).counters().bad_completions;
  const std::uint64_t bad_tx = dev->tx(0).counters().bad_completions;
  const std::uint64_t faults = model->faults().total();
  const std::size_t leaked = plat.live_allocations();
  const std::uint64_t errors = wrong_bytes + wrong_length + out_of_order + lost + send_refused +
                               bad_rx + bad_tx + faults + leaked + (closed.ok() ? 0 : 1);
  std::printf("soak: %" PRIu64 " packets sent, %" PRIu64 " received, %" PRIu64
              " bytes checked\n"
              "soak: %.1f s, %.0f packets/s, %.1f MB/s checked\n"
              "soak: errors %" PRIu64 ": wrong bytes %" PRIu64 ", wrong length %" PRIu64
              ", out of order %" PRIu64 ", lost %" PRIu64 ", send refused %" PRIu64
              ", bad completions rx %" PRIu64 " tx %" PRIu64 ", model faults %" PRIu64
              ", DMA buffers left %zu, close %s\n",
              sent, received, bytes, secs, static_cast<double>(received) / secs,
              static_cast<double>(bytes) / secs / 1e6, errors, wrong_bytes, wrong_length,
              out_of_order, lost, send_refused, bad_rx, bad_tx, faults, leaked, closed.name());
  return errors == 0 ? 0 : 1;
}
