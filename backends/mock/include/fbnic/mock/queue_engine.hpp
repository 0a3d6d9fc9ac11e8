// The queue engines: Tx (TWQ fetch, offloads, completions) and Rx (buffer placement,
// completions) for every modelled queue, with interrupt moderation.
//
// Tx: from the TWQ head to the tail doorbell the engine reads a packet's descriptors
// (META, then ALs up to LAST_AL) by DMA, gathers the buffers, applies checksum or
// segmentation offload, hands the frame(s) to the MAC, and, when META asks for it,
// writes a TCD whose HEAD0 is the next descriptor to fetch. A full TCQ stalls the queue.
//
// Rx: a frame the classifier sends to queue q is split into header and payload, placed
// into the open header buffer (packing several frames per 4 KiB buffer) and fresh
// payload buffers, and described by HDR_AL, PAY_AL..., META completions. No buffer or no
// completion room: dropped and counted, or (never-drop mode) left waiting.
//
// Driver mistakes are Faults: descriptors outside mapped memory, doorbells beyond the
// ring or on a disabled queue, a buffer posted again while the device owns it.
//
// In hostile mode (hostile.hpp) completions may carry random fields, come twice, repeat
// old ones, or keep coming after the queue was turned off; the Tx engine may stall and the
// queues may never report idle.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "fbnic/base/bytes.hpp"
#include "fbnic/desc/bd.hpp"
#include "fbnic/desc/rcd.hpp"
#include "fbnic/desc/tcd.hpp"
#include "fbnic/desc/twd.hpp"
#include "fbnic/mock/addr_set.hpp"
#include "fbnic/mock/checksum.hpp"
#include "fbnic/mock/fault.hpp"
#include "fbnic/mock/frame.hpp"
#include "fbnic/mock/hostile.hpp"
#include "fbnic/mock/rpc_model.hpp"
#include "fbnic/regs/intr.hpp"
#include "fbnic/regs/qm.hpp"
#include "fbnic/regs/queue.hpp"
#include "fbnic/regs/rpc.hpp"
#include "fbnic/regs/tce.hpp"

namespace fbnic::mock {

inline constexpr std::uint32_t kMaxFrameBytes = 9742;       // the largest frame on the wire
inline constexpr std::uint32_t kMaxTxPacket = 65535 + 256;  // a TSO packet with headers

struct QueueCounters {
  std::uint64_t tx_frames = 0;   // frames handed to the MAC (after segmentation)
  std::uint64_t tx_packets = 0;  // packets fetched from TWQs
  std::uint64_t tx_completions = 0;
  std::uint64_t tx_tmi_drops = 0;  // packets dropped at the MAC interface (TMI_DROP_CTRL)
  std::uint64_t rx_frames = 0;
  std::uint64_t rx_no_buffer = 0;
  std::uint64_t rx_no_completion_room = 0;
};

enum class RxOutcome : std::uint8_t { kDelivered, kDropped, kWait };

template <class DeviceT, std::uint32_t Queues>
class QueueEngine {
 public:
  explicit QueueEngine(DeviceT& dev) : dev_(dev) {}

  void reset() {
    for (auto& t : tx_) t = {};
    for (auto& r : rx_) r = RxQ{};
    counters_ = {};
    tmi_drop_ = false;
  }

  [[nodiscard]] const QueueCounters& counters() const { return counters_; }

  // --- registers ---

  // Queue-block writes with side effects. True when the engine took the write (it then
  // stores what the hardware would).
  bool write(std::uint32_t offset, std::uint32_t value) {
    if (offset == regs::TmiDropCtrl::kOffset) {
      const bool on = regs::TmiDropCtrl::from_raw(value).get(regs::TmiDropCtrl::kEnable) != 0;
      if (on && !tmi_drop_) tmi_drop_at_ = dev_.now_ns() + kTmiDropNs;
      tmi_drop_ = on;
      return false;  // stored as written
    }
    const std::uint32_t first = regs::Twq0Ctl::at(0).offset;
    if (offset < first) return false;
    const std::uint32_t q = (offset - first) / (regs::kQueueStrideWords * 4);
    if (q >= Queues) return false;
    auto& r = dev_.regs();
    auto store = [&](auto addr) { r.put(addr, decltype(r.get(addr))::from_raw(value)); };

    if (offset == regs::Twq0Tail::at(q).offset) {
      if (!tail_ok(q, value, ring_entries(r.get(regs::Twq0Size::at(q)).get(regs::Twq0Size::kLog2)),
                   twq_enabled(q))) {
        return true;
      }
      store(regs::Twq0Tail::at(q));
      return true;
    }
    if (offset == regs::TcqHead::at(q).offset) {
      if (value >= tcq_entries(q)) {
        dev_.faults().record(Fault::kDoorbellBeyondRing, q, value);
        return true;
      }
      store(regs::TcqHead::at(q));
      const CompletionFaults& tx = dev_.hostile().tx;
      if (tcq_enabled(q) ? tx.repeat : tx.ignore_disable) {
        keep_completing(tx_[q].hist, base(regs::TcqBal::at(q)), tcq_entries(q), tx_[q].tcq_tail,
                        value);
      }
      return true;
    }
    if (offset == regs::RcqHead::at(q).offset) {
      if (value >= rcq_entries(q)) {
        dev_.faults().record(Fault::kDoorbellBeyondRing, q, value);
        return true;
      }
      store(regs::RcqHead::at(q));
      const CompletionFaults& rx = dev_.hostile().rx;
      if (rcq_enabled(q) ? rx.repeat : rx.ignore_disable) {
        keep_completing(rx_[q].hist, base(regs::RcqBal::at(q)), rcq_entries(q), rx_[q].rcq_tail,
                        value);
      }
      return true;
    }
    if (offset == regs::BdqHpqTail::at(q).offset || offset == regs::BdqPpqTail::at(q).offset) {
      const bool hpq = offset == regs::BdqHpqTail::at(q).offset;
      post_buffers(q, hpq, value);
      return true;
    }
    if (offset == regs::Twq0Ctl::at(q).offset) {
      store(regs::Twq0Ctl::at(q));
      if (regs::Twq0Ctl::from_raw(value).get(regs::Twq0Ctl::kReset) != 0) {
        tx_[q].head = 0;
        r.put(regs::Twq0Tail::at(q), regs::Twq0Tail{});
      }
      if (twq_enabled(q)) check_base(q, regs::Twq0Bal::at(q));
      return true;
    }
    if (offset == regs::TcqCtl::at(q).offset) {
      store(regs::TcqCtl::at(q));
      if (regs::TcqCtl::from_raw(value).get(regs::TcqCtl::kReset) != 0) {
        tx_[q].tcq_tail = 0;
        tx_[q].pending = 0;
        r.put(regs::TcqHead::at(q), regs::TcqHead{});
      }
      return true;
    }
    if (offset == regs::RcqCtl::at(q).offset) {
      store(regs::RcqCtl::at(q));
      if (regs::RcqCtl::from_raw(value).get(regs::RcqCtl::kReset) != 0) {
        rx_[q].rcq_tail = 0;
        rx_[q].pending = 0;
        r.put(regs::RcqHead::at(q), regs::RcqHead{});
      }
      return true;
    }
    if (offset == regs::BdqCtl::at(q).offset) {
      store(regs::BdqCtl::at(q));
      if (regs::BdqCtl::from_raw(value).get(regs::BdqCtl::kReset) != 0) {
        rx_[q].hpq.reset();
        rx_[q].ppq.reset();
        r.put(regs::BdqHpqTail::at(q), regs::BdqHpqTail{});
        r.put(regs::BdqPpqTail::at(q), regs::BdqPpqTail{});
      }
      return true;
    }
    return false;
  }

  // Registers whose value the hardware computes.
  std::optional<std::uint32_t> read(std::uint32_t offset) const {
    const bool never_idle = dev_.hostile().never_idle;
    for (std::uint32_t n = 0; n < 8; ++n) {
      if (offset == regs::QmTwqIdle::at(n).offset || offset == regs::QmTqsIdle::at(n).offset ||
          offset == regs::QmTdeIdle::at(n).offset) {
        return never_idle ? 0 : tx_idle_bits(n);
      }
      if (n < 4 &&
          (offset == regs::QmTcqIdle::at(n).offset || offset == regs::QmRcqIdle::at(n).offset ||
           offset == regs::QmHpqIdle::at(n).offset || offset == regs::QmPpqIdle::at(n).offset)) {
        if (never_idle) return 0;
        return offset == regs::QmTcqIdle::at(n).offset ? tx_idle_bits(n) : 0xFFFF'FFFFu;
      }
    }
    const std::uint32_t base = regs::Twq0Ctl::at(0).offset;
    if (offset < base) return std::nullopt;
    const std::uint32_t q = (offset - base) / (regs::kQueueStrideWords * 4);
    if (q >= Queues) return std::nullopt;
    if (offset == regs::Twq0Ptrs::at(q).offset) {
      return regs::Twq0Ptrs{}.set(regs::Twq0Ptrs::kHead, tx_[q].head).raw();
    }
    if (offset == regs::TcqPtrs::at(q).offset) {
      return regs::TcqPtrs{}
          .set(regs::TcqPtrs::kTail, tx_[q].tcq_tail & (tcq_entries(q) - 1))
          .raw();
    }
    if (offset == regs::RcqPtrs::at(q).offset) {
      return regs::RcqPtrs{}
          .set(regs::RcqPtrs::kHead, dev_.regs().get(regs::RcqHead::at(q)).raw() & 0xFFFF)
          .set(regs::RcqPtrs::kTail, rx_[q].rcq_tail & (rcq_entries(q) - 1))
          .raw();
    }
    return std::nullopt;
  }

  // --- work ---

  void run_tx() {
    for (std::uint32_t q = 0; q < Queues; ++q) run_tx_queue(q);
  }

  // A hostile device's completions out of nowhere: at each step, with the stale rate, an
  // old completion into the next free slot of every enabled completion queue.
  void run_hostile() {
    const Hostility& h = dev_.hostile();
    if (h.tx.stale == 0 && h.rx.stale == 0) return;
    Entropy& e = dev_.hostile().entropy;
    for (std::uint32_t q = 0; q < Queues; ++q) {
      const std::uint32_t tcq_head = dev_.regs().get(regs::TcqHead::at(q)).raw();
      if (tcq_enabled(q) && room(tcq_entries(q), tx_[q].tcq_tail, tcq_head) > 0 &&
          e.chance(h.tx.stale)) {
        put_completion(base(regs::TcqBal::at(q)), tcq_entries(q), tx_[q].tcq_tail,
                       tx_[q].hist.pick(e));
      }
      const std::uint32_t rcq_head = dev_.regs().get(regs::RcqHead::at(q)).raw();
      if (rcq_enabled(q) && room(rcq_entries(q), rx_[q].rcq_tail, rcq_head) > 0 &&
          e.chance(h.rx.stale)) {
        put_completion(base(regs::RcqBal::at(q)), rcq_entries(q), rx_[q].rcq_tail,
                       rx_[q].hist.pick(e));
      }
    }
  }

  // Places a classified frame into queue q.
  RxOutcome receive(std::uint32_t q, std::span<const std::uint8_t> frame, const FrameInfo& fi,
                    const Classification& cls) {
    if (q >= Queues || !rx_ready(q)) return RxOutcome::kDropped;
    return place(q, frame, fi, cls);
  }

  // Interrupts whose coalescing time has come.
  void run_timers(std::uint64_t now) {
    for (std::uint32_t q = 0; q < Queues; ++q) {
      fire_if_due(q, tx_[q].pending, tx_[q].fire_at, now, regs::TimMask::at(q).offset,
                  tim_vector(q));
      fire_if_due(q, rx_[q].pending, rx_[q].fire_at, now, regs::RimMask::at(q).offset,
                  rim_vector(q));
    }
  }
  [[nodiscard]] std::uint64_t next_event_ns() const {
    std::uint64_t t = ~std::uint64_t{0};
    for (std::uint32_t q = 0; q < Queues; ++q) {
      if (tx_[q].pending != 0 && tx_[q].fire_at < t) t = tx_[q].fire_at;
      if (rx_[q].pending != 0 && rx_[q].fire_at < t) t = rx_[q].fire_at;
      if (tx_[q].held != 0 && tmi_drop_ && tmi_drop_at_ < t) t = tmi_drop_at_;
    }
    return t;
  }
  // True when the 4 KiB buffer holding dma_addr was posted to queue q's HPQ or PPQ since
  // its BDQ was last reset (a doorbell named it, taken or refused): the most an Rx
  // completion, even a lying one, may make a host read.
  [[nodiscard]] bool was_posted(std::uint32_t q, std::uint64_t dma_addr) const {
    if (q >= Queues) return false;
    const std::uint64_t page = dma_addr & ~std::uint64_t{desc::kRxBufferBytes - 1};
    return rx_[q].hpq.posted.contains(page) || rx_[q].ppq.posted.contains(page);
  }
  // Descriptors the Tx engine has fetched from queue q (free-running).
  [[nodiscard]] std::uint64_t tx_fetched(std::uint32_t q) const {
    return q < Queues ? tx_[q].fetched : 0;
  }

  // True when some TWQ has descriptors the engine has not fetched (e.g. a stalled TCQ).
  [[nodiscard]] bool tx_backlog() const {
    for (std::uint32_t q = 0; q < Queues; ++q) {
      if (twq_enabled(q) && tx_[q].head != twq_tail(q)) return true;
    }
    return false;
  }

 private:
  // The last completions a queue wrote, for a hostile device to repeat.
  struct History {
    std::array<std::uint64_t, 8> raw{};
    std::uint32_t count = 0;
    void push(std::uint64_t v) { raw[count++ % raw.size()] = v; }
    std::uint32_t replayed = 0;
    [[nodiscard]] std::uint32_t kept() const {
      return count < raw.size() ? count : static_cast<std::uint32_t>(raw.size());
    }
    // One of the kept completions, at random.
    std::uint64_t pick(Entropy& e) const {
      const std::uint32_t n = kept();
      return n == 0 ? e.u64() : raw[(count - 1 - e.below(n)) % raw.size()];
    }
    // The kept completions from the oldest on, round and round.
    std::uint64_t replay() {
      const std::uint32_t n = kept();
      if (n == 0) return 0;
      return raw[(count - n + replayed++ % n) % raw.size()];
    }
  };
  struct TxQ {
    std::uint32_t head = 0;      // next descriptor to fetch (masked)
    std::uint32_t tcq_tail = 0;  // completions written (free-running)
    std::uint32_t pending = 0;   // completions since the last interrupt
    std::uint64_t fire_at = 0;
    std::uint64_t fetched = 0;  // descriptors fetched (free-running)
    // A packet fetched that the MAC has not taken (Hostility::mac_stuck): its descriptors
    // from head, and whether it asked for a completion.
    std::uint32_t held = 0;
    bool held_completion = false;
    History hist;
  };
  struct BufQ {
    std::uint32_t head = 0;  // BDs taken (free-running)
    bool open = false;       // a buffer partly filled
    std::uint64_t addr = 0;
    std::uint16_t id = 0;
    std::uint32_t next_off = 0;
    AddrSet<1024> owned;         // buffers posted and not yet finished
    AddrSet<1024> posted;        // every buffer posted since the last reset
    std::uint32_t doorbell = 0;  // the host's last tail doorbell, taken or refused
    void reset() {
      head = 0;
      open = false;
      next_off = 0;
      doorbell = 0;
      owned.clear();
      posted.clear();
    }
  };
  struct RxQ {
    BufQ hpq;
    BufQ ppq;
    std::uint32_t rcq_tail = 0;  // completions written (free-running)
    std::uint32_t pending = 0;
    std::uint64_t fire_at = 0;
    History hist;
  };

  static std::uint32_t ring_entries(std::uint32_t log2) { return log2 == 0 ? 65536u : 1u << log2; }
  std::uint32_t twq_entries(std::uint32_t q) const {
    return ring_entries(dev_.regs().get(regs::Twq0Size::at(q)).get(regs::Twq0Size::kLog2));
  }
  std::uint32_t tcq_entries(std::uint32_t q) const {
    return ring_entries(dev_.regs().get(regs::TcqSize::at(q)).get(regs::TcqSize::kLog2));
  }
  std::uint32_t rcq_entries(std::uint32_t q) const {
    return ring_entries(dev_.regs().get(regs::RcqSize::at(q)).get(regs::RcqSize::kLog2));
  }
  std::uint32_t bdq_entries(std::uint32_t q, bool hpq) const {
    return ring_entries(
        hpq ? dev_.regs().get(regs::BdqHpqSize::at(q)).get(regs::BdqHpqSize::kLog2)
            : dev_.regs().get(regs::BdqPpqSize::at(q)).get(regs::BdqPpqSize::kLog2));
  }
  bool twq_enabled(std::uint32_t q) const {
    return dev_.regs().get(regs::Twq0Ctl::at(q)).get(regs::Twq0Ctl::kEnable) != 0;
  }
  std::uint32_t twq_tail(std::uint32_t q) const {
    return dev_.regs().get(regs::Twq0Tail::at(q)).raw();
  }
  bool tcq_enabled(std::uint32_t q) const {
    return dev_.regs().get(regs::TcqCtl::at(q)).get(regs::TcqCtl::kEnable) != 0;
  }
  bool rcq_enabled(std::uint32_t q) const {
    return dev_.regs().get(regs::RcqCtl::at(q)).get(regs::RcqCtl::kEnable) != 0;
  }
  bool rx_ready(std::uint32_t q) const {
    return dev_.regs().get(regs::RcqCtl::at(q)).get(regs::RcqCtl::kEnable) != 0 &&
           dev_.regs().get(regs::BdqCtl::at(q)).get(regs::BdqCtl::kEnable) != 0;
  }
  std::uint32_t tim_vector(std::uint32_t q) const {
    return dev_.regs().get(regs::TimCtl::at(q)).get(regs::TimCtl::kVector);
  }
  std::uint32_t rim_vector(std::uint32_t q) const {
    return dev_.regs().get(regs::RimCtl::at(q)).get(regs::RimCtl::kVector);
  }
  template <class Lo>
  std::uint64_t base(regs::RegAddr<Lo> lo) const {
    const regs::RegAddr<Lo> hi{lo.offset + 4, true};
    return (std::uint64_t{dev_.regs().get(hi).raw()} << 32) | dev_.regs().get(lo).raw();
  }
  template <class Lo>
  void check_base(std::uint32_t q, regs::RegAddr<Lo> lo) {
    if ((base(lo) & 0x7F) != 0) dev_.faults().record(Fault::kRingMisaligned, q, base(lo));
  }

  std::uint32_t tx_idle_bits(std::uint32_t reg) const {
    std::uint32_t bits = 0xFFFF'FFFFu;
    for (std::uint32_t q = reg * 32; q < (reg + 1) * 32 && q < Queues; ++q) {
      const bool posted = twq_enabled(q) && tx_[q].head != twq_tail(q);
      if (posted || tx_[q].held != 0) bits &= ~(1u << (q % 32));
    }
    return bits;
  }

  bool tail_ok(std::uint32_t q, std::uint32_t value, std::uint32_t entries, bool enabled) {
    if (!enabled) {
      dev_.faults().record(Fault::kQueueNotReady, q, value);
      return false;
    }
    if (value >= entries) {
      dev_.faults().record(Fault::kDoorbellBeyondRing, q, value);
      return false;
    }
    return true;
  }

  // --- Tx ---

  void run_tx_queue(std::uint32_t q) {
    TxQ& t = tx_[q];
    if (t.held != 0 && !drain_held(q)) return;
    if (!twq_enabled(q) || dev_.hostile().tx_stall) return;
    const std::uint32_t entries = twq_entries(q);
    const std::uint32_t mask = entries - 1;
    const std::uint64_t ring = base(regs::Twq0Bal::at(q));
    const std::uint32_t tail = twq_tail(q);
    while (t.head != tail && !dev_.tx_paused()) {
      // One packet: META, then ALs up to LAST_AL, all before the tail.
      std::array<desc::Twd, 64> d{};
      std::uint32_t n = 0;
      bool complete = false;
      for (std::uint32_t i = t.head; i != tail && n < d.size(); i = (i + 1) & mask) {
        std::uint64_t raw = 0;
        if (!dev_.dma_read(ring + std::uint64_t{i} * 8, &raw, 8)) return;  // a fault: stall
        d[n++] = desc::Twd::from_raw(from_le(raw));
        if (n > 1 && d[n - 1].get(desc::Twd::kType) == desc::Twd::kTypeLastAl) {
          complete = true;
          break;
        }
      }
      if (!complete && n < d.size()) return;  // the rest is not posted yet
      const desc::Twd meta = d[0];
      const bool wants_completion = meta.get(desc::Twd::kReqCompletion) != 0;
      if (wants_completion && !tcq_has_room(q)) return;  // the TCQ is full: wait
      if (meta.get(desc::Twd::kType) != desc::Twd::kTypeMeta || !complete) {
        dev_.faults().record(Fault::kBadDescriptor, q, t.head);
        bump(regs::Twq0ErrCnt::at(q));
        t.head = (t.head + n) & mask;
        t.fetched += n;
        continue;
      }
      if (dev_.hostile().mac_stuck) {  // fetched; it waits for the MAC, the queue busy
        t.held = n;
        t.held_completion = wants_completion;
        return;
      }
      transmit_packet(q, std::span<const desc::Twd>(d.data() + 1, n - 1), meta);
      t.head = (t.head + n) & mask;
      t.fetched += n;
      ++counters_.tx_packets;
      bump(regs::Twq0PktCnt::at(q));
      if (wants_completion) write_tcd(q, t.head);
    }
  }

  // The packet waiting for the MAC leaves the engine: sent as usual once the MAC takes
  // frames again (fetched anew from head), or dropped at the MAC interface once
  // TMI_DROP_CTRL has been set for kTmiDropNs. False while it still waits.
  bool drain_held(std::uint32_t q) {
    TxQ& t = tx_[q];
    if (!dev_.hostile().mac_stuck) {
      t.held = 0;
      return true;
    }
    if (!tmi_drop_ || dev_.now_ns() < tmi_drop_at_) return false;
    t.head = (t.head + t.held) & (twq_entries(q) - 1);
    t.fetched += t.held;
    ++counters_.tx_tmi_drops;
    bump(regs::TmiDropPkts::addr());
    if (t.held_completion && tcq_has_room(q)) write_tcd(q, t.head);
    t.held = 0;
    return true;
  }

  bool tcq_has_room(std::uint32_t q) const {
    if (!tcq_enabled(q)) return false;
    const std::uint32_t entries = tcq_entries(q);
    const std::uint32_t host_head = dev_.regs().get(regs::TcqHead::at(q)).raw();
    return ((tx_[q].tcq_tail - host_head) & (entries - 1)) < entries - 1;
  }

  void write_tcd(std::uint32_t q, std::uint32_t head) {
    TxQ& t = tx_[q];
    const auto tcd =
        desc::Tcd{}.set(desc::Tcd::kHead0, head).set(desc::Tcd::kType, desc::Tcd::kTypeHead);
    if (!complete(dev_.hostile().tx, t.hist, base(regs::TcqBal::at(q)), tcq_entries(q), t.tcq_tail,
                  dev_.regs().get(regs::TcqHead::at(q)).raw(), 0, tcd.raw())) {
      return;
    }
    ++counters_.tx_completions;
    moderate(t.pending, t.fire_at, 1,
             dev_.regs().get(regs::TimThreshold::at(q)).get(regs::TimThreshold::kCount),
             dev_.intr().tcq_timeout_us(tim_vector(q)), regs::TimMask::at(q).offset, tim_vector(q));
  }

  void transmit_packet(std::uint32_t q, std::span<const desc::Twd> bufs, desc::Twd meta) {
    std::uint32_t len = 0;
    for (const desc::Twd& b : bufs) {
      const auto blen = static_cast<std::uint32_t>(b.get(desc::Twd::kLen));
      if (blen > kMaxTxPacket - len || !dev_.dma_read(b.get(desc::Twd::kAddr), &pkt_[len], blen)) {
        bump(regs::Twq0ErrCnt::at(q));
        return;
      }
      len += blen;
    }
    if (meta.get(desc::Twd::kReqLso) != 0) {
      segment(q, len, meta);
    } else {
      if (meta.get(desc::Twd::kReqCso) != 0 && !checksum_in_place(pkt_.data(), len, meta)) {
        bump(regs::Twq0ErrCnt::at(q));
        return;
      }
      emit(std::span<const std::uint8_t>(pkt_.data(), len));
    }
  }

  // "Sum from the L4 start to the end, store the complement at the given offset."
  static bool checksum_in_place(std::uint8_t* f, std::uint32_t len, desc::Twd meta) {
    using T = desc::Twd;
    const std::uint32_t start =
        2 * static_cast<std::uint32_t>(meta.get(T::kL2Hlen) + meta.get(T::kL3Ihlen));
    const std::uint32_t field = start + 2 * static_cast<std::uint32_t>(meta.get(T::kCsumOffset));
    if (field + 2 > len) return false;
    std::uint16_t c = csum_finish(csum_add(std::span<const std::uint8_t>(f + start, len - start)));
    if (c == 0 && meta.get(T::kL4Type) == T::kL4Udp) c = 0xFFFF;
    store_be16(f + field, c);
    return true;
  }

  // TSO / UDP segmentation: the packet's headers repeated before each mss of payload,
  // with lengths, IPv4 ID, TCP sequence and flags, and checksums fixed per segment.
  void segment(std::uint32_t q, std::uint32_t len, desc::Twd meta) {
    using T = desc::Twd;
    const std::uint32_t l2 = 2 * static_cast<std::uint32_t>(meta.get(T::kL2Hlen));
    const std::uint32_t l3 = 2 * static_cast<std::uint32_t>(meta.get(T::kL3Ihlen));
    const std::uint32_t l4 = 4 * static_cast<std::uint32_t>(meta.get(T::kL4Hlen));
    const std::uint32_t hdr = l2 + l3 + l4;
    const auto mss = static_cast<std::uint32_t>(meta.get(T::kMss));
    const bool v4 = meta.get(T::kL3Type) == T::kL3Ipv4;
    const bool tcp = meta.get(T::kL4Type) == T::kL4Tcp;
    const bool udp = meta.get(T::kL4Type) == T::kL4Udp;
    if (mss == 0 || hdr >= len || (!tcp && !udp) || (tcp && l4 < 20) || (udp && l4 != 8) ||
        (v4 ? l3 < 20 : l3 < 40)) {
      bump(regs::Twq0ErrCnt::at(q));
      return;
    }
    const auto lso = dev_.regs().template get<regs::TceLsoCtrl>();
    const std::uint32_t payload = len - hdr;
    const std::uint32_t segments = (payload + mss - 1) / mss;
    const std::uint16_t ip_id = v4 ? load_be16(&pkt_[l2 + 4]) : 0;
    const std::uint32_t seq = tcp ? load_be32(&pkt_[l2 + l3 + 4]) : 0;
    const std::uint8_t flags = tcp ? pkt_[l2 + l3 + 13] : 0;
    const std::uint16_t seed =
        load_be16(&pkt_[l2 + l3 + (tcp ? 16 : 6)]);  // pseudo header, no length
    for (std::uint32_t s = 0; s < segments; ++s) {
      const std::uint32_t chunk = s + 1 < segments ? mss : payload - s * mss;
      std::uint8_t* f = seg_.data();
      copy_bytes(f, pkt_.data(), hdr);
      copy_bytes(f + hdr, &pkt_[hdr + s * mss], chunk);
      const std::uint32_t l4_bytes = l4 + chunk;
      if (v4) {
        store_be16(f + l2 + 2, static_cast<std::uint16_t>(l3 + l4_bytes));
        if (lso.get(regs::TceLsoCtrl::kIpidModeInc) != 0)
          store_be16(f + l2 + 4, static_cast<std::uint16_t>(ip_id + s));
        store_be16(f + l2 + 10, 0);
        store_be16(f + l2 + 10, csum_finish(csum_add(std::span<const std::uint8_t>(f + l2, l3))));
      } else {
        store_be16(f + l2 + 4, static_cast<std::uint16_t>(l3 - 40 + l4_bytes));
      }
      std::uint8_t* l4p = f + l2 + l3;
      if (tcp) {
        store_be32(l4p + 4, seq + s * mss);
        std::uint32_t clear = 0;
        if (segments > 1) {
          clear = s == 0 ? lso.get(regs::TceLsoCtrl::kTcpfClrFirst)
                         : (s + 1 == segments ? lso.get(regs::TceLsoCtrl::kTcpfClrEnd)
                                              : lso.get(regs::TceLsoCtrl::kTcpfClrMid));
        }
        l4p[13] = static_cast<std::uint8_t>(flags & ~clear);
      } else {
        store_be16(l4p + 4, static_cast<std::uint16_t>(l4_bytes));
      }
      const std::uint32_t field = tcp ? 16 : 6;
      store_be16(l4p + field, 0);
      std::uint32_t sum = csum_add(std::span<const std::uint8_t>(l4p, l4_bytes), seed);
      sum += l4_bytes;  // the length the host left out of the seed
      std::uint16_t c = csum_finish(sum);
      if (udp && c == 0) c = 0xFFFF;
      store_be16(l4p + field, c);
      emit(std::span<const std::uint8_t>(f, hdr + chunk));
    }
  }

  void emit(std::span<const std::uint8_t> frame) {
    ++counters_.tx_frames;
    dev_.transmit_frame(frame);
  }

  // --- Rx ---

  // New BDs from the old tail up to `value`; a buffer the device already holds is a fault.
  void post_buffers(std::uint32_t q, bool hpq, std::uint32_t value) {
    auto& r = dev_.regs();
    const std::uint32_t entries = bdq_entries(q, hpq);
    const bool enabled = r.get(regs::BdqCtl::at(q)).get(regs::BdqCtl::kEnable) != 0;
    if (!tail_ok(q, value, entries, enabled)) return;
    BufQ& b = hpq ? rx_[q].hpq : rx_[q].ppq;
    const regs::RegAddr<regs::BdqHpqTail> tail_reg{
        hpq ? regs::BdqHpqTail::at(q).offset : regs::BdqPpqTail::at(q).offset, true};
    const std::uint32_t old_tail = r.get(tail_reg).raw();
    const std::uint64_t ring = hpq ? base(regs::BdqHpqBal::at(q)) : base(regs::BdqPpqBal::at(q));
    const std::uint32_t outstanding = (old_tail - b.head) & (entries - 1);
    const std::uint32_t added = (value - old_tail) & (entries - 1);
    // Bookkeeping for was_posted(), not a device access: what the host posted since its
    // own last doorbell, whether the device takes it or not (a lying device can make a
    // host post into its ring, and a refused doorbell leaves the device's tail behind).
    for (std::uint32_t i = b.doorbell; i != value; i = (i + 1) & (entries - 1)) {
      if (const std::uint8_t* p = dev_.dma_space().translate(ring + std::uint64_t{i} * 8, 8)) {
        std::uint64_t raw = 0;
        copy_bytes(&raw, p, 8);
        (void)b.posted.insert(desc::Bd::from_raw(from_le(raw)).addr());
      }
    }
    b.doorbell = value;
    if (outstanding + added >= entries) {
      dev_.faults().record(Fault::kRingOverrun, q, value);
      return;
    }
    for (std::uint32_t i = old_tail; i != value; i = (i + 1) & (entries - 1)) {
      std::uint64_t raw = 0;
      if (!dev_.dma_read(ring + std::uint64_t{i} * 8, &raw, 8)) return;
      const auto bd = desc::Bd::from_raw(from_le(raw));
      if (!b.owned.insert(bd.addr()) && b.owned.contains(bd.addr())) {
        dev_.faults().record(Fault::kBufferReused, q, bd.addr());
      }
    }
    r.put(tail_reg, regs::BdqHpqTail::from_raw(value));
  }

  struct Placement {
    std::uint64_t addr;
    std::uint16_t id;
    std::uint32_t off;
    std::uint32_t len;
    bool fin;
  };

  RxOutcome place(std::uint32_t q, std::span<const std::uint8_t> frame, const FrameInfo& fi,
                  const Classification& cls) {
    auto& r = dev_.regs();
    RxQ& x = rx_[q];
    const auto ctl0 = r.get(regs::RdeCtl0::at(q));
    const auto ctl1 = r.get(regs::RdeCtl1::at(q));
    const std::uint32_t hroom = ctl0.get(regs::RdeCtl0::kMinHroom);
    const std::uint32_t troom = ctl0.get(regs::RdeCtl0::kMinTroom);
    const std::uint32_t max_hdr = ctl1.get(regs::RdeCtl1::kMaxHdr);
    const bool never_drop = ctl0.get(regs::RdeCtl0::kDropMode) == regs::RdeCtl0::kDropNever;
    const auto len = static_cast<std::uint32_t>(frame.size());

    // Header and payload split.
    std::uint32_t hdr = len;
    std::uint32_t hint = 0;
    if (len > max_hdr || ctl0.get(regs::RdeCtl0::kEnHdrSplit) != 0) {
      hint = cls.dma_hint;
      if ((hint & regs::kDmaHintL4) != 0 &&
          (fi.l4 == FrameInfo::L4::kTcp || fi.l4 == FrameInfo::L4::kUdp)) {
        hdr = fi.headers_len();
      } else if ((hint & (regs::kDmaHintL3 | regs::kDmaHintL4)) != 0 &&
                 fi.l3 != FrameInfo::L3::kNone) {
        hdr = fi.l2_len + fi.l3_len;
      } else if (hint != 0) {
        hdr = fi.l2_len;
      } else {
        hdr = max_hdr;
      }
      if (hdr > max_hdr) hdr = max_hdr;
      if (hdr > len || hdr == 0) hdr = len < max_hdr ? len : max_hdr;
    }
    const std::uint32_t pay = len - hdr;
    const std::uint32_t per_page = desc::kRxBufferBytes - troom;
    const std::uint32_t pay_pages = (pay + per_page - 1) / per_page;

    // Resources: completions, and buffers for the header and every payload piece.
    const std::uint32_t rcq_n = rcq_entries(q);
    const std::uint32_t rcq_used = (x.rcq_tail - r.get(regs::RcqHead::at(q)).raw()) & (rcq_n - 1);
    const std::uint32_t need_rcds = 2 + pay_pages;
    const std::uint32_t first_off = align_up128(hroom);
    const bool hdr_fits_open = x.hpq.open && x.hpq.next_off + hdr + troom <= desc::kRxBufferBytes;
    const std::uint32_t need_hpq = hdr_fits_open ? 0 : 1;
    auto fail = [&](bool no_buffer) {
      if (never_drop) return RxOutcome::kWait;
      if (no_buffer) {
        ++counters_.rx_no_buffer;
        bump(regs::RdeBdqDropCnt::at(q));
      } else {
        ++counters_.rx_no_completion_room;
        bump(regs::RdeCqDropCnt::at(q));
      }
      return RxOutcome::kDropped;
    };
    if (rcq_n - 1 - rcq_used < need_rcds) return fail(false);
    if (available(q, true) < need_hpq || available(q, false) < pay_pages) return fail(true);

    // Header: into the open buffer if it fits there, else into the next one.
    if (!hdr_fits_open) {
      if (x.hpq.open) close(x.hpq);  // a buffer the hardware gave up on without FIN: rare
      take(q, true, x.hpq);
      x.hpq.next_off = first_off;
    }
    Placement h{x.hpq.addr, x.hpq.id, x.hpq.next_off, hdr, false};
    x.hpq.next_off = align_up128(h.off + hdr + troom + hroom);
    // Finish the buffer when no header of maximal size would fit after this one.
    if (x.hpq.next_off + max_hdr + troom > desc::kRxBufferBytes) {
      h.fin = true;
      close(x.hpq);
    }
    if (!dev_.dma_write(h.addr + h.off, frame.data(), hdr)) return RxOutcome::kDropped;

    // Payload: each packet's payload starts in a fresh buffer (no payload packing).
    std::array<Placement, 4> pieces{};
    std::uint32_t done = 0;
    std::uint32_t count = 0;
    while (done < pay && count < pieces.size()) {
      take(q, false, x.ppq);
      const std::uint32_t n = pay - done < per_page ? pay - done : per_page;
      pieces[count++] = {x.ppq.addr, x.ppq.id, 0, n, true};
      close(x.ppq);
      if (!dev_.dma_write(x.ppq.addr, frame.data() + hdr + done, n)) return RxOutcome::kDropped;
      done += n;
    }

    write_rcd(q, al(desc::Rcd::kTypeHdrAl, h).set(desc::Rcd::kDmaHint, hint), count + 1);
    for (std::uint32_t i = 0; i < count; ++i) {
      write_rcd(q, al(desc::Rcd::kTypePayAl, pieces[i]), count - i);
    }
    write_rcd(q, meta_rcd(frame, fi, cls), 0);
    ++counters_.rx_frames;
    bump(regs::RdePktCnt::at(q));
    moderate(x.pending, x.fire_at, 2 + count,
             r.get(regs::RimThreshold::at(q)).get(regs::RimThreshold::kCount),
             dev_.intr().rcq_timeout_us(rim_vector(q)), regs::RimMask::at(q).offset, rim_vector(q));
    return RxOutcome::kDelivered;
  }

  static std::uint32_t align_up128(std::uint32_t v) { return (v + 127) & ~127u; }

  std::uint32_t available(std::uint32_t q, bool hpq) const {
    const BufQ& b = hpq ? rx_[q].hpq : rx_[q].ppq;
    const std::uint32_t entries = bdq_entries(q, hpq);
    const std::uint32_t tail = hpq ? dev_.regs().get(regs::BdqHpqTail::at(q)).raw()
                                   : dev_.regs().get(regs::BdqPpqTail::at(q)).raw();
    return (tail - b.head) & (entries - 1);
  }

  void take(std::uint32_t q, bool hpq, BufQ& b) {
    const std::uint32_t entries = bdq_entries(q, hpq);
    const std::uint64_t ring = hpq ? base(regs::BdqHpqBal::at(q)) : base(regs::BdqPpqBal::at(q));
    std::uint64_t raw = 0;
    (void)dev_.dma_read(ring + std::uint64_t{b.head & (entries - 1)} * 8, &raw, 8);
    const auto bd = desc::Bd::from_raw(from_le(raw));
    b.addr = bd.addr();
    b.id = static_cast<std::uint16_t>(bd.get(desc::Bd::kId));
    b.open = true;
    b.next_off = 0;
    b.head = (b.head + 1) & (entries - 1);
  }
  static void close(BufQ& b) {
    b.owned.erase(b.addr);
    b.open = false;
  }

  static desc::Rcd al(std::uint64_t type, const Placement& p) {
    return desc::Rcd{}
        .set(desc::Rcd::kType, type)
        .set(desc::Rcd::kBuffId, p.id)
        .set(desc::Rcd::kBuffLen, p.len)
        .set(desc::Rcd::kBuffOff, p.off)
        .set(desc::Rcd::kPageFin, p.fin ? 1 : 0);
  }

  static desc::Rcd meta_rcd(std::span<const std::uint8_t> frame, const FrameInfo& fi,
                            const Classification& cls) {
    using R = desc::Rcd;
    // The frame's ones' complement sum after the Ethernet header, in the little-endian
    // word order a host checksum routine produces (what the upstream driver expects).
    const std::uint16_t sum = frame.size() > 14 ? csum_fold(csum_add(frame.subspan(14))) : 0;
    const auto l2_csum = static_cast<std::uint16_t>((sum >> 8) | (sum << 8));
    auto m = R{}.set(R::kType, R::kTypeMeta)
                 .set(R::kRssHash, cls.rss_hash)
                 .set(R::kL2Csum, l2_csum)
                 .set(R::kL3Type, static_cast<std::uint32_t>(fi.l3))
                 .set(R::kErrParser, fi.parse_error ? 1 : 0);
    if (fi.l4 == FrameInfo::L4::kTcp || fi.l4 == FrameInfo::L4::kUdp) {
      m.set(R::kL4Type, static_cast<std::uint32_t>(fi.l4));
      if (l4_checksum_ok(frame, fi)) m.set(R::kL4CsumOk, 1);
    }
    return m;
  }

  // `reserve`: completions of the same packet still to come, which hostile extras must
  // leave room for.
  void write_rcd(std::uint32_t q, desc::Rcd rcd, std::uint32_t reserve) {
    RxQ& x = rx_[q];
    const std::uint32_t entries = rcq_entries(q);
    if (!complete(dev_.hostile().rx, x.hist, base(regs::RcqBal::at(q)), entries, x.rcq_tail,
                  dev_.regs().get(regs::RcqHead::at(q)).raw(), reserve, rcd.raw())) {
      ++x.rcq_tail;  // the slot is spent even when the write faulted, as in hardware
    }
  }

  // --- completions, faithful or hostile ---

  static constexpr std::uint64_t kDoneBit = std::uint64_t{1} << 63;  // TCD and RCD alike

  // One completion into the next slot, with DONE set to the slot's lap parity.
  bool put_completion(std::uint64_t ring, std::uint32_t entries, std::uint32_t& tail,
                      std::uint64_t raw) {
    raw = (raw & ~kDoneBit) | ((tail & entries) == 0 ? kDoneBit : 0);
    const std::uint64_t le = to_le(raw);
    if (!dev_.dma_write(ring + std::uint64_t{tail & (entries - 1)} * 8, &le, 8)) return false;
    ++tail;
    return true;
  }
  static std::uint32_t room(std::uint32_t entries, std::uint32_t tail, std::uint32_t host_head) {
    return entries - 1 - ((tail - host_head) & (entries - 1));
  }

  // Writes a completion as the device does; a hostile device may corrupt it, write it
  // twice or follow it with an old one.
  bool complete(const CompletionFaults& f, History& h, std::uint64_t ring, std::uint32_t entries,
                std::uint32_t& tail, std::uint32_t host_head, std::uint32_t reserve,
                std::uint64_t raw) {
    if (!f.any()) {
      h.push(raw);
      return put_completion(ring, entries, tail, raw);
    }
    Entropy& e = dev_.hostile().entropy;
    if (e.chance(f.corrupt)) raw ^= e.u64() & ~kDoneBit;
    if (!put_completion(ring, entries, tail, raw)) return false;
    h.push(raw);
    if (room(entries, tail, host_head) > reserve && e.chance(f.duplicate)) {
      put_completion(ring, entries, tail, raw);
    }
    if (room(entries, tail, host_head) > reserve && e.chance(f.stale)) {
      put_completion(ring, entries, tail, h.pick(e));
    }
    return true;
  }

  // A queue turned off whose device ignores it: its last completions again, in order and
  // over and over, into every free slot.
  void keep_completing(History& h, std::uint64_t ring, std::uint32_t entries, std::uint32_t& tail,
                       std::uint32_t host_head) {
    for (std::uint32_t n = room(entries, tail, host_head); n > 0; --n) {
      if (!put_completion(ring, entries, tail, h.replay())) return;
    }
  }

  // --- interrupt moderation ---

  // Completions count towards the queue's threshold; the first one starts the timeout
  // (the vector's coalescing time, 0 until software sets one).
  void moderate(std::uint32_t& pending, std::uint64_t& fire_at, std::uint32_t added,
                std::uint32_t threshold, std::uint32_t timeout_us, std::uint32_t mask_offset,
                std::uint32_t vector) {
    if (pending == 0) fire_at = dev_.now_ns() + std::uint64_t{timeout_us} * 1000;
    pending += added;
    if (threshold != 0 && pending >= threshold) fire(pending, mask_offset, vector);
  }
  void fire_if_due(std::uint32_t, std::uint32_t& pending, std::uint64_t fire_at, std::uint64_t now,
                   std::uint32_t mask_offset, std::uint32_t vector) {
    if (pending != 0 && now >= fire_at) fire(pending, mask_offset, vector);
  }
  void fire(std::uint32_t& pending, std::uint32_t mask_offset, std::uint32_t vector) {
    const auto masked = dev_.regs()
                            .get(regs::RegAddr<regs::TimMask>{mask_offset, true})
                            .get(regs::TimMask::kMasked);
    if (masked != 0) return;  // held until the queue's mask is cleared
    pending = 0;
    dev_.intr().raise(vector);
  }

  template <class R>
  void bump(regs::RegAddr<R> a) {
    if (std::uint32_t* w = dev_.regs().word(R::kBar, a.offset)) ++*w;
  }

  DeviceT& dev_;
  std::array<TxQ, Queues> tx_{};
  std::array<RxQ, Queues> rx_{};
  QueueCounters counters_{};
  // TMI_DROP_CTRL: set, and from when the MAC interface drops what waits for the MAC. The
  // delay is the model's choice (a drain is not instant), not a hardware figure.
  static constexpr std::uint64_t kTmiDropNs = 20'000;
  bool tmi_drop_ = false;
  std::uint64_t tmi_drop_at_ = 0;
  std::array<std::uint8_t, kMaxTxPacket> pkt_{};
  std::array<std::uint8_t, kMaxFrameBytes + 256> seg_{};
};

}  // namespace fbnic::mock
