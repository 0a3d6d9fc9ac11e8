// fbnic-pktgen: a packet generator and forwarder for fbnic hardware over VFIO.
//
//   fbnic-pktgen --mode gen [--size 64] [--count 0] [--rate 0] [--queues 1]
//                [--src-mac MAC] [--dst-mac MAC] [--duration 10] [DDDD:BB:DD.F]
//   fbnic-pktgen --mode fwd [--queues 1] [--swap-mac] [--duration 10] [DDDD:BB:DD.F]
//
// The whole stack runs: VFIO, the device bring-up (firmware handshake, queues,
// classifier, link), then generation (one template frame per queue, posted in batches of
// 32) or zero-copy forwarding (received buffers go straight back out; their pages return
// to the Rx pool when the Tx completion says they were sent). Rates are printed each
// second. Exit status: 0 done, 1 device or bring-up failure, 2 bad usage.
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "fbnic/fbnic.hpp"
#include "fbnic/vfio/platform.hpp"
#include "tool.hpp"

namespace {

enum class Mode { kNone, kGenerate, kForward };

struct Config {
  Mode mode = Mode::kNone;
  unsigned long size = 64;       // frame bytes without FCS
  unsigned long long count = 0;  // 0: until --duration
  unsigned long long rate = 0;   // packets per second, 0: as fast as the rings go
  unsigned long queues = 1;
  unsigned long duration_s = 10;
  bool swap_mac = false;
  unsigned char src_mac[6] = {0x02, 0, 0, 0, 0, 1};
  unsigned char dst_mac[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  std::string address;
  fbnic::vfio::IommuMode iommu = fbnic::vfio::IommuMode::kAuto;
};

void usage(FILE* out) {
  std::fprintf(out,
               "usage: fbnic-pktgen --mode gen|fwd [options] [DDDD:BB:DD.F]\n"
               "  --mode gen         generate frames on every Tx queue\n"
               "  --mode fwd         send every received frame back out of its port\n"
               "  --size BYTES       frame size without FCS, 60..9000 (gen; default 64)\n"
               "  --count N          frames to send, 0 = until --duration (gen; default 0)\n"
               "  --rate PPS         frames per second, 0 = unlimited (gen; default 0)\n"
               "  --src-mac MAC      source address (gen; default 02:00:00:00:00:01)\n"
               "  --dst-mac MAC      destination address (gen; default broadcast)\n"
               "  --swap-mac         swap source and destination when forwarding (fwd)\n"
               "  --queues N         queue pairs to use, 1..128 (default 1)\n"
               "  --duration S       seconds to run (default 10)\n"
               "  --iommu MODE       auto|type1|iommufd|noiommu (default auto)\n");
}

bool parse_number(const char* text, unsigned long long lo, unsigned long long hi,
                  unsigned long long& out) {
  char* end = nullptr;
  const unsigned long long v = std::strtoull(text, &end, 0);
  if (end == text || *end != '\0' || v < lo || v > hi) return false;
  out = v;
  return true;
}

bool parse_mac(const char* text, unsigned char (&mac)[6]) {
  unsigned int b[6];
  char tail = 0;
  if (std::sscanf(text, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
                  &tail) != 6) {
    return false;
  }
  for (int i = 0; i < 6; ++i) mac[i] = static_cast<unsigned char>(b[i]);
  return true;
}

// 0 when parsed, else the exit status.
int parse(int argc, char** argv, Config& c) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    unsigned long long v = 0;
    auto number = [&](unsigned long long lo, unsigned long long hi) {
      return has_value && parse_number(argv[++i], lo, hi, v);
    };
    auto bad = [](const char* what) {
      std::fprintf(stderr, "fbnic-pktgen: %s\n", what);
      return 2;
    };
    if (arg == "-h" || arg == "--help") {
      usage(stdout);
      return -1;
    } else if (arg == "--mode" && has_value) {
      const std::string m = argv[++i];
      c.mode = m == "gen" ? Mode::kGenerate : m == "fwd" ? Mode::kForward : Mode::kNone;
      if (c.mode == Mode::kNone) {
        std::fprintf(stderr, "fbnic-pktgen: --mode is gen or fwd, not '%s'\n", m.c_str());
        return 2;
      }
    } else if (arg == "--size") {
      if (!number(60, 9000)) return bad("--size 60..9000");
      c.size = static_cast<unsigned long>(v);
    } else if (arg == "--count") {
      if (!number(0, ~0ull)) return bad("bad --count");
      c.count = v;
    } else if (arg == "--rate") {
      if (!number(0, ~0ull)) return bad("bad --rate");
      c.rate = v;
    } else if (arg == "--queues") {
      if (!number(1, 128)) return bad("--queues 1..128");
      c.queues = static_cast<unsigned long>(v);
    } else if (arg == "--duration") {
      if (!number(1, 86400)) return bad("--duration 1..86400");
      c.duration_s = static_cast<unsigned long>(v);
    } else if (arg == "--src-mac" || arg == "--dst-mac") {
      if (!has_value || !parse_mac(argv[++i], arg == "--src-mac" ? c.src_mac : c.dst_mac)) {
        std::fprintf(stderr, "fbnic-pktgen: %s wants xx:xx:xx:xx:xx:xx\n", arg.c_str());
        return 2;
      }
    } else if (arg == "--swap-mac") {
      c.swap_mac = true;
    } else if (arg == "--iommu" && has_value) {
      if (!fbnic::tool::parse_iommu_mode(argv[++i], c.iommu)) {
        std::fprintf(stderr, "fbnic-pktgen: unknown IOMMU mode '%s'\n", argv[i]);
        return 2;
      }
    } else if (!arg.empty() && arg[0] != '-' && c.address.empty()) {
      c.address = arg;
    } else {
      std::fprintf(stderr, "fbnic-pktgen: unexpected argument '%s'\n", arg.c_str());
      usage(stderr);
      return 2;
    }
  }
  if (c.mode == Mode::kNone) {
    std::fprintf(stderr, "fbnic-pktgen: --mode gen or --mode fwd is required\n");
    usage(stderr);
    return 2;
  }
  return 0;
}

template <std::uint32_t Queues>
struct PktgenPolicy : fbnic::DefaultPolicy {
  static constexpr std::uint32_t kTxQueues = Queues;
  static constexpr std::uint32_t kRxQueues = Queues;
};

constexpr std::uint32_t kBatch = 32;

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

template <std::uint32_t Queues>
int run(fbnic::vfio::Platform& platform, const Config& c) {
  using Policy = PktgenPolicy<Queues>;
  using Nic = fbnic::Device<fbnic::vfio::Platform, Policy>;
  using Packet = typename Nic::Rx::Packet;
  const auto owner =
      std::make_unique<Nic>(platform);  // large (rings' bookkeeping): not on the stack
  Nic& nic = *owner;
  fbnic::DeviceConfig cfg;
  std::memcpy(cfg.mac.bytes.data(), c.src_mac, 6);
  cfg.promiscuous = c.mode == Mode::kForward;  // a forwarder takes whatever arrives
  if (const auto st = nic.open(cfg); !st.ok()) {
    std::fprintf(stderr, "fbnic-pktgen: bring-up failed: %s\n", st.name());
    return 1;
  }
  std::printf("bring-up done; waiting for the link\n");
  if (const auto st = nic.wait_link_up(fbnic::Deadline::after_us(platform.now_ns(), 10'000'000));
      !st.ok()) {
    std::fprintf(stderr, "fbnic-pktgen: the link did not come up within 10 s (%s)\n", st.name());
    nic.close().ignore();
    return 1;
  }
  std::printf("link up: %u Gb/s\n", nic.link().config().gbps());

  // Generation: one frame per queue, posted again and again (the device only reads it).
  auto frame = platform.dma_alloc(c.size, 64);
  if (!frame.ok()) return 1;
  auto* f = static_cast<std::uint8_t*>(frame->cpu);
  std::memcpy(f, c.dst_mac, 6);
  std::memcpy(f + 6, c.src_mac, 6);
  f[12] = 0x88;
  f[13] = 0xB5;  // local experimental ethertype
  for (unsigned long i = 14; i < c.size; ++i) f[i] = static_cast<std::uint8_t>(i);
  const fbnic::TxBuffer buf{frame->device, static_cast<std::uint32_t>(c.size)};
  std::array<fbnic::TxPacket, kBatch> gen{};
  for (auto& p : gen) p = {std::span(&buf, 1), {}, 0};

  std::array<Packet, kBatch> rx{};
  std::array<fbnic::TxBuffer, kBatch> fwd_bufs{};
  std::array<fbnic::TxPacket, kBatch> fwd{};
  const auto t0 = std::chrono::steady_clock::now();
  double last_report = 0;
  unsigned long long sent = 0, received = 0, last_sent = 0, last_received = 0;
  for (;;) {
    const double now = seconds_since(t0);
    if (now >= static_cast<double>(c.duration_s) || (c.count != 0 && sent >= c.count)) break;
    for (std::uint32_t q = 0; q < Queues; ++q) {
      auto& rxq = nic.rx(q);
      auto& txq = nic.tx(q);
      txq.reclaim([&](std::uint64_t page) {
        if (c.mode == Mode::kForward)
          rxq.release(fbnic::RxFragment{nullptr, 0, static_cast<std::uint16_t>(page), 0});
      });
      if (c.mode == Mode::kGenerate) {
        std::uint32_t n = kBatch;
        if (c.count != 0 && c.count - sent < n) n = static_cast<std::uint32_t>(c.count - sent);
        if (c.rate != 0 && static_cast<double>(sent) >= now * static_cast<double>(c.rate)) n = 0;
        if (n != 0) sent += txq.send(std::span(gen.data(), n)).sent;
        const std::uint32_t got = rxq.poll(rx);
        rxq.release(std::span<const Packet>(rx.data(), got));
        received += got;
      } else {
        const std::uint32_t got = rxq.poll(rx);
        std::uint32_t n = 0;
        for (std::uint32_t i = 0; i < got; ++i) {
          if (rx[i].frags != 1) {  // multi-buffer frames are not forwarded by this tool
            rxq.release(rx[i]);
            continue;
          }
          const fbnic::RxFragment& frag = rx[i].frag[0];
          if (c.swap_mac && frag.len >= 12) {
            auto* d = const_cast<std::uint8_t*>(frag.data);  // our own Rx buffer
            std::uint8_t tmp[6];
            std::memcpy(tmp, d, 6);
            std::memcpy(d, d + 6, 6);
            std::memcpy(d + 6, tmp, 6);
          }
          fwd_bufs[n] = {rxq.dma(frag), frag.len};
          fwd[n] = {std::span(&fwd_bufs[n], 1), {}, frag.page};
          ++n;
        }
        const auto r = txq.send(std::span(fwd.data(), n));
        for (std::uint32_t i = r.sent; i < n; ++i) {  // the Tx ring was full: drop the rest
          rxq.release(fbnic::RxFragment{nullptr, 0, static_cast<std::uint16_t>(fwd[i].cookie), 0});
        }
        sent += r.sent;
        received += got;
      }
    }
    if (now - last_report >= 1.0) {
      const double dt = now - last_report;
      std::printf(
          "%6.1f s  tx %10.0f pps  rx %10.0f pps  (%.2f Gb/s out)\n", now,
          static_cast<double>(sent - last_sent) / dt,
          static_cast<double>(received - last_received) / dt,
          static_cast<double>(sent - last_sent) * static_cast<double>(c.size + 24) * 8 / dt / 1e9);
      last_report = now;
      last_sent = sent;
      last_received = received;
      nic.service().ignore();  // heartbeat and link state
    }
  }
  std::printf("done: %llu frames sent, %llu received in %.1f s\n", sent, received,
              seconds_since(t0));
  const auto st = nic.close();
  platform.dma_free(*frame);
  return st.ok() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Config c;
  if (const int status = parse(argc, argv, c); status != 0) return status < 0 ? 0 : status;
  if (c.address.empty()) {
    const auto found = fbnic::tool::find_fbnic_devices("fbnic-pktgen");
    if (found.empty()) return 1;
    if (found.size() > 1) {
      std::fprintf(stderr, "fbnic-pktgen: %zu fbnic devices found; name one of them:\n",
                   found.size());
      for (const auto& a : found) std::fprintf(stderr, "  %s\n", a.c_str());
      return 2;
    }
    c.address = found.front();
  }

  fbnic::vfio::Options options;
  options.iommu = c.iommu;
  options.log = fbnic::tool::warnings_to_stderr(false);
  fbnic::vfio::Platform platform(options);
  if (const auto s = platform.open(c.address); !s.ok()) {
    fbnic::tool::print_failure("fbnic-pktgen", platform, s);
    return 1;
  }
  std::printf("fbnic-pktgen: opened %s (%s, IOMMU group %d)\n", platform.address().c_str(),
              fbnic::vfio::iommu_mode_name(platform.iommu_mode()), platform.iommu_group());
  if (c.mode == Mode::kGenerate) {
    std::printf(
        "mode gen: %lu-byte frames %02x:%02x:%02x:%02x:%02x:%02x -> "
        "%02x:%02x:%02x:%02x:%02x:%02x, count %llu, rate %llu pps, %lu queue(s), %lu s\n",
        c.size, c.src_mac[0], c.src_mac[1], c.src_mac[2], c.src_mac[3], c.src_mac[4], c.src_mac[5],
        c.dst_mac[0], c.dst_mac[1], c.dst_mac[2], c.dst_mac[3], c.dst_mac[4], c.dst_mac[5], c.count,
        c.rate, c.queues, c.duration_s);
  } else {
    std::printf("mode fwd: %lu queue(s), %s, %lu s\n", c.queues,
                c.swap_mac ? "swapping MACs" : "frames unchanged", c.duration_s);
  }
  switch (c.queues) {
    case 1: return run<1>(platform, c);
    case 2: return run<2>(platform, c);
    case 4: return run<4>(platform, c);
    case 8: return run<8>(platform, c);
    default:
      std::fprintf(stderr, "fbnic-pktgen: --queues is 1, 2, 4 or 8 in this build\n");
      return 2;
  }
}
