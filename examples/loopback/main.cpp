// loopback: the library's whole bring-up on the device model, then N packets out and back
// through MAC loopback, each one checked byte for byte.
//
//   loopback [packets]     (default 1000)
#include <fbnic/fbnic.hpp>
#include <fbnic/mock/hosted.hpp>
#include <fbnic/mock/mock.hpp>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace {
using namespace fbnic;
using Model = mock::Device<>;
using Plat = mock::Platform<Model, mock::StderrLog>;
using Nic = fbnic::Device<Plat>;

constexpr MacAddress kStation{{0x02, 0x1d, 0x9b, 0x00, 0x00, 0x01}};
constexpr std::uint32_t kBatch = 32;
constexpr std::uint32_t kFrameBytes = 512;

void print_version(const char* what, std::uint32_t v) {
  const fw::Version ver{v};
  std::printf("  %-22s %02u.%02u.%02u-%03u\n", what, ver.major(), ver.minor(), ver.patch(),
              ver.build());
}

// Frame i: to the station address, a local ethertype, then a pattern that depends on i.
void fill_frame(std::uint8_t* f, std::uint32_t i) {
  for (std::size_t b = 0; b < 6; ++b) f[b] = kStation.bytes[b];
  const std::uint8_t src[6] = {0x02, 0, 0, 0, 0, 0x02};
  for (std::size_t b = 0; b < 6; ++b) f[6 + b] = src[b];
  f[12] = 0x88;
  f[13] = 0xB5;
  for (std::uint32_t b = 14; b < kFrameBytes; ++b) f[b] = static_cast<std::uint8_t>(i * 7 + b);
}

}  // namespace

int main(int argc, char** argv) {
  const std::uint32_t packets =
      argc > 1 ? static_cast<std::uint32_t>(std::strtoul(argv[1], nullptr, 10)) : 1000;
  Model model;
  mock::HostRam ram(64u << 20);
  Plat platform(model, ram.span(), mock::StderrLog{LogLevel::kWarning});
  Nic nic(platform);

  DeviceConfig cfg;
  cfg.mac = kStation;
  cfg.link.training_ms = 0;
  if (const Status st = nic.open(cfg); !st.ok()) {
    std::fprintf(stderr, "bring-up failed: %s\n", st.name());
    return 1;
  }
  const auto& caps = nic.firmware().capabilities();
  std::printf("fbnic loopback on the device model\n");
  std::printf(
      "bring-up: datapath registers, firmware handshake, %u Tx / %u Rx queue(s), classifier\n",
      Nic::kTxQueues, Nic::kRxQueues);
  print_version("firmware (running)", caps.version);
  print_version("firmware (stored)", caps.stored_version);
  print_version("boot (cmrt)", caps.cmrt_version);
  print_version("option rom (uefi)", caps.uefi_version);
  std::printf("  %-22s %s\n", "commit", caps.version_commit.c_str());
  std::printf("  %-22s %s\n", "host owns the NIC", nic.firmware().owns_device() ? "yes" : "no");

  if (!nic.link().set_mac_loopback(true).ok() ||
      !nic.wait_link_up(Deadline::after_us(platform.now_ns(), 1'000'000)).ok()) {
    std::fprintf(stderr, "link did not come up\n");
    return 1;
  }
  std::printf("link: up, %u Gb/s, MAC loopback\n", nic.link().config().gbps());

  // Tx buffers: one DMA region, a slot per frame of a batch.
  auto mem = platform.dma_alloc(std::size_t{kBatch} * kFrameBytes, 4096);
  if (!mem.ok()) return 1;
  auto* cpu = static_cast<std::uint8_t*>(mem->cpu);
  std::array<TxBuffer, kBatch> bufs{};
  std::array<TxPacket, kBatch> pkts{};
  std::array<Nic::Rx::Packet, kBatch> rx{};

  model.access_log().clear();
  std::uint32_t sent = 0;
  std::uint32_t received = 0;
  std::uint32_t mismatches = 0;
  while (received < packets) {
    const std::uint32_t n = packets - sent < kBatch ? packets - sent : kBatch;
    for (std::uint32_t i = 0; i < n; ++i) {
      fill_frame(cpu + i * kFrameBytes, sent + i);
      bufs[i] = {mem->device + i * kFrameBytes, kFrameBytes};
      pkts[i] = {std::span(&bufs[i], 1), {}, sent + i};
    }
    const SendResult r = nic.tx(0).send(std::span(pkts.data(), n));
    if (!r.status.ok()) {
      std::fprintf(stderr, "send: %s\n", r.status.name());
      return 1;
    }
    model.run();  // the device does its part: fetch, loop back, place, complete
    std::uint32_t got = 0;
    while (got < n) {
      const std::uint32_t k = nic.rx(0).poll(rx);
      if (k == 0) {
        std::fprintf(stderr, "packets lost after %u\n", received + got);
        return 1;
      }
      for (std::uint32_t i = 0; i < k; ++i) {
        std::array<std::uint8_t, kFrameBytes> want{};
        fill_frame(want.data(), received + got + i);
        std::uint32_t at = 0;
        bool same = rx[i].len == kFrameBytes;
        for (const RxFragment& f : rx[i].fragments()) {
          for (std::uint32_t b = 0; b < f.len && same; ++b) same = f.data[b] == want[at + b];
          at += f.len;
        }
        mismatches += same ? 0 : 1;
      }
      nic.rx(0).release(std::span<const Nic::Rx::Packet>(rx.data(), k));
      got += k;
    }
    nic.tx(0).reclaim([](std::uint64_t) {});
    sent += n;
    received += got;
  }

  const auto& txc = nic.tx(0).counters();
  const auto& rxc = nic.rx(0).counters();
  std::printf("looped %u packets of %u bytes: %u received, %u mismatched\n", packets, kFrameBytes,
              received, mismatches);
  std::printf("  tx queue 0: %llu packets, %llu bytes, %llu doorbells, %llu completions\n",
              static_cast<unsigned long long>(txc.packets),
              static_cast<unsigned long long>(txc.bytes),
              static_cast<unsigned long long>(txc.doorbells),
              static_cast<unsigned long long>(txc.completed));
  std::printf(
      "  rx queue 0: %llu packets, %llu bytes, %llu dropped, %llu doorbells\n",
      static_cast<unsigned long long>(rxc.packets), static_cast<unsigned long long>(rxc.bytes),
      static_cast<unsigned long long>(rxc.dropped), static_cast<unsigned long long>(rxc.doorbells));
  std::printf("  MMIO during traffic: %llu reads, %llu writes\n",
              static_cast<unsigned long long>(model.access_log().reads()),
              static_cast<unsigned long long>(model.access_log().writes()));
  std::printf("  device faults: %llu\n", static_cast<unsigned long long>(model.faults().total()));

  platform.dma_free(*mem);
  const Status closed = nic.close();
  std::printf("teardown: %s, ownership %s, DMA allocations left %zu\n", closed.name(),
              model.firmware().host_owns_nic() ? "held" : "released", platform.live_allocations());
  const bool ok = closed.ok() && mismatches == 0 && received == packets &&
                  model.faults().total() == 0 && platform.live_allocations() == 0;
  std::printf("%s\n", ok ? "PASS" : "FAIL");
  return ok ? 0 : 1;
}
