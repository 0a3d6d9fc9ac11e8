// VhostUserTransport: the back-end of one vhost-user connection speaking virtio-pcidev,
// i.e. one PCI function for one User-Mode Linux guest.
//
// Control: the vhost-user messages virtio_uml sends (features, protocol features with
// REPLY_ACK and the back-end request channel, owner, memory table, vring setup). Data:
// the command virtqueue (config and BAR reads and writes, served in order through a
// PciBus, never dropped) and the interrupt virtqueue (MSI messages, queued here while
// the guest has no free buffer, so none is lost).
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <string>
#include <vector>

#include "fbnic/base/result.hpp"
#include "fbnic/emu/guest_memory.hpp"
#include "fbnic/emu/pci_bus.hpp"
#include "fbnic/emu/vhost_user.hpp"
#include "fbnic/emu/virtqueue.hpp"

namespace fbnic::emu {

class VhostUserTransport {
 public:
  struct Stats {
    std::uint64_t messages = 0;  // vhost-user control messages
    std::uint64_t commands = 0;  // virtio-pcidev commands served
    std::uint64_t cfg_reads = 0;
    std::uint64_t cfg_writes = 0;
    std::uint64_t mmio_reads = 0;
    std::uint64_t mmio_writes = 0;
    std::uint64_t memsets = 0;
    std::uint64_t bad_commands = 0;
    std::uint64_t irqs_sent = 0;
    std::uint64_t irq_backlog_max = 0;  // MSIs waiting for a guest buffer, at worst
    std::uint64_t kicks = 0;
    std::uint64_t max_batch = 0;
  };

  VhostUserTransport(PciBus& bus, std::string name) : bus_(bus), name_(std::move(name)) {}
  VhostUserTransport(const VhostUserTransport&) = delete;
  VhostUserTransport& operator=(const VhostUserTransport&) = delete;
  ~VhostUserTransport() { disconnect(); }

  void attach(int fd) {
    disconnect();
    irq_backlog_.clear();  // nothing raised before is for this guest
    sock_ = fd;
  }
  [[nodiscard]] bool connected() const { return sock_ >= 0; }
  [[nodiscard]] int socket_fd() const { return sock_; }
  [[nodiscard]] int kick_fd(std::uint32_t q) const { return vq_[q].kick_fd(); }
  [[nodiscard]] const Stats& stats() const { return stats_; }
  [[nodiscard]] const std::string& name() const { return name_; }
  void set_verbose(bool v) { verbose_ = v; }

  void disconnect() {
    if (sock_ < 0) return;
    close(sock_);
    sock_ = -1;
    if (slave_fd_ >= 0) close(slave_fd_);
    slave_fd_ = -1;
    for (Virtqueue& q : vq_) q.reset();
    irq_backlog_.clear();
    bool had_memory = !mem_.regions().empty();
    mem_.clear();
    if (had_memory) bus_.memory_changed(mem_);
    features_ = protocol_features_ = 0;
  }

  // Reads and handles one control message. kAborted when the front-end went away.
  Status on_socket_readable() {
    vhost::Header hdr{};
    int fds[vhost::kMaxFds];
    std::size_t nfds = 0;  // header and payload share the array; extra fds are closed
    Status st = receive(&hdr, sizeof(hdr), fds, nfds);
    if (st.ok() && hdr.size > sizeof(payload_)) {
      log("control message %u too large (%u bytes)", hdr.request, hdr.size);
      st = Error::kAborted;
    }
    if (st.ok() && hdr.size != 0) st = receive(payload_, hdr.size, fds, nfds);
    if (!st.ok()) {
      close_all(fds, nfds);
      return st;
    }
    ++stats_.messages;
    if (verbose_)
      log("<- %s (%u bytes, %zu fds)", vhost::request_name(hdr.request), hdr.size, nfds);
    return handle(hdr, fds, nfds);
  }

  // Serves the queued commands and interrupts. When there were commands, polls the
  // command ring for up to spin_ns more (a register read follows a register read
  // closely) before asking the guest for kicks again, but returns after max_ns of
  // serving and polling in all, so that other guests, the clock and signals get their
  // turn. True when commands are still waiting then: the caller calls again soon (the
  // guest does not kick for them).
  bool service(std::uint64_t spin_ns, std::uint64_t max_ns, std::uint64_t (*clock_ns)()) {
    Virtqueue& cmd = vq_[vhost::kCmdQueue];
    vq_[vhost::kIrqQueue].drain_kick();
    flush_irqs();
    if (!cmd.ready()) return false;
    cmd.drain_kick();
    const std::uint64_t start = clock_ns();
    if (serve_commands() == 0) return false;
    cmd.set_kicks_wanted(false);
    std::uint64_t idle_since = clock_ns();
    std::uint64_t ticked = idle_since;
    for (;;) {  // bounded: max_ns in all, spin_ns once idle
      const std::uint64_t now = clock_ns();
      if (now - start >= max_ns) break;
      if (serve_commands() != 0) {
        idle_since = clock_ns();
        continue;
      }
      flush_irqs();
      if (now - idle_since >= spin_ns) break;
      if (now - ticked >= kSpinTickNs) {  // time passes for the model while we wait
        bus_.tick();
        ticked = now;
      }
    }
    cmd.set_kicks_wanted(true);
    serve_commands();  // anything that raced with re-enabling kicks
    flush_irqs();
    return cmd.has_work();
  }

  // Queues an MSI for the guest and sends what the interrupt ring has room for.
  void send_msi(std::uint64_t address, std::uint32_t data) {
    if (!connected()) return;  // nobody to deliver it to: not kept for the next guest
    irq_backlog_.push_back({address, data});
    stats_.irq_backlog_max = std::max<std::uint64_t>(stats_.irq_backlog_max, irq_backlog_.size());
    flush_irqs();
  }

 private:
  static constexpr std::uint64_t kSpinTickNs = 5'000;
  // The data of one access, read or write (virt-pci's are 1 to 8 bytes).
  static constexpr std::size_t kMaxAccess = 4096;

  struct Msi {
    std::uint64_t address;
    std::uint32_t data;
  };

  template <class... A>
  void log(const char* fmt, A... args) const {
    std::fprintf(stderr, "fbnic-emu[%s]: ", name_.c_str());
    if constexpr (sizeof...(A) == 0) {
      std::fputs(fmt, stderr);
    } else {
      std::fprintf(stderr, fmt, args...);
    }
    std::fputc('\n', stderr);
  }

  static void close_all(const int* fds, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) close(fds[i]);
  }

  // Reads len bytes, appending the fds that come with them to fds[nfds..kMaxFds).
  Status receive(void* buf, std::size_t len, int (&fds)[vhost::kMaxFds], std::size_t& nfds) {
    auto* p = static_cast<std::uint8_t*>(buf);
    while (len > 0) {
      iovec iov{p, len};
      alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * vhost::kMaxFds)];
      msghdr msg{};
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = control;
      msg.msg_controllen = sizeof(control);
      const ssize_t n = recvmsg(sock_, &msg, MSG_CMSG_CLOEXEC);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return Error::kAborted;
      for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (std::size_t i = 0; i < count; ++i) {
          int fd = -1;
          std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
          if (nfds < vhost::kMaxFds) {
            fds[nfds++] = fd;
          } else {
            close(fd);
          }
        }
      }
      p += n;
      len -= static_cast<std::size_t>(n);
    }
    return ok_status();
  }

  Status send_reply(const vhost::Header& req, const void* payload, std::uint32_t size) {
    std::uint8_t buf[sizeof(vhost::Header) + 64];
    const vhost::Header hdr{req.request, vhost::kVersion | vhost::kFlagReply, size};
    std::memcpy(buf, &hdr, sizeof(hdr));
    std::memcpy(buf + sizeof(hdr), payload, size);
    const std::uint8_t* p = buf;
    std::size_t left = sizeof(hdr) + size;
    while (left > 0) {
      const ssize_t n = send(sock_, p, left, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return Error::kAborted;
      p += n;
      left -= static_cast<std::size_t>(n);
    }
    return ok_status();
  }
  Status reply_u64(const vhost::Header& req, std::uint64_t value) {
    return send_reply(req, &value, sizeof(value));
  }

  template <class T>
  bool payload_as(const vhost::Header& hdr, T& out) const {
    if (hdr.size < sizeof(T)) return false;
    std::memcpy(&out, payload_, sizeof(T));
    return true;
  }

  Status handle(const vhost::Header& hdr, int* fds, std::size_t nfds) {
    using vhost::Request;
    bool replied = false;  // a GET_* answer doubles as the acknowledgement
    std::uint64_t status = 0;
    std::size_t used_fds = 0;
    vhost::VringState state{};
    std::uint64_t u64 = 0;

    switch (static_cast<Request>(hdr.request)) {
      case Request::kGetFeatures:
        FBNIC_TRY(reply_u64(hdr, vhost::kFeatureProtocolFeatures | vhost::kFeatureVersion1));
        replied = true;
        break;
      case Request::kSetFeatures:
        if (payload_as(hdr, u64)) features_ = u64;
        break;
      case Request::kGetProtocolFeatures:
        FBNIC_TRY(reply_u64(hdr, vhost::kProtocolReplyAck | vhost::kProtocolSlaveReq));
        replied = true;
        break;
      case Request::kSetProtocolFeatures:
        if (payload_as(hdr, u64)) protocol_features_ = u64;
        break;
      case Request::kGetQueueNum:
        FBNIC_TRY(reply_u64(hdr, vhost::kQueues));
        replied = true;
        break;
      case Request::kSetOwner: break;
      case Request::kResetOwner:
        for (Virtqueue& q : vq_) q.reset();
        break;
      case Request::kSetMemTable:
        status = set_mem_table(hdr, fds, nfds) ? 0 : 1;
        used_fds = nfds;
        break;
      case Request::kSetVringNum:
        if (!payload_as(hdr, state) || state.index >= vhost::kQueues ||
            !vq_[state.index].set_num(state.num).ok()) {
          log("SET_VRING_NUM %u for ring %u refused", state.num, state.index);
          status = 1;
        }
        break;
      case Request::kSetVringBase:
        if (payload_as(hdr, state) && state.index < vhost::kQueues) {
          vq_[state.index].set_base(static_cast<std::uint16_t>(state.num));
        } else {
          status = 1;
        }
        break;
      case Request::kGetVringBase:
        if (payload_as(hdr, state) && state.index < vhost::kQueues) {
          vq_[state.index].set_enabled(false);
          const vhost::VringState out{state.index, vq_[state.index].base()};
          FBNIC_TRY(send_reply(hdr, &out, sizeof(out)));
          replied = true;
        }
        break;
      case Request::kSetVringAddr: {
        vhost::VringAddr a{};
        if (!payload_as(hdr, a) || a.index >= vhost::kQueues ||
            !vq_[a.index].set_addr(mem_, a.desc, a.avail, a.used).ok()) {
          log("SET_VRING_ADDR for ring %u outside shared memory", a.index);
          status = 1;
        }
        break;
      }
      case Request::kSetVringKick:
      case Request::kSetVringCall:
      case Request::kSetVringErr: {
        if (!payload_as(hdr, u64) || (u64 & vhost::kVringIndexMask) >= vhost::kQueues) {
          status = 1;
          break;
        }
        const auto q = static_cast<std::uint32_t>(u64 & vhost::kVringIndexMask);
        const int fd = (u64 & vhost::kVringNoFd) == 0 && nfds > 0 ? fds[0] : -1;
        used_fds = fd >= 0 ? 1 : 0;
        if (hdr.request == static_cast<std::uint32_t>(Request::kSetVringKick)) {
          vq_[q].set_kick_fd(fd);
        } else if (hdr.request == static_cast<std::uint32_t>(Request::kSetVringCall)) {
          vq_[q].set_call_fd(fd);
        } else if (fd >= 0) {
          close(fd);
        }
        // Without protocol features the rings start enabled once they have a kick fd.
        if ((features_ & vhost::kFeatureProtocolFeatures) == 0 &&
            hdr.request == static_cast<std::uint32_t>(Request::kSetVringKick)) {
          vq_[q].set_enabled(true);
        }
        break;
      }
      case Request::kSetVringEnable:
        if (payload_as(hdr, state) && state.index < vhost::kQueues) {
          vq_[state.index].set_enabled(state.num != 0);
        } else {
          status = 1;
        }
        break;
      case Request::kSetSlaveReqFd:
        if (nfds > 0) {
          if (slave_fd_ >= 0) close(slave_fd_);
          slave_fd_ = fds[0];
          used_fds = 1;
        }
        break;
      case Request::kVringKick:
        ++stats_.kicks;  // in-band kick: service() runs after every message
        break;
      case Request::kGetConfig: {
        // Not offered (no PROTOCOL_F_CONFIG); answer with zeroes of the asked size.
        std::uint8_t zero[64] = {};
        const std::uint32_t n = std::min<std::uint32_t>(hdr.size, sizeof(zero));
        std::memcpy(zero, payload_, std::min<std::uint32_t>(n, 12));
        FBNIC_TRY(send_reply(hdr, zero, n));
        replied = true;
        break;
      }
      default:
        log("unhandled vhost-user request %u (%s)", hdr.request, vhost::request_name(hdr.request));
        status = 1;
        break;
    }
    close_all(fds + used_fds, nfds - used_fds);
    if ((hdr.flags & vhost::kFlagNeedReply) != 0 && !replied) FBNIC_TRY(reply_u64(hdr, status));
    return ok_status();
  }

  bool set_mem_table(const vhost::Header& hdr, int* fds, std::size_t nfds) {
    vhost::MemTable table{};
    const std::size_t n = std::min<std::size_t>(hdr.size, sizeof(table));
    std::memcpy(&table, payload_, n);
    for (Virtqueue& q : vq_) q.forget_rings();  // they pointed into the old mappings
    mem_.clear();
    bool ok = table.num <= vhost::kMaxMemRegions && table.num <= nfds;
    for (std::size_t i = 0; i < nfds; ++i) {
      if (!ok || i >= table.num) {
        close(fds[i]);
        continue;
      }
      const vhost::MemRegion& r = table.regions[i];
      // add() closes the fd either way.
      if (!mem_.add({r.guest_addr, r.size, r.user_addr, r.mmap_offset}, fds[i]).ok()) {
        ok = false;
        continue;
      }
      log("guest memory: gpa 0x%llx size 0x%llx (%llu MiB)",
          static_cast<unsigned long long>(r.guest_addr), static_cast<unsigned long long>(r.size),
          static_cast<unsigned long long>(r.size >> 20));
    }
    if (!ok) {
      log("SET_MEM_TABLE: could not map %u regions (%s)", table.num,
          mem_.problem()[0] != '\0' ? mem_.problem() : "more regions than fds, or more than 8");
      mem_.clear();
    }
    bus_.memory_changed(mem_);
    return ok;
  }

  // Serves the commands now in the ring; returns how many.
  std::size_t serve_commands() {
    Virtqueue& q = vq_[vhost::kCmdQueue];
    std::size_t served = 0;
    Virtqueue::Chain chain;
    bool ticked = false;
    // At most one ring's worth: a guest that keeps adding commands does not keep us here.
    while (served < q.num()) {
      Result<bool> got = q.pop(mem_, chain);
      if (got.ok() && !got.value()) break;
      if (!ticked) {
        bus_.tick();
        ticked = true;
      }
      std::uint32_t written = 0;
      if (got.ok()) {
        written = serve(chain);
      } else {
        ++stats_.bad_commands;
        log("unusable command chain at head %u: %s", chain.head, got.status().name());
      }
      q.push(chain.head, written);
      ++served;
    }
    if (served != 0) {
      // A guest that issued a read is polling for it and takes back every completion up
      // to it; signalling it would only cost an interrupt per register read. Otherwise
      // (posted writes) signal, so it can free their buffers.
      if (!last_was_read_) q.notify();
      stats_.max_batch = std::max<std::uint64_t>(stats_.max_batch, served);
    }
    return served;
  }

  // One virtio-pcidev command: its readable part is header + data, its writable part
  // receives read data. Returns the bytes written for the guest.
  std::uint32_t serve(const Virtqueue::Chain& chain) {
    std::size_t in_len = 0;
    std::size_t out_room = 0;
    for (std::size_t i = 0; i < chain.count; ++i) {
      const Virtqueue::Segment& s = chain.segments[i];
      if (s.writable) {
        out_room += s.len;
      } else if (in_len + s.len <= sizeof(cmd_)) {
        std::memcpy(cmd_ + in_len, s.data, s.len);
        in_len += s.len;
      } else {
        ++stats_.bad_commands;
        return 0;
      }
    }
    if (in_len < sizeof(vhost::PciMsgHeader)) {
      ++stats_.bad_commands;
      return 0;
    }
    vhost::PciMsgHeader m{};
    std::memcpy(&m, cmd_, sizeof(m));
    last_was_read_ = m.op == static_cast<std::uint8_t>(vhost::PciOp::kCfgRead) ||
                     m.op == static_cast<std::uint8_t>(vhost::PciOp::kMmioRead);
    const std::uint8_t* data = cmd_ + sizeof(m);
    const std::size_t data_len = in_len - sizeof(m);
    ++stats_.commands;

    switch (static_cast<vhost::PciOp>(m.op)) {
      case vhost::PciOp::kCfgRead: {
        ++stats_.cfg_reads;
        const std::uint32_t size = std::min<std::uint32_t>(m.size, 8);
        const std::uint64_t v = bus_.config_read(static_cast<std::uint32_t>(m.addr), size);
        std::uint8_t bytes[8];
        for (std::uint32_t i = 0; i < 8; ++i) bytes[i] = static_cast<std::uint8_t>(v >> (8 * i));
        return scatter(chain, bytes, std::min<std::size_t>(size, out_room));
      }
      case vhost::PciOp::kCfgWrite: {
        ++stats_.cfg_writes;
        const std::uint32_t size =
            std::min<std::uint32_t>({m.size, 8u, static_cast<std::uint32_t>(data_len)});
        std::uint64_t v = 0;
        for (std::uint32_t i = 0; i < size; ++i) v |= std::uint64_t{data[i]} << (8 * i);
        bus_.config_write(static_cast<std::uint32_t>(m.addr), size, v);
        return 0;
      }
      case vhost::PciOp::kMmioRead: {
        ++stats_.mmio_reads;
        const std::size_t size = std::min<std::size_t>({m.size, out_room, kMaxAccess});
        if (size > read_buf_.size()) read_buf_.resize(size);
        std::fill_n(read_buf_.begin(), size, std::uint8_t{0xFF});
        bus_.mmio_read(m.bar, m.addr, read_buf_.data(), static_cast<std::uint32_t>(size));
        return scatter(chain, read_buf_.data(), size);
      }
      case vhost::PciOp::kMmioWrite: {
        ++stats_.mmio_writes;
        const auto size = static_cast<std::uint32_t>(std::min<std::size_t>(m.size, data_len));
        bus_.mmio_write(m.bar, m.addr, data, size);
        return 0;
      }
      case vhost::PciOp::kMmioMemset:
        ++stats_.memsets;
        if (data_len >= 1) bus_.mmio_memset(m.bar, m.addr, data[0], m.size);
        return 0;
      default:
        ++stats_.bad_commands;
        log("unexpected virtio-pcidev op %u", m.op);
        return 0;
    }
  }

  static std::uint32_t scatter(const Virtqueue::Chain& chain, const std::uint8_t* src,
                               std::size_t len) {
    std::size_t done = 0;
    for (std::size_t i = 0; i < chain.count && done < len; ++i) {
      const Virtqueue::Segment& s = chain.segments[i];
      if (!s.writable) continue;
      const std::size_t n = std::min<std::size_t>(s.len, len - done);
      std::memcpy(s.data, src + done, n);
      done += n;
    }
    return static_cast<std::uint32_t>(done);
  }

  void flush_irqs() {
    Virtqueue& q = vq_[vhost::kIrqQueue];
    if (irq_backlog_.empty() || !q.ready()) return;
    Virtqueue::Chain chain;
    while (!irq_backlog_.empty()) {
      Result<bool> got = q.pop(mem_, chain);
      if (got.ok() && !got.value()) break;
      std::uint32_t written = 0;
      if (got.ok()) {
        const Msi msi = irq_backlog_.front();
        std::uint8_t msg[sizeof(vhost::PciMsgHeader) + 4];
        const vhost::PciMsgHeader h{static_cast<std::uint8_t>(vhost::PciOp::kMsi), 0, 0, 4,
                                    msi.address};
        std::memcpy(msg, &h, sizeof(h));
        for (std::uint32_t i = 0; i < 4; ++i) {
          msg[sizeof(h) + i] = static_cast<std::uint8_t>(msi.data >> (8 * i));
        }
        written = scatter(chain, msg, sizeof(msg));
        if (written == sizeof(msg)) {
          irq_backlog_.pop_front();
          ++stats_.irqs_sent;
        }
      }
      q.push(chain.head, written);
    }
    q.notify();
  }

  PciBus& bus_;
  std::string name_;
  int sock_ = -1;
  int slave_fd_ = -1;
  bool verbose_ = false;
  std::uint64_t features_ = 0;
  std::uint64_t protocol_features_ = 0;
  bool last_was_read_ = false;
  GuestMemory mem_;
  Virtqueue vq_[vhost::kQueues];
  std::deque<Msi> irq_backlog_;
  std::uint8_t payload_[vhost::kMaxPayload] = {};
  std::uint8_t cmd_[sizeof(vhost::PciMsgHeader) + kMaxAccess] = {};
  std::vector<std::uint8_t> read_buf_ = std::vector<std::uint8_t>(64);
  Stats stats_{};
};

}  // namespace fbnic::emu
