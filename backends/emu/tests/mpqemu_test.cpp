// fbnic-emu's QEMU front end without QEMU: a QEMU side written here speaks the
// multi-process protocol (x-pci-proxy-dev's end) to the transport over a socketpair, with
// a memfd as guest RAM, and checks what the proxy and the guest would see; then feeds it
// every kind of malformed message. Also: the ivshmem doorbell, the QEMU command-line
// helpers, the pcapng writer and the TAP wire (in a private network namespace).
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "fbnic/emu/doorbell.hpp"
#include "fbnic/emu/mpqemu_transport.hpp"
#include "fbnic/emu/nic.hpp"
#include "fbnic/emu/pcap.hpp"
#include "fbnic/emu/qemu_launch.hpp"
#include "fbnic/emu/tap.hpp"
#include "fbnic/emu/wire.hpp"
#include "fbnic/mock/device.hpp"
#include "fbnic/regs/intr.hpp"

namespace {

using fbnic::emu::MpqemuTransport;
using fbnic::emu::Nic;
using fbnic::emu::PciFunction;
using fbnic::emu::PciLayout;
namespace mpqemu = fbnic::emu::mpqemu;
using Cmd = mpqemu::Command;
using Model = fbnic::mock::Device<>;

constexpr std::uint32_t kScratch = 0x8000 * 4;  // an RXB register: plain storage
constexpr std::uint64_t kBar0 = 0xC000'0000;    // where the test's "firmware" puts the BARs
constexpr std::uint64_t kBar2 = 0xC050'0000;    // a gap after BAR0's 4 MiB
constexpr std::uint64_t kBar4 = 0xC052'0000;

std::size_t open_fds() {
  std::size_t n = 0;
  DIR* d = opendir("/proc/self/fd");
  while (d != nullptr && readdir(d) != nullptr) ++n;
  if (d != nullptr) closedir(d);
  return n;
}

// QEMU's side of the connection, and guest RAM.
class Qemu {
 public:
  static constexpr std::uint64_t kRam = 1 << 20;

  Qemu() : nic_("test", {}, PciLayout::kConventional), transport_(nic_, "test") {
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sock_), 0);
    log_ = std::tmpfile();
    transport_.set_log(log_);
    transport_.attach(sock_[1], 100);
    ram_fd_ = memfd_create("guest-ram", MFD_CLOEXEC);
    EXPECT_EQ(ftruncate(ram_fd_, kRam), 0);
    ram_ = static_cast<std::uint8_t*>(
        mmap(nullptr, kRam, PROT_READ | PROT_WRITE, MAP_SHARED, ram_fd_, 0));
  }
  ~Qemu() {
    munmap(ram_, kRam);
    close(ram_fd_);
    if (sock_[0] >= 0) close(sock_[0]);
    std::fclose(log_);
  }

  Nic<Model>& nic() { return nic_; }
  MpqemuTransport& transport() { return transport_; }
  std::uint8_t* ram() { return ram_; }
  [[nodiscard]] int ram_fd() const { return ram_fd_; }
  [[nodiscard]] int socket() const { return sock_[0]; }
  void close_socket() {
    close(sock_[0]);
    sock_[0] = -1;
  }

  // Raw bytes with fds as one sendmsg.
  void send_raw(const void* data, std::size_t len, const std::vector<int>& fds = {}) {
    iovec iov{const_cast<void*>(data), len};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 32)] = {};
    if (!fds.empty()) {
      msg.msg_control = control;
      msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
      cmsghdr* c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
      std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
    }
    EXPECT_EQ(sendmsg(sock_[0], &msg, 0), static_cast<ssize_t>(len));
  }

  // One message as QEMU sends it (header and payload in one sendmsg), served.
  fbnic::Status send(Cmd cmd, const void* payload, std::uint64_t size,
                     const std::vector<int>& fds = {}) {
    std::vector<std::uint8_t> buf(sizeof(mpqemu::Header) + size);
    const mpqemu::Header h{static_cast<std::int32_t>(cmd), 0, size};
    std::memcpy(buf.data(), &h, sizeof(h));
    if (size != 0) std::memcpy(buf.data() + sizeof(h), payload, size);
    send_raw(buf.data(), buf.size(), fds);
    return transport_.on_socket_readable();
  }

  // The RET waiting on QEMU's side, if any.
  std::optional<std::uint64_t> reply() {
    pollfd p{sock_[0], POLLIN, 0};
    if (poll(&p, 1, 0) != 1) return std::nullopt;
    std::uint8_t buf[24] = {};
    EXPECT_EQ(read(sock_[0], buf, sizeof(buf)), 24);
    mpqemu::Header h{};
    std::memcpy(&h, buf, sizeof(h));
    EXPECT_EQ(h.command, static_cast<std::int32_t>(Cmd::kRet));
    EXPECT_EQ(h.size, 8u);
    std::uint64_t v = 0;
    std::memcpy(&v, buf + 16, 8);
    return v;
  }

  std::uint64_t cfg_read(std::uint32_t addr, int len) {
    const mpqemu::ConfigMsg c{addr, 0, len};
    EXPECT_TRUE(send(Cmd::kPciCfgRead, &c, sizeof(c)).ok());
    return reply().value_or(0xDEAD'BEEF'DEAD'BEEFull);
  }
  void cfg_write(std::uint32_t addr, std::uint32_t value, int len) {
    const mpqemu::ConfigMsg c{addr, value, len};
    EXPECT_TRUE(send(Cmd::kPciCfgWrite, &c, sizeof(c)).ok());
    EXPECT_EQ(reply(), std::optional<std::uint64_t>(0));
  }
  std::uint64_t bar_read(std::uint64_t addr, std::uint32_t size, std::uint8_t memory = 1) {
    const mpqemu::BarMsg b{addr, 0, size, memory, {}};
    EXPECT_TRUE(send(Cmd::kBarRead, &b, sizeof(b)).ok());
    return reply().value_or(0xDEAD'BEEF'DEAD'BEEFull);
  }
  void bar_write(std::uint64_t addr, std::uint64_t value, std::uint32_t size) {
    const mpqemu::BarMsg b{addr, value, size, 1, {}};
    EXPECT_TRUE(send(Cmd::kBarWrite, &b, sizeof(b)).ok());
    EXPECT_EQ(reply(), std::optional<std::uint64_t>(0));
  }

  // What firmware does: BARs at fixed addresses, memory decoding and bus mastering on.
  void enumerate() {
    cfg_write(0x10, static_cast<std::uint32_t>(kBar0), 4);
    cfg_write(0x18, static_cast<std::uint32_t>(kBar2), 4);
    cfg_write(0x20, static_cast<std::uint32_t>(kBar4), 4);
    cfg_write(0x04, 0x0006, 2);
  }

  fbnic::Status sync(const std::vector<std::uint64_t>& gpa, const std::vector<std::uint64_t>& size,
                     const std::vector<std::int64_t>& offset, const std::vector<int>& fds) {
    mpqemu::SyncSysmemMsg s{};
    for (std::size_t i = 0; i < gpa.size() && i < mpqemu::kMaxFds; ++i) {
      s.gpa[i] = gpa[i];
      s.size[i] = size[i];
      s.offset[i] = offset[i];
    }
    return send(Cmd::kSyncSysmem, &s, sizeof(s), fds);
  }

  // Everything the transport reported so far.
  std::string log() {
    std::fflush(log_);
    std::rewind(log_);
    std::string out;
    char buf[512];
    while (std::fgets(buf, sizeof(buf), log_) != nullptr) out += buf;
    return out;
  }

 private:
  Nic<Model> nic_;
  MpqemuTransport transport_;
  int sock_[2] = {-1, -1};
  int ram_fd_ = -1;
  std::uint8_t* ram_ = nullptr;
  std::FILE* log_ = nullptr;
};

// --- what QEMU and the guest see ----------------------------------------------------------

TEST(Mpqemu, ConventionalConfigSpaceWithoutExtendedCapabilities) {
  Qemu q;
  // What QEMU's realize reads first.
  EXPECT_EQ(q.cfg_read(0x00, 2), 0x1D9Bu);
  EXPECT_EQ(q.cfg_read(0x02, 2), 0x0013u);
  EXPECT_EQ(q.cfg_read(0x0A, 2), 0x0200u);  // class: Ethernet
  EXPECT_EQ(q.cfg_read(0x2E, 2), 0x0013u);
  EXPECT_EQ(q.cfg_read(0x3D, 1), 0u);  // no INTx pin
  // Vendor-specific (0x09) -> MSI-X -> end; no PCI Express capability.
  const auto vsec = static_cast<std::uint32_t>(q.cfg_read(0x34, 1));
  EXPECT_EQ(q.cfg_read(vsec, 1), 0x09u);
  EXPECT_EQ(q.cfg_read(vsec + 4, 2), fbnic::emu::vsec::kId);
  EXPECT_EQ(q.cfg_read(vsec + fbnic::emu::vsec::kDsn, 4), 0xFE55'6677u);  // the DSN copy
  EXPECT_EQ(q.cfg_read(vsec + fbnic::emu::vsec::kDsn + 4, 4), 0x0011'22FFu);
  const auto msix = static_cast<std::uint32_t>(q.cfg_read(vsec + 1, 1));
  EXPECT_EQ(q.cfg_read(msix, 1), 0x11u);
  EXPECT_EQ(q.cfg_read(msix + 1, 1), 0u);
  // Nothing past 256 bytes (a conventional function), and writes there change nothing.
  EXPECT_EQ(q.cfg_read(0x100, 4), 0xFFFF'FFFFu);
  q.cfg_write(0x100, 0, 4);
  EXPECT_EQ(q.cfg_read(0xFC, 4) & 0xFFFF'0000u, 0u);
}

TEST(Mpqemu, BarSizingAsTheProxyDoesIt) {
  Qemu q;
  // proxy.c probes 7 regions (BAR0-5 and the dword after them), 32 bits each.
  const std::uint32_t sizes[7] = {4u << 20, 0, 8u << 10, 0, 128u << 10, 0, 0};
  for (std::uint32_t i = 0; i < 7; ++i) {
    const std::uint32_t off = 0x10 + 4 * i;
    const auto orig = static_cast<std::uint32_t>(q.cfg_read(off, 4));
    q.cfg_write(off, 0xFFFF'FFFFu, 4);
    const auto mask = static_cast<std::uint32_t>(q.cfg_read(off, 4));
    q.cfg_write(off, orig, 4);
    EXPECT_EQ(~(mask & 0xFFFF'FFF0u) + 1, sizes[i]) << "region " << i;
    EXPECT_EQ(mask & 0x7u, 0u) << "32-bit memory BAR " << i;  // not I/O, not 64-bit
  }
}

TEST(Mpqemu, BarAccessesAreDecodedAgainstTheProgrammedBars) {
  Qemu q;
  q.enumerate();
  q.bar_write(kBar0 + kScratch, 0x1234'5678, 4);
  EXPECT_EQ(q.nic().model().read32(fbnic::Bar::kCsr, kScratch), 0x1234'5678u);
  EXPECT_EQ(q.bar_read(kBar0 + kScratch, 4), 0x1234'5678u);
  EXPECT_EQ(q.bar_read(kBar0 + kScratch + 2, 2), 0x1234u);     // a narrow read
  q.bar_write(kBar0 + kScratch, 0x1122'3344'5566'7788ull, 8);  // two words
  EXPECT_EQ(q.bar_read(kBar0 + kScratch, 8), 0x1122'3344'5566'7788ull);
  EXPECT_EQ(q.nic().counters().csr_writes, 3u);
  // The MSI-X table in BAR2; the mailbox's BAR4.
  q.bar_write(kBar2 + 16 * 3 + 8, 0x55, 4);
  EXPECT_EQ(q.bar_read(kBar2 + 16 * 3 + 8, 4), 0x55u);
  EXPECT_EQ(q.bar_read(kBar4 + 0x18000, 4), q.nic().model().read32(fbnic::Bar::kIpc, 0x18000));
  // Moving a BAR moves the decode.
  q.cfg_write(0x10, 0xD000'0000u, 4);
  EXPECT_EQ(q.bar_read(0xD000'0000u + kScratch, 4), 0x5566'7788u);
  EXPECT_EQ(q.transport().stats().outside_bar, 0u);
  EXPECT_EQ(q.log(), "");
}

TEST(Mpqemu, SharedRamBecomesTheModelsDmaSpace) {
  Qemu q;
  auto& dma = q.nic().model().dma_space();
  EXPECT_EQ(dma.translate(0x10'0000, 1), nullptr);
  ASSERT_TRUE(q.sync({0x10'0000}, {Qemu::kRam}, {0}, {q.ram_fd()}).ok());
  EXPECT_EQ(q.reply(), std::nullopt);  // SYNC_SYSMEM gets no answer
  std::uint8_t* p = dma.translate(0x10'0000 + 0x2000, 4);
  ASSERT_NE(p, nullptr);
  const std::uint8_t bytes[4] = {0xD, 0xA, 0xA, 0x1};
  std::memcpy(p, bytes, sizeof(bytes));  // what the model writes, the guest sees
  EXPECT_EQ(std::memcmp(q.ram() + 0x2000, bytes, sizeof(bytes)), 0);
  EXPECT_EQ(q.transport().stats().memory_maps, 1u);
  // The same set again (QEMU resends it on every topology change): nothing remapped.
  const std::size_t fds = open_fds();
  ASSERT_TRUE(q.sync({0x10'0000}, {Qemu::kRam}, {0}, {q.ram_fd()}).ok());
  EXPECT_EQ(q.transport().stats().memory_maps, 1u);
  EXPECT_EQ(open_fds(), fds);  // the duplicate's fd was closed
  // Two regions of one file, as QEMU sends low and high RAM.
  ASSERT_TRUE(
      q.sync({0, 0x1'0000'0000}, {0x8'0000, 0x8'0000}, {0, 0x8'0000}, {q.ram_fd(), q.ram_fd()})
          .ok());
  EXPECT_EQ(dma.translate(0x10'0000, 1), nullptr);  // the old set is gone
  ASSERT_NE(dma.translate(0x1'0000'0000, 4), nullptr);
  const std::uint8_t high[4] = {0x41, 0x42, 0x43, 0x44};
  std::memcpy(dma.translate(0x1'0000'0000, 4), high, sizeof(high));
  EXPECT_EQ(std::memcmp(q.ram() + 0x8'0000, high, sizeof(high)), 0);
  EXPECT_EQ(q.log(), "");
}

TEST(Mpqemu, DeviceResetResetsTheFunctionAndAnswers) {
  Qemu q;
  q.enumerate();
  q.bar_write(kBar0 + kScratch, 7, 4);
  ASSERT_TRUE(q.send(Cmd::kDeviceReset, nullptr, 0).ok());
  EXPECT_EQ(q.reply(), std::optional<std::uint64_t>(0));
  EXPECT_EQ(q.nic().model().read32(fbnic::Bar::kCsr, kScratch), 0u);
  EXPECT_EQ(q.cfg_read(0x10, 4), 0u);  // BARs unassigned again
  EXPECT_EQ(q.transport().stats().resets, 1u);
}

TEST(Mpqemu, SetIrqfdIsAcceptedWithoutAnswerAndItsFdsClosed) {
  Qemu q;
  const int a = eventfd(0, EFD_CLOEXEC);
  const int b = eventfd(0, EFD_CLOEXEC);
  const std::size_t before = open_fds();
  ASSERT_TRUE(q.send(Cmd::kSetIrqfd, nullptr, 0, {a, b}).ok());
  EXPECT_EQ(q.reply(), std::nullopt);
  EXPECT_EQ(open_fds(), before);
  close(a);
  close(b);
}

// --- malformed messages ---------------------------------------------------------------------

TEST(MpqemuBadInput, WrongSizeIsAnsweredAllOnesAndReported) {
  Qemu q;
  const std::uint8_t short_cfg[8] = {};
  ASSERT_TRUE(q.send(Cmd::kPciCfgRead, short_cfg, sizeof(short_cfg)).ok());
  EXPECT_EQ(q.reply(), std::optional<std::uint64_t>(~0ull));
  const std::uint8_t long_bar[32] = {};
  ASSERT_TRUE(q.send(Cmd::kBarRead, long_bar, sizeof(long_bar)).ok());
  EXPECT_EQ(q.reply(), std::optional<std::uint64_t>(~0ull));
  ASSERT_TRUE(q.send(Cmd::kDeviceReset, short_cfg, 4).ok());
  EXPECT_EQ(q.reply(), std::optional<std::uint64_t>(~0ull));
  EXPECT_EQ(q.transport().stats().rejected, 3u);
  const std::string log = q.log();
  EXPECT_NE(log.find("PCI_CFGREAD: wrong size (8 payload bytes"), std::string::npos) << log;
  EXPECT_NE(log.find("BAR_READ: wrong size (32 payload bytes"), std::string::npos) << log;
  EXPECT_EQ(q.cfg_read(0x00, 4), 0x0013'1D9Bu);  // and the connection goes on
}

TEST(MpqemuBadInput, BadAccessWidthsAreRefused) {
  Qemu q;
  q.enumerate();
  const mpqemu::ConfigMsg c{0, 0, 3};
  ASSERT_TRUE(q.send(Cmd::kPciCfgRead, &c, sizeof(c)).ok());
  EXPECT_EQ(q.reply(), std::optional<std::uint64_t>(~0ull));
  const mpqemu::BarMsg b{kBar0 + kScratch, 0, 16, 1, {}};
  ASSERT_TRUE(q.send(Cmd::kBarWrite, &b, sizeof(b)).ok());
  EXPECT_EQ(q.reply(), std::optional<std::uint64_t>(~0ull));
  EXPECT_EQ(q.nic().counters().csr_writes, 0u);
  EXPECT_NE(q.log().find("access width"), std::string::npos);
}

TEST(MpqemuBadInput, UnknownCommandIsReportedAndNotAnswered) {
  Qemu q;
  const std::uint8_t junk[8] = {1, 2, 3};
  ASSERT_TRUE(q.send(static_cast<Cmd>(42), junk, sizeof(junk)).ok());
  EXPECT_EQ(q.reply(), std::nullopt);
  ASSERT_TRUE(q.send(Cmd::kRet, junk, sizeof(junk)).ok());  // RET goes the other way
  EXPECT_EQ(q.reply(), std::nullopt);
  ASSERT_TRUE(q.send(static_cast<Cmd>(-1), nullptr, 0).ok());
  EXPECT_EQ(q.transport().stats().rejected, 3u);
  EXPECT_NE(q.log().find("unexpected command 42"), std::string::npos) << q.log();
  EXPECT_EQ(q.cfg_read(0x00, 2), 0x1D9Bu);
}

TEST(MpqemuBadInput, RegionPastTheEndOfItsFileIsRefused) {
  Qemu q;
  auto& dma = q.nic().model().dma_space();
  ASSERT_TRUE(q.sync({0}, {Qemu::kRam}, {0}, {q.ram_fd()}).ok());
  ASSERT_NE(dma.translate(0, 1), nullptr);
  // One page past the end: mapping it would raise SIGBUS on the first DMA there.
  ASSERT_TRUE(q.sync({0}, {Qemu::kRam}, {4096}, {q.ram_fd()}).ok());
  EXPECT_EQ(dma.translate(0, 1), nullptr);                        // the whole set is dropped
  ASSERT_TRUE(q.sync({0}, {~0ull - 8}, {0}, {q.ram_fd()}).ok());  // wraps
  ASSERT_TRUE(q.sync({0}, {4096}, {-4096}, {q.ram_fd()}).ok());   // negative offset
  ASSERT_TRUE(q.sync({0}, {0}, {0}, {q.ram_fd()}).ok());          // empty
  EXPECT_EQ(dma.translate(0, 1), nullptr);
  const std::string log = q.log();
  EXPECT_NE(log.find("runs past the end of its file: memory dropped"), std::string::npos) << log;
  EXPECT_NE(log.find("wraps around"), std::string::npos) << log;
  EXPECT_NE(log.find("negative file offset"), std::string::npos) << log;
  EXPECT_NE(log.find("is empty"), std::string::npos) << log;
  EXPECT_EQ(q.transport().stats().rejected, 4u);
}

TEST(MpqemuBadInput, OverlappingRegionsAreRefused) {
  Qemu q;
  auto& dma = q.nic().model().dma_space();
  ASSERT_TRUE(
      q.sync({0x10'0000, 0x10'8000}, {0x1'0000, 0x1'0000}, {0, 0x1'0000}, {q.ram_fd(), q.ram_fd()})
          .ok());
  EXPECT_EQ(dma.translate(0x10'0000, 1), nullptr);
  EXPECT_NE(q.log().find("region 1 (gpa 0x108000, 0x10000 bytes at file offset 0x10000) "
                         "overlaps another region"),
            std::string::npos)
      << q.log();
  EXPECT_EQ(q.transport().memory().regions().size(), 0u);
}

TEST(MpqemuBadInput, SyncOfTheWrongSizeDropsTheMemory) {
  Qemu q;
  ASSERT_TRUE(q.sync({0}, {Qemu::kRam}, {0}, {q.ram_fd()}).ok());
  const std::uint8_t small[64] = {};
  const int fd = dup(q.ram_fd());
  const std::size_t before = open_fds();
  ASSERT_TRUE(q.send(Cmd::kSyncSysmem, small, sizeof(small), {fd}).ok());
  EXPECT_EQ(q.transport().memory().regions().size(), 0u);
  EXPECT_EQ(open_fds(), before);  // the transport's copy of the fd was closed
  close(fd);
  EXPECT_NE(q.log().find("SYNC_SYSMEM of 64 bytes, not 192"), std::string::npos) << q.log();
}

TEST(MpqemuBadInput, BarAccessOutsideEveryBarReadsAllOnes) {
  Qemu q;
  EXPECT_EQ(q.bar_read(kBar0 + kScratch, 4), 0xFFFF'FFFFu);  // decoding still off
  q.enumerate();
  EXPECT_EQ(q.bar_read(kBar0 + (4u << 20), 4), 0xFFFF'FFFFu);        // just past BAR0
  EXPECT_EQ(q.bar_read(kBar4 + (128u << 10) - 2, 4), 0xFFFF'FFFFu);  // straddles BAR4's end
  EXPECT_EQ(q.bar_read(0, 8), ~0ull);
  EXPECT_EQ(q.bar_read(kBar0 + kScratch, 2, /*memory=*/0), 0xFFFFu);  // I/O space: none
  q.bar_write(0x1000, 5, 4);                                          // dropped, answered
  EXPECT_EQ(q.transport().stats().outside_bar, 6u);
  EXPECT_EQ(q.nic().counters().csr_reads + q.nic().counters().csr_writes, 0u);
  const std::string log = q.log();
  EXPECT_NE(log.find("read of 4 bytes at 0xc0400000 (memory) hits no BAR: answered all ones"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("write of 4 bytes at 0x1000 (memory) hits no BAR: dropped"), std::string::npos)
      << log;
}

TEST(MpqemuBadInput, MoreFdsThanTheProtocolAllowsAreAllClosed) {
  Qemu q;
  ASSERT_TRUE(q.sync({0}, {Qemu::kRam}, {0}, {q.ram_fd()}).ok());
  const std::size_t before = open_fds();
  std::vector<int> fds(12);
  for (int& fd : fds) fd = dup(q.ram_fd());
  std::vector<std::uint64_t> gpa, size;
  std::vector<std::int64_t> off;
  for (std::uint64_t i = 0; i < 8; ++i) {
    gpa.push_back(i << 20);
    size.push_back(4096);
    off.push_back(0);
  }
  ASSERT_TRUE(q.sync(gpa, size, off, fds).ok());
  for (int fd : fds) close(fd);
  EXPECT_EQ(open_fds(), before);  // none of the 12 kept
  EXPECT_EQ(q.transport().memory().regions().size(), 0u);
  EXPECT_NE(q.log().find("SYNC_SYSMEM with more than 8 fds (the protocol's limit): all of them "
                         "closed"),
            std::string::npos)
      << q.log();
  // fds on a message that carries none: closed, and the access is still served.
  const int extra = dup(q.ram_fd());
  const std::size_t now = open_fds();
  const mpqemu::ConfigMsg c{0, 0, 2};
  ASSERT_TRUE(q.send(Cmd::kPciCfgRead, &c, sizeof(c), {extra}).ok());
  close(extra);
  EXPECT_EQ(q.reply(), std::optional<std::uint64_t>(0x1D9B));
  EXPECT_EQ(open_fds(), now - 1);
  EXPECT_NE(q.log().find("PCI_CFGREAD carries 1 fds it should not: closed"), std::string::npos);
}

TEST(MpqemuBadInput, AMessageLargerThanQemuSendsEndsTheConnection) {
  Qemu q;
  const mpqemu::Header h{static_cast<std::int32_t>(Cmd::kBarRead), 0, 1ull << 40};
  q.send_raw(&h, sizeof(h));
  EXPECT_EQ(q.transport().on_socket_readable(), fbnic::Error::kBadMessage);
  EXPECT_NE(q.log().find("BAR_READ message of 1099511627776 bytes, larger than any QEMU sends"),
            std::string::npos)
      << q.log();
}

TEST(MpqemuBadInput, AMessageCutShortEndsTheConnectionWithoutHanging) {
  {
    Qemu q;  // the rest never comes: the receive timeout (100 ms here) ends the wait
    const mpqemu::Header h{static_cast<std::int32_t>(Cmd::kPciCfgRead), 0, 12};
    q.send_raw(&h, sizeof(h));
    q.send_raw("\0\0\0", 4);
    EXPECT_EQ(q.transport().on_socket_readable(), fbnic::Error::kBadMessage);
    EXPECT_NE(q.log().find("PCI_CFGREAD message cut short"), std::string::npos) << q.log();
  }
  {
    Qemu q;  // QEMU goes away halfway through a header
    q.send_raw("\x03\0\0\0\0\0", 6);
    q.close_socket();
    EXPECT_EQ(q.transport().on_socket_readable(), fbnic::Error::kBadMessage);
    EXPECT_NE(q.log().find("message header cut short"), std::string::npos) << q.log();
  }
  {
    Qemu q;  // QEMU exits between messages: a clean end, nothing reported
    q.close_socket();
    EXPECT_EQ(q.transport().on_socket_readable(), fbnic::Error::kAborted);
    EXPECT_EQ(q.log(), "");
  }
}

TEST(MpqemuBadInput, ErrorLinesStopAfterALimitButAreCounted) {
  Qemu q;
  for (int i = 0; i < 50; ++i) (void)q.bar_read(0x10, 4);
  EXPECT_EQ(q.transport().stats().outside_bar, 50u);
  const std::string log = q.log();
  std::size_t lines = 0;
  for (char c : log) lines += c == '\n' ? 1 : 0;
  EXPECT_EQ(lines, MpqemuTransport::kMaxReports + 1);
  EXPECT_NE(log.find("further errors are counted, not printed"), std::string::npos);
}

// --- interrupts through the ivshmem doorbell -----------------------------------------------

// QEMU's ivshmem side of the protocol: version, id, memory, then our eventfds.
struct IvshmemClient {
  int sock = -1;
  std::int64_t id = -2;
  int memory = -1;
  std::vector<int> vectors;

  explicit IvshmemClient(const std::string& path, std::uint32_t expected_vectors) {
    sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
    EXPECT_EQ(connect(sock, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    (void)expected_vectors;
  }
  // Reads one int64 and the fd with it (or -1).
  std::int64_t next(int& fd) {
    std::int64_t v = 0;
    iovec iov{&v, sizeof(v)};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    EXPECT_EQ(recvmsg(sock, &msg, MSG_CMSG_CLOEXEC), 8);
    fd = -1;
    if (cmsghdr* c = CMSG_FIRSTHDR(&msg)) std::memcpy(&fd, CMSG_DATA(c), sizeof(int));
    return v;
  }
  void handshake(std::uint32_t n) {
    int fd = -1;
    EXPECT_EQ(next(fd), 0);  // protocol version
    EXPECT_EQ(fd, -1);
    id = next(fd);
    EXPECT_EQ(next(memory), -1);
    ASSERT_GE(memory, 0);
    for (std::uint32_t v = 0; v < n; ++v) {
      EXPECT_EQ(next(fd), id);
      vectors.push_back(fd);
    }
  }
  ~IvshmemClient() {
    for (int fd : vectors) close(fd);
    if (memory >= 0) close(memory);
    close(sock);
  }
};

std::uint64_t take(int efd) {
  std::uint64_t n = 0;
  pollfd p{efd, POLLIN, 0};
  if (poll(&p, 1, 0) == 1) {
    EXPECT_EQ(read(efd, &n, 8), 8);
  }
  return n;
}

TEST(Doorbell, AnMsixMessageOfTheFunctionRingsItsVector) {
  char dir[] = "/tmp/fbnic-emu-test.XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string path = std::string(dir) + "/bell.sock";
  fbnic::emu::Doorbell bell;
  ASSERT_TRUE(bell.listen_on(path, 4).ok()) << bell.error();
  IvshmemClient qemu(path, 4);
  ASSERT_TRUE(bell.accept_client().ok()) << bell.error();
  qemu.handshake(4);
  ASSERT_EQ(qemu.vectors.size(), 4u);
  struct stat st {};
  ASSERT_EQ(fstat(qemu.memory, &st), 0);
  EXPECT_EQ(st.st_size, 4096);  // a power of two, as a BAR must be

  // The function's MSI-X goes to the doorbell only as hardware would send it.
  Qemu q;
  q.nic().set_msi_sink([&bell](std::uint32_t v, std::uint64_t, std::uint32_t) { bell.ring(v); });
  q.enumerate();
  q.nic().model().write32(fbnic::Bar::kCsr, fbnic::regs::IntrMaskClear::at(0).offset, 1u << 1);
  q.nic().model().write32(fbnic::Bar::kCsr, fbnic::regs::IntrSet::at(0).offset, 1u << 1);
  EXPECT_EQ(take(qemu.vectors[1]), 0u);  // MSI-X not enabled: nothing
  EXPECT_EQ(q.nic().pci().stats().msi_dropped, 1u);
  q.cfg_write(PciFunction::kMsixCap + 2, 0x8000, 2);  // enable
  q.bar_write(kBar2 + 16 * 5 + 12, 0, 4);             // unmask entries 5 and 1
  q.bar_write(kBar2 + 16 * 1 + 12, 0, 4);
  q.nic().model().write32(fbnic::Bar::kCsr, fbnic::regs::IntrMaskClear::at(0).offset, 1u << 5);
  q.nic().model().write32(fbnic::Bar::kCsr, fbnic::regs::IntrSet::at(0).offset, 1u << 5);
  EXPECT_EQ(take(qemu.vectors[1]), 1u);  // vector 5 -> doorbell vector 5 % 4
  EXPECT_EQ(bell.stats().rung, 1u);

  // A second client is turned away; the first one's going away stops delivery.
  IvshmemClient other(path, 4);
  EXPECT_FALSE(bell.accept_client().ok());
  close(qemu.sock);
  qemu.sock = socket(AF_UNIX, SOCK_STREAM, 0);
  bell.on_client_readable();
  EXPECT_FALSE(bell.connected());
  bell.ring(0);
  EXPECT_EQ(bell.stats().undelivered, 1u);
  bell.stop();
  rmdir(dir);
}

TEST(Doorbell, BadSetupIsExplained) {
  fbnic::emu::Doorbell bell;
  EXPECT_FALSE(bell.listen_on("/tmp/x.sock", 0).ok());
  EXPECT_FALSE(bell.listen_on(std::string(200, 'a'), 2).ok());
  EXPECT_NE(bell.error().find("longer than"), std::string::npos);
  EXPECT_FALSE(bell.listen_on("/nonexistent-dir/bell.sock", 2).ok());
  EXPECT_NE(bell.error().find("No such file"), std::string::npos) << bell.error();
}

// --- the QEMU command line -----------------------------------------------------------------

TEST(QemuLaunch, PlaceholdersNameTheNics) {
  namespace qemu = fbnic::emu::qemu;
  qemu::Plan p;
  std::string error;
  ASSERT_TRUE(qemu::plan({"qemu", "-device", "x-pci-proxy-dev,fd=@FD@,addr=0x3"}, p, error));
  EXPECT_EQ(p.nics, 1u);
  EXPECT_EQ(p.doorbell, std::vector<bool>{false});
  ASSERT_TRUE(
      qemu::plan({"-device", "x-pci-proxy-dev,fd=@FD1@", "-device", "x-pci-proxy-dev,fd=@FD0@",
                  "-chardev", "socket,path=@DOORBELL1@,id=d1", "-drive", "file=a@b@c"},
                 p, error))
      << error;
  EXPECT_EQ(p.nics, 2u);
  EXPECT_EQ(p.doorbell, (std::vector<bool>{false, true}));
  const auto args = qemu::substitute({"fd=@FD1@", "x@FD0@y", "path=@DOORBELL1@", "a@b@c"}, {7, 9},
                                     {"", "/run/d1"});
  EXPECT_EQ(args, (std::vector<std::string>{"fd=9", "x7y", "path=/run/d1", "a@b@c"}));

  EXPECT_FALSE(qemu::plan({"-m", "256M"}, p, error));
  EXPECT_NE(error.find("no NIC"), std::string::npos);
  EXPECT_FALSE(qemu::plan({"fd=@FD0@", "fd=@FD0@"}, p, error));
  EXPECT_NE(error.find("appears 2 times"), std::string::npos);
  EXPECT_FALSE(qemu::plan({"fd=@FD1@"}, p, error));
  EXPECT_NE(error.find("@FD0@ is missing"), std::string::npos);
  EXPECT_FALSE(qemu::plan({"fd=@FD@", "fd=@FD1@"}, p, error));
  EXPECT_NE(error.find("number every placeholder"), std::string::npos);
  EXPECT_FALSE(qemu::plan({"fd=@FD9@"}, p, error));
  EXPECT_NE(error.find("0 to 7"), std::string::npos);
  EXPECT_FALSE(qemu::plan({"fd=@FD0@", "path=@DOORBELL2@"}, p, error));
  EXPECT_NE(error.find("no @FD2@"), std::string::npos);
}

TEST(QemuLaunch, GuestRamMustBeSharedForDma) {
  namespace qemu = fbnic::emu::qemu;
  EXPECT_EQ(
      qemu::shared_memory_problem({"-object", "memory-backend-memfd,id=mem,size=256M,share=on",
                                   "-machine", "q35,memory-backend=mem"}),
      "");
  EXPECT_EQ(qemu::shared_memory_problem({"-object", "memory-backend-memfd,id=m,size=256M", "-M",
                                         "q35,accel=tcg,memory-backend=m"}),
            "");  // memfd is shared by default
  EXPECT_EQ(qemu::shared_memory_problem({"-object",
                                         "memory-backend-file,id=f,mem-path=/dev/shm/x,size=1G,"
                                         "share=on",
                                         "-numa", "node,memdev=f"}),
            "");
  EXPECT_NE(qemu::shared_memory_problem({"-m", "256M", "-machine", "q35"}), "");
  EXPECT_NE(qemu::shared_memory_problem({"-object", "memory-backend-memfd,id=mem,share=off",
                                         "-machine", "q35,memory-backend=mem"}),
            "");
  EXPECT_NE(qemu::shared_memory_problem({"-object", "memory-backend-file,id=f,mem-path=/x",
                                         "-machine", "memory-backend=f"}),
            "");  // a file is private unless share=on
  EXPECT_NE(qemu::shared_memory_problem({"-object", "memory-backend-memfd,id=mem"}), "");  // unused
  EXPECT_NE(qemu::shared_memory_problem({}).find("memory-backend-memfd"), std::string::npos);
}

// --- pcapng --------------------------------------------------------------------------------

TEST(Pcap, EveryFrameWithItsInterfaceAndDirection) {
  char path[] = "/tmp/fbnic-emu-pcap.XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  {
    fbnic::emu::PcapWriter w;
    ASSERT_TRUE(w.open(path, {"nic0", "nic1"}).ok());
    const std::vector<std::uint8_t> f1(60, 0xAB), f2(61, 0xCD);
    w.record(0, fbnic::emu::PcapWriter::Direction::kOutbound, f1);
    w.record(1, fbnic::emu::PcapWriter::Direction::kInbound, f2);
    w.record(2, fbnic::emu::PcapWriter::Direction::kInbound, f2);  // no such interface
    EXPECT_EQ(w.frames(), 2u);
  }
  std::FILE* f = std::fopen(path, "rb");
  std::vector<std::uint8_t> b(4096);
  b.resize(std::fread(b.data(), 1, b.size(), f));
  std::fclose(f);
  unlink(path);
  auto u32 = [&](std::size_t at) {
    std::uint32_t v = 0;
    std::memcpy(&v, b.data() + at, 4);
    return v;
  };
  // Walk the blocks: SHB, two IDBs, two EPBs; each length repeated at its end.
  std::vector<std::uint32_t> types;
  std::vector<std::uint32_t> epb_at;
  std::size_t at = 0;
  while (at + 12 <= b.size()) {
    const std::uint32_t type = u32(at);
    const std::uint32_t len = u32(at + 4);
    ASSERT_EQ(len % 4, 0u);
    ASSERT_LE(at + len, b.size());
    EXPECT_EQ(u32(at + len - 4), len);
    types.push_back(type);
    if (type == 6) epb_at.push_back(static_cast<std::uint32_t>(at));
    at += len;
  }
  EXPECT_EQ(at, b.size());
  EXPECT_EQ(types, (std::vector<std::uint32_t>{0x0A0D0D0A, 1, 1, 6, 6}));
  EXPECT_EQ(u32(8), 0x1A2B3C4Du);
  ASSERT_EQ(epb_at.size(), 2u);
  EXPECT_EQ(u32(epb_at[0] + 8), 0u);    // interface
  EXPECT_EQ(u32(epb_at[0] + 20), 60u);  // captured length
  EXPECT_EQ(b[epb_at[0] + 28], 0xAB);
  EXPECT_EQ(u32(epb_at[0] + 28 + 60 + 4), 2u);  // epb_flags: outbound
  EXPECT_EQ(u32(epb_at[1] + 8), 1u);
  EXPECT_EQ(u32(epb_at[1] + 28 + 64 + 4), 1u);  // inbound (61 bytes padded to 64)
}

// --- the TAP wire --------------------------------------------------------------------------

TEST(Tap, AMissingTapNamesTheCommandThatMakesIt) {
  fbnic::emu::Tap tap;
  EXPECT_EQ(tap.open("fbemu-none0"), fbnic::Error::kNotFound);
  EXPECT_NE(tap.error().find("no TAP device fbemu-none0 in this network namespace: create it "
                             "first with `ip tuntap add dev fbemu-none0 mode tap`"),
            std::string::npos)
      << tap.error();
  EXPECT_EQ(tap.open("a-name-far-too-long-for-linux"), fbnic::Error::kInvalidArgument);
  EXPECT_EQ(tap.open(""), fbnic::Error::kInvalidArgument);
  fbnic::emu::WireSpec w;
  std::string error;
  EXPECT_FALSE(fbnic::emu::WireSpec::parse("tap:", w, error));
  EXPECT_FALSE(fbnic::emu::WireSpec::parse("cable:x", w, error));
  EXPECT_FALSE(fbnic::emu::WireSpec::parse("responder:10.0.0", w, error));
  EXPECT_NE(error.find("expected tap:NAME, cable:N, responder:A.B.C.D or none"), std::string::npos);
  ASSERT_TRUE(fbnic::emu::WireSpec::parse("responder:10.0.0.2", w, error));
  EXPECT_EQ(w.ip, 0x0A00'0002u);
}

// Runs f in a child process inside a network namespace of its own (so the host's
// interfaces are never touched); the child's exit status is f's result (0 = pass).
template <class F>
int in_private_netns(F&& f) {
  const pid_t pid = fork();
  if (pid == 0) {
    if (unshare(CLONE_NEWNET) != 0) _exit(77);
    _exit(f());
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 100;
}

// Creates a persistent TAP in the current (private) namespace, down or up.
bool make_tap(const char* name, bool up) {
  const int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
  if (fd < 0) return false;
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  const bool ok = ioctl(fd, TUNSETIFF, &ifr) == 0 && ioctl(fd, TUNSETPERSIST, 1) == 0;
  close(fd);
  if (!ok || !up) return ok;
  const int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ifreq flags{};
  std::strncpy(flags.ifr_name, name, IFNAMSIZ - 1);
  flags.ifr_flags = IFF_UP;
  const bool up_ok = ioctl(s, SIOCSIFFLAGS, &flags) == 0;
  close(s);
  return up_ok;
}

TEST(Tap, NoPermissionNamesTheFix) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to make a TAP in a private namespace";
  const int rc = in_private_netns([] {
    if (!make_tap("fbemu0", false)) return 77;
    if (setgid(65534) != 0 || setuid(65534) != 0) return 77;  // nobody
    fbnic::emu::Tap tap;
    if (tap.open("fbemu0") != fbnic::Error::kPermissionDenied) return 1;
    // /dev/net/tun is often root's alone; else the TAP refuses a user it does not belong to.
    return tap.error().find("no permission to") != std::string::npos &&
                   tap.error().find("fbemu0") != std::string::npos &&
                   tap.error().find("run fbnic-emu as root") != std::string::npos
               ? 0
               : 2;
  });
  if (rc == 77) GTEST_SKIP() << "no network namespaces or TAP devices here";
  EXPECT_EQ(rc, 0);
}

TEST(Tap, FramesCrossTheTapBothWaysAndAreRecorded) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to make a TAP in a private namespace";
  char pcap_path[] = "/tmp/fbnic-emu-tap.XXXXXX";
  const int pcap_fd = mkstemp(pcap_path);
  ASSERT_GE(pcap_fd, 0);
  close(pcap_fd);
  const int rc = in_private_netns([&pcap_path] {
    // No IPv6 chatter (router solicitations, MLD) from the kernel's side of the TAP.
    if (std::FILE* f = std::fopen("/proc/sys/net/ipv6/conf/default/disable_ipv6", "w")) {
      std::fputs("1", f);
      std::fclose(f);
    }
    if (!make_tap("fbemu1", true)) return 77;
    // The model's port wired to the TAP; a packet socket is the kernel's side.
    Model model;
    std::vector<Model*> models{&model};
    fbnic::emu::Wiring wiring;
    std::string error;
    fbnic::emu::WireSpec spec;
    if (!fbnic::emu::WireSpec::parse("tap:fbemu1", spec, error)) return 3;
    fbnic::emu::PcapWriter pcap;
    if (!pcap.open(pcap_path, {"nic0"}).ok()) return 4;
    if (!wiring.setup(models, {spec}, &pcap, error).ok()) return 4;
    fbnic::emu::Tap busy;
    if (busy.open("fbemu1") != fbnic::Error::kBusy) return 5;  // one reader per TAP
    const int pkt = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
    sockaddr_ll ll{};
    ll.sll_family = AF_PACKET;
    ll.sll_protocol = htons(ETH_P_ALL);
    ll.sll_ifindex = static_cast<int>(if_nametoindex("fbemu1"));
    if (pkt < 0 || bind(pkt, reinterpret_cast<sockaddr*>(&ll), sizeof(ll)) != 0) return 6;
    // Kernel -> TAP -> model's wire (counted; the model drops it: its link is down).
    std::uint8_t frame[64] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 2, 0, 0, 0, 0, 1, 0x88, 0xB5};
    if (send(pkt, frame, sizeof(frame), 0) != sizeof(frame)) return 7;
    for (int i = 0; i < 100 && wiring.counters(0).from_wire == 0; ++i) {
      wiring.pump_tap(0, 8);
      usleep(1000);
    }
    if (wiring.counters(0).from_wire != 1) return 8;
    if (model.mac().counters().rx_dropped_link != 1) return 9;
    // Model -> wire -> TAP -> kernel: with the MAC on and the link up (the TAP's end
    // follows the port's mode), a PAUSE frame the MAC sends reaches the packet socket.
    using MC = fbnic::regs::MacCommandConfig;
    model.write32(fbnic::Bar::kCsr, MC::kOffset, MC{}.set(MC::kTxEna, 1).set(MC::kRxEna, 1).raw());
    model.run();
    if (!model.mac().link_up()) return 10;
    model.mac().send_pause(0xFFFF, fbnic::MacAddress{});
    if (wiring.counters(0).to_wire != 1) return 11;
    for (int i = 0; i < 100; ++i) {
      std::uint8_t got[128];
      pollfd p{pkt, POLLIN, 10};
      if (poll(&p, 1, 10) != 1) continue;
      const ssize_t n = recv(pkt, got, sizeof(got), 0);
      if (n >= 60 && got[12] == 0x88 && got[13] == 0x08) {
        pcap.flush();
        return 0;
      }
    }
    return 12;
  });
  if (rc == 77) GTEST_SKIP() << "no network namespaces or TAP devices here";
  EXPECT_EQ(rc, 0);
  // Both frames in the pcap: in (the kernel's), out (the PAUSE).
  std::FILE* f = std::fopen(pcap_path, "rb");
  ASSERT_NE(f, nullptr);
  std::vector<std::uint8_t> b(4096);
  b.resize(std::fread(b.data(), 1, b.size(), f));
  std::fclose(f);
  unlink(pcap_path);
  std::size_t epbs = 0;
  for (std::size_t at = 0; at + 8 <= b.size();) {
    std::uint32_t type = 0;
    std::uint32_t len = 0;
    std::memcpy(&type, b.data() + at, 4);
    std::memcpy(&len, b.data() + at + 4, 4);
    if (len == 0) break;
    epbs += type == 6 ? 1 : 0;
    at += len;
  }
  EXPECT_EQ(epbs, 2u);
}

}  // namespace

// Guest-sized allocations would show as an allocation beyond this bound (ASan builds).
extern "C" const char* __asan_default_options() { return "max_allocation_size_mb=64"; }
