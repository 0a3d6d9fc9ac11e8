// The model's Ethernet wire outside the device, per NIC port: a cable to another NIC, a
// responder that answers ARP and ICMP echo for one IPv4 address (so a single guest can
// ping "someone"), a Linux TAP device (a real network stack), or nothing (no link).
//
// A cable joins two models directly (each delivers into the other's Rx FIFO). Frames for
// the responder are queued and answered by pump() after the current batch of bus
// accesses, so a model is never re-entered from inside its own transmit; frames from a
// TAP enter in pump_tap(), from the event loop. Every frame that crosses a wire is
// counted per port and direction and, with a PcapWriter, recorded.
#pragma once

#include <arpa/inet.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fbnic/base/status.hpp"
#include "fbnic/emu/pcap.hpp"
#include "fbnic/emu/tap.hpp"
#include "fbnic/mock/wire.hpp"

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

// What is at the far end of one port's cable (fbnic-emu's --wire).
struct WireSpec {
  enum class Kind : std::uint8_t { kNone, kCable, kResponder, kTap };
  Kind kind = Kind::kNone;
  std::size_t peer = 0;  // kCable: the other NIC's index
  std::uint32_t ip = 0;  // kResponder: its IPv4 address, host order
  std::string tap;       // kTap: the device name

  // "none", "cable:N", "responder:A.B.C.D" or "tap:NAME"; error says what is wrong.
  static bool parse(std::string_view text, WireSpec& out, std::string& error) {
    out = {};
    const std::size_t colon = text.find(':');
    const std::string_view kind = text.substr(0, colon);
    const std::string value(colon == std::string_view::npos ? "" : text.substr(colon + 1));
    if (kind == "none" && colon == std::string_view::npos) return true;
    if (kind == "tap" && !value.empty()) {
      out.kind = Kind::kTap;
      out.tap = value;
      return true;
    }
    if (kind == "cable" && !value.empty() &&
        value.find_first_not_of("0123456789") == std::string::npos && value.size() < 4) {
      out.kind = Kind::kCable;
      out.peer = std::stoul(value);
      return true;
    }
    in_addr a{};
    if (kind == "responder" && inet_pton(AF_INET, value.c_str(), &a) == 1) {
      out.kind = Kind::kResponder;
      out.ip = ntohl(a.s_addr);
      return true;
    }
    error = "bad wire '" + std::string(text) +
            "': expected tap:NAME, cable:N, responder:A.B.C.D or none";
    return false;
  }
};

// Who is on the wire of each model. Cable pulls (set_link) unplug both ends of a cable,
// as a real pull would.
class Wiring {
 public:
  struct PortCounters {
    std::uint64_t to_wire = 0;      // frames the model put on the wire
    std::uint64_t from_wire = 0;    // frames the far end delivered to the model
    std::uint64_t tap_dropped = 0;  // frames the TAP's kernel side did not take
  };

  // Wires models[i] as specs[i] says (a missing spec is "none"). On failure error says
  // which port and why (a TAP that cannot be attached, a cable to a missing NIC, ...).
  template <class Model>
  Status setup(const std::vector<Model*>& models, const std::vector<WireSpec>& specs,
               PcapWriter* pcap, std::string& error) {
    pcap_ = pcap;
    ports_ = std::vector<Port>(models.size());
    for (std::size_t i = 0; i < models.size(); ++i) {
      Port& p = ports_[i];
      p.index = i;
      p.wiring = this;
      p.spec = i < specs.size() ? specs[i] : WireSpec{};
      if (p.spec.kind == WireSpec::Kind::kCable) {
        const std::size_t j = p.spec.peer;
        if (j >= models.size() || j == i || j >= specs.size() ||
            specs[j].kind != WireSpec::Kind::kCable || specs[j].peer != i) {
          error = "nic" + std::to_string(i) + ": cable:" + std::to_string(j) + " needs NIC " +
                  std::to_string(j) + " wired back with cable:" + std::to_string(i);
          return Error::kInvalidArgument;
        }
      }
      if (p.spec.kind == WireSpec::Kind::kTap) {
        p.tap = std::make_unique<Tap>();
        if (!p.tap->open(p.spec.tap).ok()) {
          error = "nic" + std::to_string(i) + ": --wire tap:" + p.spec.tap + ": " + p.tap->error();
          return Error::kInvalidArgument;
        }
      }
      if (p.spec.kind == WireSpec::Kind::kResponder) p.responder.emplace(p.spec.ip);
    }
    for (std::size_t i = 0; i < models.size(); ++i) {
      Model& m = *models[i];
      Port& p = ports_[i];
      p.inject = [this, &p, &m](std::span<const std::uint8_t> f) {
        ++p.counters.from_wire;
        if (pcap_ != nullptr) {
          pcap_->record(static_cast<std::uint32_t>(p.index), PcapWriter::Direction::kInbound, f);
        }
        m.wire_sink()(f);
      };
      const mock::FrameSink out{&Wiring::on_wire_out, &p};
      if (p.spec.kind == WireSpec::Kind::kCable) {
        Model& other = *models[p.spec.peer];
        p.peer = &ports_[p.spec.peer];
        // Either end's plug (or pull) moves the one cable, so both ends change together.
        p.plug = [&m, &other, out, &p](bool in) {
          if (in) {
            m.plug({out, &other.mode()});
            other.plug({{&Wiring::on_wire_out, p.peer}, &m.mode()});
          } else {
            m.unplug();
            other.unplug();
          }
        };
      } else if (p.spec.kind != WireSpec::Kind::kNone) {
        // The responder's or the TAP's PHY runs whatever mode the port runs, so the link
        // trains.
        p.plug = [&m, out](bool in) {
          if (in) {
            m.plug({out, &m.mode()});
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
  [[nodiscard]] const PortCounters& counters(std::size_t i) const { return ports_[i].counters; }
  // The TAP fd of port i for the event loop, or -1.
  [[nodiscard]] int tap_fd(std::size_t i) const {
    return i < ports_.size() && ports_[i].tap ? ports_[i].tap->fd() : -1;
  }
  [[nodiscard]] const Tap* tap(std::size_t i) const {
    return i < ports_.size() ? ports_[i].tap.get() : nullptr;
  }
  // Frames crossing every wire, both directions (what a pcap of the run holds).
  [[nodiscard]] std::uint64_t total_frames() const {
    std::uint64_t n = 0;
    for (const Port& p : ports_) n += p.counters.to_wire + p.counters.from_wire;
    return n;
  }

  // Plugs (true) or pulls (false) the cable of port i; false if there is no wire.
  bool set_link(std::size_t i, bool up) {
    if (i >= ports_.size() || ports_[i].spec.kind == WireSpec::Kind::kNone) return false;
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
          p.inject(std::span<const std::uint8_t>(*r));
        }
      }
    }
  }

  // Delivers up to `budget` frames waiting on port i's TAP to its model; how many.
  std::size_t pump_tap(std::size_t i, std::size_t budget) {
    if (i >= ports_.size() || !ports_[i].tap) return 0;
    Port& p = ports_[i];
    std::size_t n = 0;
    while (n < budget) {
      const std::size_t len = p.tap->read_frame(rx_buf_.data(), rx_buf_.size());
      if (len == 0) break;
      p.inject(std::span<const std::uint8_t>(rx_buf_.data(), len));
      ++n;
    }
    return n;
  }

  void print_summary(std::FILE* out) const {
    for (const Port& p : ports_) {
      std::fprintf(out, "fbnic-emu[nic%zu] wire: to-wire %llu from-wire %llu frames", p.index,
                   static_cast<unsigned long long>(p.counters.to_wire),
                   static_cast<unsigned long long>(p.counters.from_wire));
      if (p.spec.kind == WireSpec::Kind::kCable)
        std::fprintf(out, ", cabled to nic%zu", p.spec.peer);
      if (p.tap) {
        std::fprintf(out, ", TAP %s (frames it refused %llu)", p.tap->name().c_str(),
                     static_cast<unsigned long long>(p.counters.tap_dropped));
      }
      if (p.responder) {
        std::fprintf(out, ", responder ARP replies %llu echo replies %llu",
                     static_cast<unsigned long long>(p.responder->arp_replies()),
                     static_cast<unsigned long long>(p.responder->echo_replies()));
      }
      if (p.spec.kind == WireSpec::Kind::kNone) std::fputs(", unplugged", out);
      std::fputc('\n', out);
    }
  }

 private:
  struct Port {
    std::size_t index = 0;
    WireSpec spec;
    Port* peer = nullptr;
    std::optional<Responder> responder;
    std::unique_ptr<Tap> tap;
    std::function<void(bool)> plug;
    std::function<void(std::span<const std::uint8_t>)> inject;
    std::deque<Frame> to_responder;
    PortCounters counters;
    Wiring* wiring = nullptr;
  };

  // A frame the model of port ctx put on its wire.
  static void on_wire_out(void* ctx, std::span<const std::uint8_t> frame) {
    auto* p = static_cast<Port*>(ctx);
    ++p->counters.to_wire;
    if (p->wiring->pcap_ != nullptr) {
      p->wiring->pcap_->record(static_cast<std::uint32_t>(p->index),
                               PcapWriter::Direction::kOutbound, frame);
    }
    switch (p->spec.kind) {
      case WireSpec::Kind::kCable: p->peer->inject(frame); break;
      case WireSpec::Kind::kTap:
        if (!p->tap->write_frame(frame)) ++p->counters.tap_dropped;
        break;
      case WireSpec::Kind::kResponder:
        // Queued, not answered here: the model is in the middle of transmitting.
        if (p->to_responder.size() < kMaxQueued)
          p->to_responder.emplace_back(frame.begin(), frame.end());
        break;
      case WireSpec::Kind::kNone: break;
    }
  }

  static constexpr std::size_t kMaxQueued = 4096;
  std::vector<Port> ports_;
  PcapWriter* pcap_ = nullptr;
  std::vector<std::uint8_t> rx_buf_ = std::vector<std::uint8_t>(65536 + 64);
};

}  // namespace fbnic::emu
