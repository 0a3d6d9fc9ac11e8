// Device: the fbnic device model.
//
// What a driver sees is the bus side: read32/write32 on BAR0 and BAR4 and MSI-X messages
// through an IrqSink. Behind it the model keeps the register file, the interrupt block,
// the DMA view of host memory, the firmware, the queue engines, the MAC/PCS, the Rx
// classifier, and a wire to other devices. It reports every driver mistake it can detect
// in faults() instead of crashing.
//
// The model is clocked: nothing happens between calls. advance(ns) moves its clock and
// does everything due by then (firmware answers, queue engines, link training,
// interrupt moderation); run() is advance(0). Given the same calls it does the same thing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "fbnic/mock/access_log.hpp"
#include "fbnic/mock/config.hpp"
#include "fbnic/mock/dma_space.hpp"
#include "fbnic/mock/fault.hpp"
#include "fbnic/mock/firmware.hpp"
#include "fbnic/mock/frame.hpp"
#include "fbnic/mock/frame_queue.hpp"
#include "fbnic/mock/hostile.hpp"
#include "fbnic/mock/intr_block.hpp"
#include "fbnic/mock/irq.hpp"
#include "fbnic/mock/mac_model.hpp"
#include "fbnic/mock/queue_engine.hpp"
#include "fbnic/mock/regfile.hpp"
#include "fbnic/mock/rpc_model.hpp"
#include "fbnic/mock/wire.hpp"
#include "fbnic/platform/bar.hpp"
#include "fbnic/regs/mac.hpp"
#include "fbnic/regs/pul.hpp"
#include "fbnic/regs/rxb.hpp"

namespace fbnic::mock {

// Every DMA the device's engines attempt while it is on the bus (those refused for bus
// mastering off included): what a test reads to show that a stopped device stayed quiet.
struct DmaCounters {
  std::uint64_t reads = 0;   // the device reads host memory
  std::uint64_t writes = 0;  // the device writes host memory
};

struct DeviceCounters {
  std::uint64_t rx_fifo_drops = 0;       // no room in the Rx FIFO
  std::uint64_t rx_classified_drop = 0;  // the classifier's verdict (including "no match")
  std::uint64_t rx_rpc_disabled = 0;     // arrived while RPC_RMI_CONFIG.ENABLE was off
  std::uint64_t rx_to_bmc = 0;           // for the BMC
  std::uint64_t rx_queue_drops = 0;      // the queue was off or out of buffers
  std::uint64_t dma_reads = 0;           // device reads of host memory that happened
  std::uint64_t dma_writes = 0;          // device writes to host memory that happened
};

template <class Config = DefaultConfig>
class Device {
 public:
  using Regs = RegFile<Config::kQueues>;
  using Dma = DmaSpace<Config::kDmaMappings>;
  using Faults = FaultLog<Config::kFaultLog>;
  using Accesses = AccessLog<Config::kAccessLog>;
  using Fw = Firmware<Device, Config::kFwOutbox>;
  using Intr = IntrBlock<Regs>;
  using Mac = MacModel<Regs, Intr>;
  using Queues = QueueEngine<Device, Config::kQueues>;
  using Rpc = RpcModel<Regs>;

  Device() { reset(); }
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;

  // Power-on reset: registers to their reset values. Mappings and logs are kept.
  void reset() {
    regs_.reset();
    intr_.reset();
    fw_.reset();
    mac_.reset();
    queues_.reset();
    rxb_.clear();
    rxb_dropping_ = false;
    regs_.put(regs::SigPcsIntrMask::from_raw(0xFFFF'FFFFu));
    // The MAC's frame length limit, as the firmware sets it at boot.
    regs_.put(regs::MacFrmLength::from_raw(kMaxFrameBytes));
    refresh_mode();
  }

  // --- bus side ---
  std::uint32_t read32(Bar bar, std::uint32_t offset) {
    vanish_if_due();
    if (removed_) {
      ++dropped_accesses_;
      return 0xFFFF'FFFFu;
    }
    std::uint32_t value = 0;
    if (const auto computed = bar == Bar::kCsr ? computed_read(offset) : std::nullopt) {
      value = *computed;
    } else if (const std::uint32_t* w = regs_.word(bar, offset)) {
      value = *w;
    } else {
      note_unmodelled(bar, offset);
    }
    for (const StuckBits& s : hostile_.stuck) value = s.apply(bar, offset, value);
    accesses_.record(bar, false, offset, value);
    return value;
  }

  void write32(Bar bar, std::uint32_t offset, std::uint32_t value) {
    vanish_if_due();
    if (removed_) {
      ++dropped_accesses_;
      return;
    }
    accesses_.record(bar, true, offset, value);
    if (bar == Bar::kCsr &&
        (intr_.write(offset, value) || queues_.write(offset, value) || mac_.write(offset, value))) {
      return;
    }
    std::uint32_t* w = regs_.word(bar, offset);
    if (w == nullptr) {
      note_unmodelled(bar, offset);
      return;
    }
    *w = value;
    if (bar == Bar::kIpc) {
      fw_.on_ipc_write(offset, value);
    } else if (offset == regs::PulObTlpHdrArCfg::kOffset ||
               offset == regs::PulObTlpHdrAwCfg::kOffset) {
      fw_.on_pul_write(offset, value);
    }
  }

  void set_irq_sink(IrqSink sink) { intr_.set_sink(sink); }

  // --- the wire ---
  // Where this port's cable goes: a sink for its frames and the far end's link mode.
  void plug(FarEnd far) { mac_.plug(far); }
  void unplug() { mac_.unplug(); }
  // Two devices, back to back. Each keeps pointers into the other: unplug both before
  // either is destroyed.
  static void cable(Device& a, Device& b) {
    a.plug({b.wire_sink(), &b.mode_});
    b.plug({a.wire_sink(), &a.mode_});
  }
  // Frames arriving from the wire enter here.
  [[nodiscard]] FrameSink wire_sink() {
    return {
        [](void* ctx, std::span<const std::uint8_t> f) { static_cast<Device*>(ctx)->receive(f); },
        this};
  }
  // Sees every frame this port puts on the wire (or loops back).
  void set_tap(FrameSink tap) { tap_ = tap; }
  // Sees every frame the classifier sends to the BMC.
  void set_bmc(FrameSink bmc) { bmc_ = bmc; }
  [[nodiscard]] const LinkMode& mode() const { return mode_; }

  void receive(std::span<const std::uint8_t> frame) {
    if (!mac_.accept(frame)) return;
    using namespace regs;
    bump(RxbDrboFrmCntSrc::at(kRxbEnqueueNetwork));
    add64(RxbDrboByteCntSrc::at(kRxbEnqueueNetwork), frame.size());
    if (rxb_.push(frame)) {
      rxb_dropping_ = false;
    } else {
      // The model's FIFO drops when it is full: that is its drop state.
      ++counters_.rx_fifo_drops;
      bump(RxbDropFrmsSts::at(kRxbFifoNetToHost));
      add64(RxbDropBytesSts::at(kRxbFifoNetToHost), frame.size());
      if (!rxb_dropping_) bump(RxbTransDropSts::at(kRxbFifoNetToHost));
      rxb_dropping_ = true;
    }
    // The Rx DMA engine drains the FIFO while frames arrive, so it fills only when the
    // host has no buffers or a never-drop queue holds it, not because a burst came in
    // between two of the model's steps.
    run_rx();
    // The PAUSE decision follows each arriving frame, so a sender hears it before its
    // next frame (the model's wire has no propagation delay).
    flow_control();
  }
  // True while a PAUSE from the far end holds this port's transmitter.
  [[nodiscard]] bool tx_paused() const { return mac_.paused(now_ns_); }
  // Called by the Tx engine for each frame that leaves a queue.
  void transmit_frame(std::span<const std::uint8_t> frame) {
    std::span<const std::uint8_t> out = frame;
    // TX_PAD_EN: the MAC pads runts to the 60-byte minimum.
    if (frame.size() < 60 &&
        regs_.template get<regs::MacCommandConfig>().get(regs::MacCommandConfig::kTxPadEn) != 0) {
      copy_bytes(pad_.data(), frame.data(), frame.size());
      fill_bytes(pad_.data() + frame.size(), 0, 60 - frame.size());
      out = std::span<const std::uint8_t>(pad_.data(), 60);
    }
    const auto r = mac_.transmit(out);
    if (r == Mac::TxResult::kDropped) return;
    tap_(out);
    if (r == Mac::TxResult::kLoopback) receive(out);
  }

  // --- host memory side: the device's DMA engines go through these ---
  enum class Direction : std::uint8_t { kRead, kWrite };  // device reads / writes host memory

  bool dma_read(std::uint64_t iova, void* dst, std::size_t len) {
    std::uint8_t* src = dma_target(iova, len, Direction::kRead);
    if (src == nullptr) return false;
    copy_bytes(dst, src, len);
    ++counters_.dma_reads;
    return true;
  }
  bool dma_write(std::uint64_t iova, const void* src, std::size_t len) {
    std::uint8_t* dst = dma_target(iova, len, Direction::kWrite);
    if (dst == nullptr) return false;
    copy_bytes(dst, src, len);
    ++counters_.dma_writes;
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

  // When the model next has work of its own (firmware answer, link training, a timer); a
  // host that drives the clock in real time sleeps until then.
  [[nodiscard]] std::uint64_t next_event_ns() const {
    std::uint64_t t = fw_.next_event_ns();
    const std::uint64_t m = mac_.next_event_ns();
    const std::uint64_t q = queues_.next_event_ns();
    t = m < t ? m : t;
    t = q < t ? q : t;
    // A paused transmitter resumes on its own.
    if (mac_.paused(now_ns_) && queues_.tx_backlog() && mac_.paused_until() < t)
      t = mac_.paused_until();
    return t;
  }

  // --- test controls and observation ---
  // Surprise removal: reads return all ones and writes vanish, as on a dead PCIe link.
  void set_removed(bool removed) { removed_ = removed; }
  [[nodiscard]] bool removed() const { return removed_; }
  // The hostile mode (hostile.hpp): off until a test or fuzzer turns a fault on.
  [[nodiscard]] Hostility& hostile() { return hostile_; }

  [[nodiscard]] Regs& regs() { return regs_; }
  [[nodiscard]] Intr& intr() { return intr_; }
  [[nodiscard]] Fw& firmware() { return fw_; }
  [[nodiscard]] Mac& mac() { return mac_; }
  [[nodiscard]] Queues& queues() { return queues_; }
  [[nodiscard]] const Rpc& rpc() const { return rpc_; }
  [[nodiscard]] Dma& dma_space() { return dma_; }
  [[nodiscard]] Faults& faults() { return faults_; }
  [[nodiscard]] Accesses& access_log() { return accesses_; }
  [[nodiscard]] const DeviceCounters& counters() const { return counters_; }
  [[nodiscard]] const DmaCounters& dma_counters() const { return dma_counters_; }
  [[nodiscard]] std::uint64_t dropped_accesses() const { return dropped_accesses_; }
  [[nodiscard]] std::uint64_t unmodelled_accesses() const { return unmodelled_; }
  [[nodiscard]] std::uint32_t last_unmodelled_offset() const { return last_unmodelled_; }

 private:
  static constexpr int kMaxStepsPerAdvance = 100'000;

  void vanish_if_due() {
    if (hostile_.remove_after != 0 && --hostile_.remove_after == 0) removed_ = true;
  }

  std::optional<std::uint32_t> computed_read(std::uint32_t offset) {
    if (auto v = queues_.read(offset)) return v;
    // The host FIFO's fill level, in 64-byte units like its thresholds.
    if (offset == regs::RxbPbufFifoLevel::at(regs::kRxbFifoNetToHost).offset) {
      return static_cast<std::uint32_t>((rxb_.bytes_used() + 63) / 64);
    }
    return mac_.read(offset);
  }

  void run_due() {
    refresh_mode();
    mac_.update(now_ns_);
    fw_.run();
    queues_.run_tx();
    queues_.run_hostile();
    run_rx();
    flow_control();
    queues_.run_timers(now_ns_);
  }

  // PAUSE generation: XOFF when the host FIFO fills past its pause threshold (and pause
  // is enabled for it), XON once it drains below the release level.
  void flow_control() {
    using T = regs::RxbPauseThld;
    constexpr std::uint32_t fifo = regs::kRxbFifoNetToHost;
    const auto ctrl = regs_.template get<regs::RxbPauseDropCtrl>();
    const bool enabled = (ctrl.get(regs::RxbPauseDropCtrl::kPauseEnable) & (1u << fifo)) != 0;
    const auto thld = regs_.get(T::at(fifo));
    const std::size_t used = rxb_.bytes_used() / 64;
    if (enabled && thld.get(T::kOn) != 0 && used >= thld.get(T::kOn) &&
        (!pausing_ || now_ns_ >= pause_refresh_at_)) {
      // XOFF, renewed before the far end's pause time (0xFFFF quanta) runs out.
      pausing_ = true;
      mac_.send_pause(0xFFFF, MacAddress{});
      pause_refresh_at_ = now_ns_ + kPauseRefreshNs;
    } else if (pausing_ && (!enabled || used <= thld.get(T::kOff))) {
      pausing_ = false;
      mac_.send_pause(0, MacAddress{});  // XON
    }
  }

  // The firmware owns the PHY: the port runs the mode it reports, and it drives the PCS
  // mode signals to match.
  void refresh_mode() {
    const auto& caps = fw_.config().caps;
    const LinkMode m{caps.link_speed, caps.link_fec};
    if (m == mode_ && mode_set_) return;
    mode_ = m;
    mode_set_ = true;
    mac_.set_mode(m);
    using S = fw::LinkSpeed;
    using F = fw::LinkFec;
    auto in0 = regs::SigPcsIn0{};
    switch (static_cast<S>(m.speed)) {
      case S::k25gR1:
        in0.set(regs::SigPcsIn0::kPacer10g, 1);
        if (static_cast<F>(m.fec) == F::kRs) in0.set(regs::SigPcsIn0::kF91OneLane, 1);
        break;
      case S::k50gR1: in0.set(regs::SigPcsIn0::kSd8x, 1); break;
      case S::k100gR2:
        in0.set(regs::SigPcsIn0::kSd8x, 1).set(regs::SigPcsIn0::kPcs100Ena, 1);
        break;
      default: break;
    }
    auto in1 = regs::SigPcsIn1{};
    if (static_cast<F>(m.fec) == F::kRs) in1.set(regs::SigPcsIn1::kF91Ena, 1);
    if (static_cast<F>(m.fec) == F::kBaseR) in1.set(regs::SigPcsIn1::kFecEna, 1);
    regs_.put(in0);
    regs_.put(in1);
  }

  // The Rx FIFO drains through the classifier into the queues. A queue in never-drop mode
  // that has no room holds the FIFO (back-pressure); a frame is counted (parser,
  // classifier, Rx buffer out) once, when it leaves the FIFO.
  void run_rx() {
    using D = Classification::Dest;
    // Each round takes a frame out of the FIFO or returns: bounded by its content.
    while (!rxb_.empty()) {
      const std::size_t len = rxb_.front(frame_);
      const std::span<const std::uint8_t> f(frame_.data(), len);
      if (!rpc_.enabled()) {
        ++counters_.rx_rpc_disabled;
        rxb_.pop();
        continue;
      }
      const FrameInfo fi = parse_frame(f);
      const Classification c = rpc_.classify(f, fi);
      if (c.dest == D::kHost || c.dest == D::kHostAndBmc) {
        const RxOutcome out = queues_.receive(c.queue, f, fi, c);
        if (out == RxOutcome::kWait) return;
        if (out == RxOutcome::kDropped) ++counters_.rx_queue_drops;
        count_out(regs::kRxbDequeueHost, len);
      }
      if (c.dest == D::kBmc || c.dest == D::kHostAndBmc) {
        ++counters_.rx_to_bmc;
        bmc_(f);
        count_out(regs::kRxbDequeueBmc, len);
      }
      if (c.dest == D::kDrop) ++counters_.rx_classified_drop;
      rpc_.count(fi, c);
      if (fi.parse_error) bump(regs::RxbParserErr::at(regs::kRxbEnqueueNetwork));
      rxb_.pop();
    }
  }
  void count_out(std::uint32_t intf, std::size_t bytes) {
    using namespace regs;
    bump(RxbIntfFrmCntDst::at(intf));
    add64(RxbIntfByteCntDst::at(intf), bytes);
    bump(RxbPbufFrmCntDst::at(intf));
    add64(RxbPbufByteCntDst::at(intf), bytes);
  }

  std::uint8_t* dma_target(std::uint64_t iova, std::size_t len, Direction dir) {
    if (removed_) return nullptr;  // a device that is gone reaches nothing
    ++(dir == Direction::kRead ? dma_counters_.reads : dma_counters_.writes);
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

  template <class R>
  void bump(regs::RegAddr<R> a) {
    if (std::uint32_t* w = regs_.word(R::kBar, a.offset)) ++*w;
  }
  // A split 64-bit counter (low at a, high at R::high(a)).
  template <class R>
  void add64(regs::RegAddr<R> a, std::uint64_t n) {
    std::uint32_t* lo = regs_.word(R::kBar, a.offset);
    std::uint32_t* hi = regs_.word(R::kBar, R::high(a).offset);
    if (lo == nullptr || hi == nullptr) return;
    const std::uint64_t v = ((std::uint64_t{*hi} << 32) | *lo) + n;
    *lo = static_cast<std::uint32_t>(v);
    *hi = static_cast<std::uint32_t>(v >> 32);
  }

  Regs regs_{};
  Intr intr_{regs_};
  Dma dma_{};
  Faults faults_{};
  Accesses accesses_{};
  Fw fw_{*this};
  Mac mac_{regs_, intr_};
  Queues queues_{*this};
  Rpc rpc_{regs_};
  FrameQueue<Config::kRxbBytes, Config::kRxbFrames> rxb_{};
  LinkMode mode_{};
  bool mode_set_ = false;
  bool pausing_ = false;
  bool rxb_dropping_ = false;  // the last frame into the host FIFO was dropped
  std::uint64_t pause_refresh_at_ = 0;
  // Shorter than 0xFFFF quanta at the fastest mode (100G: 335 us).
  static constexpr std::uint64_t kPauseRefreshNs = 200'000;
  FrameSink tap_{};
  FrameSink bmc_{};
  DeviceCounters counters_{};
  DmaCounters dma_counters_{};
  std::array<std::uint8_t, kMaxFrameBytes + 256> frame_{};
  std::array<std::uint8_t, 64> pad_{};
  std::uint64_t now_ns_ = 0;
  bool removed_ = false;
  Hostility hostile_{};
  std::uint64_t dropped_accesses_ = 0;
  std::uint64_t unmodelled_ = 0;
  std::uint32_t last_unmodelled_ = 0;
};

}  // namespace fbnic::mock
