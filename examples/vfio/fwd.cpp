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
    "  --queues N         queue pairs, 1 to 8 (default 1; one port needs 2 or more)\n"
    "  --irq              sleep on interrupts when idle instead of polling\n"
    "  --doorbell BDF...  (QEMU route) the ivshmem-doorbell of PORT-A [and PORT-B]\n"
    "  --training-ms N    link training time (default 4000, as upstream)\n"
    "  --iommu MODE       auto|type1|iommufd|noiommu      --iova MODE  auto|allocated|physical\n";

constexpr std::uint32_t kBatch = 32;
constexpr std::uint32_t kMaxFrags = 4;  // Rx pages one Tx cookie can name (16 bits each)
constexpr std::uint64_t kNoPage = 0xFFFF;

struct Counts {
  std::uint64_t frames = 0, bytes = 0, dropped = 0;
};

// Gives back to rx the pages a Tx cookie names.
template <class Rx>
void release_pages(Rx& rx, std::uint64_t cookie) {
  for (std::uint32_t i = 0; i < kMaxFrags && (cookie >> (16 * i) & kNoPage) != kNoPage; ++i) {
    rx.release(RxFragment{nullptr, 0, static_cast<std::uint16_t>(cookie >> (16 * i)), 0});
  }
}

// Moves what rx got to tx, zero copy; the cookie names the Rx pages to give back.
template <class Rx, class Tx>
std::uint32_t forward(Rx& rx, Tx& tx, Counts& n) {
  tx.reclaim([&rx](std::uint64_t cookie) { release_pages(rx, cookie); });
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

int run(const tool::RunOptions& o, std::uint64_t count) {
  const char* tool = "fbnic-fwd";
  tool::Ports ports(tool, o);  // one IOMMU context: a page of one port reaches the other
  const std::uint32_t queues = o.queues;
  DeviceConfig cfg;
  cfg.promiscuous = true;  // a forwarder takes whatever arrives
  cfg.mtu = kMaxMtu;       // and sends on whatever the device received
  if (!ports.open(cfg, false)) return 1;
  const bool two = ports.size() == 2;
  std::printf("%s: forwarding %s\n", tool,
              two ? "between the two ports (queue q to queue q)"
                  : "between the queues of one port (queue q to queue q+1)");
  // The Rx queue whose frames Tx queue q of port i sends.
  auto feeder = [&](std::size_t i, std::uint32_t q) -> auto& {
    return two ? ports[1 - i].nic->rx(q) : ports[0].nic->rx((q + queues - 1) % queues);
  };

  Counts n;
  std::uint64_t first = 0, last = 0, last_frames = 0;  // first and last frame through
  auto report = [&](double at, double dt) {
    std::printf("%6.1f s  forwarded %8.0f fps\n", at, tool::as_double(n.frames - last_frames) / dt);
    last_frames = n.frames;
  };
  bool moved = false;
  while ((count == 0 || n.frames < count) && ports.watch(moved, report)) {
    std::uint32_t got = 0;
    for (std::size_t i = 0; i < ports.size(); ++i) {
      for (std::uint32_t q = 0; q < queues; ++q) {
        got += forward(feeder(i, q), ports[i].nic->tx(q), n);
      }
    }
    moved = got != 0;
    if (moved) {
      last = ports.now();
      if (first == 0) first = last;
    }
    if (!moved && o.irq) ports.wait_for_work();
  }
  const double seconds = tool::as_double(last - first) / 1e9;
  const bool ok = ports.gone().ok() && (count == 0 || n.frames >= count);
  std::printf(
      "%s: forwarded %llu frames (%llu bytes) zero-copy, %llu dropped, in %.2f s (first "
      "to last): %.0f frames/s%s\n",
      tool, static_cast<unsigned long long>(n.frames), static_cast<unsigned long long>(n.bytes),
      static_cast<unsigned long long>(n.dropped), seconds,
      seconds > 0 ? tool::as_double(n.frames) / seconds : 0.0, ok ? "" : " -- FAILED");
  ports.interrupts().print(tool);
  // A Tx queue holds pages of the Rx queue that fed it: stop the Tx queues first and give
  // every page back, so that each Rx page pool is whole again when the devices close.
  for (std::size_t i = 0; i < ports.size(); ++i) {
    for (std::uint32_t q = 0; q < queues; ++q) {
      auto give_back = [&rx = feeder(i, q)](std::uint64_t cookie) { release_pages(rx, cookie); };
      const Deadline idle = Deadline::after_us(ports.now(), 500'000);
      if (auto* txq = ports[i].nic->tx(q).get()) txq->disable(idle, give_back, give_back).ignore();
    }
  }
  ports.close();
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  tool::Args args("fbnic-fwd", argc, argv, kUsage);
  tool::RunOptions o = tool::parse_run_options(args);
  const std::uint64_t count = args.number("--count", 0, ~0ull, 0);
  o.ports = args.rest();
  if (o.ports.empty() || o.ports.size() > 2) args.bad("name one port or two");
  if (o.ports.size() == 1 && o.queues < 2)
    args.bad("one port forwards between its queues: --queues 2 or more");
  tool::stop_on_signals();
  return run(o, count);
}
