// fbnic-fwd: forwards frames between two ports, or between the queues of one port, without
// copying them.
//
//   fbnic-fwd [options] PORT-A [PORT-B]
//
// Two ports: what arrives on A's queue q leaves through B's queue q, and back. One port:
// what arrives on queue q leaves through queue q+1 (mod --queues). Both ports sit in one
// IOMMU context (a shared vfio::Container), so a received frame is sent from the Rx page
// it landed in: the Tx descriptor points at that page, the page's reference moves to the
// Tx queue, and the reclaim callback gives it back to the Rx queue it came from. Frames
// are not changed. Exit status: 0 when --count frames were forwarded, 1 otherwise or on a
// device failure (a removed device included), 2 on bad usage.
#include <array>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "fbnic/fbnic.hpp"
#include "fbnic/vfio/platform.hpp"
#include "tool.hpp"

namespace {

using namespace fbnic;

constexpr const char* kUsage =
    "usage: fbnic-fwd [options] PORT-A [PORT-B]\n"
    "  --count N          stop after forwarding N frames, 0 = until --duration (default 0)\n"
    "  --duration S       stop after S seconds (default 60)\n"
    "  --queues N         queue pairs: 1, 2, 4 or 8 (default 1; one port needs 2 or more)\n"
    "  --irq              sleep on interrupts when idle instead of polling\n"
    "  --doorbell BDF...  (QEMU route) the ivshmem-doorbell of PORT-A [and PORT-B]\n"
    "  --training-ms N    link training time (default 4000, as upstream)\n"
    "  --iommu MODE       auto|type1|iommufd|noiommu      --iova MODE  auto|allocated|physical\n";

constexpr std::uint32_t kBatch = 32;
constexpr std::uint32_t kMaxFrags = 4;  // Rx pages one Tx cookie can name (16 bits each)
constexpr std::uint64_t kNoPage = 0xFFFF;

struct Config {
  vfio::Options options;
  std::vector<std::string> ports, doorbells;
  std::uint64_t count = 0;
  std::uint32_t training_ms = 4000;
  std::uint64_t duration_s = 60;
  bool irq = false;
};

struct Counts {
  std::uint64_t frames = 0, bytes = 0, dropped = 0;
};

// Moves what rx got to tx, zero copy; the cookie names the Rx pages to give back.
template <class Rx, class Tx>
std::uint32_t forward(Rx& rx, Tx& tx, Counts& n) {
  tx.reclaim([&rx](std::uint64_t cookie) {
    for (std::uint32_t i = 0; i < kMaxFrags && (cookie >> (16 * i) & kNoPage) != kNoPage; ++i) {
      rx.release(RxFragment{nullptr, 0, static_cast<std::uint16_t>(cookie >> (16 * i)), 0});
    }
  });
  std::array<typename Rx::Packet, kBatch> in{};
  std::array<std::array<TxBuffer, kMaxFrags>, kBatch> bufs{};
  std::array<TxPacket, kBatch> out{};
  std::array<std::uint32_t, kBatch> from{};  // out[k] is in[from[k]]
  const std::uint32_t got = rx.poll(in);
  std::uint32_t k = 0;
  for (std::uint32_t i = 0; i < got; ++i) {
    const auto frags = in[i].fragments();
    if (frags.size() > kMaxFrags) {
      rx.release(in[i]);
      ++n.dropped;
      continue;
    }
    std::uint64_t cookie = ~0ull;
    for (std::size_t f = 0; f < frags.size(); ++f) {
      bufs[k][f] = {rx.dma(frags[f]), frags[f].len};
      cookie = (cookie & ~(kNoPage << (16 * f))) | std::uint64_t{frags[f].page} << (16 * f);
    }
    out[k] = {std::span(bufs[k].data(), frags.size()), {}, cookie};
    from[k++] = i;
  }
  const SendResult r = tx.send(std::span(out.data(), k));
  for (std::uint32_t i = 0; i < k; ++i) {
    if (i < r.sent) {
      n.bytes += in[from[i]].len;
    } else {  // the Tx ring is full: drop the rest
      rx.release(in[from[i]]);
      ++n.dropped;
    }
  }
  n.frames += r.sent;
  return got;
}

template <std::uint32_t Q>
int run(const Config& c) {
  using Port = tool::Port<tool::ToolPolicy<Q>>;
  const char* tool = "fbnic-fwd";
  auto iommu = std::make_shared<vfio::Container>(c.options);  // one context for both ports
  std::vector<std::unique_ptr<Port>> ports;
  DeviceConfig cfg;
  cfg.promiscuous = true;  // a forwarder takes whatever arrives
  cfg.link.training_ms = c.training_ms;
  for (const std::string& address : c.ports) {
    ports.push_back(std::make_unique<Port>(iommu, c.options));
    if (!ports.back()->open(tool, address, cfg, false)) return 1;
  }
  for (auto& p : ports) {
    if (!p->wait_link(tool, 10'000'000 + c.training_ms * 1000ull)) return 1;
  }
  tool::Interrupts irqs;
  std::array<std::uint32_t, Q> vectors{};
  for (std::uint32_t q = 0; q < Q; ++q) vectors[q] = Port::Nic::queue_vector(q);
  for (std::size_t i = 0; c.irq && i < ports.size(); ++i) {
    const std::string bell = i < c.doorbells.size() ? c.doorbells[i] : "";
    if (!irqs.enable(tool, ports[i]->platform, vectors[Q - 1] + 1, vectors, bell)) return 1;
  }
  std::printf("%s: forwarding %s\n", tool,
              ports.size() == 2 ? "between the two ports (queue q to queue q)"
                                : "between the queues of one port (queue q to queue q+1)");

  Port& a = *ports.front();
  Port& b = *ports.back();
  Counts n;
  const std::uint64_t t0 = a.platform.now_ns();
  std::uint64_t last_report = t0, last_progress = t0, last_check = t0, last_frames = 0;
  std::uint64_t first = 0, last = 0;  // when the first and the last frame went through
  Status gone = ok_status();
  while ((c.count == 0 || n.frames < c.count) && tool::stop_signal == 0) {
    const std::uint64_t now = a.platform.now_ns();
    std::uint32_t moved = 0;
    for (std::uint32_t q = 0; q < Q; ++q) {
      if (ports.size() == 2) {
        moved += forward(a.nic->rx(q), b.nic->tx(q), n) + forward(b.nic->rx(q), a.nic->tx(q), n);
      } else {
        moved += forward(a.nic->rx(q), a.nic->tx((q + 1) % Q), n);
      }
    }
    if (moved != 0) {
      last_progress = now;
      if (first == 0) first = now;
      last = now;
    }
    const bool second = now - last_report >= 1'000'000'000;
    if (second || now - last_check >= 10'000'000) {  // are the devices still there?
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
      std::printf(
          "%6.1f s  forwarded %8.0f fps\n", tool::as_double(now - t0) / 1e9,
          tool::as_double(n.frames - last_frames) / (tool::as_double(now - last_report) / 1e9));
      last_report = now;
      last_frames = n.frames;
    }
    if (now - t0 > c.duration_s * 1'000'000'000) break;
    if (moved == 0 && irqs.enabled()) {
      for (auto& p : ports) {
        for (const std::uint32_t v : vectors) rearm_vector(p->nic->io(), v).ignore();
      }
      irqs.wait(50'000);
    }
  }
  const double seconds = tool::as_double(last - first) / 1e9;
  const bool ok = gone.ok() && (c.count == 0 || n.frames >= c.count);
  std::printf(
      "%s: forwarded %llu frames (%llu bytes) zero-copy, %llu dropped, in %.2f s (first "
      "to last): %.0f frames/s%s\n",
      tool, static_cast<unsigned long long>(n.frames), static_cast<unsigned long long>(n.bytes),
      static_cast<unsigned long long>(n.dropped), seconds,
      seconds > 0 ? tool::as_double(n.frames) / seconds : 0.0, ok ? "" : " -- FAILED");
  if (irqs.enabled()) {
    std::printf("%s: interrupts: %llu wakeups, %llu waits timed out\n", tool,
                static_cast<unsigned long long>(irqs.wakeups),
                static_cast<unsigned long long>(irqs.timeouts));
  }
  // Each port's close hands back the other port's pages still in its Tx queue: close both
  // devices before any of their memory goes.
  for (auto& p : ports) p->nic->close().ignore();
  for (auto& p : ports) p->close(tool);
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  tool::Args args("fbnic-fwd", argc, argv, kUsage);
  Config c;
  c.options = tool::parse_vfio_options(args);
  c.count = args.number("--count", 0, ~0ull, 0);
  c.duration_s = args.number("--duration", 1, 86400, 60);
  const auto queues = args.number("--queues", 1, 128, 1);
  c.irq = args.flag("--irq");
  while (const char* bell = args.value("--doorbell")) c.doorbells.emplace_back(bell);
  c.training_ms = static_cast<std::uint32_t>(args.number("--training-ms", 0, 60'000, 4000));
  c.ports = args.rest();
  if (c.ports.empty() || c.ports.size() > 2) args.bad("name one port or two");
  if (c.ports.size() == 1 && queues < 2) args.bad("one port forwards between queues: --queues 2+");
  tool::stop_on_signals();
  return tool::with_queues(args, queues, [&](auto q) { return run<decltype(q)::value>(c); });
}
