// TxQueue: one Tx work queue (TWQ0) and its completion queue (TCQ).
//
//   send(packets)   META + one AL per buffer for each packet, REQ_COMPLETION on the last
//                   packet of the batch, then one doorbell. No MMIO read. send(frames)
//                   does the same for frames of one buffer without offload.
//   reclaim(fn, n)  walks the completions the device wrote (DONE phase), releases whole
//                   packets up to the head they report, calls fn(cookie) for each (at
//                   most n packets and n completions per call), and writes the TCQ head
//                   doorbell once.
//
// The device learns where to stop from the doorbell; the host learns how far the device
// got only from completions. The device writes one completion per batch, in order, whose
// head is where that batch ends; so the host accepts only the end of the oldest batch
// still outstanding. Anything else (a head behind the last one, replayed, duplicated,
// beyond the tail, or inside a batch) is counted as an error and ignored, never acted on.
// Only a completion bit for bit identical to the next genuine one passes, and no driver
// can tell that one apart.
// The rule assumes one completion per descriptor flagged REQ_COMPLETION (the flag is per
// descriptor, and upstream flags one per doorbell). A device that merged several into one
// would show as a Tx queue that stops with bad_completions rising; close() still reports
// every packet. Accepting any outstanding end instead would let a replayed old head alias
// a newer end once the ring is over half full, reporting unfetched packets done.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "fbnic/base/barrier.hpp"
#include "fbnic/base/result.hpp"
#include "fbnic/base/status.hpp"
#include "fbnic/desc/tcd.hpp"
#include "fbnic/desc/twd.hpp"
#include "fbnic/hw/io.hpp"
#include "fbnic/platform/deadline.hpp"
#include "fbnic/regs/qm.hpp"
#include "fbnic/regs/queue.hpp"
#include "fbnic/regs/tce.hpp"
#include "fbnic/ring/desc_ring.hpp"
#include "fbnic/ring/drain.hpp"
#include "fbnic/ring/policy.hpp"
#include "fbnic/ring/tx_refusal.hpp"

namespace fbnic {

struct TxBuffer {
  std::uint64_t dma = 0;  // device address (46 bits)
  std::uint32_t len = 0;  // 1..65535 bytes
};

// Checksum offload: the device sums from l4_offset to the end of the frame (seeded with
// what the checksum field holds, normally the pseudo-header sum) and stores the result
// csum_field bytes into the L4 header. TSO additionally cuts the payload into mss-sized
// segments; l4_header_len and the L3/L4 types are then required.
struct TxOffload {
  enum class L3 : std::uint8_t { kNone, kIpv4, kIpv6 };
  enum class L4 : std::uint8_t { kNone, kTcp, kUdp };
  std::uint16_t l2_len = 0;      // Ethernet (+VLAN) header bytes
  std::uint16_t l3_len = 0;      // IP header bytes
  std::uint16_t csum_field = 0;  // checksum offset inside the L4 header (16 TCP, 6 UDP)
  bool checksum = false;
  std::uint16_t mss = 0;            // TSO segment payload; 0 = no TSO
  std::uint16_t l4_header_len = 0;  // TCP header bytes (TSO)
  L3 l3 = L3::kNone;
  L4 l4 = L4::kNone;
};

struct TxPacket {
  std::span<const TxBuffer> buffers;
  TxOffload offload{};
  std::uint64_t cookie = 0;  // handed back by reclaim (or by stop, if never sent)
};

// A frame in one buffer, without offload (most traffic): what send(frames) takes.
struct TxFrame {
  TxBuffer buffer;
  std::uint64_t cookie = 0;  // handed back by reclaim (or by stop, if never sent)
};

struct SendResult {
  std::uint32_t sent = 0;  // packets accepted, from the front of the batch
  Status status;           // why it stopped early: kBusy (ring full), kInvalidArgument
};

struct TxCounters {
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
  std::uint64_t completed = 0;
  std::uint64_t rejected = 0;  // packets send() refused (lengths, fields; see send())
  std::uint64_t full = 0;      // batches cut short by a full ring
  std::uint64_t bad_completions = 0;
  std::uint64_t doorbells = 0;
};

template <Platform P, class Policy = DefaultPolicy>
class TxQueue {
  static_assert(policy_is_valid<Policy>());
  static_assert(Policy::kMaxTxBuffers < 255, "a packet's descriptor count is kept in a byte");

 public:
  static constexpr std::uint32_t kRing = Policy::kTxRing;
  static constexpr std::uint32_t kCompletions = Policy::kTcqRing;

  TxQueue(Io<P>& io, std::uint32_t queue, std::uint32_t vector)
      : io_(io), queue_(queue), vector_(vector) {}
  TxQueue(const TxQueue&) = delete;
  TxQueue& operator=(const TxQueue&) = delete;
  ~TxQueue() { free(); }

  [[nodiscard]] std::uint32_t index() const { return queue_; }
  [[nodiscard]] std::uint32_t vector() const { return vector_; }
  [[nodiscard]] bool enabled() const { return enabled_; }
  [[nodiscard]] const TxCounters& counters() const { return counters_; }
  // Descriptors available to send().
  [[nodiscard]] std::uint32_t free_descriptors() const { return kRing - 1 - (tail_ - clean_); }
  [[nodiscard]] std::uint32_t in_flight() const { return tail_ - clean_; }

  // --- lifecycle: allocate, enable, disable (quiesce), free ---

  Status allocate() {
    if (twq_.attached()) return ok_status();
    P& p = io_.platform();
    if (const Status st = twq_.allocate(p); !st.ok()) {
      return dma_refused(p, st, twq_.kAllocBytes, "tx queue ", queue_, "'s work ring (", kRing,
                         " descriptors)");
    }
    if (const Status st = tcq_.allocate(p); !st.ok()) {
      free();
      return dma_refused(p, st, tcq_.kAllocBytes, "tx queue ", queue_, "'s completion ring (",
                         kCompletions, " entries)");
    }
    return ok_status();
  }

  // The upstream order: each ring in reset while its base and size are written.
  Status enable() {
    if (!twq_.attached()) return Error::kFailedPrecondition;
    twq_.clear();
    tcq_.clear();
    tail_ = clean_ = done_ = tcq_head_ = 0;
    batch_first_ = batch_next_ = 0;
    const std::uint32_t q = queue_;
    FBNIC_TRY(io_.write(regs::Twq0Ctl::at(q), regs::Twq0Ctl{}.set(regs::Twq0Ctl::kReset, 1)));
    FBNIC_TRY(write_ring_base(io_, regs::Twq0Bal::at(q), regs::Twq0Bah::at(q), twq_));
    FBNIC_TRY(io_.write(regs::Twq0Size::at(q),
                        regs::Twq0Size{}.set(regs::Twq0Size::kLog2, regs::ring_size_code(kRing))));
    FBNIC_TRY(io_.write(regs::Twq0Ctl::at(q), regs::Twq0Ctl{}.set(regs::Twq0Ctl::kEnable, 1)));

    FBNIC_TRY(io_.write(regs::TcqCtl::at(q), regs::TcqCtl{}.set(regs::TcqCtl::kReset, 1)));
    FBNIC_TRY(write_ring_base(io_, regs::TcqBal::at(q), regs::TcqBah::at(q), tcq_));
    FBNIC_TRY(
        io_.write(regs::TcqSize::at(q),
                  regs::TcqSize{}.set(regs::TcqSize::kLog2, regs::ring_size_code(kCompletions))));
    FBNIC_TRY(io_.write(regs::TimCtl::at(q), regs::TimCtl{}.set(regs::TimCtl::kVector, vector_)));
    FBNIC_TRY(
        io_.write(regs::TimThreshold::at(q),
                  regs::TimThreshold{}.set(regs::TimThreshold::kCount, (kCompletions - 1) / 2)));
    FBNIC_TRY(io_.write(regs::TimMask::at(q), regs::TimMask{}));
    FBNIC_TRY(io_.write(regs::TcqCtl::at(q), regs::TcqCtl{}.set(regs::TcqCtl::kEnable, 1)));
    enabled_ = true;
    return ok_status();
  }

  // Stops the device fetching, waits (bounded) for it to go idle, takes back what it
  // completed, and reports every packet it never sent through on_aborted(cookie). After
  // this nothing the queue posted is owned by the device. Every step is tried on a device
  // that failed or vanished too: completions already in host memory are still reported
  // done, the rest aborted, and the first error is returned.
  template <class OnDone, class OnAborted>
  Status disable(Deadline deadline, OnDone&& on_done, OnAborted&& on_aborted) {
    if (!enabled_) return ok_status();
    enabled_ = false;
    const std::uint32_t q = queue_;
    FirstError first;
    first.keep(io_.modify(regs::Twq0Ctl::at(q),
                          [](regs::Twq0Ctl& r) { r.set(regs::Twq0Ctl::kEnable, 0); }));
    first.keep(io_.write(regs::TcqCtl::at(q), regs::TcqCtl{}));
    first.keep(io_.write(regs::TimMask::at(q), regs::TimMask{}.set(regs::TimMask::kMasked, 1)));
    first.keep(io_.flush());
    if (first.ok()) {
      // Half the time to go idle on its own; a Tx path stuck behind the MAC then gets the
      // other half to drain, dropping at the MAC interface.
      const std::uint64_t now = io_.platform().now_ns();
      const Deadline half =
          deadline.expired(now) ? deadline : Deadline::at_ns(now + (deadline.ns() - now) / 2);
      Status idle = wait_idle(half);
      if (idle == Error::kTimeout) {
        using D = regs::TmiDropCtrl;
        first.keep(io_.write(D{}.set(D::kEnable, 1)));
        idle = wait_idle(deadline);
        first.keep(io_.write(D{}));
      }
      first.keep(idle);
    }
    // What the device completed before it stopped, at most one ring of completions.
    drain_bounded(kCompletions, [&](std::uint32_t budget) {
      const Taken t = take_completions(on_done, kRing, budget);
      counters_.completed += t.packets;
      return t.completions;
    });
    counters_.completed += release_done(on_done, kRing);
    while (clean_ != tail_) {  // posted but never completed: reported, not lost
      on_aborted(cookie_[clean_ & (kRing - 1)]);
      clean_ += descs_[clean_ & (kRing - 1)];
    }
    done_ = clean_;
    batch_first_ = batch_next_;
    return first.status();
  }

  void free() {
    twq_.release(io_.platform());
    tcq_.release(io_.platform());
  }

  // --- the hot path ---

  // Each packet is checked against what the device carries (desc/twd.hpp) and the frame
  // limit (set_max_frame): buffers of 1..65535 bytes at 46-bit addresses, at most
  // Policy::kMaxTxBuffers of them, a frame no longer than the limit (a TSO packet: at most
  // 64 KiB, each segment within the limit), offload fields that fit the META descriptor.
  // The first packet that does not stops the batch with kInvalidArgument; it is counted in
  // counters().rejected, logged with the field at fault, and nothing of it is posted.
  SendResult send(std::span<const TxPacket> packets) {
    SendResult result;
    if (!enabled_) {
      result.status = refuse_not_open();
      return result;
    }
    std::uint32_t last_meta = 0;
    std::uint64_t last_meta_value = 0;
    std::uint64_t bytes = 0;
    std::uint32_t tail = tail_;
    // Each round posts a run of simple packets (see post_simple), then one other packet.
    for (std::size_t next = 0; next < packets.size();) {
      const std::uint32_t simple =
          Policy::kFastPaths ? post_simple(packets.subspan(next), tail, bytes) : 0;
      if (simple != 0) {
        result.sent += simple;
        next += simple;
        last_meta = tail - 2;
        last_meta_value = kPlainMeta;
      }
      if (next == packets.size()) break;
      const TxPacket& pkt = packets[next++];
      const auto n = static_cast<std::uint32_t>(pkt.buffers.size());
      if (n == 0 || n > Policy::kMaxTxBuffers) {
        result.status = refuse(pkt, result.sent);
        break;
      }
      if (n + 1 > kRing - 1 - (tail - clean_)) {
        result.status = Error::kBusy;
        ++counters_.full;
        break;
      }
      std::uint64_t meta = kPlainMeta;
      std::uint32_t limit = max_frame_;
      if (pkt.offload.checksum || pkt.offload.mss != 0) {
        const Result<std::uint64_t> m = Policy::kTxOffloads
                                            ? meta_for(pkt.offload)
                                            : Result<std::uint64_t>(Error::kNotSupported);
        if (!m.ok()) {
          result.status =
              Policy::kTxOffloads ? refuse(pkt, result.sent) : refuse_offload(result.sent);
          break;
        }
        meta = *m;
        if (pkt.offload.mss != 0) limit = desc::kMaxTsoBytes;
      }
      // Written past the tail, so invisible to the device until the doorbell: a packet
      // found bad after this is simply not committed.
      const std::uint32_t first = tail;
      twq_.write(tail++, meta);
      std::uint64_t frame = 0;
      bool bad = false;
      for (std::uint32_t i = 0; i < n; ++i) {
        const TxBuffer& b = pkt.buffers[i];
        // One compare catches 0 and lengths beyond the 16-bit LEN field.
        bad |= (b.len - 1u >= desc::kMaxTxBufferBytes) | (b.dma > desc::kMaxTxBufferAddress);
        twq_.write(tail++, desc::Twd::buffer(b.dma, b.len, i + 1 == n).raw());
        frame += b.len;
      }
      if (bad || frame > limit) {
        tail = first;
        result.status = refuse(pkt, result.sent);
        break;
      }
      cookie_[first & (kRing - 1)] = pkt.cookie;
      descs_[first & (kRing - 1)] = static_cast<std::uint8_t>(n + 1);
      last_meta = first;
      last_meta_value = meta;
      bytes += frame;
      ++result.sent;
    }
    if (result.status == Error::kInvalidArgument || result.status == Error::kNotSupported) {
      ++counters_.rejected;
    }
    commit(result.sent, tail, last_meta, last_meta_value, bytes);
    return result;
  }

  // Frames of one buffer without offload: send(packets)'s checks, descriptors, refusals and
  // doorbell, from a smaller record.
  SendResult send(std::span<const TxFrame> frames) {
    SendResult result;
    if (!enabled_) {
      result.status = refuse_not_open();
      return result;
    }
    std::uint32_t tail = tail_;
    std::uint64_t bytes = 0;
    result.sent = post_simple(frames, tail, bytes);
    if (result.sent < frames.size()) {  // the ring is full, or the next frame is refused
      if (kRing - 1 - (tail - clean_) < 2) {
        result.status = Error::kBusy;
        ++counters_.full;
      } else {
        const TxFrame& f = frames[result.sent];
        result.status = refuse(TxPacket{std::span(&f.buffer, 1), {}, f.cookie}, result.sent);
        ++counters_.rejected;
      }
    }
    commit(result.sent, tail, tail - 2, kPlainMeta, bytes);
    return result;
  }

  // The longest frame send() takes without TSO (and the longest TSO segment): the device's
  // 9742 bytes unless set lower (Device sets the MTU's limit at open).
  void set_max_frame(std::uint32_t bytes) {
    max_frame_ = bytes < desc::kMaxFrameBytes ? bytes : desc::kMaxFrameBytes;
  }
  [[nodiscard]] std::uint32_t max_frame() const { return max_frame_; }

  // on_done(cookie) for every packet the device finished, at most `budget` of them, from
  // at most `budget` completions; returns how many. Packets beyond the budget are handed
  // back by the next call.
  // On a queue that is not open (before open(), after close(), or one the device does not
  // use) it does nothing and returns 0: close() reported every packet already.
  template <class OnDone>
  std::uint32_t reclaim(OnDone&& on_done, std::uint32_t budget = kRing) {
    if (!enabled_) return 0;
    const std::uint32_t completions = budget < kCompletions ? budget : kCompletions;
    const std::uint32_t done = take_completions(on_done, budget, completions).packets;
    counters_.completed += done;
    return done;
  }

 private:
  [[gnu::cold, gnu::noinline]] Status refuse_not_open() {
    log(io_.platform(), LogLevel::kError, "fbnic: tx queue ", queue_,
        ": send() on a queue that is not open; open() the device first (queues at or past "
        "DeviceConfig::tx_queues stay closed)");
    return Error::kFailedPrecondition;
  }

  // To the wire, no offload: most packets.
  static constexpr std::uint64_t kPlainMeta = desc::Twd{}.set(desc::Twd::kDestMac, 1).raw();

  // Packets of one buffer without offload (most of them) in a loop of their own, with
  // less to keep in registers than send()'s. Stops at the first other packet (or one whose
  // buffer does not fit an AL descriptor), or where the ring is full, for send() to take.
  // Returns how many it posted.
  template <class Item>  // TxPacket or TxFrame
  std::uint32_t post_simple(std::span<const Item> packets, std::uint32_t& tail,
                            std::uint64_t& bytes) {
    const std::uint32_t fit = (kRing - 1 - (tail - clean_)) / 2;
    const std::uint32_t max =
        packets.size() < fit ? static_cast<std::uint32_t>(packets.size()) : fit;
    std::uint32_t n = 0;
    std::uint64_t sum = 0;
    for (; n < max; ++n) {
      const Item& pkt = packets[n];
      if (!simple(pkt)) break;
      const std::uint64_t dma = buffer_of(pkt).dma;
      const std::uint32_t len = buffer_of(pkt).len;
      // What send() refuses (an empty buffer, one over the frame limit, an address past 46
      // bits) is left to it, to be refused and logged there.
      if (len - 1u >= max_frame_ || dma > desc::kMaxTxBufferAddress) break;
      const std::uint32_t t = tail + 2 * n;
      cookie_[t & (kRing - 1)] = pkt.cookie;
      descs_[t & (kRing - 1)] = 2;
      twq_.write(t, kPlainMeta);
      twq_.write(t + 1, desc::Twd::buffer(dma, len, true).raw());
      sum += len;
    }
    tail += 2 * n;
    bytes += sum;
    return n;
  }

  static bool simple(const TxPacket& p) {
    return p.buffers.size() == 1 && !p.offload.checksum && p.offload.mss == 0;
  }
  static constexpr bool simple(const TxFrame&) { return true; }
  static const TxBuffer& buffer_of(const TxPacket& p) { return p.buffers[0]; }
  static const TxBuffer& buffer_of(const TxFrame& f) { return f.buffer; }

  // Makes `sent` packets, written up to `tail`, the device's: the last one's META
  // (`last_meta`, holding `meta`) asks for the batch's one completion, whose head covers every
  // packet before it; then one doorbell.
  void commit(std::uint32_t sent, std::uint32_t tail, std::uint32_t last_meta, std::uint64_t meta,
              std::uint64_t bytes) {
    if (sent == 0) return;
    counters_.bytes += bytes;
    twq_.write(last_meta, desc::Twd::from_raw(meta).set(desc::Twd::kReqCompletion, 1).raw());
    batch_end_[batch_next_++ % kBatches] = tail;
    tail_ = tail;
    counters_.packets += sent;
    ring_doorbell();
  }

  Result<std::uint64_t> meta_for(const TxOffload& o) const {
    using T = desc::Twd;
    T meta = T::from_raw(kPlainMeta);
    // Lengths travel in 2-byte units (L4 header in 4-byte units): odd or oversized
    // values cannot be described, and are refused rather than silently truncated.
    if ((o.l2_len | o.l3_len | o.csum_field) & 1u) return Error::kInvalidArgument;
    meta.set(T::kL2Hlen, o.l2_len / 2u)
        .set(T::kL3Ihlen, o.l3_len / 2u)
        .set(T::kCsumOffset, o.csum_field / 2u);
    if (o.mss != 0) {
      if ((o.l4_header_len & 3u) != 0 || o.l3 == TxOffload::L3::kNone ||
          o.l4 == TxOffload::L4::kNone ||
          std::uint32_t{o.l2_len} + o.l3_len + o.l4_header_len + o.mss > max_frame_) {
        return Error::kInvalidArgument;
      }
      meta.set(T::kReqLso, 1)
          .set(T::kMss, o.mss)
          .set(T::kL4Hlen, o.l4_header_len / 4u)
          .set(T::kL3Type, o.l3 == TxOffload::L3::kIpv4 ? T::kL3Ipv4 : T::kL3Ipv6)
          .set(T::kL4Type, o.l4 == TxOffload::L4::kTcp ? T::kL4Tcp : T::kL4Udp);
    } else {
      meta.set(T::kReqCso, 1);
    }
    if (!meta.fits()) return Error::kInvalidArgument;
    return meta.raw();
  }

  [[gnu::cold, gnu::noinline]] Status refuse_offload(std::uint32_t index) const {
    log(io_.platform(), LogLevel::kError, "fbnic: tx queue ", queue_, ": packet ", index,
        " of the batch asks for checksum or TSO offload, which this Policy leaves out "
        "(kTxOffloads = false): send whole frames");
    return Error::kNotSupported;
  }

  [[gnu::cold, gnu::noinline]] Status refuse(const TxPacket& pkt, std::uint32_t index) const {
    log_tx_refusal(io_.platform(), queue_, index, pkt, max_frame_, Policy::kMaxTxBuffers);
    return Error::kInvalidArgument;
  }

  void ring_doorbell() {
    dma_wmb();
    io_.write(regs::Twq0Tail::at(queue_), regs::Twq0Tail::from_raw(tail_ & (kRing - 1))).ignore();
    ++counters_.doorbells;
  }

  struct Taken {
    std::uint32_t packets = 0;
    std::uint32_t completions = 0;
  };

  // Reads at most `completions` completions and hands back at most `packets` packets,
  // then writes the TCQ head doorbell once.
  template <class OnDone>
  Taken take_completions(OnDone&& on_done, std::uint32_t packets, std::uint32_t completions) {
    Taken t{release_done(on_done, packets), 0};
    std::uint32_t head = tcq_head_;
    while (t.packets < packets && head - tcq_head_ < completions) {
      const desc::Tcd tcd = desc::Tcd::from_raw(tcq_.read(head));
      if (tcd.get(desc::Tcd::kDone) != DescRing<kCompletions>::expected_done(head)) break;
      dma_rmb();
      ++head;
      if (tcd.get(desc::Tcd::kType) != desc::Tcd::kTypeHead || tcd.get(desc::Tcd::kTwq1) != 0) {
        continue;  // timestamps and TWQ1 are not used by this queue
      }
      if (!accept_head(tcd.get(desc::Tcd::kHead0))) {
        ++counters_.bad_completions;
        continue;
      }
      t.packets += release_done(on_done, packets - t.packets);
    }
    t.completions = head - tcq_head_;
    if (head != tcq_head_) {
      tcq_head_ = head;
      io_.write(regs::TcqHead::at(queue_), regs::TcqHead::from_raw(head & (kCompletions - 1)))
          .ignore();
    }
    return t;
  }

  // A genuine head is the end of the oldest batch still outstanding (as the device
  // reports it: masked to the ring).
  bool accept_head(std::uint64_t hw) {
    if (batch_first_ == batch_next_) return false;  // nothing outstanding
    const std::uint32_t end = batch_end_[batch_first_ % kBatches];
    if (hw != (end & (kRing - 1))) return false;
    ++batch_first_;
    done_ = end;
    return true;
  }

  // Hands back whole packets the device reported done, at most `max`.
  // The position is kept in a local: what on_done writes could alias the members. A send()
  // from on_done sees the packets not yet handed back as still in flight.
  template <class OnDone>
  std::uint32_t release_done(OnDone&& on_done, std::uint32_t max) {
    std::uint32_t clean = clean_;
    const std::uint32_t done = done_;
    std::uint32_t n = 0;
    while (clean != done && n < max) {
      on_done(cookie_[clean & (kRing - 1)]);
      clean += descs_[clean & (kRing - 1)];
      ++n;
    }
    clean_ = clean;
    return n;
  }

  Status wait_idle(Deadline deadline) {
    const std::uint32_t reg = queue_ / 32;
    const std::uint32_t bit = 1u << (queue_ % 32);
    return poll_until(io_.platform(), deadline, 2, [&]() -> Status {
      FBNIC_TRY_ASSIGN(const auto twq, io_.read(regs::QmTwqIdle::at(reg)));
      FBNIC_TRY_ASSIGN(const auto tqs, io_.read(regs::QmTqsIdle::at(reg)));
      FBNIC_TRY_ASSIGN(const auto tde, io_.read(regs::QmTdeIdle::at(reg)));
      FBNIC_TRY_ASSIGN(const auto tcq, io_.read(regs::QmTcqIdle::at(reg)));
      const bool idle = (twq.raw() & tqs.raw() & tde.raw() & tcq.raw() & bit) != 0;
      return idle ? ok_status() : Status(Error::kBusy);
    });
  }

  Io<P>& io_;
  std::uint32_t queue_;
  std::uint32_t vector_;
  bool enabled_ = false;
  std::uint32_t max_frame_ = desc::kMaxFrameBytes;
  DescRing<kRing> twq_{};
  DescRing<kCompletions> tcq_{};
  // Every batch takes two descriptors or more, so at most half a ring is outstanding.
  static constexpr std::uint32_t kBatches = kRing / 2;

  std::uint32_t tail_ = 0;      // next descriptor to write (free-running)
  std::uint32_t clean_ = 0;     // oldest descriptor not yet released (free-running)
  std::uint32_t done_ = 0;      // the device finished everything before this (free-running)
  std::uint32_t tcq_head_ = 0;  // next completion to read (free-running)
  // At a packet's first descriptor: its cookie and how many descriptors it used.
  std::array<std::uint64_t, kRing> cookie_{};
  std::array<std::uint8_t, kRing> descs_{};
  std::array<std::uint32_t, kBatches> batch_end_{};  // where each outstanding batch ends
  std::uint32_t batch_first_ = 0;                    // oldest outstanding batch (free-running)
  std::uint32_t batch_next_ = 0;                     // next batch to send (free-running)
  TxCounters counters_{};
};

}  // namespace fbnic
