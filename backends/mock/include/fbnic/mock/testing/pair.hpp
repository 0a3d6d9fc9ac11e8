// Pair: two NICs on device models, cabled back to back (a's port to b's), each with the
// library's Device over it. What one transmits arrives at the other, once both links are
// up: both models must run the same speed and FEC (set_mode), as real PHYs must.
//
//   mock::testing::Pair<> p;
//   p.cable();
//   FBNIC_TRY(p.open());       // a as kMacA, b as kMacB, no link training wait
//   p.poll_links();            // both sides see their link come up
//   p.a->send(mock::testing::make_raw(mock::testing::kMacB, 100, 1)).ignore();
//   p.run();                   // a transmits, b receives
//   auto got = p.b->collect();
#pragma once

#include <cstdint>
#include <memory>

#include "fbnic/fbnic.hpp"
#include "fbnic/mock/testing/nic.hpp"

namespace fbnic::mock::testing {

inline constexpr MacAddress kMacA{{0x02, 0, 0, 0, 0, 0xA}};
inline constexpr MacAddress kMacB{{0x02, 0, 0, 0, 0, 0xB}};

template <class N = Nic<>>
struct Pair {
  // Held by pointer: two device models are too big for most stacks.
  std::unique_ptr<N> a = std::make_unique<N>(24u << 20, 256);
  std::unique_ptr<N> b = std::make_unique<N>(24u << 20, 256);

  Pair() = default;
  Pair(const Pair&) = delete;
  Pair& operator=(const Pair&) = delete;
  // A cable holds pointers into both models: it comes out before either goes.
  ~Pair() {
    a->model.unplug();
    b->model.unplug();
  }

  // The mode a model's firmware reports (and so its PHY runs); set before open().
  static void set_mode(N& n, fw::LinkSpeed speed, fw::LinkFec fec) {
    n.model.firmware().config().caps.link_speed = static_cast<std::uint32_t>(speed);
    n.model.firmware().config().caps.link_fec = static_cast<std::uint32_t>(fec);
  }
  void cable() { N::Model::cable(a->model, b->model); }
  void run() {
    a->model.run();
    b->model.run();
  }
  // Both ends opened with their own address (kMacA, kMacB) and these link options.
  Status open(mac::LinkOptions link = {.training_ms = 0}) {
    DeviceConfig ca = a->config();
    ca.mac = kMacA;
    ca.link = link;
    DeviceConfig cb = b->config();
    cb.mac = kMacB;
    cb.link = link;
    FBNIC_TRY(a->setup());
    FBNIC_TRY(b->setup());
    FBNIC_TRY(a->dev.open(ca));
    return b->dev.open(cb);
  }
  // Each model does what is due, then each side polls its link state.
  void poll_links() {
    run();
    a->dev.link().poll().status().ignore();
    b->dev.link().poll().status().ignore();
  }
};

}  // namespace fbnic::mock::testing
