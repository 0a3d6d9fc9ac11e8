// fbnic-emu without UML: a front-end written here speaks vhost-user and virtio-pcidev to
// the transport over a socketpair, with a memfd as guest memory, and checks what a guest
// would see: config space and capabilities, BAR sizing, BAR accesses reaching the model,
// MSI-X masking and pending bits, interrupts queued while the guest has no buffer, and the
// wire responder.
#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <vector>

#include "fbnic/emu/nic.hpp"
#include "fbnic/emu/vhost_user_transport.hpp"
#include "fbnic/emu/wire.hpp"
#include "fbnic/mock/device.hpp"

namespace {

using fbnic::emu::Nic;
using fbnic::emu::PciFunction;
using fbnic::emu::VhostUserTransport;
namespace vhost = fbnic::emu::vhost;
using Model = fbnic::mock::Device<>;

std::uint64_t clock_ns() { return fbnic::emu::monotonic_ns(); }

// The guest side: guest RAM, two split rings, the vhost-user socket.
class Guest {
 public:
  static constexpr std::uint64_t kGpa = 0x4000'0000;  // guest physical base of the memfd
  static constexpr std::size_t kMem = 1 << 20;
  static constexpr std::uint16_t kNum = 8;

  Guest() : nic_("test", {}), transport_(nic_, "test") {
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sock_), 0);
    memfd_ = memfd_create("guest", 0);
    EXPECT_EQ(ftruncate(memfd_, kMem), 0);
    mem_ = static_cast<std::uint8_t*>(
        mmap(nullptr, kMem, PROT_READ | PROT_WRITE, MAP_SHARED, memfd_, 0));
    transport_.attach(sock_[1]);
    nic_.set_msi_sink(
        [this](std::uint32_t, std::uint64_t a, std::uint32_t d) { transport_.send_msi(a, d); });
    handshake();
  }
  ~Guest() {
    munmap(mem_, kMem);
    close(memfd_);
    close(sock_[0]);
    close(slave_);
  }

  Nic<Model>& nic() { return nic_; }
  VhostUserTransport& transport() { return transport_; }
  [[nodiscard]] int memfd() const { return memfd_; }
  [[nodiscard]] int socket() const { return sock_[0]; }

  // --- vhost-user control ---
  // Sends bytes with fds as one sendmsg (a message may be split over several).
  void send_raw(const void* data, std::size_t len, const int* fds, std::size_t nfds) {
    iovec iov{const_cast<void*>(data), len};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 16)] = {};
    if (nfds != 0) {
      msg.msg_control = control;
      msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
      cmsghdr* c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
      std::memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
    }
    EXPECT_EQ(sendmsg(sock_[0], &msg, 0), static_cast<ssize_t>(len));
  }
  std::uint64_t read_reply() {
    std::uint8_t reply[12 + 8] = {};
    EXPECT_EQ(read(sock_[0], reply, sizeof(reply)), static_cast<ssize_t>(sizeof(reply)));
    std::uint64_t v = 0;
    std::memcpy(&v, reply + 12, 8);
    return v;
  }

  std::uint64_t request(vhost::Request r, const void* payload, std::uint32_t size, int fd = -1,
                        bool need_reply = true) {
    std::uint8_t buf[12 + 128] = {};
    const vhost::Header h{static_cast<std::uint32_t>(r),
                          vhost::kVersion | (need_reply ? vhost::kFlagNeedReply : 0u), size};
    std::memcpy(buf, &h, 12);
    if (size != 0) std::memcpy(buf + 12, payload, size);
    iovec iov{buf, 12u + size};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    if (fd >= 0) {
      msg.msg_control = control;
      msg.msg_controllen = sizeof(control);
      cmsghdr* c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int));
      std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
    }
    EXPECT_EQ(sendmsg(sock_[0], &msg, 0), static_cast<ssize_t>(12 + size));
    EXPECT_TRUE(transport_.on_socket_readable().ok());
    if (!need_reply) return 0;
    return read_reply();
  }
  // SET_MEM_TABLE with one region.
  std::uint64_t set_mem_table(const vhost::MemRegion& region, int fd) {
    std::uint8_t table[8 + sizeof(region)] = {1};
    std::memcpy(table + 8, &region, sizeof(region));
    return request(vhost::Request::kSetMemTable, table, sizeof(table), fd);
  }
  std::uint64_t set_vring_num(std::uint32_t q, std::uint32_t num) {
    const vhost::VringState s{q, num};
    return request(vhost::Request::kSetVringNum, &s, sizeof(s));
  }
  // SET_VRING_ADDR with the test's ring layout; `used` may be moved elsewhere.
  std::uint64_t set_vring_addr(std::uint32_t q, std::optional<std::uint64_t> used = {}) {
    const Ring& r = ring_[q];
    const vhost::VringAddr addr{q, 0, r.desc, used.value_or(r.used), r.avail, ~0ull};
    return request(vhost::Request::kSetVringAddr, &addr, sizeof(addr));
  }

  // --- commands on ring 0 ---
  std::uint64_t cfg_read(std::uint32_t off, std::uint32_t size) {
    return command(vhost::PciOp::kCfgRead, 0, off, size, 0, true);
  }
  void cfg_write(std::uint32_t off, std::uint32_t size, std::uint64_t v) {
    command(vhost::PciOp::kCfgWrite, 0, off, size, v, false);
  }
  std::uint32_t mmio_read(std::uint8_t bar, std::uint32_t off) {
    return static_cast<std::uint32_t>(command(vhost::PciOp::kMmioRead, bar, off, 4, 0, true));
  }
  void mmio_write(std::uint8_t bar, std::uint32_t off, std::uint32_t v) {
    command(vhost::PciOp::kMmioWrite, bar, off, 4, v, false);
  }
  // A command the transport may not serve: nullopt when it did not. For a read, `room`
  // bytes of buffer; used_len() then tells how many the transport filled.
  std::optional<std::uint64_t> try_command(vhost::PciOp op, std::uint8_t bar, std::uint64_t addr,
                                           std::uint32_t size, std::uint64_t value,
                                           std::uint32_t room = 0) {
    const std::uint64_t out_gpa = kGpa + 0x9000;
    const std::uint64_t in_gpa = kGpa + 0x10000;
    const vhost::PciMsgHeader h{static_cast<std::uint8_t>(op), bar, 0, size, addr};
    std::memcpy(at(out_gpa), &h, sizeof(h));
    std::memcpy(at(out_gpa + 16), &value, 8);
    std::memset(at(in_gpa), 0xAA, 8);
    const std::uint16_t d0 = alloc_desc(0);
    if (room != 0) {
      const std::uint16_t d1 = alloc_desc(0);
      set_desc(0, d0, out_gpa, 16, 1 /*next*/, d1);
      set_desc(0, d1, in_gpa, room, 2 /*write*/, 0);
    } else {
      set_desc(0, d0, out_gpa, 16 + std::min<std::uint32_t>(size, 8), 0, 0);
    }
    const std::uint16_t before = used_idx(0);
    publish(0, d0);
    service();
    if (used_idx(0) == before) return std::nullopt;
    std::uint64_t v = 0;
    std::memcpy(&v, at(in_gpa), 8);
    return v;
  }
  // The length the transport wrote for the last chain it returned on ring q.
  std::uint32_t used_len(int q) {
    std::uint32_t len = 0;
    std::memcpy(&len, at(ring_[q].used + 4 + 8 * ((used_idx(q) - 1) % kNum) + 4), 4);
    return len;
  }
  void service() { EXPECT_FALSE(transport_.service(0, 1'000'000'000, &clock_ns)); }

  // Posts n empty interrupt buffers on ring 1.
  void post_irq_buffers(int n) {
    for (int i = 0; i < n; ++i) {
      const std::uint16_t d = alloc_desc(1);
      set_desc(1, d, irq_buf_gpa(d), 20, 2 /*write*/, 0);
      publish(1, d);
    }
    service();
  }
  // The MSIs the guest has received (data words), in order.
  std::vector<std::uint32_t> take_msis() {
    std::vector<std::uint32_t> out;
    Ring& r = ring_[1];
    while (r.used_seen != used_idx(1)) {
      const std::uint8_t* e = at(r.used + 4 + 8 * (r.used_seen % kNum));
      std::uint32_t id = 0;
      std::memcpy(&id, e, 4);
      const std::uint8_t* m = at(irq_buf_gpa(static_cast<std::uint16_t>(id)));
      EXPECT_EQ(m[0], static_cast<std::uint8_t>(vhost::PciOp::kMsi));
      std::uint32_t data = 0;
      std::memcpy(&data, m + 16, 4);
      out.push_back(data);
      ++r.used_seen;
    }
    return out;
  }

 private:
  struct Ring {
    std::uint64_t desc, avail, used;
    std::uint16_t next_desc = 0;
    std::uint16_t avail_idx = 0;
    std::uint16_t used_seen = 0;
  };

  std::uint8_t* at(std::uint64_t gpa) { return mem_ + (gpa - kGpa); }
  std::uint64_t irq_buf_gpa(std::uint16_t d) { return kGpa + 0x8000 + 64u * d; }
  std::uint16_t used_idx(int q) {
    std::uint16_t v = 0;
    std::memcpy(&v, at(ring_[q].used + 2), 2);
    return v;
  }
  std::uint16_t alloc_desc(int q) { return ring_[q].next_desc++ % kNum; }
  void set_desc(int q, std::uint16_t d, std::uint64_t addr, std::uint32_t len, std::uint16_t flags,
                std::uint16_t next) {
    std::uint8_t* p = at(ring_[q].desc + 16u * d);
    std::memcpy(p, &addr, 8);
    std::memcpy(p + 8, &len, 4);
    std::memcpy(p + 12, &flags, 2);
    std::memcpy(p + 14, &next, 2);
  }
  void publish(int q, std::uint16_t head) {
    Ring& r = ring_[q];
    std::memcpy(at(r.avail + 4 + 2 * (r.avail_idx % kNum)), &head, 2);
    ++r.avail_idx;
    std::memcpy(at(r.avail + 2), &r.avail_idx, 2);
  }

  std::uint64_t command(vhost::PciOp op, std::uint8_t bar, std::uint64_t addr, std::uint32_t size,
                        std::uint64_t value, bool read) {
    const std::uint64_t out_gpa = kGpa + 0x9000;
    const std::uint64_t in_gpa = kGpa + 0x9100;
    const vhost::PciMsgHeader h{static_cast<std::uint8_t>(op), bar, 0, size, addr};
    std::memcpy(at(out_gpa), &h, sizeof(h));
    std::memcpy(at(out_gpa + 16), &value, 8);
    std::memset(at(in_gpa), 0xAA, 8);
    const std::uint16_t d0 = alloc_desc(0);
    if (read) {
      const std::uint16_t d1 = alloc_desc(0);
      set_desc(0, d0, out_gpa, 16, 1 /*next*/, d1);
      set_desc(0, d1, in_gpa, 8, 2 /*write*/, 0);
    } else {
      set_desc(0, d0, out_gpa, 16 + size, 0, 0);
    }
    const std::uint16_t before = used_idx(0);
    publish(0, d0);
    service();
    EXPECT_EQ(used_idx(0), static_cast<std::uint16_t>(before + 1));
    std::uint64_t v = 0;
    std::memcpy(&v, at(in_gpa), 8);
    return size < 8 ? v & ((std::uint64_t{1} << (8 * size)) - 1) : v;
  }

  void handshake() {
    request(vhost::Request::kSetOwner, nullptr, 0, -1, false);
    std::uint64_t features = request(vhost::Request::kGetFeatures, nullptr, 0);
    EXPECT_NE(features & vhost::kFeatureProtocolFeatures, 0u);
    std::uint64_t proto = request(vhost::Request::kGetProtocolFeatures, nullptr, 0);
    EXPECT_NE(proto & vhost::kProtocolSlaveReq, 0u);  // UML needs it for its device IRQ
    proto &= vhost::kProtocolReplyAck | vhost::kProtocolSlaveReq;
    EXPECT_EQ(request(vhost::Request::kSetProtocolFeatures, &proto, 8), 0u);
    int pair[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
    EXPECT_EQ(request(vhost::Request::kSetSlaveReqFd, nullptr, 0, pair[1]), 0u);
    close(pair[1]);
    slave_ = pair[0];
    EXPECT_EQ(request(vhost::Request::kSetFeatures, &features, 8), 0u);
    EXPECT_EQ(set_mem_table({kGpa, kMem, kGpa, 0}, memfd_), 0u);
    for (std::uint32_t q = 0; q < 2; ++q) {
      Ring& r = ring_[q];
      r.desc = kGpa + 0x1000 + 0x1000 * 3 * q;
      r.avail = r.desc + 0x1000;
      r.used = r.avail + 0x1000;
      EXPECT_EQ(set_vring_num(q, kNum), 0u);
      const vhost::VringState base{q, 0};
      EXPECT_EQ(request(vhost::Request::kSetVringBase, &base, 8), 0u);
      EXPECT_EQ(set_vring_addr(q), 0u);
      const std::uint64_t index = q;
      for (vhost::Request req : {vhost::Request::kSetVringCall, vhost::Request::kSetVringKick}) {
        const int fd = eventfd(0, 0);  // the transport gets its own copy
        EXPECT_EQ(request(req, &index, 8, fd), 0u);
        close(fd);
      }
      const vhost::VringState on{q, 1};
      EXPECT_EQ(request(vhost::Request::kSetVringEnable, &on, 8), 0u);
    }
  }

  Nic<Model> nic_;
  VhostUserTransport transport_;
  int sock_[2] = {-1, -1};
  int memfd_ = -1;
  int slave_ = -1;
  std::uint8_t* mem_ = nullptr;
  Ring ring_[2]{};
};

TEST(Emu, ConfigSpaceIdentityAndCapabilities) {
  Guest g;
  EXPECT_EQ(g.cfg_read(0x00, 4), 0x0013'1D9Bu);
  EXPECT_EQ(g.cfg_read(0x08, 4) >> 8, 0x020000u);
  EXPECT_EQ(g.cfg_read(0x06, 2) & 0x10, 0x10u);  // capability list
  // The emulator's block -> MSI-X -> PCIe -> end; then DSN alone in extended space.
  const auto vsec = static_cast<std::uint32_t>(g.cfg_read(0x34, 1));
  EXPECT_EQ(vsec, fbnic::emu::vsec::kBase);
  EXPECT_EQ(g.cfg_read(vsec, 1), fbnic::emu::vsec::kCapId);
  EXPECT_EQ(g.cfg_read(vsec + 2, 1), fbnic::emu::vsec::kLength);
  EXPECT_EQ(g.cfg_read(vsec + 4, 2), fbnic::emu::vsec::kId);
  EXPECT_EQ(g.cfg_read(vsec + fbnic::emu::vsec::kDsn, 8), 0x0011'22FF'FE55'6677ull);
  const auto msix = static_cast<std::uint32_t>(g.cfg_read(vsec + 1, 1));
  EXPECT_EQ(g.cfg_read(msix, 1), 0x11u);
  EXPECT_EQ(g.cfg_read(msix + 2, 2) & 0x7FF, PciFunction::kMsixVectors - 1);
  EXPECT_EQ(g.cfg_read(msix + 4, 4), 0x0000'0002u);  // table: BAR2 + 0
  EXPECT_EQ(g.cfg_read(msix + 8, 4), 0x0000'1002u);  // PBA: BAR2 + 0x1000
  const auto pcie = static_cast<std::uint32_t>(g.cfg_read(msix + 1, 1));
  EXPECT_EQ(g.cfg_read(pcie, 1), 0x10u);
  EXPECT_EQ(g.cfg_read(pcie + 1, 1), 0u);
  EXPECT_EQ(g.cfg_read(pcie + 8, 2), 0x2810u);  // DevCtl: MPS 128, MRRS 512
  EXPECT_LE(pcie + 0x3C, 0x100u);               // v2 capability fits the first 256 bytes
  const std::uint64_t dsn_hdr = g.cfg_read(0x100, 4);
  EXPECT_EQ(dsn_hdr & 0xFFFF, 0x0003u);
  EXPECT_EQ(dsn_hdr >> 20, 0u);  // the last extended capability
  EXPECT_EQ(g.cfg_read(0x104, 8), 0x0011'22FF'FE55'6677ull);
  EXPECT_EQ(g.cfg_read(0xFFC, 8), ~0ull);  // past the end
}

TEST(Emu, BarSizingReadsBackTheSizes) {
  Guest g;
  const std::uint32_t expect[6] = {0xFFC0'0000u, 0, 0xFFFF'E000u, 0, 0xFFFE'0000u, 0};
  for (std::uint32_t i = 0; i < 6; ++i) {
    g.cfg_write(0x10 + 4 * i, 4, 0xFFFF'FFFFu);
    EXPECT_EQ(g.cfg_read(0x10 + 4 * i, 4), expect[i]) << "BAR" << i;
  }
  g.cfg_write(0x10, 4, 0xF000'0000u);
  EXPECT_EQ(g.cfg_read(0x10, 4), 0xF000'0000u);
  g.cfg_write(0x30, 4, 0xFFFF'FFFFu);  // no expansion ROM
  EXPECT_EQ(g.cfg_read(0x30, 4), 0u);
  g.cfg_write(0x00, 4, 0);  // identity is read-only
  EXPECT_EQ(g.cfg_read(0x00, 4), 0x0013'1D9Bu);
}

TEST(Emu, BarAccessesReachTheModelInOrderAndAreCounted) {
  Guest g;
  constexpr std::uint32_t kScratch = 0x8000 * 4;  // an RXB register: plain storage
  for (std::uint32_t i = 0; i < 20; ++i) g.mmio_write(0, kScratch, i);  // posted, in order
  EXPECT_EQ(g.nic().model().read32(fbnic::Bar::kCsr, kScratch), 19u);
  EXPECT_EQ(g.mmio_read(0, kScratch), 19u);
  EXPECT_EQ(g.nic().counters().csr_writes, 20u);
  EXPECT_EQ(g.nic().counters().csr_reads, 1u);
  EXPECT_EQ(g.mmio_read(3, 0), 0xFFFF'FFFFu);          // no BAR3
  EXPECT_EQ(g.mmio_read(4, 128 << 10), 0xFFFF'FFFFu);  // past BAR4
  EXPECT_EQ(g.nic().counters().outside_bar, 2u);
}

TEST(Emu, MsixHonoursMasksAndPendingBits) {
  Guest g;
  g.post_irq_buffers(4);
  g.nic().pci().raise(1);  // MSI-X still disabled: dropped
  EXPECT_EQ(g.nic().pci().stats().msi_dropped, 1u);
  g.cfg_write(0x04, 2, 0x0006);                       // memory + bus master
  g.cfg_write(PciFunction::kMsixCap + 2, 2, 0x8000);  // enable
  g.mmio_write(2, 16 * 1 + 0, 0x000A'0000u);          // entry 1: address, data
  g.mmio_write(2, 16 * 1 + 8, 66);
  g.nic().pci().raise(1);  // entry still masked
  EXPECT_TRUE(g.take_msis().empty());
  EXPECT_EQ(g.mmio_read(2, PciFunction::kMsixPba), 0x2u);
  g.mmio_write(2, 16 * 1 + 12, 0);  // unmask: the pending message goes
  EXPECT_EQ(g.take_msis(), std::vector<std::uint32_t>{66});
  EXPECT_EQ(g.mmio_read(2, PciFunction::kMsixPba), 0u);
  g.cfg_write(PciFunction::kMsixCap + 2, 2, 0xC000);  // function mask
  g.nic().pci().raise(1);
  g.nic().pci().raise(1);  // still one pending bit
  EXPECT_TRUE(g.take_msis().empty());
  g.cfg_write(PciFunction::kMsixCap + 2, 2, 0x8000);
  EXPECT_EQ(g.take_msis(), std::vector<std::uint32_t>{66});
  EXPECT_EQ(g.nic().pci().stats().msi_sent, 2u);
}

TEST(Emu, InterruptsWaitForGuestBuffers) {
  Guest g;
  g.cfg_write(0x04, 2, 0x0006);
  g.cfg_write(PciFunction::kMsixCap + 2, 2, 0x8000);
  for (std::uint32_t v = 0; v < 3; ++v) {
    g.mmio_write(2, 16 * v + 8, 100 + v);
    g.mmio_write(2, 16 * v + 12, 0);
  }
  for (std::uint32_t v = 0; v < 3; ++v) g.nic().pci().raise(v);
  EXPECT_TRUE(g.take_msis().empty());  // no buffer posted yet
  g.post_irq_buffers(2);
  EXPECT_EQ(g.take_msis(), (std::vector<std::uint32_t>{100, 101}));
  g.post_irq_buffers(2);
  EXPECT_EQ(g.take_msis(), std::vector<std::uint32_t>{102});
  EXPECT_EQ(g.transport().stats().irq_backlog_max, 3u);
}

TEST(Emu, VsecLatchesCounters) {
  Guest g;
  g.mmio_write(0, 0x8000 * 4, 1);
  g.mmio_read(0, 0x8000 * 4);
  g.cfg_write(fbnic::emu::vsec::kBase + fbnic::emu::vsec::kCommand, 4,
              fbnic::emu::vsec::kLatch | (7u << 8));
  const std::uint32_t counters = fbnic::emu::vsec::kBase + fbnic::emu::vsec::kCounters;
  EXPECT_EQ(g.cfg_read(counters + 8 * fbnic::emu::vsec::kCsrReads, 8), 1u);
  EXPECT_EQ(g.cfg_read(counters + 8 * fbnic::emu::vsec::kCsrWrites, 8), 1u);
  EXPECT_EQ(g.cfg_read(fbnic::emu::vsec::kBase + fbnic::emu::vsec::kStatus, 4),
            (1u << 8) | fbnic::emu::vsec::kOk);
  g.cfg_write(fbnic::emu::vsec::kBase + fbnic::emu::vsec::kCommand, 4, 0x7F);
  EXPECT_EQ(g.cfg_read(fbnic::emu::vsec::kBase + fbnic::emu::vsec::kStatus, 1),
            fbnic::emu::vsec::kUnknown);
}

std::uint16_t ones_complement(const std::uint8_t* p, std::size_t n) {
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i + 1 < n; i += 2)
    sum += static_cast<std::uint32_t>(p[i] << 8 | p[i + 1]);
  while ((sum >> 16) != 0) sum = (sum & 0xFFFF) + (sum >> 16);
  return static_cast<std::uint16_t>(sum);
}

TEST(Emu, ResponderAnswersArpAndEcho) {
  fbnic::emu::Responder r(0x0A00'0002);  // 10.0.0.2
  const std::uint8_t me[6] = {0x00, 0x11, 0x22, 0x55, 0x66, 0x77};
  std::vector<std::uint8_t> arp(42, 0);
  std::memset(arp.data(), 0xFF, 6);
  std::memcpy(arp.data() + 6, me, 6);
  const std::uint8_t arp_body[] = {0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1};
  std::memcpy(arp.data() + 12, arp_body, sizeof(arp_body));
  std::memcpy(arp.data() + 22, me, 6);
  const std::uint8_t ips[] = {10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 10, 0, 0, 2};
  std::memcpy(arp.data() + 28, ips, sizeof(ips));
  auto reply = r.answer(arp.data(), arp.size());
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(std::memcmp(reply->data(), me, 6), 0);
  EXPECT_EQ((*reply)[21], 2);                             // ARP reply
  EXPECT_EQ(std::memcmp(reply->data() + 38, ips, 4), 0);  // to 10.0.0.1

  std::vector<std::uint8_t> ping(14 + 20 + 16, 0);
  std::memcpy(ping.data(), fbnic::emu::Responder::kMac.data(), 6);
  std::memcpy(ping.data() + 6, me, 6);
  ping[12] = 0x08;
  std::uint8_t* ip = ping.data() + 14;
  ip[0] = 0x45;
  ip[3] = 36;
  ip[8] = 64;
  ip[9] = 1;
  std::memcpy(ip + 12, ips, 4);
  std::memcpy(ip + 16, ips + 10, 4);
  ip[20] = 8;  // echo request
  ip[26] = 0x12;
  reply = r.answer(ping.data(), ping.size());
  ASSERT_TRUE(reply.has_value());
  const std::uint8_t* rip = reply->data() + 14;
  EXPECT_EQ(rip[20], 0);  // echo reply
  EXPECT_EQ(rip[26], 0x12);
  EXPECT_EQ(std::memcmp(rip + 16, ips, 4), 0);
  EXPECT_EQ(ones_complement(rip, 20), 0xFFFF);       // header checksum holds
  EXPECT_EQ(ones_complement(rip + 20, 16), 0xFFFF);  // ICMP checksum holds
  EXPECT_EQ(r.echo_replies(), 1u);
  ping[14 + 16 + 3] = 9;  // someone else's address: no answer
  EXPECT_FALSE(r.answer(ping.data(), ping.size()).has_value());
}

// --- malformed front-end input ----------------------------------------------------------

std::size_t open_fds() {
  std::size_t n = 0;
  DIR* d = opendir("/proc/self/fd");
  while (d != nullptr && readdir(d) != nullptr) ++n;
  if (d != nullptr) closedir(d);
  return n;
}

// A header and a payload carrying kMaxFds descriptors each: the extra ones are closed,
// never stored past the end of the transport's array, and none is kept.
TEST(EmuFrontEnd, TooManyFdsAreClosed) {
  Guest g;
  const int efd = eventfd(0, 0);
  const std::size_t before = open_fds();
  int fds[vhost::kMaxFds];
  for (int& fd : fds) fd = efd;
  const std::uint64_t index = 0;
  const vhost::Header h{static_cast<std::uint32_t>(vhost::Request::kSetVringErr),
                        vhost::kVersion | vhost::kFlagNeedReply, sizeof(index)};
  g.send_raw(&h, sizeof(h), fds, vhost::kMaxFds);
  g.send_raw(&index, sizeof(index), fds, vhost::kMaxFds);
  EXPECT_TRUE(g.transport().on_socket_readable().ok());
  EXPECT_EQ(g.read_reply(), 0u);
  EXPECT_EQ(open_fds(), before);
  close(efd);
}

// A message cut short after its header: the header's descriptors are closed.
TEST(EmuFrontEnd, FdsOfATruncatedMessageAreClosed) {
  Guest g;
  const int efd = eventfd(0, 0);
  const std::size_t before = open_fds();
  int fds[vhost::kMaxFds];
  for (int& fd : fds) fd = efd;
  const vhost::Header h{static_cast<std::uint32_t>(vhost::Request::kSetVringErr), vhost::kVersion,
                        8};
  g.send_raw(&h, sizeof(h), fds, vhost::kMaxFds);
  shutdown(g.socket(), SHUT_WR);
  EXPECT_FALSE(g.transport().on_socket_readable().ok());
  EXPECT_EQ(open_fds(), before);
  close(efd);
}

// Regions the fd cannot back (SIGBUS on access) or whose end wraps are refused, and the
// model gets no DMA mapping for them.
TEST(EmuFrontEnd, MemoryRegionsBeyondTheirFdAreRefused) {
  Guest g;
  auto& dma = g.nic().model().dma_space();
  ASSERT_NE(dma.translate(Guest::kGpa, 1), nullptr);
  EXPECT_EQ(g.set_mem_table({Guest::kGpa, 2 * Guest::kMem, Guest::kGpa, 0}, dup(g.memfd())), 1u);
  EXPECT_EQ(dma.translate(Guest::kGpa + Guest::kMem, 1), nullptr);
  EXPECT_EQ(g.set_mem_table({Guest::kGpa, Guest::kMem, Guest::kGpa, 4096}, dup(g.memfd())), 1u);
  EXPECT_EQ(g.set_mem_table({Guest::kGpa, ~0ull - 1, Guest::kGpa, 3}, dup(g.memfd())), 1u);
  EXPECT_EQ(g.set_mem_table({Guest::kGpa, 4096, Guest::kGpa, ~0ull - 4095}, dup(g.memfd())), 1u);
  EXPECT_EQ(dma.translate(Guest::kGpa, 1), nullptr);
  // A region inside the fd is still taken.
  EXPECT_EQ(g.set_mem_table({Guest::kGpa, Guest::kMem - 4096, Guest::kGpa, 4096}, dup(g.memfd())),
            0u);
  EXPECT_NE(dma.translate(Guest::kGpa, 1), nullptr);
}

constexpr std::uint32_t kScratchReg = 0x8000 * 4;  // an RXB register: plain storage

TEST(EmuFrontEnd, VringNumMustBeAPowerOfTwoWithinTheMaximum) {
  Guest g;
  EXPECT_EQ(g.set_vring_num(0, 0), 1u);
  EXPECT_EQ(g.set_vring_num(0, 6), 1u);
  EXPECT_EQ(g.set_vring_num(0, 65536), 1u);
  EXPECT_EQ(g.set_vring_num(2, 8), 1u);  // no such ring
  // A new size after SET_VRING_ADDR: the addresses were checked for the old one.
  EXPECT_EQ(g.set_vring_num(0, 16), 0u);
  EXPECT_FALSE(g.try_command(vhost::PciOp::kMmioWrite, 0, kScratchReg, 4, 7).has_value());
  EXPECT_EQ(g.nic().model().read32(fbnic::Bar::kCsr, kScratchReg), 0u);
  EXPECT_EQ(g.set_vring_num(0, Guest::kNum), 0u);
  EXPECT_EQ(g.set_vring_addr(0), 0u);
  g.service();  // the command waiting in the ring is served now
  EXPECT_EQ(g.nic().model().read32(fbnic::Bar::kCsr, kScratchReg), 7u);
}

TEST(EmuFrontEnd, SetVringAddrIsAllOrNothing) {
  Guest g;
  EXPECT_EQ(g.set_vring_addr(0, Guest::kGpa + 16 * Guest::kMem), 1u);  // used ring outside
  EXPECT_FALSE(g.try_command(vhost::PciOp::kMmioWrite, 0, kScratchReg, 4, 7).has_value());
  EXPECT_EQ(g.nic().model().read32(fbnic::Bar::kCsr, kScratchReg), 0u);
}

TEST(EmuFrontEnd, ANewMemoryTableNeedsNewRingAddresses) {
  Guest g;
  EXPECT_EQ(g.set_mem_table({Guest::kGpa, Guest::kMem, Guest::kGpa, 0}, dup(g.memfd())), 0u);
  EXPECT_FALSE(g.try_command(vhost::PciOp::kMmioWrite, 0, kScratchReg, 4, 7).has_value());
  EXPECT_EQ(g.set_vring_addr(0), 0u);
  g.service();
  EXPECT_EQ(g.nic().model().read32(fbnic::Bar::kCsr, kScratchReg), 7u);
}

// Sizes come from the guest: nothing is allocated for them before the BAR bounds are
// checked, and a read fills at most one access's worth (4 KiB).
TEST(EmuFrontEnd, HugeAccessesAreBoundedByTheBar) {
  Guest g;
  EXPECT_TRUE(g.try_command(vhost::PciOp::kMmioMemset, 0, 0, 0xFFFF'FFFFu, 0x5A).has_value());
  EXPECT_TRUE(g.try_command(vhost::PciOp::kMmioMemset, 3, 0, 0xFFFF'FFFFu, 0x5A).has_value());
  EXPECT_EQ(g.nic().counters().outside_bar, 2u);
  EXPECT_EQ(g.nic().counters().csr_writes, 0u);
  EXPECT_EQ(g.try_command(vhost::PciOp::kMmioRead, 4, (128 << 10) - 4, 0xFFFF'FFFFu, 0, 256 << 10),
            std::optional<std::uint64_t>(~0ull));
  EXPECT_LE(g.used_len(0), 4096u);
  EXPECT_EQ(g.nic().counters().outside_bar, 3u);
  EXPECT_TRUE(g.try_command(vhost::PciOp::kMmioWrite, 4, 128 << 10, 4, 1).has_value());
  EXPECT_EQ(g.nic().counters().outside_bar, 4u);
  // Inside a BAR a memset still works.
  EXPECT_TRUE(g.try_command(vhost::PciOp::kMmioMemset, 0, kScratchReg, 4, 0x5A).has_value());
  EXPECT_EQ(g.nic().model().read32(fbnic::Bar::kCsr, kScratchReg), 0x5A5A'5A5Au);
}

}  // namespace

// Guest-sized allocations would show as an allocation beyond this bound (ASan builds).
extern "C" const char* __asan_default_options() { return "max_allocation_size_mb=64"; }
