// Doorbell: an ivshmem server for one QEMU `ivshmem-doorbell` device, the interrupt side
// channel of the QEMU route (a test aid, not the fbnic's own MSI-X).
//
// QEMU's proxy device delivers no interrupts under TCG. A companion ivshmem-doorbell in the
// same guest does: QEMU turns a write to one of the eventfds this server hands it into an
// MSI-X message of that device. fbnic-emu routes an MSI-X message of the emulated function
// (vector v, sent only when the guest enabled MSI-X and unmasked the entry, as on hardware)
// to doorbell vector v % vectors(); a guest driver enables the fbnic's MSI-X as usual and
// waits on the ivshmem device's vectors instead.
//
// Protocol (QEMU docs/specs/ivshmem-spec.rst), each message one little-endian int64, fds as
// SCM_RIGHTS: version 0; the client's id; -1 with the shared memory fd; then the client's
// id once per vector, each with that vector's eventfd. One client at a time: QEMU connects
// while it realizes the device, so the server must listen before QEMU starts.
#pragma once

#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "fbnic/base/status.hpp"

namespace fbnic::emu {

class Doorbell {
 public:
  static constexpr std::uint32_t kMaxVectors = 64;
  static constexpr std::int64_t kPeerId = 1;
  static constexpr std::size_t kMemoryBytes = 4096;  // the device's BAR2: unused, one page

  struct Stats {
    std::uint64_t rung = 0;         // MSI-X messages delivered to a doorbell vector
    std::uint64_t undelivered = 0;  // ...while no QEMU was connected
    std::uint64_t clients = 0;
  };

  Doorbell() = default;
  Doorbell(const Doorbell&) = delete;
  Doorbell& operator=(const Doorbell&) = delete;
  ~Doorbell() { stop(); }

  // Listens on `path` (replacing a stale socket file) for a device with `vectors` vectors;
  // QEMU's `vectors=` must be at least that many. error() says what failed.
  Status listen_on(const std::string& path, std::uint32_t vectors) {
    stop();
    if (vectors == 0 || vectors > kMaxVectors) return fail("vectors must be 1 to 64");
    sockaddr_un addr{};
    if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
      return fail("socket path '" + path + "' is empty or longer than " +
                  std::to_string(sizeof(addr.sun_path) - 1) + " bytes");
    }
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0) return fail(std::string("socket: ") + std::strerror(errno));
    unlink(path.c_str());
    if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        listen(listen_fd_, 1) != 0) {
      const int err = errno;
      stop();
      return fail(path + ": " + std::strerror(err));
    }
    path_ = path;
    vectors_ = vectors;
    return ok_status();
  }

  [[nodiscard]] int listen_fd() const { return listen_fd_; }
  [[nodiscard]] int client_fd() const { return client_; }
  [[nodiscard]] bool connected() const { return client_ >= 0; }
  [[nodiscard]] std::uint32_t vectors() const { return vectors_; }
  [[nodiscard]] const std::string& path() const { return path_; }
  [[nodiscard]] const std::string& error() const { return error_; }
  [[nodiscard]] const Stats& stats() const { return stats_; }

  // A client is waiting on the listening socket: hand it the memory and the eventfds.
  // A second client while one is connected is turned away.
  Status accept_client() {
    const int c = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) return fail(std::string("accept: ") + std::strerror(errno));
    if (client_ >= 0) {
      close(c);
      return fail("a second ivshmem client was turned away (one device per doorbell socket)");
    }
    std::vector<int> efds;
    const int mem = memfd_create("fbnic-doorbell", MFD_CLOEXEC);
    bool ok = mem >= 0 && ftruncate(mem, kMemoryBytes) == 0;
    for (std::uint32_t v = 0; ok && v < vectors_; ++v) {
      const int e = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
      ok = e >= 0;
      if (ok) efds.push_back(e);
    }
    ok = ok && send_value(c, 0, -1) && send_value(c, kPeerId, -1) && send_value(c, -1, mem);
    for (std::size_t v = 0; ok && v < efds.size(); ++v) ok = send_value(c, kPeerId, efds[v]);
    if (mem >= 0) close(mem);  // QEMU has its own reference now
    if (!ok) {
      const int err = errno;
      for (int e : efds) close(e);
      close(c);
      return fail(std::string("setting up the ivshmem client failed: ") + std::strerror(err));
    }
    client_ = c;
    eventfds_ = std::move(efds);
    ++stats_.clients;
    return ok_status();
  }

  // The client's socket is readable: QEMU never sends anything, so this is its end.
  void on_client_readable() {
    char buf[64];
    const ssize_t n = recv(client_, buf, sizeof(buf), MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) drop_client();
  }

  // Rings doorbell vector v % vectors().
  void ring(std::uint32_t vector) {
    if (client_ < 0 || eventfds_.empty()) {
      ++stats_.undelivered;
      return;
    }
    const std::uint64_t one = 1;
    // A full eventfd counter means the vector is already pending: one interrupt either way.
    (void)!write(eventfds_[vector % eventfds_.size()], &one, sizeof(one));
    ++stats_.rung;
  }

  void stop() {
    drop_client();
    if (listen_fd_ >= 0) {
      close(listen_fd_);
      unlink(path_.c_str());
    }
    listen_fd_ = -1;
  }

 private:
  Status fail(std::string why) {
    error_ = std::move(why);
    return Error::kInvalidArgument;
  }

  void drop_client() {
    for (int e : eventfds_) close(e);
    eventfds_.clear();
    if (client_ >= 0) close(client_);
    client_ = -1;
  }

  // One int64 per message, so that each fd travels with its own message.
  static bool send_value(int sock, std::int64_t value, int fd) {
    iovec iov{&value, sizeof(value)};
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
    for (;;) {  // bounded: only EINTR repeats
      const ssize_t n = sendmsg(sock, &msg, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      return n == static_cast<ssize_t>(sizeof(value));
    }
  }

  int listen_fd_ = -1;
  int client_ = -1;
  std::uint32_t vectors_ = 0;
  std::string path_;
  std::string error_;
  std::vector<int> eventfds_;
  Stats stats_{};
};

}  // namespace fbnic::emu
