// fbnic-pktgen: sends numbered frames and checks every byte of every one that comes back.
//
//   fbnic-pktgen [options] PORT [RX-PORT]
//
// Frames (UDP over IPv4, each carrying its sequence number and a pattern derived from it)
// leave PORT and come back on PORT (--loopback: the MAC turns them around; or a cable to a
// peer that returns them) or on RX-PORT (a cable, or a forwarder between the two). Each
// arriving frame is rebuilt from its number and compared byte for byte; duplicates and
// missing frames are counted. Frames are written into a BufferPool and freed by cookie from
// the Tx reclaim callback. Rates are printed each second. Exit status: 0 when every frame
// came back intact, 1 otherwise or on a device failure (a removed device included), 2 on
// bad usage.
#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "fbnic/fbnic.hpp"
#include "fbnic/vfio/platform.hpp"
#include "tool.hpp"

namespace {

using namespace fbnic;

constexpr const char* kUsage =
    "usage: fbnic-pktgen [options] PORT [RX-PORT]\n"
    "  --count N          frames to send (default 100000)\n"
    "  --size A[-B]       frame sizes without FCS, 60..9000; a range cycles through it (default "
    "60)\n"
    "  --queues N         queue pairs: 1, 2, 4 or 8 (default 1)\n"
    "  --loopback         MAC loopback on PORT: frames come back without leaving it\n"
    "  --window N         frames in flight at most (default 256)\n"
    "  --duration S       give up after S seconds (default 60)\n"
    "  --irq              sleep on interrupts when idle instead of polling\n"
    "  --doorbell BDF...  (QEMU route) the ivshmem-doorbell of PORT [and RX-PORT] to wait on\n"
    "  --training-ms N    link training time (default 4000, as upstream)\n"
    "  --iommu MODE       auto|type1|iommufd|noiommu      --iova MODE  auto|allocated|physical\n";

constexpr std::uint32_t kBatch = 32;
constexpr std::uint32_t kMagic = 0x47504246;  // "FBPG" at the start of the UDP payload
constexpr std::uint32_t kPayload = 14 + 20 + 8;

struct Config {
  vfio::Options options;
  std::vector<std::string> ports, doorbells;
  std::uint64_t count = 0;
  std::uint32_t min_size = 60, max_size = 60, window = 256, training_ms = 4000;
  double duration = 60;
  bool loopback = false, irq = false;
};

void put16(std::uint8_t* p, std::uint32_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}

std::uint32_t size_of(const Config& c, std::uint64_t seq) {
  return c.min_size + static_cast<std::uint32_t>((seq * 7919) % (c.max_size - c.min_size + 1));
}

// The payload pattern: bytes from a fixed pseudo-random table, from an offset set by the
// frame's number (a copy, so that building and checking frames stays cheap).
struct Pattern {
  std::array<std::uint8_t, 9000 + 256> bytes{};
  Pattern() {
    std::uint32_t x = 0x9E3779B9u;
    for (auto& b : bytes) {
      x ^= x << 13;
      x ^= x >> 17;
      x ^= x << 5;
      b = static_cast<std::uint8_t>(x);
    }
  }
};
const Pattern kPattern;

// Frame `seq`: UDP/IPv4, source port spread over 256 values so that RSS spreads frames
// over the receive queues, then the magic, the number and the pattern from seq % 256.
void build(std::uint8_t* f, std::uint32_t len, std::uint64_t seq, const MacAddress& src,
           const MacAddress& dst) {
  std::memcpy(f, dst.bytes.data(), 6);
  std::memcpy(f + 6, src.bytes.data(), 6);
  put16(f + 12, 0x0800);
  std::uint8_t* ip = f + 14;
  const std::uint8_t header[20] = {0x45, 0, 0,  0, 0, 0, 0,  0, 64, 17,
                                   0,    0, 10, 0, 0, 1, 10, 0, 0,  2};
  std::memcpy(ip, header, sizeof(header));
  put16(ip + 2, len - 14);
  put16(ip + 4, static_cast<std::uint32_t>(seq & 0xFFFF));
  std::uint32_t sum = 0;
  for (int i = 0; i < 20; i += 2) sum += std::uint32_t{ip[i]} << 8 | ip[i + 1];
  while (sum > 0xFFFF) sum = (sum & 0xFFFF) + (sum >> 16);
  put16(ip + 10, ~sum & 0xFFFF);
  put16(ip + 20, 1024 + static_cast<std::uint32_t>(seq % 256));
  put16(ip + 22, 9);
  put16(ip + 24, len - 34);
  put16(ip + 26, 0);
  std::memcpy(f + kPayload, &kMagic, 4);
  std::memcpy(f + kPayload + 4, &seq, 8);
  std::memcpy(f + kPayload + 12, kPattern.bytes.data() + seq % 256, len - kPayload - 12);
}

template <std::uint32_t Q>
int run(const Config& c) {
  using Port = tool::Port<tool::ToolPolicy<Q>>;
  using Packet = typename Port::Nic::Rx::Packet;
  const char* tool = "fbnic-pktgen";
  auto iommu = std::make_shared<vfio::Container>(c.options);  // one context: one pool for both
  std::vector<std::unique_ptr<Port>> ports;
  DeviceConfig cfg;
  cfg.link.training_ms = c.training_ms;
  for (const std::string& address : c.ports) {
    ports.push_back(std::make_unique<Port>(iommu, c.options));
    if (!ports.back()->open(tool, address, cfg, c.loopback)) return 1;
  }
  for (auto& p : ports) {
    if (!p->wait_link(tool, 10'000'000 + c.training_ms * 1000ull)) return 1;
  }
  Port& tx = *ports.front();
  Port& rx = *ports.back();
  tool::Interrupts irqs;
  std::array<std::uint32_t, Q> vectors{};
  for (std::uint32_t q = 0; q < Q; ++q) vectors[q] = Port::Nic::queue_vector(q);
  for (std::size_t i = 0; c.irq && i < ports.size(); ++i) {
    const std::string bell = i < c.doorbells.size() ? c.doorbells[i] : "";
    if (!irqs.enable(tool, ports[i]->platform, vectors[Q - 1] + 1, vectors, bell)) return 1;
  }

  const std::uint32_t stride = (c.max_size + 63) & ~63u;
  auto memory = tx.platform.dma_alloc(2u << 20, 4096);  // one hugepage when IOVA = physical
  BufferPool<4096> pool;
  if (!memory.ok() || !pool.init(*memory, stride).ok()) {
    tool::print_failure(tool, tx.platform, memory.status(), "the Tx buffer pool");
    return 1;
  }
  std::vector<bool> seen(c.count);
  std::vector<std::uint8_t> got(16384), want(16384);
  std::uint64_t sent = 0, received = 0, bad = 0, dups = 0, bytes = 0, last_sent = 0, last_rx = 0;
  const std::uint64_t t0 = tx.platform.now_ns();
  std::uint64_t last_report = t0, last_progress = t0, last_check = t0;
  Status gone = ok_status();
  auto free_cookie = [&](std::uint64_t cookie) { pool.free(cookie).ignore(); };
  while (received < c.count && tool::stop_signal == 0) {
    const std::uint64_t now = tx.platform.now_ns();
    bool progress = false;
    for (std::uint32_t q = 0; q < Q; ++q) {
      progress = tx.nic->tx(q).reclaim(free_cookie) != 0 || progress;
      std::array<Packet, kBatch> pkts{};
      const std::uint32_t n = rx.nic->rx(q).poll(pkts);
      for (std::uint32_t i = 0; i < n; ++i) {
        std::uint32_t len = 0;
        for (const RxFragment& f : pkts[i].fragments()) {
          if (len + f.len <= got.size()) std::memcpy(got.data() + len, f.data, f.len);
          len += f.len;
        }
        std::uint64_t seq = ~0ull;
        if (len >= kPayload + 12) std::memcpy(&seq, got.data() + kPayload + 4, 8);
        if (seq < c.count && len == size_of(c, seq)) build(want.data(), len, seq, tx.mac, rx.mac);
        if (seq >= c.count || len != size_of(c, seq) ||
            std::memcmp(got.data(), want.data(), len) != 0) {
          ++bad;
        } else if (seen[seq]) {
          ++dups;
        } else {
          seen[seq] = true;
          ++received;
          bytes += len;
        }
      }
      rx.nic->rx(q).release(std::span<const Packet>(pkts.data(), n));
      progress = progress || n != 0;

      std::uint32_t room = static_cast<std::uint32_t>(std::min<std::uint64_t>(
          {kBatch, c.count - sent,
           c.window - std::min<std::uint64_t>(c.window, sent - received - bad)}));
      std::array<PoolBuffer, kBatch> bufs{};
      room = pool.alloc(std::span(bufs.data(), room));
      std::array<TxBuffer, kBatch> tb{};
      std::array<TxPacket, kBatch> tp{};
      for (std::uint32_t i = 0; i < room; ++i) {
        const std::uint32_t len = size_of(c, sent + i);
        build(bufs[i].data, len, sent + i, tx.mac, rx.mac);
        tb[i] = {bufs[i].dma, len};
        tp[i] = {std::span(&tb[i], 1), {}, bufs[i].index};
      }
      const SendResult r = tx.nic->tx(q).send(std::span(tp.data(), room));
      pool.free(std::span<const PoolBuffer>(bufs.data() + r.sent, room - r.sent));
      sent += r.sent;
      progress = progress || r.sent != 0;
    }
    if (progress) last_progress = now;
    const bool second = now - last_report >= 1'000'000'000;
    if (second || now - last_check >= 10'000'000) {  // is the device still there?
      last_check = now;
      const bool stalled = now - last_progress > 200'000'000;
      for (auto& p : ports) {
        gone = p->check(second    ? Port::Check::kService
                        : stalled ? Port::Check::kPresent
                                  : Port::Check::kRequest);
        if (!gone.ok()) {
          p->print_gone(tool, gone, now - last_progress);
          break;
        }
      }
      if (!gone.ok()) break;
    }
    if (second) {
      const double dt = tool::as_double(now - last_report) / 1e9;
      std::printf("%6.1f s  tx %8.0f fps  rx %8.0f fps\n", tool::as_double(now - t0) / 1e9,
                  tool::as_double(sent - last_sent) / dt, tool::as_double(received - last_rx) / dt);
      last_report = now;
      last_sent = sent;
      last_rx = received;
    }
    if (tool::as_double(now - t0) > c.duration * 1e9) break;
    if (sent == c.count && now - last_progress > 3'000'000'000) break;  // the rest is lost
    // With interrupts: whatever is out, sleep until the device answers. Rearm after the
    // last poll, then wait: what completed in between has the vector pending already.
    if (irqs.enabled() && sent > received + bad) {
      for (auto& p : ports) {
        for (const std::uint32_t v : vectors) rearm_vector(p->nic->io(), v).ignore();
      }
      irqs.wait(50'000);
    }
  }
  const double seconds = tool::as_double(tx.platform.now_ns() - t0) / 1e9;
  const bool ok = gone.ok() && sent == c.count && received == c.count && bad == 0 && dups == 0;
  std::printf(
      "%s: sent %llu, received %llu (%llu missing, %llu corrupt, %llu duplicate), %llu "
      "bytes compared, in %.2f s: %.0f frames/s%s\n",
      tool, static_cast<unsigned long long>(sent), static_cast<unsigned long long>(received),
      static_cast<unsigned long long>(sent - std::min(sent, received)),
      static_cast<unsigned long long>(bad), static_cast<unsigned long long>(dups),
      static_cast<unsigned long long>(bytes), seconds, tool::as_double(received) / seconds,
      ok ? "" : " -- FAILED");
  if (irqs.enabled()) {
    std::printf("%s: interrupts: %llu wakeups, %llu waits timed out\n", tool,
                static_cast<unsigned long long>(irqs.wakeups),
                static_cast<unsigned long long>(irqs.timeouts));
  }
  for (std::uint32_t q = 0; q < Q; ++q) {
    std::printf("%s: queue %u: tx %llu, rx %llu\n", tool, q,
                static_cast<unsigned long long>(tx.nic->tx(q).counters().packets),
                static_cast<unsigned long long>(rx.nic->rx(q).counters().packets));
  }
  for (auto& p : ports) p->nic->close().ignore();  // frames in flight come back first
  tx.platform.dma_free(*memory);
  for (auto& p : ports) p->close(tool);
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  tool::Args args("fbnic-pktgen", argc, argv, kUsage);
  Config c;
  c.options = tool::parse_vfio_options(args);
  c.count = args.number("--count", 1, 1ull << 32, 100'000);
  if (const char* size = args.value("--size")) {
    unsigned lo = 0, hi = 0;
    const int n = std::sscanf(size, "%u-%u", &lo, &hi);
    if (n == 1) hi = lo;
    if (n < 1 || lo < 60 || hi > 9000 || lo > hi) args.bad("--size is 60..9000, or a range A-B");
    c.min_size = lo;
    c.max_size = hi;
  }
  const auto queues = args.number("--queues", 1, 128, 1);
  c.loopback = args.flag("--loopback");
  c.window = static_cast<std::uint32_t>(args.number("--window", 1, 4096, 256));
  c.duration = static_cast<double>(args.number("--duration", 1, 86400, 60));
  c.irq = args.flag("--irq");
  while (const char* bell = args.value("--doorbell")) c.doorbells.emplace_back(bell);
  c.training_ms = static_cast<std::uint32_t>(args.number("--training-ms", 0, 60'000, 4000));
  c.ports = args.rest();
  if (c.ports.empty()) c.ports = tool::find_fbnic_devices("fbnic-pktgen");
  if (c.ports.empty() || c.ports.size() > 2) args.bad("name one port, or a Tx and an Rx port");
  tool::stop_on_signals();
  return tool::with_queues(args, queues, [&](auto q) { return run<decltype(q)::value>(c); });
}
