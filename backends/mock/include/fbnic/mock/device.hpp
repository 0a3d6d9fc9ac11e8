// Device: the fbnic device model.
//
// What a driver sees is the bus side: read32/write32 on BAR0 and BAR4 and MSI-X messages
// through an IrqSink. Behind it the model keeps the register file, the interrupt block
// and the DMA view of host memory, and reports every driver mistake it can detect in
// faults() instead of crashing.
//
// The model is clocked: nothing happens between calls. advance(ns) moves its clock and
// does everything due by then (firmware answers, queue engines, link training); run()
// is advance(0). Given the same calls it does the same thing.
#pragma once

#include <cstddef>
#include <cstdint>

#include "fbnic/mock/access_log.hpp"
#include "fbnic/mock/config.hpp"
#include "fbnic/mock/dma_space.hpp"
#include "fbnic/mock/fault.hpp"
#include "fbnic/mock/firmware.hpp"
#include "fbnic/mock/intr_block.hpp"
#include "fbnic/mock/irq.hpp"
#include "fbnic/mock/regfile.hpp"
#include "fbnic/platform/bar.hpp"
#include "fbnic/regs/pul.hpp"

namespace fbnic::mock {

template <class Config = DefaultConfig>
class Device {
 public:
  using Regs = RegFile<Config::kQueues>;
  using Dma = DmaSpace<Config::kDmaMappings>;
  using Faults = FaultLog<Config::kFaultLog>;
  using Accesses = AccessLog<Config::kAccessLog>;
  using Fw = Firmware<Device, Config::kFwOutbox>;

  Device() { reset(); }
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;

  // Power-on reset: registers to their reset values. Mappings and logs are kept.
  void reset() {
    regs_.reset();
    intr_.reset();
    fw_.reset();
  }

  // --- bus side ---
  std::uint32_t read32(Bar bar, std::uint32_t offset) {
    if (removed_) {
      ++dropped_accesses_;
      return 0xFFFF'FFFFu;
    }
    const std::uint32_t* w = regs_.word(bar, offset);
    const std::uint32_t value = w != nullptr ? *w : 0;
    if (w == nullptr) note_unmodelled(bar, offset);
    accesses_.record(bar, false, offset, value);
    return value;
  }

  void write32(Bar bar, std::uint32_t offset, std::uint32_t value) {
    if (removed_) {
      ++dropped_accesses_;
      return;
    }
    accesses_.record(bar, true, offset, value);
    if (bar == Bar::kCsr && intr_.write(offset, value)) return;
    if (std::uint32_t* w = regs_.word(bar, offset)) {
      *w = value;
    } else {
      note_unmodelled(bar, offset);
      return;
    }
    if (bar == Bar::kIpc) {
      fw_.on_ipc_write(offset, value);
    } else if (offset == regs::PulObTlpHdrArCfg::kOffset ||
               offset == regs::PulObTlpHdrAwCfg::kOffset) {
      fw_.on_pul_write(offset, value);
    }
  }

  void set_irq_sink(IrqSink sink) { intr_.set_sink(sink); }

  // --- host memory side: the device's DMA engines go through these ---
  enum class Direction : std::uint8_t { kRead, kWrite };  // device reads / writes host memory

  bool dma_read(std::uint64_t iova, void* dst, std::size_t len) {
    std::uint8_t* src = dma_target(iova, len, Direction::kRead);
    if (src == nullptr) return false;
    copy_bytes(dst, src, len);
    return true;
  }
  bool dma_write(std::uint64_t iova, const void* src, std::size_t len) {
    std::uint8_t* dst = dma_target(iova, len, Direction::kWrite);
    if (dst == nullptr) return false;
    copy_bytes(dst, src, len);
    return true;
  }

  // --- time ---
  [[nodiscard]] std::uint64_t now_ns() const { return now_ns_; }

  // Moves the clock forward by ns, doing each piece of work at its own time.
  void advance(std::uint64_t ns) {
    const std::uint64_t target = now_ns_ + ns;
    for (int step = 0; step < kMaxStepsPerAdvance; ++step) {
      run_due();
      const std::uint64_t next = next_event_ns();
      if (next <= now_ns_ || next > target) break;  // nothing new before the target
      now_ns_ = next;
    }
    now_ns_ = target;
    run_due();
  }
  void run() { advance(0); }

  // --- test controls and observation ---
  // Surprise removal: reads return all ones and writes vanish, as on a dead PCIe link.
  void set_removed(bool removed) { removed_ = removed; }
  [[nodiscard]] bool removed() const { return removed_; }

  [[nodiscard]] Regs& regs() { return regs_; }
  [[nodiscard]] Fw& firmware() { return fw_; }
  [[nodiscard]] IntrBlock<Regs>& intr() { return intr_; }
  [[nodiscard]] Dma& dma_space() { return dma_; }
  [[nodiscard]] Faults& faults() { return faults_; }
  [[nodiscard]] Accesses& access_log() { return accesses_; }
  [[nodiscard]] std::uint64_t dropped_accesses() const { return dropped_accesses_; }
  [[nodiscard]] std::uint64_t unmodelled_accesses() const { return unmodelled_; }
  [[nodiscard]] std::uint32_t last_unmodelled_offset() const { return last_unmodelled_; }

 private:
  static constexpr int kMaxStepsPerAdvance = 100'000;

  void run_due() { fw_.run(); }
  [[nodiscard]] std::uint64_t next_event_ns() const { return fw_.next_event_ns(); }

  std::uint8_t* dma_target(std::uint64_t iova, std::size_t len, Direction dir) {
    if (!bus_master_enabled(dir)) {
      faults_.record(Fault::kDmaBusMasterOff, iova, len);
      return nullptr;
    }
    std::uint8_t* p = dma_.translate(iova, len);
    if (p == nullptr) faults_.record(Fault::kDmaUnmapped, iova, len);
    return p;
  }

  // The PUL outbound registers gate each direction of device DMA.
  [[nodiscard]] bool bus_master_enabled(Direction dir) const {
    if (dir == Direction::kRead) {
      return regs_.template get<regs::PulObTlpHdrArCfg>().get(regs::PulObTlpHdrArCfg::kBme) != 0;
    }
    return regs_.template get<regs::PulObTlpHdrAwCfg>().get(regs::PulObTlpHdrAwCfg::kBme) != 0;
  }

  void note_unmodelled(Bar bar, std::uint32_t offset) {
    ++unmodelled_;
    last_unmodelled_ = offset | (bar == Bar::kIpc ? 0x8000'0000u : 0);
  }

  Regs regs_{};
  IntrBlock<Regs> intr_{regs_};
  Dma dma_{};
  Faults faults_{};
  Accesses accesses_{};
  Fw fw_{*this};
  std::uint64_t now_ns_ = 0;
  bool removed_ = false;
  std::uint64_t dropped_accesses_ = 0;
  std::uint64_t unmodelled_ = 0;
  std::uint32_t last_unmodelled_ = 0;
};

}  // namespace fbnic::mock
