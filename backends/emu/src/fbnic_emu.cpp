// fbnic-emu: the fbnic device model as a PCI device, for User-Mode Linux (vhost-user) or
// for stock QEMU (its multi-process protocol, x-pci-proxy-dev).
//
//   fbnic-emu --socket PATH [--socket PATH2] [options]          User-Mode Linux
//   fbnic-emu qemu [options] -- qemu-system-x86_64 ... fd=@FD@ ... QEMU
//
// Each --socket (or each @FDn@) is one NIC: one model instance behind one PCI function.
// With --socket, "fbnic-emu: ... listening on PATH" is printed once the socket accepts
// connections (start UML only after it); the process ends when every guest has
// disconnected (unless --persist). With qemu, fbnic-emu makes the sockets, starts QEMU
// and ends when QEMU does, with QEMU's exit status. Both end on SIGTERM or SIGINT,
// printing the counters of each NIC; SIGUSR1 prints them without ending; SIGUSR2 removes
// every NIC from then on, as a surprise removal would (a driver's error paths, mid-run).
// docs/emulator.md has the details.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fbnic/base/mac_address.hpp"
#include "fbnic/base/result.hpp"
#include "fbnic/emu/doorbell.hpp"
#include "fbnic/emu/mpqemu_transport.hpp"
#include "fbnic/emu/nic.hpp"
#include "fbnic/emu/pcap.hpp"
#include "fbnic/emu/qemu_launch.hpp"
#include "fbnic/emu/vhost_user_transport.hpp"
#include "fbnic/emu/wire.hpp"
#include "fbnic/fw/version.hpp"
#include "fbnic/mock/device.hpp"

namespace {

using fbnic::Error;
using fbnic::Result;
using fbnic::Status;
using fbnic::emu::WireSpec;
using Model = fbnic::mock::Device<>;
using Nic = fbnic::emu::Nic<Model>;

constexpr const char* kUsage =
    "usage: fbnic-emu --socket PATH [--socket PATH2 ...] [options]\n"
    "       fbnic-emu qemu [options] -- qemu-system-x86_64 ... -device "
    "x-pci-proxy-dev,fd=@FD@ ...\n"
    "\n"
    "Serves the fbnic device model (PCI 1d9b:0013) as a PCI device:\n"
    "  to User-Mode Linux over vhost-user:\n"
    "    linux ... virtio_uml.device=PATH:1234 virt_pci.max_delay_us=2000000\n"
    "  to QEMU 7.2 (x86_64) over its multi-process protocol: fbnic-emu starts QEMU with\n"
    "    @FD@ (or @FD0@, @FD1@, ... for several NICs) replaced by the fd of each NIC's\n"
    "    socket, and @DOORBELLn@ by the socket path of NIC n's ivshmem server; QEMU's guest\n"
    "    RAM must be shared for DMA: -object memory-backend-memfd,id=mem,size=SIZE,share=on\n"
    "    -machine q35,memory-backend=mem. fbnic-emu exits with QEMU's status.\n"
    "\n"
    "options:\n"
    "  --socket PATH     a NIC listening on this Unix socket (repeat for more NICs, up to 8)\n"
    "  --dsn HEX         serial number of the next --socket's NIC (MAC = bytes 7,6,5,2,1,0);\n"
    "                    default 001122fffe556677, the n-th NIC adding n to it (qemu: NIC 0's)\n"
    "  --wire SPEC       what NIC n's cable reaches, for the n-th --wire: tap:NAME (an existing\n"
    "                    Linux TAP device), cable:M (NIC M, which says cable:n), responder:IP\n"
    "                    (answers ARP and ICMP echo for IP), none (no link)\n"
    "  --cable           NIC 0 and NIC 1 cabled (--wire cable:1 --wire cable:0)\n"
    "  --responder IP    responder:IP on every NIC no --wire or --cable names\n"
    "  --pcap FILE       record every frame crossing a wire, both directions (pcapng)\n"
    "  --misbehave WHAT  make every NIC misbehave from power-on, for tests of a driver's\n"
    "                    error paths (repeatable): firmware-silent (the firmware takes no\n"
    "                    message and answers nothing), firmware-not-ready (it never raises\n"
    "                    the mailbox interrupt), removed (BAR reads return all ones and\n"
    "                    writes vanish, as after a surprise removal; config space answers)\n"
    "  --fw-version V    the firmware version every NIC reports, MAJOR.MINOR.PATCH[-BUILD]\n"
    "                    (running and stored; default 25.5.7-0)\n"
    "  --bmc MAC         every NIC reports a BMC with this MAC address (default: no BMC)\n"
    "  --tick-us N       advance the model's clock at least every N us (default 200)\n"
    "  --spin-us N       keep polling a front end N us after its last command (default 50;\n"
    "                    qemu: 0)\n"
    "  --persist         (vhost-user) keep listening after a guest disconnects\n"
    "  --doorbell-vectors N  (qemu) vectors per ivshmem doorbell (default 4; QEMU's\n"
    "                    ivshmem-doorbell vectors= must be at least N)\n"
    "  --no-dma          (qemu) start QEMU even though its RAM is not shared (no DMA)\n"
    "  --log FILE        (qemu) fbnic-emu's own messages to FILE, QEMU's console untouched\n"
    "  --verbose         log front-end messages, and counters at each guest mark\n"
    "  --help\n";

struct Options {
  struct Sock {
    std::string path;
    std::uint64_t dsn;
  };
  bool qemu = false;
  std::vector<Sock> sockets;
  std::vector<std::string> qemu_args;
  fbnic::emu::qemu::Plan plan;
  std::uint64_t first_dsn = fbnic::emu::PciIdentity{}.dsn;
  std::vector<WireSpec> wires;
  bool cable = false;
  std::string responder_ip;
  std::string pcap;
  std::string log;
  std::optional<fbnic::fw::Version> fw_version;
  std::optional<fbnic::MacAddress> bmc;
  std::uint64_t tick_us = 200;
  std::uint64_t spin_us = 50;  // qemu: 0 unless given
  std::uint64_t doorbell_vectors = 4;
  bool no_dma = false;
  bool persist = false;
  bool firmware_silent = false;
  bool firmware_not_ready = false;
  bool removed = false;
  bool verbose = false;

  [[nodiscard]] std::size_t nics() const { return qemu ? plan.nics : sockets.size(); }
};

bool parse_u64(std::string_view s, int base, std::uint64_t& out) {
  if (base == 16 && (s.starts_with("0x") || s.starts_with("0X"))) s.remove_prefix(2);
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out, base);
  return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

// "25.5.7" or "25.5.7-3": one byte each.
bool parse_version(std::string_view s, fbnic::fw::Version& out) {
  std::uint64_t part[4] = {0, 0, 0, 0};
  const std::size_t dash = s.find('-');
  if (dash != std::string_view::npos) {
    if (!parse_u64(s.substr(dash + 1), 10, part[3])) return false;
    s = s.substr(0, dash);
  }
  for (int i = 0; i < 3; ++i) {
    const std::size_t dot = i < 2 ? s.find('.') : s.size();
    if (dot == std::string_view::npos || !parse_u64(s.substr(0, dot), 10, part[i])) return false;
    s = i < 2 ? s.substr(dot + 1) : std::string_view{};
  }
  for (const std::uint64_t p : part) {
    if (p > 255) return false;
  }
  out = fbnic::fw::Version::make(
      static_cast<std::uint8_t>(part[0]), static_cast<std::uint8_t>(part[1]),
      static_cast<std::uint8_t>(part[2]), static_cast<std::uint8_t>(part[3]));
  return true;
}

bool parse_mac(std::string_view s, fbnic::MacAddress& out) {
  if (s.size() != 17) return false;
  for (std::size_t i = 0; i < 6; ++i) {
    if (i < 5 && s[i * 3 + 2] != ':') return false;
    std::uint64_t b = 0;
    if (!parse_u64(s.substr(i * 3, 2), 16, b)) return false;
    out.bytes[i] = static_cast<std::uint8_t>(b);
  }
  return true;
}

Status bad(const std::string& why) {
  std::fprintf(stderr, "fbnic-emu: %s\n", why.c_str());
  return Error::kInvalidArgument;
}

Result<Options> parse(int argc, char** argv) {
  Options o;
  int i = 1;
  if (argc > 1 && std::string_view(argv[1]) == "qemu") {
    o.qemu = true;
    i = 2;
  }
  std::uint64_t next_dsn = o.first_dsn;
  bool dsn_given = false;
  bool spin_given = false;
  for (; i < argc; ++i) {
    const std::string_view a = argv[i];
    const bool has_value = i + 1 < argc;
    auto value = [&]() -> std::string_view { return argv[++i]; };
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (a == "--" && o.qemu) {
      for (++i; i < argc; ++i) o.qemu_args.emplace_back(argv[i]);
      break;
    } else if (a == "--socket" && has_value && !o.qemu) {
      o.sockets.push_back({std::string(value()), next_dsn++});
    } else if (a == "--dsn" && has_value) {
      if (!parse_u64(value(), 16, next_dsn)) return bad("--dsn takes a hexadecimal number");
      if (!dsn_given) o.first_dsn = next_dsn;
      dsn_given = true;
    } else if (a == "--wire" && has_value) {
      WireSpec w;
      std::string error;
      if (!WireSpec::parse(value(), w, error)) return bad(error);
      o.wires.push_back(w);
    } else if (a == "--cable") {
      o.cable = true;
    } else if (a == "--responder" && has_value) {
      o.responder_ip = value();
    } else if (a == "--misbehave" && has_value) {
      const std::string_view what = value();
      if (what == "firmware-silent") {
        o.firmware_silent = true;
      } else if (what == "firmware-not-ready") {
        o.firmware_not_ready = true;
      } else if (what == "removed") {
        o.removed = true;
      } else {
        return bad("--misbehave takes firmware-silent, firmware-not-ready or removed");
      }
    } else if (a == "--pcap" && has_value) {
      o.pcap = value();
    } else if (a == "--fw-version" && has_value) {
      fbnic::fw::Version v;
      if (!parse_version(value(), v)) {
        return bad("--fw-version takes MAJOR.MINOR.PATCH[-BUILD], each 0 to 255");
      }
      o.fw_version = v;
    } else if (a == "--bmc" && has_value) {
      fbnic::MacAddress m;
      if (!parse_mac(value(), m) || !m.is_valid_unicast()) {
        return bad("--bmc takes a unicast MAC address, aa:bb:cc:dd:ee:ff");
      }
      o.bmc = m;
    } else if (a == "--log" && has_value && o.qemu) {
      o.log = value();
    } else if (a == "--tick-us" && has_value) {
      if (!parse_u64(value(), 10, o.tick_us) || o.tick_us == 0) return bad("bad --tick-us");
    } else if (a == "--spin-us" && has_value) {
      if (!parse_u64(value(), 10, o.spin_us)) return bad("bad --spin-us");
      spin_given = true;
    } else if (a == "--doorbell-vectors" && has_value && o.qemu) {
      if (!parse_u64(value(), 10, o.doorbell_vectors) || o.doorbell_vectors == 0 ||
          o.doorbell_vectors > fbnic::emu::Doorbell::kMaxVectors) {
        return bad("--doorbell-vectors takes 1 to 64");
      }
    } else if (a == "--no-dma" && o.qemu) {
      o.no_dma = true;
    } else if (a == "--persist" && !o.qemu) {
      o.persist = true;
    } else if (a == "--verbose") {
      o.verbose = true;
    } else {
      return bad("bad argument '" + std::string(a) + "'" +
                 (o.qemu ? " (the QEMU command goes after --)" : ""));
    }
  }
  if (o.qemu) {
    // QEMU's vCPU waits for each answer and needs a core of its own to make the next
    // access: polling for it gained nothing measurable (36-53 us per read either way).
    if (!spin_given) o.spin_us = 0;
    if (o.qemu_args.empty()) return bad("qemu: no QEMU command after --");
    std::string error;
    if (!fbnic::emu::qemu::plan(o.qemu_args, o.plan, error)) return bad(error);
    if (!o.no_dma) {
      const std::string problem = fbnic::emu::qemu::shared_memory_problem(o.qemu_args);
      if (!problem.empty()) return bad(problem);
    }
  } else if (o.sockets.empty() || o.sockets.size() > 8) {
    return bad("one to eight --socket");
  }
  // --cable and --responder fill in what --wire left open.
  if (o.cable) {
    if (o.nics() < 2) return bad("--cable needs two NICs");
    if (o.wires.size() < 2) o.wires.resize(2);
    o.wires[0] = {WireSpec::Kind::kCable, 1, 0, {}};
    o.wires[1] = {WireSpec::Kind::kCable, 0, 0, {}};
  }
  if (o.wires.size() > o.nics()) return bad("more --wire than NICs");
  if (!o.responder_ip.empty()) {
    WireSpec r;
    std::string error;
    if (!WireSpec::parse("responder:" + o.responder_ip, r, error)) return bad(error);
    const std::size_t given = o.wires.size();
    o.wires.resize(o.nics());
    for (std::size_t n = 0; n < o.nics(); ++n) {
      if (n >= given || o.wires[n].kind == WireSpec::Kind::kNone) o.wires[n] = r;
    }
  }
  return o;
}

Result<int> listen_on(const std::string& path) {
  sockaddr_un addr{};
  if (path.size() >= sizeof(addr.sun_path)) return bad(path + ": socket path too long");
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Error::kNoMemory;
  unlink(path.c_str());
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || listen(fd, 1) != 0) {
    std::fprintf(stderr, "fbnic-emu: %s: %s\n", path.c_str(), std::strerror(errno));
    close(fd);
    return Error::kInvalidArgument;
  }
  return fd;
}

unsigned long long ull(std::uint64_t v) { return v; }

// One NIC: the model as a PCI function and the front end serving it: a vhost-user
// connection (with the socket a guest connects to) or a QEMU proxy connection (with its
// interrupt doorbell).
struct Slot {
  std::unique_ptr<Nic> nic;
  // vhost-user
  std::string path;
  int listen_fd = -1;
  std::unique_ptr<fbnic::emu::VhostUserTransport> vhost;
  // QEMU
  std::unique_ptr<fbnic::emu::MpqemuTransport> mp;
  std::unique_ptr<fbnic::emu::Doorbell> doorbell;
  bool dma_explained = false;

  bool active = false;   // its guest sent something in this round
  bool pending = false;  // commands left in its ring when its turn ended

  [[nodiscard]] bool connected() const {
    return vhost ? vhost->connected() : (mp && mp->connected());
  }
};

std::uint64_t clock_ns() { return fbnic::emu::monotonic_ns(); }

class Emulator {
 public:
  explicit Emulator(const Options& o) : o_(o) {}

  int run() {
    if (!setup_signals()) return 1;
    slots_ = std::vector<Slot>(o_.nics());
    for (std::size_t i = 0; i < slots_.size(); ++i) make_slot(i);
    if (!setup_wires()) return 1;
    if (o_.qemu) {
      if (!start_qemu()) return 1;
    } else if (!listen_all()) {
      return 1;
    }
    const int loop_status = loop();
    summary("final");
    pcap_.close();
    for (Slot& s : slots_) {
      if (s.listen_fd >= 0) {
        close(s.listen_fd);
        unlink(s.path.c_str());
      }
      if (s.doorbell) s.doorbell->stop();
    }
    if (!doorbell_dir_.empty()) rmdir(doorbell_dir_.c_str());
    if (loop_status != 0) return loop_status;
    return o_.qemu ? qemu_status_ : 0;
  }

 private:
  bool setup_signals() {
    sigset_t signals;
    sigemptyset(&signals);
    for (int s : {SIGTERM, SIGINT, SIGUSR1, SIGUSR2, SIGCHLD}) sigaddset(&signals, s);
    sigprocmask(SIG_BLOCK, &signals, nullptr);
    signal(SIGPIPE, SIG_IGN);
    sig_fd_ = signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK);
    timer_fd_ = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    if (sig_fd_ < 0 || timer_fd_ < 0) return false;
    const auto tick_ns = static_cast<long>(o_.tick_us * 1000);
    itimerspec period{};
    period.it_interval.tv_sec = tick_ns / 1'000'000'000;
    period.it_interval.tv_nsec = tick_ns % 1'000'000'000;
    period.it_value = period.it_interval;
    timerfd_settime(timer_fd_, 0, &period, nullptr);
    return true;
  }

  void make_slot(std::size_t i) {
    Slot& s = slots_[i];
    fbnic::emu::PciIdentity id;
    id.dsn = o_.qemu ? o_.first_dsn + i : o_.sockets[i].dsn;
    const auto layout =
        o_.qemu ? fbnic::emu::PciLayout::kConventional : fbnic::emu::PciLayout::kExpress;
    s.nic = std::make_unique<Nic>("nic" + std::to_string(i), id, layout);
    s.nic->set_print_marks(o_.verbose);
    // Kept by the model across its resets (a power-on or a bus reset changes nothing).
    s.nic->model().firmware().misbehave().silent = o_.firmware_silent;
    s.nic->model().firmware().misbehave().not_ready = o_.firmware_not_ready;
    s.nic->model().set_removed(o_.removed);
    auto& caps = s.nic->model().firmware().config().caps;
    if (o_.fw_version) caps.version = caps.stored_version = o_.fw_version->raw;
    if (o_.bmc) {
      caps.bmc_present = true;
      caps.bmc_macs = {};
      caps.bmc_macs.push(*o_.bmc);
    }
    if (o_.qemu) {
      s.mp = std::make_unique<fbnic::emu::MpqemuTransport>(*s.nic, s.nic->name());
      s.mp->set_verbose(o_.verbose);
      if (o_.plan.doorbell[i]) s.doorbell = std::make_unique<fbnic::emu::Doorbell>();
      auto* bell = s.doorbell.get();
      // The proxy carries no interrupts: an MSI-X message rings the doorbell, or is lost
      // (counted by the PciFunction as sent, by the doorbell as undelivered).
      s.nic->set_msi_sink([bell](std::uint32_t vector, std::uint64_t, std::uint32_t) {
        if (bell != nullptr) bell->ring(vector);
      });
    } else {
      s.path = o_.sockets[i].path;
      s.vhost = std::make_unique<fbnic::emu::VhostUserTransport>(*s.nic, s.nic->name());
      s.vhost->set_verbose(o_.verbose);
      auto* t = s.vhost.get();
      s.nic->set_msi_sink(
          [t](std::uint32_t, std::uint64_t addr, std::uint32_t data) { t->send_msi(addr, data); });
    }
  }

  bool setup_wires() {
    if (!o_.pcap.empty()) {
      std::vector<std::string> names;
      for (const Slot& s : slots_) names.push_back(s.nic->name());
      if (!pcap_.open(o_.pcap, names).ok()) {
        std::fprintf(stderr, "fbnic-emu: --pcap %s: cannot write it: %s\n", o_.pcap.c_str(),
                     std::strerror(errno));
        return false;
      }
    }
    std::vector<Model*> models;
    models.reserve(slots_.size());
    for (Slot& s : slots_) models.push_back(&s.nic->model());
    std::string error;
    if (!wiring_.setup(models, o_.wires, o_.pcap.empty() ? nullptr : &pcap_, error).ok()) {
      std::fprintf(stderr, "fbnic-emu: %s\n", error.c_str());
      return false;
    }
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      slots_[i].nic->set_link_handler([this, i](bool up) { return wiring_.set_link(i, up); });
      if (const fbnic::emu::Tap* tap = wiring_.tap(i); tap != nullptr && tap->was_down()) {
        std::fprintf(stderr,
                     "fbnic-emu: nic%zu: TAP %s is down: its frames go nowhere until `ip link "
                     "set %s up`\n",
                     i, tap->name().c_str(), tap->name().c_str());
      }
    }
    return true;
  }

  // Listens on every socket before saying so: a guest started earlier would be refused.
  bool listen_all() {
    for (Slot& s : slots_) {
      Result<int> fd = listen_on(s.path);
      if (!fd.ok()) return false;
      s.listen_fd = fd.value();
    }
    for (Slot& s : slots_) {
      std::fprintf(stdout, "fbnic-emu: %s (dsn %016llx) listening on %s\n", s.nic->name().c_str(),
                   ull(s.nic->pci().dsn()), s.path.c_str());
    }
    std::fflush(stdout);
    return true;
  }

  bool start_qemu() {
    std::vector<int> qemu_ends;
    std::vector<std::string> bell_paths(slots_.size());
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      int pair[2];
      if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
        std::perror("fbnic-emu: socketpair");
        return false;
      }
      slots_[i].nic->power_on();
      slots_[i].mp->attach(pair[0]);
      qemu_ends.push_back(pair[1]);
      if (slots_[i].doorbell) {
        if (doorbell_dir_.empty()) {
          const char* tmp = std::getenv("TMPDIR");
          std::string tmpl =
              std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/fbnic-emu.XXXXXX";
          if (mkdtemp(tmpl.data()) == nullptr) {
            std::perror("fbnic-emu: mkdtemp");
            return false;
          }
          doorbell_dir_ = tmpl;
        }
        bell_paths[i] = doorbell_dir_ + "/doorbell" + std::to_string(i) + ".sock";
        if (!slots_[i]
                 .doorbell
                 ->listen_on(bell_paths[i], static_cast<std::uint32_t>(o_.doorbell_vectors))
                 .ok()) {
          std::fprintf(stderr, "fbnic-emu: nic%zu doorbell: %s\n", i,
                       slots_[i].doorbell->error().c_str());
          return false;
        }
      }
    }
    const std::vector<std::string> args =
        fbnic::emu::qemu::substitute(o_.qemu_args, qemu_ends, bell_paths);
    std::vector<char*> argv;
    argv.reserve(args.size() + 1);
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);

    qemu_pid_ = fork();
    if (qemu_pid_ < 0) {
      std::perror("fbnic-emu: fork");
      return false;
    }
    if (qemu_pid_ == 0) {
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);
      for (int fd : qemu_ends) fcntl(fd, F_SETFD, 0);  // QEMU inherits these, and only these
      execvp(argv[0], argv.data());
      std::fprintf(stderr, "fbnic-emu: cannot start %s: %s\n", argv[0], std::strerror(errno));
      _exit(127);
    }
    for (int fd : qemu_ends) close(fd);
    if (!o_.log.empty()) {
      const int log = open(o_.log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (log < 0) {
        std::fprintf(stderr, "fbnic-emu: --log %s: %s\n", o_.log.c_str(), std::strerror(errno));
      } else {
        std::fflush(stdout);
        std::fflush(stderr);
        dup2(log, STDOUT_FILENO);
        dup2(log, STDERR_FILENO);
        close(log);
      }
    }
    std::fprintf(stdout, "fbnic-emu: started QEMU (pid %d) with %zu NIC%s:", qemu_pid_,
                 slots_.size(), slots_.size() == 1 ? "" : "s");
    for (const Slot& s : slots_) {
      std::fprintf(stdout, " %s (dsn %016llx%s)", s.nic->name().c_str(), ull(s.nic->pci().dsn()),
                   s.doorbell ? ", doorbell" : "");
    }
    std::fputc('\n', stdout);
    std::fflush(stdout);
    return true;
  }

  void summary(const char* title) {
    for (Slot& s : slots_) {
      s.nic->print_summary(stdout, title);
      if (s.vhost) {
        const auto& t = s.vhost->stats();
        std::fprintf(stdout,
                     "fbnic-emu[%s] transport: %llu vhost-user messages, %llu commands "
                     "(cfg reads %llu writes %llu, mmio reads %llu writes %llu, memsets %llu, "
                     "bad %llu), largest batch %llu, %llu MSIs sent, MSI backlog max %llu\n",
                     s.nic->name().c_str(), ull(t.messages), ull(t.commands), ull(t.cfg_reads),
                     ull(t.cfg_writes), ull(t.mmio_reads), ull(t.mmio_writes), ull(t.memsets),
                     ull(t.bad_commands), ull(t.max_batch), ull(t.irqs_sent),
                     ull(t.irq_backlog_max));
      } else {
        const auto& t = s.mp->stats();
        std::fprintf(stdout,
                     "fbnic-emu[%s] transport: %llu QEMU messages (cfg reads %llu writes %llu, BAR "
                     "reads %llu writes %llu, outside every BAR %llu, memory syncs %llu of which "
                     "%llu changed it, resets %llu, rejected %llu); BAR read served in %.1f us on "
                     "average\n",
                     s.nic->name().c_str(), ull(t.messages), ull(t.cfg_reads), ull(t.cfg_writes),
                     ull(t.bar_reads), ull(t.bar_writes), ull(t.outside_bar), ull(t.syncs),
                     ull(t.memory_maps), ull(t.resets), ull(t.rejected),
                     t.bar_reads == 0 ? 0.0
                                      : static_cast<double>(t.bar_read_ns) /
                                            static_cast<double>(t.bar_reads) / 1000.0);
        if (s.doorbell) {
          const auto& d = s.doorbell->stats();
          std::fprintf(stdout,
                       "fbnic-emu[%s] doorbell: %llu MSI-X messages rung on %u vectors, %llu "
                       "with no QEMU connected\n",
                       s.nic->name().c_str(), ull(d.rung), s.doorbell->vectors(),
                       ull(d.undelivered));
        }
      }
      const auto& mac = s.nic->model().mac().counters();
      const auto& dev = s.nic->model().counters();
      std::fprintf(stdout,
                   "fbnic-emu[%s] MAC: tx frames %llu (dropped, link down %llu) rx frames %llu "
                   "(dropped, link down %llu) pause rx %llu tx %llu | Rx drops: FIFO %llu, "
                   "queue %llu, classifier %llu, RPC off %llu\n",
                   s.nic->name().c_str(), ull(mac.tx_frames), ull(mac.tx_dropped_link),
                   ull(mac.rx_frames), ull(mac.rx_dropped_link), ull(mac.pause_received),
                   ull(mac.pause_sent), ull(dev.rx_fifo_drops), ull(dev.rx_queue_drops),
                   ull(dev.rx_classified_drop), ull(dev.rx_rpc_disabled));
      auto& faults = s.nic->model().faults();
      for (std::size_t i = 0; i < faults.size() && i < 8; ++i) {
        const auto& r = faults.recent(i);
        std::fprintf(stdout, "fbnic-emu[%s] fault: %s (0x%llx, 0x%llx)\n", s.nic->name().c_str(),
                     fbnic::mock::fault_name(r.fault), ull(r.a), ull(r.b));
      }
    }
    wiring_.print_summary(stdout);
    if (pcap_.is_open()) {
      pcap_.flush();
      std::fprintf(stdout, "fbnic-emu: pcap %s: %llu frames (wires: %llu)\n", o_.pcap.c_str(),
                   ull(pcap_.frames()), ull(wiring_.total_frames()));
    }
    std::fflush(stdout);
  }

  // DMA with no guest memory shared: say why once (QEMU without shared RAM, --no-dma).
  void explain_missing_memory(Slot& s) {
    if (!s.mp || s.dma_explained || !s.mp->memory().regions().empty()) return;
    if (s.nic->model().faults().total() == 0) return;
    s.dma_explained = true;
    std::fprintf(stderr,
                 "fbnic-emu[%s]: the driver started DMA but QEMU shared no guest memory: start "
                 "QEMU with -object memory-backend-memfd,id=mem,size=SIZE,share=on -machine "
                 "q35,memory-backend=mem\n",
                 s.nic->name().c_str());
  }

  enum class Kind : std::uint8_t {
    kSignal,
    kTimer,
    kListen,
    kVhostSocket,
    kKick,
    kMpSocket,
    kBellListen,
    kBellClient,
    kTap
  };
  struct Source {
    Kind kind;
    std::size_t slot;
  };

  void add(int fd, Kind k, std::size_t slot) {
    fds_.push_back({fd, POLLIN, 0});
    sources_.push_back({k, slot});
  }

  // Serves one QEMU message and, for up to spin_ns, the ones right behind it. Ok, or why
  // the connection ended.
  Status serve_qemu(Slot& s) {
    const std::uint64_t spin_ns = o_.spin_us * 1000;
    const std::uint64_t start = clock_ns();
    std::uint64_t last = start;
    for (;;) {  // bounded by the turn: tick_us at most
      FBNIC_TRY(s.mp->on_socket_readable());
      while (!s.mp->readable()) {
        const std::uint64_t now = clock_ns();
        if (now - last >= spin_ns) return fbnic::ok_status();
      }
      last = clock_ns();
      if (last - start >= o_.tick_us * 1000) return fbnic::ok_status();
    }
  }

  // QEMU closed the connection, or it sent what cannot be followed (error): then QEMU is
  // stopped, since the device it has would answer nothing any more.
  void qemu_gone(Slot& s, bool error) {
    const std::string why = s.mp->last_error();
    s.mp->disconnect();
    if (error && qemu_pid_ > 0 && !qemu_exited_) {
      std::fprintf(stderr, "fbnic-emu[%s]: the QEMU connection cannot go on (%s): stopping QEMU\n",
                   s.nic->name().c_str(), why.c_str());
      kill(qemu_pid_, SIGTERM);
      failed_ = true;
    }
  }

  void reap_qemu() {
    int status = 0;
    const pid_t p = waitpid(qemu_pid_, &status, WNOHANG);
    if (p != qemu_pid_) return;
    qemu_exited_ = true;
    qemu_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    std::fprintf(stdout, "fbnic-emu: QEMU exited (%s %d)\n",
                 WIFEXITED(status) ? "status" : "signal",
                 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    std::fflush(stdout);
  }

  int loop() {
    const std::uint64_t spin_ns = o_.spin_us * 1000;
    // A guest is served for at most one tick at a time: the clock, the other guests and
    // signals come in between.
    const std::uint64_t turn_ns = o_.tick_us * 1000;
    bool backlog = false;
    std::uint64_t last_flush = clock_ns();
    for (;;) {  // until every front end is gone, QEMU exited, or a signal
      fds_.clear();
      sources_.clear();
      add(sig_fd_, Kind::kSignal, 0);
      add(timer_fd_, Kind::kTimer, 0);
      bool any_open = false;
      for (std::size_t i = 0; i < slots_.size(); ++i) {
        Slot& s = slots_[i];
        if (s.vhost && s.vhost->connected()) {
          any_open = true;
          add(s.vhost->socket_fd(), Kind::kVhostSocket, i);
          for (std::uint32_t q = 0; q < fbnic::emu::vhost::kQueues; ++q) {
            if (s.vhost->kick_fd(q) >= 0) add(s.vhost->kick_fd(q), Kind::kKick, i);
          }
        } else if (s.listen_fd >= 0) {
          any_open = true;
          add(s.listen_fd, Kind::kListen, i);
        }
        if (s.mp && s.mp->connected()) {
          any_open = true;
          add(s.mp->socket_fd(), Kind::kMpSocket, i);
        }
        if (s.doorbell) {
          if (s.doorbell->listen_fd() >= 0) add(s.doorbell->listen_fd(), Kind::kBellListen, i);
          if (s.doorbell->connected()) add(s.doorbell->client_fd(), Kind::kBellClient, i);
        }
        if (wiring_.tap_fd(i) >= 0) add(wiring_.tap_fd(i), Kind::kTap, i);
      }
      if (o_.qemu ? qemu_exited_ : !any_open) break;

      if (poll(fds_.data(), fds_.size(), backlog ? 0 : -1) < 0) {
        if (errno == EINTR) continue;
        std::perror("fbnic-emu: poll");
        return 1;
      }
      bool stop = false;
      for (Slot& s : slots_) s.active = s.pending;
      for (std::size_t k = 0; k < fds_.size(); ++k) {
        if (fds_[k].revents == 0) continue;
        Slot& s = slots_[sources_[k].slot];
        switch (sources_[k].kind) {
          case Kind::kSignal: stop = on_signals() || stop; break;
          case Kind::kTimer: {
            std::uint64_t expirations = 0;
            (void)!read(timer_fd_, &expirations, sizeof(expirations));
            for (Slot& t : slots_) {
              t.nic->tick();
              explain_missing_memory(t);
            }
            wiring_.pump();
            if (pcap_.is_open() && clock_ns() - last_flush > 200'000'000) {
              pcap_.flush();
              last_flush = clock_ns();
            }
            break;
          }
          case Kind::kListen: {
            const int c = accept4(s.listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
            if (c < 0) break;
            s.nic->power_on();
            s.vhost->attach(c);
            std::fprintf(stdout, "fbnic-emu[%s]: guest connected\n", s.nic->name().c_str());
            std::fflush(stdout);
            if (!o_.persist) {  // one guest per NIC: stop accepting
              close(s.listen_fd);
              s.listen_fd = -1;
              unlink(s.path.c_str());
            }
            break;
          }
          case Kind::kVhostSocket:
            s.active = true;
            if (!s.vhost->on_socket_readable().ok()) {
              std::fprintf(stdout, "fbnic-emu[%s]: guest disconnected\n", s.nic->name().c_str());
              s.nic->print_summary(stdout, "at disconnect");
              s.vhost->disconnect();
            }
            break;
          case Kind::kKick: s.active = true; break;  // served below
          case Kind::kMpSocket:
            if (s.mp->connected()) {
              const Status st = serve_qemu(s);
              if (!st.ok()) qemu_gone(s, st != Error::kAborted);
            }
            break;
          case Kind::kBellListen:
            if (!s.doorbell->accept_client().ok()) {
              std::fprintf(stderr, "fbnic-emu[%s] doorbell: %s\n", s.nic->name().c_str(),
                           s.doorbell->error().c_str());
            }
            break;
          case Kind::kBellClient: s.doorbell->on_client_readable(); break;
          case Kind::kTap: wiring_.pump_tap(sources_[k].slot, 64); break;
        }
      }
      backlog = false;
      for (Slot& s : slots_) {
        s.pending = s.vhost && s.active && s.vhost->connected() &&
                    s.vhost->service(spin_ns, turn_ns, &clock_ns);
        backlog = backlog || s.pending;
      }
      wiring_.pump();
      if (stop) {
        if (!o_.qemu || qemu_exited_) break;
        stop_qemu();
      }
    }
    return failed_ ? 1 : 0;
  }

  // True when the emulator should stop.
  bool on_signals() {
    bool stop = false;
    signalfd_siginfo info{};
    while (read(sig_fd_, &info, sizeof(info)) == sizeof(info)) {
      if (info.ssi_signo == SIGUSR1) {
        summary("so far");
      } else if (info.ssi_signo == SIGUSR2) {
        // Its BARs read all ones and take no writes, its engines reach no memory; config
        // space still answers (the proxy's function stays on QEMU's bus).
        for (Slot& s : slots_) s.nic->model().set_removed(true);
        std::fprintf(stdout, "fbnic-emu: SIGUSR2: every NIC removed\n");
        std::fflush(stdout);
      } else if (info.ssi_signo == SIGCHLD) {
        if (qemu_pid_ > 0 && !qemu_exited_) reap_qemu();
      } else {
        stop = true;
      }
    }
    return stop;
  }

  // On SIGTERM or SIGINT: QEMU goes first (bounded: TERM, then KILL after 5 s).
  void stop_qemu() {
    if (qemu_exited_ || qemu_pid_ <= 0) return;
    kill(qemu_pid_, SIGTERM);
    for (int i = 0; i < 50 && !qemu_exited_; ++i) {
      usleep(100'000);
      reap_qemu();
    }
    if (!qemu_exited_) {
      kill(qemu_pid_, SIGKILL);
      int status = 0;
      waitpid(qemu_pid_, &status, 0);
      qemu_exited_ = true;
      qemu_status_ = 128 + SIGKILL;
    }
  }

  const Options& o_;
  int sig_fd_ = -1;
  int timer_fd_ = -1;
  std::vector<Slot> slots_;
  fbnic::emu::Wiring wiring_;
  fbnic::emu::PcapWriter pcap_;
  std::vector<pollfd> fds_;
  std::vector<Source> sources_;
  std::string doorbell_dir_;
  pid_t qemu_pid_ = -1;
  bool qemu_exited_ = false;
  int qemu_status_ = 0;
  bool failed_ = false;
};

}  // namespace

int main(int argc, char** argv) {
  Result<Options> o = parse(argc, argv);
  if (!o.ok()) {
    std::fputs("(fbnic-emu --help for the options)\n", stderr);
    return 2;
  }
  Emulator emu(o.value());
  return emu.run();
}
