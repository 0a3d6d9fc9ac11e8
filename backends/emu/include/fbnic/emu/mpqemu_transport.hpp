// MpqemuTransport: the device end of one QEMU x-pci-proxy-dev connection (QEMU's
// multi-process protocol, mpqemu.hpp), i.e. one PCI function in a QEMU guest.
//
// QEMU forwards every config-space access and every access to a BAR it mapped, and waits
// for the answer (the vCPU stalls meanwhile); BAR addresses are bus addresses, decoded here
// against the BARs the guest programmed. Guest RAM arrives as memfds (SYNC_SYSMEM, one set
// replacing the last) and becomes the model's DMA space at iova = guest physical address.
// The proxy delivers no interrupts under TCG: whoever owns the transport routes the
// function's MSI-X messages elsewhere (an ivshmem doorbell, doorbell.hpp).
//
// Input is untrusted: a message of the wrong size, an unknown command, more fds than the
// protocol carries, a memory region past the end of its file or overlapping another, a
// BAR access outside every BAR: each is reported on stderr and answered in a defined way
// (below, and in docs/emulator.md); a message that cannot be framed (longer than any QEMU
// sends, cut short, or not arriving within kReceiveTimeoutMs) ends the connection.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "fbnic/base/result.hpp"
#include "fbnic/emu/guest_memory.hpp"
#include "fbnic/emu/mpqemu.hpp"
#include "fbnic/emu/pci_bus.hpp"

namespace fbnic::emu {

class MpqemuTransport {
 public:
  struct Stats {
    std::uint64_t messages = 0;
    std::uint64_t cfg_reads = 0;
    std::uint64_t cfg_writes = 0;
    std::uint64_t bar_reads = 0;
    std::uint64_t bar_writes = 0;
    std::uint64_t syncs = 0;        // SYNC_SYSMEM messages
    std::uint64_t memory_maps = 0;  // ...of which changed the mapped set
    std::uint64_t resets = 0;       // DEVICE_RESET
    std::uint64_t outside_bar = 0;  // BAR accesses that hit no BAR (answered all ones)
    std::uint64_t rejected = 0;     // malformed messages (each reported)
    std::uint64_t bar_read_ns = 0;  // time spent serving BAR reads, receive to answer
  };

  // How long the rest of a message may take to arrive once its first byte has.
  static constexpr int kReceiveTimeoutMs = 1000;
  // Error lines printed before the rest are only counted.
  static constexpr std::uint64_t kMaxReports = 20;

  MpqemuTransport(PciBus& bus, std::string name) : bus_(bus), name_(std::move(name)) {}
  MpqemuTransport(const MpqemuTransport&) = delete;
  MpqemuTransport& operator=(const MpqemuTransport&) = delete;
  ~MpqemuTransport() { disconnect(); }

  // Takes a connected stream socket (QEMU holds the other end).
  void attach(int fd, int receive_timeout_ms = kReceiveTimeoutMs) {
    disconnect();
    sock_ = fd;
    timeval tv{receive_timeout_ms / 1000, (receive_timeout_ms % 1000) * 1000};
    setsockopt(sock_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  [[nodiscard]] bool connected() const { return sock_ >= 0; }
  [[nodiscard]] int socket_fd() const { return sock_; }
  [[nodiscard]] const Stats& stats() const { return stats_; }
  [[nodiscard]] const GuestMemory& memory() const { return mem_; }
  [[nodiscard]] const std::string& name() const { return name_; }
  void set_verbose(bool v) { verbose_ = v; }
  // Where error lines go (stderr by default; tests capture them).
  void set_log(std::FILE* f) { log_file_ = f; }
  [[nodiscard]] const std::string& last_error() const { return last_error_; }

  void disconnect() {
    if (sock_ < 0) return;
    close(sock_);
    sock_ = -1;
    const bool had_memory = !mem_.regions().empty();
    mem_.clear();
    keys_.clear();
    if (had_memory) bus_.memory_changed(mem_);
  }

  // True when a message is waiting (for a caller that polls briefly after an answer).
  [[nodiscard]] bool readable() const {
    if (sock_ < 0) return false;
    pollfd p{sock_, POLLIN, 0};
    return poll(&p, 1, 0) > 0;
  }

  // Reads and serves one message. kAborted when QEMU closed its end; kBadMessage when the
  // stream cannot be followed any more (reported; the caller disconnects). Any other
  // message gets its answer.
  Status on_socket_readable() {
    Message m;
    const std::uint64_t t0 = monotonic();
    const Status got = receive(m);
    if (got == Error::kTimeout) return ok_status();  // woken for nothing: wait again
    FBNIC_TRY(got);
    ++stats_.messages;
    bus_.tick();
    const Status st = handle(m);
    if (m.header.command == static_cast<std::int32_t>(mpqemu::Command::kBarRead) &&
        m.header.size == sizeof(mpqemu::BarMsg)) {
      stats_.bar_read_ns += monotonic() - t0;
    }
    return st;
  }

 private:
  struct Message {
    mpqemu::Header header{};
    std::uint8_t payload[mpqemu::kMaxPayload] = {};
    int fds[mpqemu::kMaxFds] = {};
    std::size_t nfds = 0;
    bool too_many_fds = false;
    // Closes the fds nobody took.
    ~Message() {
      for (std::size_t i = 0; i < nfds; ++i) {
        if (fds[i] >= 0) close(fds[i]);
      }
    }
    int take_fd(std::size_t i) {
      const int fd = fds[i];
      fds[i] = -1;
      return fd;
    }
  };

  static std::uint64_t monotonic() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u +
           static_cast<std::uint64_t>(ts.tv_nsec);
  }

  template <class... A>
  void report(const char* fmt, A... args) {
    char line[256];
    if constexpr (sizeof...(A) == 0) {
      std::snprintf(line, sizeof(line), "%s", fmt);
    } else {
      std::snprintf(line, sizeof(line), fmt, args...);
    }
    last_error_ = line;
    ++reports_;
    if (reports_ <= kMaxReports) {
      std::fprintf(log_file_, "fbnic-emu[%s]: %s\n", name_.c_str(), line);
    } else if (reports_ == kMaxReports + 1) {
      std::fprintf(log_file_, "fbnic-emu[%s]: further errors are counted, not printed\n",
                   name_.c_str());
    }
    std::fflush(log_file_);
  }
  template <class... A>
  void info(const char* fmt, A... args) const {
    std::fprintf(stdout, "fbnic-emu[%s]: ", name_.c_str());
    if constexpr (sizeof...(A) == 0) {
      std::fputs(fmt, stdout);
    } else {
      std::fprintf(stdout, fmt, args...);
    }
    std::fputc('\n', stdout);
    std::fflush(stdout);
  }

  // Reads len bytes, keeping the fds that come with them (at most kMaxFds; more is a
  // protocol error, and the extra ones are closed). kAborted: the peer closed before the
  // first byte; kTimeout: nothing came at all; kBadMessage: the peer closed, or stopped
  // sending for the receive timeout, after the first byte.
  Status read_exact(void* buf, std::size_t len, Message& m) {
    auto* p = static_cast<std::uint8_t*>(buf);
    bool got_any = false;
    while (len > 0) {
      iovec iov{p, len};
      // Room for more fds than allowed, so that too many shows up as such.
      alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 2 * mpqemu::kMaxFds)];
      msghdr msg{};
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = control;
      msg.msg_controllen = sizeof(control);
      const ssize_t n = recvmsg(sock_, &msg, MSG_CMSG_CLOEXEC);
      if (n < 0 && errno == EINTR) continue;
      const bool started = got_any || m.nfds != 0;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && !started) return Error::kTimeout;
      if (n <= 0) return started ? Error::kBadMessage : Error::kAborted;
      got_any = true;
      if ((msg.msg_flags & MSG_CTRUNC) != 0) m.too_many_fds = true;
      for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (std::size_t i = 0; i < count; ++i) {
          int fd = -1;
          std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
          if (m.nfds < mpqemu::kMaxFds) {
            m.fds[m.nfds++] = fd;
          } else {
            m.too_many_fds = true;
            close(fd);
          }
        }
      }
      p += n;
      len -= static_cast<std::size_t>(n);
    }
    return ok_status();
  }

  Status receive(Message& m) {
    Status st = read_exact(&m.header, sizeof(m.header), m);
    if (st == Error::kAborted || st == Error::kTimeout) return st;  // closed, or nothing yet
    if (!st.ok()) {
      report("message header cut short: connection closed");
      return Error::kBadMessage;
    }
    if (m.header.size > sizeof(m.payload)) {
      report("%s message of %llu bytes, larger than any QEMU sends (%zu): connection closed",
             mpqemu::command_name(m.header.command), static_cast<unsigned long long>(m.header.size),
             sizeof(m.payload));
      ++stats_.rejected;
      return Error::kBadMessage;
    }
    st = read_exact(m.payload, static_cast<std::size_t>(m.header.size), m);
    if (!st.ok()) {
      report("%s message cut short (%llu payload bytes announced): connection closed",
             mpqemu::command_name(m.header.command),
             static_cast<unsigned long long>(m.header.size));
      return Error::kBadMessage;
    }
    return ok_status();
  }

  Status reply(std::uint64_t value) {
    struct {
      mpqemu::Header header;
      mpqemu::RetMsg ret;
    } out{{static_cast<std::int32_t>(mpqemu::Command::kRet), 0, sizeof(mpqemu::RetMsg)}, {value}};
    const auto* p = reinterpret_cast<const std::uint8_t*>(&out);
    std::size_t left = sizeof(out);
    while (left > 0) {
      const ssize_t n = send(sock_, p, left, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return Error::kAborted;
      p += n;
      left -= static_cast<std::size_t>(n);
    }
    return ok_status();
  }

  // The answer QEMU waits for after a message it sent wrongly: all ones, as a read from
  // nowhere returns on PCI.
  Status refuse(const Message& m, const char* why) {
    ++stats_.rejected;
    report("%s: %s (%llu payload bytes, %zu fds): answered all ones",
           mpqemu::command_name(m.header.command), why,
           static_cast<unsigned long long>(m.header.size), m.nfds);
    return reply(~std::uint64_t{0});
  }

  static bool valid_width(std::uint64_t size) {
    return size == 1 || size == 2 || size == 4 || size == 8;
  }

  Status handle(Message& m) {
    using mpqemu::Command;
    const auto cmd = static_cast<Command>(m.header.command);
    if (verbose_) {
      info("<- %s (%llu bytes, %zu fds)", mpqemu::command_name(m.header.command),
           static_cast<unsigned long long>(m.header.size), m.nfds);
    }
    const bool carries_fds = cmd == Command::kSyncSysmem || cmd == Command::kSetIrqfd;
    if (m.too_many_fds) {
      ++stats_.rejected;
      report("%s with more than %zu fds (the protocol's limit): all of them closed",
             mpqemu::command_name(m.header.command), mpqemu::kMaxFds);
      if (cmd == Command::kSyncSysmem) {
        ++stats_.syncs;
        forget_memory("no usable memory: DMA faults until QEMU shares its RAM again");
        return ok_status();
      }
    } else if (!carries_fds && m.nfds != 0) {
      ++stats_.rejected;
      report("%s carries %zu fds it should not: closed", mpqemu::command_name(m.header.command),
             m.nfds);
    }

    switch (cmd) {
      case Command::kPciCfgRead:
      case Command::kPciCfgWrite: {
        if (m.header.size != sizeof(mpqemu::ConfigMsg)) return refuse(m, "wrong size");
        mpqemu::ConfigMsg c{};
        std::memcpy(&c, m.payload, sizeof(c));
        if (c.len != 1 && c.len != 2 && c.len != 4) return refuse(m, "access width not 1, 2 or 4");
        const auto len = static_cast<std::uint32_t>(c.len);
        if (cmd == Command::kPciCfgRead) {
          ++stats_.cfg_reads;
          return reply(bus_.config_read(c.addr, len) & width_mask(len));
        }
        ++stats_.cfg_writes;
        bus_.config_write(c.addr, len, c.value & width_mask(len));
        return reply(0);
      }
      case Command::kBarRead:
      case Command::kBarWrite: {
        if (m.header.size != sizeof(mpqemu::BarMsg)) return refuse(m, "wrong size");
        mpqemu::BarMsg b{};
        std::memcpy(&b, m.payload, sizeof(b));
        if (!valid_width(b.size)) return refuse(m, "access width not 1, 2, 4 or 8");
        const bool read = cmd == Command::kBarRead;
        if (read) {
          ++stats_.bar_reads;
        } else {
          ++stats_.bar_writes;
        }
        const std::optional<BarHit> hit =
            b.memory != 0 ? bus_.bar_at(b.addr, b.size) : std::nullopt;
        if (!hit) {
          ++stats_.outside_bar;
          report("%s of %u bytes at 0x%llx (%s) hits no BAR: %s", read ? "read" : "write", b.size,
                 static_cast<unsigned long long>(b.addr), b.memory != 0 ? "memory" : "I/O",
                 read ? "answered all ones" : "dropped");
          return reply(read ? width_mask(b.size) : 0);
        }
        std::uint8_t bytes[8] = {};
        if (read) {
          std::memset(bytes, 0xFF, sizeof(bytes));
          bus_.mmio_read(hit->bar, hit->offset, bytes, b.size);
          std::uint64_t v = 0;
          for (std::uint32_t i = 0; i < b.size; ++i) v |= std::uint64_t{bytes[i]} << (8 * i);
          return reply(v);
        }
        for (std::uint32_t i = 0; i < b.size; ++i)
          bytes[i] = static_cast<std::uint8_t>(b.value >> (8 * i));
        bus_.mmio_write(hit->bar, hit->offset, bytes, b.size);
        return reply(0);
      }
      case Command::kSyncSysmem:
        ++stats_.syncs;
        if (m.header.size != sizeof(mpqemu::SyncSysmemMsg)) {
          ++stats_.rejected;
          report("SYNC_SYSMEM of %llu bytes, not %zu: memory dropped",
                 static_cast<unsigned long long>(m.header.size), sizeof(mpqemu::SyncSysmemMsg));
          forget_memory("no usable memory: DMA faults until QEMU shares its RAM again");
          return ok_status();
        }
        sync_memory(m);
        return ok_status();
      case Command::kDeviceReset:
        if (m.header.size != 0) return refuse(m, "wrong size");
        ++stats_.resets;
        bus_.bus_reset();
        return reply(0);
      case Command::kSetIrqfd:
        // INTx through a KVM irqfd: the function has no INTx pin, and under TCG QEMU cannot
        // wire it anyway. The fds are closed by ~Message.
        if (!irqfd_noted_ && verbose_) info("SET_IRQFD: INTx is not used (no interrupt pin)");
        irqfd_noted_ = true;
        return ok_status();
      case Command::kRet:
      default:
        ++stats_.rejected;
        report("unexpected command %d (%s, %llu payload bytes): ignored, no answer",
               m.header.command, mpqemu::command_name(m.header.command),
               static_cast<unsigned long long>(m.header.size));
        return ok_status();
    }
  }

  static std::uint64_t width_mask(std::uint32_t bytes) {
    return bytes >= 8 ? ~std::uint64_t{0} : (std::uint64_t{1} << (8 * bytes)) - 1;
  }

  void forget_memory(const char* why) {
    const bool had = !mem_.regions().empty();
    mem_.clear();
    keys_.clear();
    if (had) {
      bus_.memory_changed(mem_);
      report("%s", why);
    }
  }

  // What identifies a region's mapping: QEMU resends the same set on every topology
  // change (hundreds of times in a firmware boot); an unchanged set keeps its mappings.
  struct Key {
    std::uint64_t gpa, size, offset, dev, ino;
    friend bool operator==(const Key&, const Key&) = default;
  };

  void sync_memory(Message& m) {
    mpqemu::SyncSysmemMsg s{};
    std::memcpy(&s, m.payload, sizeof(s));
    std::vector<Key> keys;
    for (std::size_t i = 0; i < m.nfds; ++i) {
      struct stat st {};
      if (fstat(m.fds[i], &st) != 0) st = {};
      keys.push_back({s.gpa[i], s.size[i], static_cast<std::uint64_t>(s.offset[i]),
                      static_cast<std::uint64_t>(st.st_dev),
                      static_cast<std::uint64_t>(st.st_ino)});
    }
    if (keys == keys_ && !keys.empty()) return;  // the same memory: ~Message closes the fds

    mem_.clear();
    keys_.clear();
    bool ok = true;
    for (std::size_t i = 0; i < m.nfds && ok; ++i) {
      if (s.offset[i] < 0) {
        report("SYNC_SYSMEM region %zu: negative file offset %lld: memory dropped", i,
               static_cast<long long>(s.offset[i]));
        ok = false;
        break;
      }
      const GuestMemory::Share share{s.gpa[i], s.size[i], s.gpa[i],
                                     static_cast<std::uint64_t>(s.offset[i])};
      const Status st = mem_.add(share, m.take_fd(i));  // closes the fd either way
      if (!st.ok()) {
        report(
            "SYNC_SYSMEM region %zu (gpa 0x%llx, 0x%llx bytes at file offset 0x%llx) %s: "
            "memory dropped",
            i, static_cast<unsigned long long>(s.gpa[i]),
            static_cast<unsigned long long>(s.size[i]),
            static_cast<unsigned long long>(s.offset[i]), mem_.problem());
        ok = false;
      }
    }
    if (!ok) {
      ++stats_.rejected;
      mem_.clear();
      bus_.memory_changed(mem_);
      return;
    }
    keys_ = std::move(keys);
    ++stats_.memory_maps;
    bus_.memory_changed(mem_);
    if (verbose_) {
      for (const GuestMemory::Region& r : mem_.regions()) {
        info("guest memory: gpa 0x%llx size 0x%llx (%llu MiB)",
             static_cast<unsigned long long>(r.gpa), static_cast<unsigned long long>(r.size),
             static_cast<unsigned long long>(r.size >> 20));
      }
    }
  }

  PciBus& bus_;
  std::string name_;
  int sock_ = -1;
  bool verbose_ = false;
  bool irqfd_noted_ = false;
  std::FILE* log_file_ = stderr;
  std::uint64_t reports_ = 0;
  std::string last_error_;
  GuestMemory mem_;
  std::vector<Key> keys_;
  Stats stats_{};
};

}  // namespace fbnic::emu
