// Tap: the model's wire on a Linux TAP device, so that its frames reach a real network
// stack (a network namespace a test creates, a bridge, dnsmasq, tshark).
//
// fbnic-emu attaches to a TAP that already exists; it never creates one (a TAP created
// here would vanish with the process, and would land wherever the process runs). Every
// way that fails is reported with the command that fixes it. One frame per read and per
// write (IFF_NO_PI, no virtio-net header: the kernel hands over whole, checksummed,
// unsegmented frames).
#pragma once

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>

#include "fbnic/base/status.hpp"

namespace fbnic::emu {

class Tap {
 public:
  Tap() = default;
  Tap(const Tap&) = delete;
  Tap& operator=(const Tap&) = delete;
  ~Tap() { close_fd(); }

  // Attaches to the existing TAP device `name`. On failure error() says why and how to
  // fix it. `tun_path` is /dev/net/tun but for tests.
  Status open(const std::string& name, const char* tun_path = "/dev/net/tun") {
    close_fd();
    name_ = name;
    const std::string create = "ip tuntap add dev " + name + " mode tap";
    if (name.empty() || name.size() >= IFNAMSIZ || name.find('/') != std::string::npos) {
      return fail(Error::kInvalidArgument, "'" + name + "' is not a network interface name (1 to " +
                                               std::to_string(IFNAMSIZ - 1) + " characters)");
    }
    if (if_nametoindex(name.c_str()) == 0) {
      return fail(Error::kNotFound,
                  "no TAP device " + name + " in this network namespace: create it first with `" +
                      create + "` (in a test's namespace: `ip netns exec NS " + create +
                      "`, and run fbnic-emu there with `ip netns exec NS`), then `ip link set " +
                      name + " up`");
    }
    fd_ = ::open(tun_path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd_ < 0) {
      const int err = errno;
      if (err == ENOENT || err == ENODEV || err == ENXIO) {
        return fail(Error::kNotFound, std::string(tun_path) + ": " + std::strerror(err) +
                                          ": load the tun driver (`modprobe tun`)");
      }
      if (err == EACCES || err == EPERM) {
        return fail(Error::kPermissionDenied,
                    "no permission to open " + std::string(tun_path) + " for TAP " + name + " (" +
                        std::strerror(err) + "): run fbnic-emu as root, or give this user " +
                        "access to " + tun_path + " and recreate the TAP for it (`" + create +
                        " user $(id -un)`)");
      }
      return fail(Error::kInvalidArgument, std::string(tun_path) + ": " + std::strerror(err));
    }
    ifreq ifr{};
    std::memcpy(ifr.ifr_name, name.c_str(), name.size());
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    if (ioctl(fd_, TUNSETIFF, &ifr) != 0) {
      const int err = errno;
      close_fd();
      if (err == EPERM || err == EACCES) {
        return fail(Error::kPermissionDenied,
                    "no permission to attach to TAP " + name + " (" + std::strerror(err) +
                        "): run fbnic-emu as root (CAP_NET_ADMIN), or recreate the TAP for "
                        "this user: `ip tuntap del dev " +
                        name + " mode tap && " + create + " user $(id -un)`");
      }
      if (err == EBUSY) {
        return fail(Error::kBusy, "TAP " + name +
                                      " is attached to another process (one reader per TAP): "
                                      "stop it, or create another TAP");
      }
      return fail(Error::kInvalidArgument, name + " is not a single-queue TAP device (" +
                                               std::strerror(err) + "): use one made by `" +
                                               create + "`");
    }
    ifreq flags{};
    std::memcpy(flags.ifr_name, name.c_str(), name.size());
    const int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    down_ = s >= 0 && ioctl(s, SIOCGIFFLAGS, &flags) == 0 && (flags.ifr_flags & IFF_UP) == 0;
    if (s >= 0) ::close(s);
    error_.clear();
    return ok_status();
  }

  [[nodiscard]] int fd() const { return fd_; }
  [[nodiscard]] bool is_open() const { return fd_ >= 0; }
  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] const std::string& error() const { return error_; }
  // The interface was administratively down when attached (its frames go nowhere).
  [[nodiscard]] bool was_down() const { return down_; }

  // One frame from the kernel's side into buf; 0 when none is waiting.
  std::size_t read_frame(std::uint8_t* buf, std::size_t cap) {
    if (fd_ < 0) return 0;
    for (;;) {  // bounded: only EINTR repeats
      const ssize_t n = ::read(fd_, buf, cap);
      if (n < 0 && errno == EINTR) continue;
      return n > 0 ? static_cast<std::size_t>(n) : 0;
    }
  }

  // One frame to the kernel's side; false when the kernel did not take it.
  bool write_frame(std::span<const std::uint8_t> frame) {
    if (fd_ < 0) return false;
    for (;;) {  // bounded: only EINTR repeats
      const ssize_t n = ::write(fd_, frame.data(), frame.size());
      if (n < 0 && errno == EINTR) continue;
      return n == static_cast<ssize_t>(frame.size());
    }
  }

 private:
  Status fail(Error e, std::string why) {
    error_ = std::move(why);
    return e;
  }
  void close_fd() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  int fd_ = -1;
  bool down_ = false;
  std::string name_;
  std::string error_;
};

}  // namespace fbnic::emu
