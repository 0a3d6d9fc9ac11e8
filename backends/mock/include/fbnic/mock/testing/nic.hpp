// Nic: one NIC on the device model for tests: a mock::Device, host RAM, the library's
// Device over it, and a pool of Tx buffers, with helpers to send frames and to collect
// what arrives. Hosted (std::vector, the heap); nothing here depends on a test framework:
// failures are Status values and counters that a test asserts on.
//
//   mock::testing::Nic<> nic;
//   FBNIC_TRY(nic.open_loopback());        // MAC loopback: every frame sent comes back
//   FBNIC_TRY(nic.send(mock::testing::make_raw(mock::testing::kStation, 60, 1)));
//   nic.model.run();                       // the device does its part
//   auto got = nic.collect();              // what arrived on Rx queue 0, as bytes
//   nic.reclaim();                         // Tx completions free their buffers
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <unordered_map>
#include <utility>
#include <vector>

#include "fbnic/fbnic.hpp"
#include "fbnic/mock/hosted.hpp"
#include "fbnic/mock/mock.hpp"

namespace fbnic::mock::testing {

inline constexpr MacAddress kStation{{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}};

// A received packet's bytes: its fragments, one after another.
template <class Packet>
std::vector<std::uint8_t> bytes_of(const Packet& p) {
  std::vector<std::uint8_t> b;
  for (const RxFragment& f : p.fragments()) b.insert(b.end(), f.data, f.data + f.len);
  return b;
}

// LogSink receives the library's log lines (mock::NullLog keeps none; mock::StderrLog prints).
template <class Policy = DefaultPolicy, class ModelConfig = DefaultConfig, class LogSink = NullLog>
struct Nic {
  using Model = Device<ModelConfig>;
  using Plat = Platform<Model, LogSink>;
  using Dev = fbnic::Device<Plat, Policy>;
  using Packet = typename Dev::Rx::Packet;
  static constexpr std::uint32_t kSlotBytes = 16 * 1024;

  Model model;
  HostRam ram;
  Plat plat;
  Dev dev;
  DmaBuffer tx_mem{};
  std::uint32_t tx_slots = 0;
  std::vector<std::uint32_t> free_slots;
  std::unordered_map<std::uint64_t, std::vector<std::uint32_t>> in_flight;  // cookie -> slots
  std::uint64_t next_cookie = 1;

  // ram_bytes of host memory; slots Tx buffers of kSlotBytes each taken from it.
  explicit Nic(std::size_t ram_bytes = 96u << 20, std::uint32_t slots = 2048, LogSink sink = {})
      : ram(ram_bytes), plat(model, ram.span(), sink), dev(plat), tx_slots(slots) {
    auto mem = plat.dma_alloc(std::size_t{slots} * kSlotBytes, 4096);
    if (!mem.ok()) {
      setup_ = mem.status();
      return;
    }
    tx_mem = mem.value();
    for (std::uint32_t i = slots; i-- > 0;) free_slots.push_back(i);
  }
  Nic(const Nic&) = delete;
  Nic& operator=(const Nic&) = delete;
  ~Nic() {
    dev.close().ignore();
    plat.dma_free(tx_mem);
  }

  // kNoMemory when host RAM could not hold the Tx buffer pool (every send then fails).
  [[nodiscard]] Status setup() const { return setup_; }
  // Tx completions for a cookie that was never sent or already completed: a library bug.
  [[nodiscard]] std::uint64_t cookie_errors() const { return cookie_errors_; }

  Deadline in_us(std::uint64_t us) { return Deadline::after_us(plat.now_ns(), us); }

  // The station address, no link training wait (the model's PHY trains at once), and the
  // largest MTU, so that every frame the device carries can be sent.
  DeviceConfig config() const {
    DeviceConfig c;
    c.mac = kStation;
    c.mtu = kMaxMtu;
    c.link.training_ms = 0;
    return c;
  }
  // Opens with MAC loopback so that every frame sent comes back.
  Status open_loopback(const DeviceConfig& c) {
    FBNIC_TRY(setup_);
    FBNIC_TRY(dev.open(c));
    FBNIC_TRY(dev.link().set_mac_loopback(true));
    return dev.wait_link_up(in_us(1'000'000));
  }
  Status open_loopback() { return open_loopback(config()); }

  std::uint8_t* slot_cpu(std::uint32_t s) {
    return static_cast<std::uint8_t*>(tx_mem.cpu) + std::size_t{s} * kSlotBytes;
  }
  [[nodiscard]] std::uint64_t slot_dma(std::uint32_t s) const {
    return tx_mem.device + std::uint64_t{s} * kSlotBytes;
  }

  // Sends one frame on Tx queue q, split into `pieces` buffers; returns the send status.
  Status send(std::span<const std::uint8_t> frame, std::uint32_t pieces = 1, TxOffload off = {},
              std::uint32_t q = 0) {
    if (!setup_.ok()) return setup_;
    if (pieces == 0 || free_slots.size() < pieces) return Error::kNoMemory;
    std::vector<std::uint32_t> slots;
    std::vector<TxBuffer> bufs;
    std::size_t done = 0;
    for (std::uint32_t i = 0; i < pieces; ++i) {
      const std::size_t n = i + 1 == pieces ? frame.size() - done : frame.size() / pieces;
      if (n > kSlotBytes) {
        for (std::uint32_t s : slots) free_slots.push_back(s);
        return Error::kNoMemory;
      }
      const std::uint32_t s = free_slots.back();
      free_slots.pop_back();
      slots.push_back(s);
      std::copy(frame.begin() + static_cast<std::ptrdiff_t>(done),
                frame.begin() + static_cast<std::ptrdiff_t>(done + n), slot_cpu(s));
      bufs.push_back({slot_dma(s), static_cast<std::uint32_t>(n)});
      done += n;
    }
    const std::uint64_t cookie = next_cookie++;
    TxPacket p{bufs, off, cookie};
    const SendResult r = dev.tx(q).send(std::span<const TxPacket>(&p, 1));
    if (r.sent == 0) {
      for (std::uint32_t s : slots) free_slots.push_back(s);
    } else {
      in_flight[cookie] = std::move(slots);
    }
    return r.status;
  }

  // A completed cookie's buffers go back to the pool.
  void free_cookie(std::uint64_t cookie) {
    const auto it = in_flight.find(cookie);
    if (it == in_flight.end()) {
      ++cookie_errors_;
      return;
    }
    for (std::uint32_t s : it->second) free_slots.push_back(s);
    in_flight.erase(it);
  }
  std::uint32_t reclaim(std::uint32_t q = 0) {
    return dev.tx(q).reclaim([this](std::uint64_t c) { free_cookie(c); });
  }

  // Everything that arrived on Rx queue q, as byte vectors (and the packets' metadata);
  // each packet is released once copied.
  struct Received {
    std::vector<std::uint8_t> bytes;
    Packet meta;
  };
  std::vector<Received> collect(std::uint32_t q = 0, std::uint32_t budget = 64) {
    std::vector<Received> got;
    std::vector<Packet> batch(budget);
    // A short batch (the queue is empty) ends it; a device that never stops delivering
    // is stopped by the round budget.
    constexpr std::uint32_t kMaxRounds = 4096;
    for (std::uint32_t round = 0; round < kMaxRounds; ++round) {
      const std::uint32_t n = dev.rx(q).poll(batch);
      for (std::uint32_t i = 0; i < n; ++i) {
        got.push_back({bytes_of(batch[i]), batch[i]});
      }
      dev.rx(q).release(std::span<const Packet>(batch.data(), n));
      if (n < budget) break;
    }
    return got;
  }

 private:
  Status setup_ = ok_status();
  std::uint64_t cookie_errors_ = 0;
};

}  // namespace fbnic::mock::testing
