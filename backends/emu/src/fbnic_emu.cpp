// fbnic-emu: the fbnic device model as a PCI device for User-Mode Linux.
//
//   fbnic-emu --socket PATH [--socket PATH2] [options]
//
// Each --socket is one NIC (one model instance) served over vhost-user/virtio-pcidev to
// one UML guest, started with virtio_uml.device=PATH:<UML_PCI_OVER_VIRTIO_DEVICE_ID>.
// "fbnic-emu: listening on PATH" is printed once the socket accepts connections (start
// UML only after it). The process ends when every guest has disconnected (unless
// --persist), on SIGTERM or SIGINT, printing the counters of each NIC; SIGUSR1 prints
// them without ending.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fbnic/base/result.hpp"
#include "fbnic/emu/nic.hpp"
#include "fbnic/emu/transport.hpp"
#include "fbnic/emu/wire.hpp"
#include "fbnic/mock/device.hpp"

namespace {

using fbnic::Error;
using fbnic::Result;
using fbnic::Status;
using Model = fbnic::mock::Device<>;
using Nic = fbnic::emu::Nic<Model>;

constexpr const char* kUsage =
    "usage: fbnic-emu --socket PATH [--socket PATH2 ...] [options]\n"
    "\n"
    "Serves the fbnic device model (PCI 1d9b:0013) over vhost-user to User-Mode Linux:\n"
    "  linux ... virtio_uml.device=PATH:1234 virt_pci.max_delay_us=2000000\n"
    "\n"
    "options:\n"
    "  --socket PATH     a NIC listening on this Unix socket (repeat for more NICs, up to 8)\n"
    "  --dsn HEX         serial number of the next --socket's NIC (MAC = bytes 7,6,5,2,1,0);\n"
    "                    default 001122fffe556677, the n-th NIC adding n to it\n"
    "  --cable           join the wires of NIC 0 and NIC 1 (two guests ping each other)\n"
    "  --responder IP    answer ARP and ICMP echo for IP on the wire of every NIC not cabled\n"
    "  --tick-us N       advance the model's clock at least every N us (default 200)\n"
    "  --spin-us N       poll the command ring N us after the last command (default 50)\n"
    "  --persist         keep listening after a guest disconnects (power-on reset per guest)\n"
    "  --verbose         log vhost-user control messages and counters at each guest mark\n"
    "  --help\n";

struct Options {
  struct Sock {
    std::string path;
    std::uint64_t dsn;
  };
  std::vector<Sock> sockets;
  bool cable = false;
  std::string responder_ip;
  std::uint64_t tick_us = 200;
  std::uint64_t spin_us = 50;
  bool persist = false;
  bool verbose = false;
};

bool parse_u64(std::string_view s, int base, std::uint64_t& out) {
  if (base == 16 && (s.starts_with("0x") || s.starts_with("0X"))) s.remove_prefix(2);
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out, base);
  return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

Result<Options> parse(int argc, char** argv) {
  Options o;
  std::uint64_t next_dsn = fbnic::emu::PciIdentity{}.dsn;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    const bool has_value = i + 1 < argc;
    auto value = [&]() -> std::string_view { return argv[++i]; };
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (a == "--socket" && has_value) {
      o.sockets.push_back({std::string(value()), next_dsn++});
    } else if (a == "--dsn" && has_value) {
      if (!parse_u64(value(), 16, next_dsn)) return Error::kInvalidArgument;
    } else if (a == "--cable") {
      o.cable = true;
    } else if (a == "--responder" && has_value) {
      o.responder_ip = value();
    } else if (a == "--tick-us" && has_value) {
      if (!parse_u64(value(), 10, o.tick_us) || o.tick_us == 0) return Error::kInvalidArgument;
    } else if (a == "--spin-us" && has_value) {
      if (!parse_u64(value(), 10, o.spin_us)) return Error::kInvalidArgument;
    } else if (a == "--persist") {
      o.persist = true;
    } else if (a == "--verbose") {
      o.verbose = true;
    } else {
      std::fprintf(stderr, "fbnic-emu: bad argument '%s'\n", argv[i]);
      return Error::kInvalidArgument;
    }
  }
  if (o.sockets.empty() || o.sockets.size() > 8) return Error::kInvalidArgument;
  if (o.cable && o.sockets.size() < 2) {
    std::fputs("fbnic-emu: --cable needs two --socket\n", stderr);
    return Error::kInvalidArgument;
  }
  return o;
}

Result<int> listen_on(const std::string& path) {
  sockaddr_un addr{};
  if (path.size() >= sizeof(addr.sun_path)) return Error::kInvalidArgument;
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

// One NIC: the model as a PCI function, the vhost-user connection serving it, and the
// socket a guest connects to.
struct Slot {
  std::string path;
  int listen_fd = -1;
  std::unique_ptr<Nic> nic;
  std::unique_ptr<fbnic::emu::VhostUserTransport> transport;
  bool active = false;   // its guest kicked or sent a message in this round
  bool pending = false;  // commands left in its ring when its turn ended
};

std::uint64_t clock_ns() { return fbnic::emu::monotonic_ns(); }

int run(const Options& o) {
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGTERM, SIGINT, SIGUSR1}) sigaddset(&signals, s);
  sigprocmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  const int sig_fd = signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK);
  const int timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
  if (sig_fd < 0 || timer_fd < 0) return 1;
  const auto tick_ns = static_cast<long>(o.tick_us * 1000);
  itimerspec period{};
  period.it_interval.tv_sec = tick_ns / 1'000'000'000;
  period.it_interval.tv_nsec = tick_ns % 1'000'000'000;
  period.it_value = period.it_interval;
  timerfd_settime(timer_fd, 0, &period, nullptr);

  std::vector<Slot> slots(o.sockets.size());
  for (std::size_t i = 0; i < slots.size(); ++i) {
    Slot& s = slots[i];
    s.path = o.sockets[i].path;
    fbnic::emu::PciIdentity id;
    id.dsn = o.sockets[i].dsn;
    s.nic = std::make_unique<Nic>("nic" + std::to_string(i), id);
    s.transport = std::make_unique<fbnic::emu::VhostUserTransport>(*s.nic, s.nic->name());
    s.transport->set_verbose(o.verbose);
    s.nic->set_print_marks(o.verbose);
    auto* t = s.transport.get();
    s.nic->set_msi_sink([t](std::uint64_t addr, std::uint32_t data) { t->send_msi(addr, data); });
  }

  fbnic::emu::Wiring wiring;
  std::vector<Model*> models;
  models.reserve(slots.size());
  for (Slot& s : slots) models.push_back(&s.nic->model());
  if (Status st = wiring.setup(models, o.cable, o.responder_ip); !st.ok()) {
    std::fprintf(stderr, "fbnic-emu: wire setup failed: %s\n", st.name());
    return 1;
  }
  for (std::size_t i = 0; i < slots.size(); ++i) {
    slots[i].nic->set_link_handler([&wiring, i](bool up) { return wiring.set_link(i, up); });
  }

  // Listen on every socket before saying so: a guest started earlier would be refused.
  for (Slot& s : slots) {
    Result<int> fd = listen_on(s.path);
    if (!fd.ok()) return 1;
    s.listen_fd = fd.value();
  }
  for (Slot& s : slots) {
    std::fprintf(stdout, "fbnic-emu: %s (dsn %016llx) listening on %s\n", s.nic->name().c_str(),
                 static_cast<unsigned long long>(s.nic->pci().dsn()), s.path.c_str());
  }
  std::fflush(stdout);

  auto summary = [&](const char* title) {
    for (Slot& s : slots) {
      s.nic->print_summary(stdout, title);
      const auto& t = s.transport->stats();
      std::fprintf(stdout,
                   "fbnic-emu[%s] transport: %llu vhost-user messages, %llu commands "
                   "(cfg reads %llu writes %llu, mmio reads %llu writes %llu, memsets %llu, "
                   "bad %llu), largest batch %llu, %llu MSIs sent, MSI backlog max %llu\n",
                   s.nic->name().c_str(), static_cast<unsigned long long>(t.messages),
                   static_cast<unsigned long long>(t.commands),
                   static_cast<unsigned long long>(t.cfg_reads),
                   static_cast<unsigned long long>(t.cfg_writes),
                   static_cast<unsigned long long>(t.mmio_reads),
                   static_cast<unsigned long long>(t.mmio_writes),
                   static_cast<unsigned long long>(t.memsets),
                   static_cast<unsigned long long>(t.bad_commands),
                   static_cast<unsigned long long>(t.max_batch),
                   static_cast<unsigned long long>(t.irqs_sent),
                   static_cast<unsigned long long>(t.irq_backlog_max));
      auto& faults = s.nic->model().faults();
      for (std::size_t i = 0; i < faults.size() && i < 8; ++i) {
        const auto& r = faults.recent(i);
        std::fprintf(stdout, "fbnic-emu[%s] fault: %s (0x%llx, 0x%llx)\n", s.nic->name().c_str(),
                     fbnic::mock::fault_name(r.fault), static_cast<unsigned long long>(r.a),
                     static_cast<unsigned long long>(r.b));
      }
    }
    wiring.print_summary(stdout);
    std::fflush(stdout);
  };

  std::vector<pollfd> fds;
  enum class Kind : std::uint8_t { kSignal, kTimer, kListen, kSocket, kKick };
  struct Source {
    Kind kind;
    std::size_t slot;
  };
  std::vector<Source> sources;
  const std::uint64_t spin_ns = o.spin_us * 1000;
  // A guest is served for at most one tick at a time: the clock, the other guests and
  // signals come in between.
  const std::uint64_t turn_ns = o.tick_us * 1000;
  bool backlog = false;

  for (;;) {
    fds.clear();
    sources.clear();
    auto add = [&](int fd, Kind k, std::size_t slot) {
      fds.push_back({fd, POLLIN, 0});
      sources.push_back({k, slot});
    };
    add(sig_fd, Kind::kSignal, 0);
    add(timer_fd, Kind::kTimer, 0);
    bool any_open = false;
    for (std::size_t i = 0; i < slots.size(); ++i) {
      Slot& s = slots[i];
      if (s.transport->connected()) {
        any_open = true;
        add(s.transport->socket_fd(), Kind::kSocket, i);
        for (std::uint32_t q = 0; q < fbnic::emu::vhost::kQueues; ++q) {
          if (s.transport->kick_fd(q) >= 0) add(s.transport->kick_fd(q), Kind::kKick, i);
        }
      } else if (s.listen_fd >= 0) {
        any_open = true;
        add(s.listen_fd, Kind::kListen, i);
      }
    }
    if (!any_open) break;

    if (poll(fds.data(), fds.size(), backlog ? 0 : -1) < 0) {
      if (errno == EINTR) continue;
      std::perror("fbnic-emu: poll");
      return 1;
    }
    bool stop = false;
    for (Slot& s : slots) s.active = s.pending;
    for (std::size_t k = 0; k < fds.size(); ++k) {
      if (fds[k].revents == 0) continue;
      Slot& s = slots[sources[k].slot];
      if (sources[k].kind == Kind::kSocket || sources[k].kind == Kind::kKick) s.active = true;
      switch (sources[k].kind) {
        case Kind::kSignal: {
          signalfd_siginfo info{};
          while (read(sig_fd, &info, sizeof(info)) == sizeof(info)) {
            if (info.ssi_signo == SIGUSR1) {
              summary("so far");
            } else {
              stop = true;
            }
          }
          break;
        }
        case Kind::kTimer: {
          std::uint64_t expirations = 0;
          (void)!read(timer_fd, &expirations, sizeof(expirations));
          for (Slot& t : slots) t.nic->tick();
          wiring.pump();
          break;
        }
        case Kind::kListen: {
          const int c = accept4(s.listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
          if (c < 0) break;
          s.nic->power_on();
          s.transport->attach(c);
          std::fprintf(stdout, "fbnic-emu[%s]: guest connected\n", s.nic->name().c_str());
          std::fflush(stdout);
          if (!o.persist) {  // one guest per NIC: stop accepting
            close(s.listen_fd);
            s.listen_fd = -1;
            unlink(s.path.c_str());
          }
          break;
        }
        case Kind::kSocket:
          if (!s.transport->on_socket_readable().ok()) {
            std::fprintf(stdout, "fbnic-emu[%s]: guest disconnected\n", s.nic->name().c_str());
            s.nic->print_summary(stdout, "at disconnect");
            s.transport->disconnect();
          }
          break;
        case Kind::kKick: break;  // served below
      }
    }
    backlog = false;
    for (Slot& s : slots) {
      s.pending =
          s.active && s.transport->connected() && s.transport->service(spin_ns, turn_ns, &clock_ns);
      backlog = backlog || s.pending;
    }
    wiring.pump();
    if (stop) break;
  }

  summary("final");
  for (Slot& s : slots) {
    if (s.listen_fd >= 0) {
      close(s.listen_fd);
      unlink(s.path.c_str());
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Result<Options> o = parse(argc, argv);
  if (!o.ok()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  return run(o.value());
}
