// fbnic-pktgen: a packet generator and forwarder for fbnic hardware over VFIO.
//
//   fbnic-pktgen --mode gen [--size 64] [--count 0] [--rate 0] [--queues 1]
//                [--src-mac MAC] [--dst-mac MAC] [--duration 10] [DDDD:BB:DD.F]
//   fbnic-pktgen --mode fwd [--queues 1] [--swap-mac] [--duration 10] [DDDD:BB:DD.F]
//
// The arguments, the device and the VFIO setup are real today; the packet engine waits
// for the core's ring API, so the tool says so and sends nothing (exit status 3).
#include <cstdio>
#include <cstdlib>
#include <string>

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
  // ---------------------------------------------------------------------------------------
  // Packet engine: bring the device up, create c.queues Tx/Rx ring pairs from DMA memory
  // (platform.dma_alloc), then generate or forward until count/duration, printing rates.
  // This needs the core's device and ring API, which does not exist yet.
  // ---------------------------------------------------------------------------------------
  std::printf(
      "fbnic-pktgen: the packet engine is not wired yet (it needs the core's ring "
      "API); no frames were sent or forwarded\n");
  return 3;
}
