// The model's Ethernet wire outside the device: a cable between two NICs, or a
// responder that answers ARP and ICMP echo for one IPv4 address (so a single guest can
// ping "someone" on the model's wire).
//
// A cable joins two models directly (each delivers into the other's Rx FIFO). Frames for
// the responder are queued and answered by pump() after the current batch of bus
// accesses, so a model is never re-entered from inside its own transmit.
#pragma once

#include <arpa/inet.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "fbnic/base/status.hpp"

namespace fbnic::emu {

using Frame = std::vector<std::uint8_t>;

// Answers ARP requests for its address and ICMP echo requests to it.
class Responder {
 public:
  static constexpr std::array<std::uint8_t, 6> kMac{0x02, 0xFB, 0x1C, 0x00, 0x00, 0x01};

  explicit Responder(std::uint32_t ip_host_order) : ip_(ip_host_order) {}

  [[nodiscard]] std::optional<Frame> answer(const std::uint8_t* f, std::size_t n) {
    if (n < 14) return std::nullopt;
    const std::uint16_t type = be16(f + 12);
    if (type == 0x0806) return arp(f, n);
    if (type == 0x0800) return icmp_echo(f, n);
    return std::nullopt;
  }

  [[nodiscard]] std::uint64_t arp_replies() const { return arp_replies_; }
  [[nodiscard]] std::uint64_t echo_replies() const { return echo_replies_; }

 private:
  static std::uint16_t be16(const std::uint8_t* p) {
    return static_cast<std::uint16_t>(p[0] << 8 | p[1]);
  }
  static std::uint32_t be32(const std::uint8_t* p) {
    return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3];
  }
  static void put16(std::uint8_t* p, std::uint16_t v) {
    p[0] = static_cast<std::uint8_t>(v >> 8);
    p[1] = static_cast<std::uint8_t>(v);
  }
  static std::uint16_t checksum(const std::uint8_t* p, std::size_t n) {
    std::uint32_t sum = 0;
    for (std::size_t i = 0; i + 1 < n; i += 2) sum += be16(p + i);
    if ((n & 1) != 0) sum += std::uint32_t{p[n - 1]} << 8;
    while ((sum >> 16) != 0) sum = (sum & 0xFFFF) + (sum >> 16);
    return static_cast<std::uint16_t>(~sum);
  }

  std::optional<Frame> arp(const std::uint8_t* f, std::size_t n) {
    const std::uint8_t* a = f + 14;
    // Ethernet/IPv4 request for our address.
    if (n < 42 || be16(a) != 1 || be16(a + 2) != 0x0800 || a[4] != 6 || a[5] != 4 ||
        be16(a + 6) != 1 || be32(a + 24) != ip_) {
      return std::nullopt;
    }
    Frame r(60, 0);
    std::memcpy(r.data(), f + 6, 6);
    std::memcpy(r.data() + 6, kMac.data(), 6);
    put16(r.data() + 12, 0x0806);
    std::uint8_t* b = r.data() + 14;
    std::memcpy(b, a, 6);
    put16(b + 6, 2);
    std::memcpy(b + 8, kMac.data(), 6);
    std::memcpy(b + 14, a + 24, 4);  // our IP
    std::memcpy(b + 18, a + 8, 10);  // their MAC and IP
    ++arp_replies_;
    return r;
  }

  std::optional<Frame> icmp_echo(const std::uint8_t* f, std::size_t n) {
    const std::uint8_t* ip = f + 14;
    if (n < 34 || (ip[0] >> 4) != 4) return std::nullopt;
    const std::size_t ihl = std::size_t{ip[0] & 0xFu} * 4;
    const std::size_t total = be16(ip + 2);
    if (ihl < 20 || total < ihl + 8 || 14 + total > n || ip[9] != 1 || be32(ip + 16) != ip_ ||
        ip[ihl] != 8) {
      return std::nullopt;
    }
    Frame r(f, f + 14 + total);
    std::memcpy(r.data(), f + 6, 6);
    std::memcpy(r.data() + 6, kMac.data(), 6);
    std::uint8_t* rip = r.data() + 14;
    std::memcpy(rip + 12, ip + 16, 4);
    std::memcpy(rip + 16, ip + 12, 4);
    rip[8] = 64;
    put16(rip + 10, 0);
    put16(rip + 10, checksum(rip, ihl));
    std::uint8_t* icmp = rip + ihl;
    icmp[0] = 0;  // echo reply
    put16(icmp + 2, 0);
    put16(icmp + 2, checksum(icmp, total - ihl));
    if (r.size() < 60) r.resize(60, 0);
    ++echo_replies_;
    return r;
  }

  std::uint32_t ip_;
  std::uint64_t arp_replies_ = 0;
  std::uint64_t echo_replies_ = 0;
};

// Who is on the wire of each model: another model (cable), the responder, or nobody.
// Cable pulls (set_link) unplug both ends of a cable, as a real pull would.
class Wiring {
 public:
  template <class Model>
  Status setup(const std::vector<Model*>& models, bool cable, const std::string& responder_ip) {
    std::optional<std::uint32_t> ip;
    if (!responder_ip.empty()) {
      in_addr a{};
      if (inet_pton(AF_INET, responder_ip.c_str(), &a) != 1) return Error::kInvalidArgument;
      ip = ntohl(a.s_addr);
    }
    ports_ = std::vector<Port>(models.size());
    for (std::size_t i = 0; i < models.size(); ++i) {
      Model& m = *models[i];
      Port& p = ports_[i];
      p.index = i;
      m.set_tap({&Wiring::on_tap, &p});
      p.inject = [&m](const Frame& f) { m.wire_sink()(std::span<const std::uint8_t>(f)); };
      if (cable && i < 2) {
        p.peer = static_cast<int>(1 - i);
        Model& other = *models[1 - i];
        p.plug = [&m, &other](bool in) {
          if (in) {
            Model::cable(m, other);
          } else {
            m.unplug();
            other.unplug();
          }
        };
      } else if (ip) {
        p.responder.emplace(*ip);
        // The responder's PHY runs whatever mode the port runs, so the link trains.
        p.plug = [&m, &p](bool in) {
          if (in) {
            m.plug({{&Wiring::on_responder_frame, &p}, &m.mode()});
          } else {
            m.unplug();
          }
        };
      } else {
        p.plug = [&m](bool in) {
          if (!in) m.unplug();
        };
      }
      p.plug(true);
    }
    return ok_status();
  }

  [[nodiscard]] bool has_port(std::size_t i) const { return i < ports_.size(); }

  // Plugs (true) or pulls (false) the cable of port i; false if there is no wire.
  bool set_link(std::size_t i, bool up) {
    if (i >= ports_.size() || !ports_[i].plug) return false;
    ports_[i].plug(up);
    return true;
  }

  // Answers what the responders received since the last call.
  void pump() {
    for (Port& p : ports_) {
      while (!p.to_responder.empty()) {
        Frame f = std::move(p.to_responder.front());
        p.to_responder.pop_front();
        if (!p.responder) continue;
        if (std::optional<Frame> r = p.responder->answer(f.data(), f.size())) {
          ++p.injected;
          p.inject(*r);
        }
      }
    }
  }

  void print_summary(std::FILE* out) const {
    for (const Port& p : ports_) {
      std::fprintf(out, "fbnic-emu[nic%zu] wire: transmitted %llu frames", p.index,
                   static_cast<unsigned long long>(p.transmitted));
      if (p.peer >= 0) std::fprintf(out, ", cabled to nic%d", p.peer);
      if (p.responder) {
        std::fprintf(out, ", responder ARP replies %llu echo replies %llu",
                     static_cast<unsigned long long>(p.responder->arp_replies()),
                     static_cast<unsigned long long>(p.responder->echo_replies()));
      }
      std::fputc('\n', out);
    }
  }

 private:
  struct Port {
    std::size_t index = 0;
    int peer = -1;
    std::optional<Responder> responder;
    std::function<void(bool)> plug;
    std::function<void(const Frame&)> inject;
    std::deque<Frame> to_responder;
    std::uint64_t transmitted = 0;
    std::uint64_t injected = 0;
  };

  static void on_tap(void* ctx, std::span<const std::uint8_t> /*frame*/) {
    ++static_cast<Port*>(ctx)->transmitted;
  }
  // Queued, not answered here: the model is in the middle of transmitting.
  static void on_responder_frame(void* ctx, std::span<const std::uint8_t> frame) {
    auto* p = static_cast<Port*>(ctx);
    if (p->to_responder.size() < kMaxQueued)
      p->to_responder.emplace_back(frame.begin(), frame.end());
  }

  static constexpr std::size_t kMaxQueued = 4096;
  std::vector<Port> ports_;
};

}  // namespace fbnic::emu
