// What fbnic-info, fbnic-pktgen and fbnic-fwd share: arguments, choosing devices, opening
// them with a clear error, bringing a port up, waiting for interrupts, and what to say
// when a device goes away.
#pragma once

#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fbnic/fbnic.hpp"
#include "fbnic/vfio/pci.hpp"
#include "fbnic/vfio/platform.hpp"

namespace fbnic::tool {

// --- arguments: --name VALUE, --flag, and positional words ---
class Args {
 public:
  Args(const char* tool, int argc, char** argv, const char* usage) : tool_(tool), usage_(usage) {
    std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress lines reach a log file as they come
    for (int i = 1; i < argc; ++i) {
      if (std::string_view(argv[i]) == "-h" || std::string_view(argv[i]) == "--help") {
        std::fputs(usage, stdout);
        std::exit(0);
      }
      words_.emplace_back(argv[i]);
    }
    used_.assign(words_.size(), false);
  }
  bool flag(const char* name) { return find(name, false) != nullptr; }
  const char* value(const char* name) { return find(name, true); }
  unsigned long long number(const char* name, unsigned long long lo, unsigned long long hi,
                            unsigned long long otherwise) {
    const char* text = value(name);
    if (text == nullptr) return otherwise;
    char* end = nullptr;
    const unsigned long long v = std::strtoull(text, &end, 0);
    if (end == text || *end != '\0' || v < lo || v > hi) {
      bad(std::string(name) + " takes " + std::to_string(lo) + " to " + std::to_string(hi));
    }
    return v;
  }
  // The words no option took; an unknown option is a usage error.
  std::vector<std::string> rest() {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < words_.size(); ++i) {
      if (used_[i]) continue;
      if (words_[i].rfind("--", 0) == 0) bad("unknown option " + words_[i]);
      out.push_back(words_[i]);
    }
    return out;
  }
  [[noreturn]] void bad(const std::string& why) const {
    std::fprintf(stderr, "%s: %s\n%s", tool_, why.c_str(), usage_);
    std::exit(2);
  }

 private:
  const char* find(const char* name, bool with_value) {
    for (std::size_t i = 0; i < words_.size(); ++i) {
      if (used_[i] || words_[i] != name) continue;
      used_[i] = true;
      if (!with_value) return name;
      if (i + 1 == words_.size()) bad(std::string(name) + " needs a value");
      used_[i + 1] = true;
      return words_[i + 1].c_str();
    }
    return nullptr;
  }
  const char* tool_;
  const char* usage_;
  std::vector<std::string> words_;
  std::vector<bool> used_;
};

template <class Mode, std::size_t N>
Mode parse_mode(Args& args, const char* name, const Mode (&modes)[N],
                const char* (*to_name)(Mode)) {
  const char* text = args.value(name);
  if (text == nullptr) return modes[0];
  for (const Mode m : modes) {
    if (std::string_view(text) == to_name(m)) return m;
  }
  args.bad(std::string("unknown ") + name + " '" + text + "'");
}

// The log shows warnings, and the core's errors ("fbnic: ...", e.g. a refused call on the
// data path, which no Status carries back); the backend's errors ("vfio ...") are left to
// the tools, which print them whole with the fix. Everything with -v.
inline vfio::LogSink warnings_to_stderr(bool verbose) {
  return [verbose](LogLevel level, const char* line) {
    const bool core_error = level == LogLevel::kError && std::strncmp(line, "fbnic:", 6) == 0;
    if (verbose || level == LogLevel::kWarning || core_error) {
      std::fprintf(stderr, "[%s] %s\n", level_name(level), line);
    }
  };
}

// --iommu, --iova and --verbose.
inline vfio::Options parse_vfio_options(Args& args) {
  vfio::Options o;
  o.iommu = parse_mode(args, "--iommu",
                       {vfio::IommuMode::kAuto, vfio::IommuMode::kType1, vfio::IommuMode::kIommufd,
                        vfio::IommuMode::kNoIommu},
                       vfio::iommu_mode_name);
  o.iova =
      parse_mode(args, "--iova",
                 {vfio::IovaMode::kAuto, vfio::IovaMode::kAllocated, vfio::IovaMode::kPhysical},
                 vfio::iova_mode_name);
  o.log = warnings_to_stderr(args.flag("--verbose") || args.flag("-v"));
  return o;
}

// The fbnic functions in sysfs, or an explanation on stderr and an empty list.
inline std::vector<std::string> find_fbnic_devices(const char* tool) {
  auto found = vfio::find_pci_devices(vfio::kFbnicPciId);
  if (found.empty()) {
    std::fprintf(stderr,
                 "%s: no fbnic device found (no PCI device with ID 1d9b:0013 in "
                 "/sys/bus/pci/devices)\n"
                 "fix: check that the card is seated and powered and that `lspci -nn -d 1d9b:` "
                 "lists it; to open another device, name it: %s DDDD:BB:DD.F\n",
                 tool, tool);
  }
  return found;
}

// Prints the backend's explanation (what happened, then the fix) for a failed call, or the
// core's status when the backend has none.
inline void print_failure(const char* tool, const vfio::Platform& platform, Status status,
                          const char* doing = nullptr) {
  if (platform.last_problem() == vfio::Problem::kNone) {
    std::fprintf(stderr, "%s: %s%s%s\n", tool, doing != nullptr ? doing : "",
                 doing != nullptr ? " failed: " : "error: ", status.name());
    return;
  }
  std::fprintf(stderr, "%s: error (%s; %s): %s\n", tool, problem_name(platform.last_problem()),
               status.name(), platform.last_error().c_str());
}

inline void print_mac(const char* label, const MacAddress& m) {
  std::printf("%s%02x:%02x:%02x:%02x:%02x:%02x", label, m.bytes[0], m.bytes[1], m.bytes[2],
              m.bytes[3], m.bytes[4], m.bytes[5]);
}

// For rates and times in messages (-Wconversion: a count becomes a double on purpose).
inline double as_double(std::uint64_t v) { return static_cast<double>(v); }

// Locked memory of this process (VmLck), pinned DMA memory included.
inline std::string locked_memory() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmLck:", 0) == 0) return line.substr(line.find_first_not_of(" \t", 6));
  }
  return "unknown";
}

// SIGINT and SIGTERM end a run cleanly (devices closed, counts printed) instead of killing
// the process mid-way.
inline volatile sig_atomic_t stop_signal = 0;
inline void stop_on_signals() {
  struct sigaction sa {};
  sa.sa_handler = [](int sig) { stop_signal = sig; };
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

// --- the data path's shape ---

// Upstream's ring sizes but an Rx page pool of one 2 MiB hugepage per queue (512 pages), so
// that IOVA = physical address (the QEMU route) needs no more contiguity than a hugepage.
// Room for kMaxQueues queue pairs; --queues opens 1 to kMaxQueues of them (DMA memory and
// vectors are taken only for those).
inline constexpr std::uint32_t kMaxQueues = 8;
struct ToolPolicy : DefaultPolicy {
  static constexpr std::uint32_t kHpqRing = 128;
  static constexpr std::uint32_t kPpqRing = 128;
  static constexpr std::uint32_t kRxSparePages = 256;
  static constexpr std::uint32_t kTxQueues = kMaxQueues;
  static constexpr std::uint32_t kRxQueues = kMaxQueues;
};

// What fbnic-pktgen and fbnic-fwd share on the command line (the ports are theirs to take).
struct RunOptions {
  vfio::Options vfio;
  std::vector<std::string> ports, doorbells;
  std::uint32_t queues = 1;
  std::uint32_t training_ms = 4000;
  std::uint64_t duration_s = 60;
  bool irq = false;
};

inline RunOptions parse_run_options(Args& args) {
  RunOptions o;
  o.vfio = parse_vfio_options(args);
  o.queues = static_cast<std::uint32_t>(args.number("--queues", 1, kMaxQueues, 1));
  o.duration_s = args.number("--duration", 1, 86400, 60);
  o.irq = args.flag("--irq");
  while (const char* bell = args.value("--doorbell")) o.doorbells.emplace_back(bell);
  o.training_ms = static_cast<std::uint32_t>(args.number("--training-ms", 0, 60'000, 4000));
  return o;
}

// One port: its Platform (in a shared Container) and the Device over it.
template <class Policy>
struct Port {
  using Nic = Device<vfio::Platform, Policy>;
  vfio::Platform platform;
  std::unique_ptr<Nic> nic;  // large (ring bookkeeping): not on the stack
  MacAddress mac;

  Port(std::shared_ptr<vfio::Container> iommu, const vfio::Options& o)
      : platform(std::move(iommu), o) {}

  // Opens the function and brings the device up; its station address comes from its
  // serial number, as upstream's. Prints why not.
  bool open(const char* tool, const std::string& address, DeviceConfig cfg, bool loopback) {
    if (const Status s = platform.open(address); !s.ok()) {
      print_failure(tool, platform, s);
      close(tool);
      return false;
    }
    const auto dsn = platform.serial_number();
    const auto from_dsn = dsn.ok() ? mac::mac_from_dsn(*dsn) : Result<MacAddress>(dsn.status());
    mac = from_dsn.ok() ? *from_dsn : MacAddress{{0x02, 0x1d, 0x9b, 0, 0, 1}};
    cfg.mac = mac;
    nic = std::make_unique<Nic>(platform);
    if (const Status s = nic->open(cfg); !s.ok()) {
      print_failure(tool, platform, s, "bring-up");
      close(tool);
      return false;
    }
    if (loopback && !nic->link().set_mac_loopback(true).ok()) {
      close(tool);
      return false;
    }
    std::printf("%s: %s up (%s, IOVA %s), station ", tool, platform.address().c_str(),
                vfio::iommu_mode_name(platform.iommu_mode()),
                vfio::iova_mode_name(platform.iova_mode()));
    print_mac("", mac);
    std::printf("%s\n", loopback ? ", MAC loopback" : "");
    return true;
  }
  bool wait_link(const char* tool, std::uint64_t timeout_us) {
    const Status s = nic->wait_link_up(Deadline::after_us(platform.now_ns(), timeout_us));
    if (!s.ok())
      std::fprintf(stderr, "%s: %s: no link (%s)\n", tool, platform.address().c_str(), s.name());
    return s.ok();
  }
  // Why the device is gone, or ok. kRequest: only whether the kernel asked for it back (one
  // eventfd read, for every few milliseconds); kPresent: also its config space (a stall);
  // kService: also the heartbeat and link (register reads; once a second).
  enum class Check : std::uint8_t { kRequest, kPresent, kService };
  Status check(Check depth) {
    if (depth == Check::kRequest && !platform.removal_requested()) return ok_status();
    Status s = platform.check_present();
    if (s.ok() && depth == Check::kService) s = nic->service();
    if (s.ok() && nic->io().removed()) s = Error::kDeviceRemoved;
    return s;
  }
  // Prints why a device is gone (the first line of the backend's explanation).
  void print_gone(const char* tool, Status s, std::uint64_t stalled_ns) {
    const std::string& why = platform.last_error();
    std::printf("%s: %s: %s (%.0f ms after the last frame moved)%s%s\n", tool,
                platform.address().c_str(), s.name(), as_double(stalled_ns) / 1e6,
                why.empty() ? "" : ": ", why.substr(0, why.find('\n')).c_str());
  }
  // Takes the device down and says what is left in the IOMMU context (the Container, all
  // its ports' memory): once every device of it is down, nothing may stay mapped or pinned.
  void close(const char* tool) {
    if (nic) nic->close().ignore();
    const std::string address = platform.is_open() ? platform.address() : "the device";
    platform.close();
    std::printf("%s: %s closed: %zu DMA mappings left in its IOMMU context, locked memory %s\n",
                tool, address.c_str(), platform.dma_mappings(), locked_memory().c_str());
  }
};

// --- interrupts ---
// The fbnic's MSI-X goes to eventfds; on the QEMU route (no MSI-X through the proxy) the
// emulator rings an ivshmem-doorbell companion instead (vector v on its vector v % n), and
// that is what is waited on.
class Interrupts {
 public:
  // Routes the fbnic's vectors 0..count-1 to eventfds and watches those in `watch`: on
  // the fbnic's own eventfds, or on those of the ivshmem-doorbell at address `doorbell`.
  bool enable(const char* tool, vfio::Platform& nic, std::uint32_t count,
              std::span<const std::uint32_t> watch, const std::string& doorbell) {
    if (const Status s = nic.enable_irqs(vfio::IrqType::kMsix, count); !s.ok()) {
      print_failure(tool, nic, s);
      return false;
    }
    vfio::Platform* waited = &nic;
    std::uint32_t vectors = count;
    if (!doorbell.empty()) {
      vfio::Options o;
      o.bars = {vfio::kNoRegion, vfio::kNoRegion};  // only its interrupts are used
      waited = bells_.emplace_back(std::make_unique<vfio::Platform>(o)).get();
      Status s = waited->open(doorbell);
      const auto info = waited->irq_info(vfio::IrqType::kMsix);
      vectors = info.ok() ? info->count : 0;
      if (s.ok()) s = waited->enable_irqs(vfio::IrqType::kMsix, vectors);
      if (!s.ok()) {
        print_failure(tool, *waited, s);
        return false;
      }
    }
    for (const std::uint32_t v : watch) fds_.push_back({waited->irq_fd(v % vectors), POLLIN, 0});
    return true;
  }
  // Waits up to timeout_us for any watched vector; true when one fired (each that fired
  // is consumed).
  bool wait(std::uint64_t timeout_us) {
    const int n = ::poll(fds_.data(), fds_.size(), static_cast<int>(timeout_us / 1000));
    for (const pollfd& p : fds_) {
      std::uint64_t count = 0;
      if ((p.revents & POLLIN) != 0) (void)!::read(p.fd, &count, sizeof(count));
    }
    ++(n > 0 ? wakeups_ : timeouts_);
    return n > 0;
  }
  [[nodiscard]] bool enabled() const { return !fds_.empty(); }
  void print(const char* tool) const {
    if (!enabled()) return;
    std::printf("%s: interrupts: %llu wakeups, %llu waits timed out\n", tool,
                static_cast<unsigned long long>(wakeups_),
                static_cast<unsigned long long>(timeouts_));
  }

 private:
  std::vector<pollfd> fds_;
  std::vector<std::unique_ptr<vfio::Platform>> bells_;
  std::uint64_t wakeups_ = 0;
  std::uint64_t timeouts_ = 0;
};

// The ports of one run, in one IOMMU context (a shared vfio::Container: memory mapped once
// is reached by every port at one device address), brought up with their links, their
// interrupts routed when asked; then watched while frames move.
class Ports {
 public:
  using Port = tool::Port<ToolPolicy>;
  using Nic = Port::Nic;

  Ports(const char* tool, const RunOptions& o)
      : tool_(tool), o_(o), iommu_(std::make_shared<vfio::Container>(o.vfio)) {}

  bool open(DeviceConfig cfg, bool loopback) {
    cfg.link.training_ms = o_.training_ms;
    cfg.tx_queues = cfg.rx_queues = o_.queues;
    for (const std::string& address : o_.ports) {
      list_.push_back(std::make_unique<Port>(iommu_, o_.vfio));
      if (!list_.back()->open(tool_, address, cfg, loopback)) return false;
    }
    for (auto& p : list_) {
      if (!p->wait_link(tool_, 10'000'000 + o_.training_ms * 1000ull)) return false;
    }
    for (std::uint32_t q = 0; q < o_.queues; ++q) vectors_.push_back(Nic::queue_vector(q));
    for (std::size_t i = 0; o_.irq && i < list_.size(); ++i) {
      const std::string bell = i < o_.doorbells.size() ? o_.doorbells[i] : "";
      if (!irqs_.enable(tool_, list_[i]->platform, vectors_.back() + 1, vectors_, bell)) {
        return false;
      }
    }
    t0_ = last_report_ = last_check_ = last_progress_ = now();
    return true;
  }
  [[nodiscard]] std::size_t size() const { return list_.size(); }
  Port& operator[](std::size_t i) { return *list_[i]; }
  Port& front() { return *list_.front(); }
  Port& back() { return *list_.back(); }
  std::uint64_t now() { return list_.front()->platform.now_ns(); }

  // Once per turn of a tool's loop (`moved`: frames moved in this turn). Whether the
  // devices are still there: the kernel's request every 10 ms, config space too once
  // frames stopped moving for 200 ms, the heartbeat and link each second (then
  // report(seconds since the start, seconds since the last report) runs). False once a
  // device is gone (said, and kept in gone()), on SIGINT/SIGTERM, or after --duration.
  template <class Report>
  bool watch(bool moved, Report&& report) {
    const std::uint64_t t = now();
    if (moved) last_progress_ = t;
    const bool second = t - last_report_ >= 1'000'000'000;
    if (second || t - last_check_ >= 10'000'000) {
      last_check_ = t;
      const bool stalled = t - last_progress_ > 200'000'000;
      for (auto& p : list_) {
        gone_ = p->check(second    ? Port::Check::kService
                         : stalled ? Port::Check::kPresent
                                   : Port::Check::kRequest);
        if (!gone_.ok()) {
          p->print_gone(tool_, gone_, t - last_progress_);
          return false;
        }
      }
    }
    if (second) {
      report(as_double(t - t0_) / 1e9, as_double(t - last_report_) / 1e9);
      last_report_ = t;
    }
    return stop_signal == 0 && t - t0_ <= o_.duration_s * 1'000'000'000;
  }
  [[nodiscard]] Status gone() const { return gone_; }
  [[nodiscard]] std::uint64_t idle_ns() { return now() - last_progress_; }
  [[nodiscard]] double seconds() { return as_double(now() - t0_) / 1e9; }

  // Interrupt mode, after the queues were polled: unmask each queue vector, then sleep
  // until one fires (at most 50 ms). A vector masks itself when it fires; work that came
  // between the last poll and the unmask fires it again at once, so nothing is missed.
  void wait_for_work() {
    for (auto& p : list_) {
      for (const std::uint32_t v : vectors_) rearm_vector(p->nic->io(), v).ignore();
    }
    irqs_.wait(50'000);
  }
  [[nodiscard]] const Interrupts& interrupts() const { return irqs_; }

  // Every device down first (each close can hand back memory of another port), then
  // every port closed; the last one leaves the IOMMU context empty.
  void close() {
    for (auto& p : list_) p->nic->close().ignore();
    for (auto& p : list_) p->close(tool_);
  }

 private:
  const char* tool_;
  const RunOptions& o_;
  std::shared_ptr<vfio::Container> iommu_;
  std::vector<std::unique_ptr<Port>> list_;
  std::vector<std::uint32_t> vectors_;
  Interrupts irqs_;
  Status gone_ = ok_status();
  std::uint64_t t0_ = 0, last_report_ = 0, last_check_ = 0, last_progress_ = 0;
};

}  // namespace fbnic::tool
