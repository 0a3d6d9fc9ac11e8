// A NIC on the device model for data-path tests: a mock::Device, host RAM, the library's
// Device over it, and a pool of Tx buffers, with helpers to send frames and collect
// what arrives.
#pragma once

#include <gtest/gtest.h>

#include <fbnic/fbnic.hpp>
#include <fbnic/mock/hosted.hpp>
#include <fbnic/mock/mock.hpp>

#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

namespace fbnic::test {

inline constexpr MacAddress kStation{{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}};

template <class Policy = DefaultPolicy, class ModelConfig = mock::DefaultConfig>
struct Nic {
  using Model = mock::Device<ModelConfig>;
  using Plat = mock::Platform<Model>;
  using Dev = fbnic::Device<Plat, Policy>;
  using Packet = typename Dev::Rx::Packet;
  static constexpr std::uint32_t kSlotBytes = 16 * 1024;

  Model model;
  mock::HostRam ram;
  Plat plat;
  Dev dev;
  DmaBuffer tx_mem{};
  std::uint32_t tx_slots = 0;
  std::vector<std::uint32_t> free_slots;
  std::unordered_map<std::uint64_t, std::vector<std::uint32_t>> in_flight;  // cookie -> slots
  std::uint64_t next_cookie = 1;

  explicit Nic(std::size_t ram_bytes = 96u << 20, std::uint32_t slots = 2048)
      : ram(ram_bytes), plat(model, ram.span()), dev(plat), tx_slots(slots) {
    auto mem = plat.dma_alloc(std::size_t{slots} * kSlotBytes, 4096);
    EXPECT_TRUE(mem.ok());
    tx_mem = mem.value();
    for (std::uint32_t i = slots; i-- > 0;) free_slots.push_back(i);
  }
  ~Nic() {
    dev.close().ignore();
    plat.dma_free(tx_mem);
  }

  Deadline in_us(std::uint64_t us) { return Deadline::after_us(plat.now_ns(), us); }

  DeviceConfig config() {
    DeviceConfig c;
    c.mac = kStation;
    c.link.training_ms = 0;
    return c;
  }
  // Opens with MAC loopback so that every frame sent comes back.
  void open_loopback(DeviceConfig c) {
    const Status st = dev.open(c);
    ASSERT_TRUE(st.ok()) << st.name();
    ASSERT_TRUE(dev.link().set_mac_loopback(true).ok());
    ASSERT_TRUE(dev.wait_link_up(in_us(1'000'000)).ok());
  }
  void open_loopback() { open_loopback(config()); }

  std::uint8_t* slot_cpu(std::uint32_t s) {
    return static_cast<std::uint8_t*>(tx_mem.cpu) + std::size_t{s} * kSlotBytes;
  }
  std::uint64_t slot_dma(std::uint32_t s) const {
    return tx_mem.device + std::uint64_t{s} * kSlotBytes;
  }

  // Sends one frame split into `pieces` buffers. Returns the send status.
  Status send(std::span<const std::uint8_t> frame, std::uint32_t pieces = 1, TxOffload off = {}) {
    if (free_slots.empty() || frame.size() > kSlotBytes * 4) return Error::kNoMemory;
    std::vector<std::uint32_t> slots;
    std::vector<TxBuffer> bufs;
    std::size_t done = 0;
    for (std::uint32_t i = 0; i < pieces; ++i) {
      const std::size_t n = i + 1 == pieces ? frame.size() - done : frame.size() / pieces;
      if (free_slots.empty() || n > kSlotBytes) return Error::kNoMemory;
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
    const SendResult r = dev.tx(0).send(std::span<const TxPacket>(&p, 1));
    if (r.sent == 0) {
      for (std::uint32_t s : slots) free_slots.push_back(s);
    } else {
      in_flight[cookie] = std::move(slots);
    }
    return r.status;
  }

  void free_cookie(std::uint64_t cookie) {
    const auto it = in_flight.find(cookie);
    ASSERT_NE(it, in_flight.end()) << "a cookie completed twice or never sent: " << cookie;
    for (std::uint32_t s : it->second) free_slots.push_back(s);
    in_flight.erase(it);
  }
  std::uint32_t reclaim(std::uint32_t q = 0) {
    return dev.tx(q).reclaim([this](std::uint64_t c) { free_cookie(c); });
  }

  // Everything that arrived on queue q, as byte vectors (and the packets' metadata).
  struct Received {
    std::vector<std::uint8_t> bytes;
    Packet meta;
  };
  std::vector<Received> collect(std::uint32_t q = 0, std::uint32_t budget = 64) {
    std::vector<Received> got;
    std::vector<Packet> batch(budget);
    for (;;) {
      const std::uint32_t n = dev.rx(q).poll(batch);
      for (std::uint32_t i = 0; i < n; ++i) {
        Received r;
        r.meta = batch[i];
        for (const RxFragment& f : batch[i].fragments())
          r.bytes.insert(r.bytes.end(), f.data, f.data + f.len);
        got.push_back(std::move(r));
      }
      dev.rx(q).release(std::span<const Packet>(batch.data(), n));
      if (n < budget) break;
    }
    return got;
  }
};

}  // namespace fbnic::test
