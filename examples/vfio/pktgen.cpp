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
#include <span>
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
    "  --queues N         queue pairs, 1 to 8 (default 1); RSS spreads frames over them\n"
    "  --loopback         MAC loopback on PORT: frames come back without leaving it\n"
    "  --window N         frames in flight at most (default 256; fewer for frames over 1536)\n"
    "  --duration S       give up after S seconds (default 60)\n"
    "  --irq              sleep on interrupts when idle instead of polling\n"
    "  --doorbell BDF...  (QEMU route) the ivshmem-doorbell of PORT [and RX-PORT] to wait on\n"
    "  --training-ms N    link training time (default 4000, as upstream)\n"
    "  --iommu MODE       auto|type1|iommufd|noiommu      --iova MODE  auto|allocated|physical\n";

constexpr std::uint32_t kBatch = 32;
constexpr std::uint32_t kMagic = 0x47504246;  // "FBPG" at the start of the UDP payload
constexpr std::uint32_t kPayload = 14 + 20 + 8;

struct Config {
  tool::RunOptions run;
  std::uint64_t count = 0;
  std::uint32_t min_size = 60, max_size = 60, window = 256;
  bool loopback = false;
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
  Pattern() noexcept {
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

// Frame `seq`: UDP/IPv4 from one of 256 source addresses, 10.0.(seq % 256).1 (the
// device's default RSS hash for UDP takes the addresses, not the ports, so this is what
// spreads frames over the receive queues), then the magic, the number and the pattern
// from seq % 256.
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
  ip[14] = static_cast<std::uint8_t>(seq);
  std::uint32_t sum = 0;
  for (int i = 0; i < 20; i += 2) sum += std::uint32_t{ip[i]} << 8 | ip[i + 1];
  while (sum > 0xFFFF) sum = (sum & 0xFFFF) + (sum >> 16);
  put16(ip + 10, ~sum & 0xFFFF);
  put16(ip + 20, 1024);
  put16(ip + 22, 9);
  put16(ip + 24, len - 34);
  put16(ip + 26, 0);
  std::memcpy(f + kPayload, &kMagic, 4);
  std::memcpy(f + kPayload + 4, &seq, 8);
  std::memcpy(f + kPayload + 12, kPattern.bytes.data() + seq % 256, len - kPayload - 12);
}

// Checks frame `got` against the frame its number says it is; records it once.
struct Tally {
  std::vector<bool> seen;
  std::uint64_t received = 0, bad = 0, dups = 0, bytes = 0;
  std::vector<std::uint8_t> want = std::vector<std::uint8_t>(9000);
  void check(const Config& c, std::span<const std::uint8_t> got, const MacAddress& src,
             const MacAddress& dst) {
    std::uint64_t seq = ~0ull;
    if (got.size() >= kPayload + 12) std::memcpy(&seq, got.data() + kPayload + 4, 8);
    const bool known = seq < c.count && got.size() == size_of(c, seq);
    if (known) build(want.data(), size_of(c, seq), seq, src, dst);
    if (!known || std::memcmp(got.data(), want.data(), got.size()) != 0) {
      ++bad;
    } else if (seen[seq]) {
      ++dups;
    } else {
      seen[seq] = true;
      ++received;
      bytes += got.size();
    }
  }
};

int run(const Config& c) {
  const char* tool = "fbnic-pktgen";
  tool::Ports ports(tool, c.run);  // one IOMMU context: the Tx pool reaches both ports
  using Packet = tool::Ports::Nic::Rx::Packet;
  DeviceConfig cfg;
  cfg.mtu = std::max<std::uint32_t>(1500, c.max_size - 14);  // frames up to --size go out
  if (!ports.open(cfg, c.loopback)) return 1;
  auto& tx = ports.front();
  auto& rx = ports.back();

  const std::uint32_t stride = (c.max_size + 63) & ~63u;
  auto memory = tx.platform.dma_alloc(2u << 20, 4096);  // one hugepage when IOVA = physical
  BufferPool<4096> pool;
  if (!memory.ok() || !pool.init(*memory, stride).ok()) {
    tool::print_failure(tool, tx.platform, memory.status(), "the Tx buffer pool");
    return 1;
  }
  Tally t;
  t.seen.resize(c.count);
  std::vector<std::uint8_t> got(16384);
  std::uint64_t sent = 0, last_sent = 0, last_rx = 0;
  auto free_cookie = [&](std::uint64_t cookie) { pool.free(cookie).ignore(); };
  auto report = [&](double at, double dt) {
    std::printf("%6.1f s  tx %8.0f fps  rx %8.0f fps\n", at, tool::as_double(sent - last_sent) / dt,
                tool::as_double(t.received - last_rx) / dt);
    last_sent = sent;
    last_rx = t.received;
  };
  bool progress = false;
  while (t.received < c.count && ports.watch(progress, report)) {
    progress = false;
    for (std::uint32_t q = 0; q < c.run.queues; ++q) {
      progress = tx.nic->tx(q).reclaim(free_cookie) != 0 || progress;
      std::array<Packet, kBatch> pkts{};
      const std::uint32_t n = rx.nic->rx(q).poll(pkts);
      for (std::uint32_t i = 0; i < n; ++i) {
        std::uint32_t len = 0;  // the frame gathered from its fragments
        for (const RxFragment& f : pkts[i].fragments()) {
          if (len + f.len <= got.size()) std::memcpy(got.data() + len, f.data, f.len);
          len += f.len;
        }
        t.check(c, std::span(got.data(), std::min<std::size_t>(len, got.size())), tx.mac, rx.mac);
      }
      rx.nic->rx(q).release(std::span<const Packet>(pkts.data(), n));
      progress = progress || n != 0;

      const std::uint64_t done = t.received + t.bad;
      const std::uint64_t in_flight =
          std::min<std::uint64_t>(c.window, sent > done ? sent - done : 0);
      std::array<PoolBuffer, kBatch> bufs{};
      const std::uint32_t room =
          pool.alloc(std::span(bufs.data(), static_cast<std::size_t>(std::min<std::uint64_t>(
                                                {kBatch, c.count - sent, c.window - in_flight}))));
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
    if (sent == c.count && ports.idle_ns() > 3'000'000'000) break;  // the rest is lost
    // With interrupts: whatever is out, sleep until the device answers.
    if (c.run.irq && sent > t.received + t.bad) ports.wait_for_work();
  }
  const double seconds = ports.seconds();
  const bool ok =
      ports.gone().ok() && sent == c.count && t.received == c.count && t.bad == 0 && t.dups == 0;
  std::printf(
      "%s: sent %llu, received %llu (%llu missing, %llu corrupt, %llu duplicate), %llu "
      "bytes compared, in %.2f s: %.0f frames/s%s\n",
      tool, static_cast<unsigned long long>(sent), static_cast<unsigned long long>(t.received),
      static_cast<unsigned long long>(sent - std::min(sent, t.received)),
      static_cast<unsigned long long>(t.bad), static_cast<unsigned long long>(t.dups),
      static_cast<unsigned long long>(t.bytes), seconds, tool::as_double(t.received) / seconds,
      ok ? "" : " -- FAILED");
  ports.interrupts().print(tool);
  for (std::uint32_t q = 0; q < c.run.queues; ++q) {
    std::printf("%s: queue %u: tx %llu, rx %llu\n", tool, q,
                static_cast<unsigned long long>(tx.nic->tx(q).counters().packets),
                static_cast<unsigned long long>(rx.nic->rx(q).counters().packets));
  }
  for (std::size_t i = 0; i < ports.size(); ++i) ports[i].nic->close().ignore();
  tx.platform.dma_free(*memory);  // after the devices stopped: frames in flight used it
  ports.close();
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  tool::Args args("fbnic-pktgen", argc, argv, kUsage);
  Config c;
  c.run = tool::parse_run_options(args);
  c.count = args.number("--count", 1, 1ull << 32, 100'000);
  if (const char* size = args.value("--size")) {
    unsigned lo = 0, hi = 0;
    const int n = std::sscanf(size, "%u-%u", &lo, &hi);
    if (n == 1) hi = lo;
    if (n < 1 || lo < 60 || hi > 9000 || lo > hi) args.bad("--size is 60..9000, or a range A-B");
    c.min_size = lo;
    c.max_size = hi;
  }
  c.loopback = args.flag("--loopback");
  // Frames over a header buffer take payload pages: by default keep what is in flight
  // within a quarter of the payload buffers posted on the receiving queues, or they drop.
  using P = tool::ToolPolicy;
  const std::uint64_t fit =
      std::uint64_t{c.run.queues} * P::kPpqRing * desc::kRxBufferBytes / (4ull * c.max_size);
  const std::uint64_t window =
      c.max_size <= P::kRxMaxHeader ? 256 : std::clamp<std::uint64_t>(fit, 8, 256);
  c.window = static_cast<std::uint32_t>(args.number("--window", 1, 4096, window));
  c.run.ports = args.rest();
  if (c.run.ports.empty()) c.run.ports = tool::find_fbnic_devices("fbnic-pktgen");
  if (c.run.ports.empty() || c.run.ports.size() > 2)
    args.bad("name one port, or a Tx and an Rx port");
  tool::stop_on_signals();
  return run(c);
}
