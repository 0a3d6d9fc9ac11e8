// RxQueue: one Rx queue: header and payload buffer queues (HPQ, PPQ) and the completion
// queue (RCQ).
//
//   poll(out)     reads completions until out is full or none is left: HDR_AL starts a
//                 packet, PAY_AL adds payload pieces, META ends it with hash, checksum and
//                 error bits. It reads at most one packet's worth of completions per slot
//                 of out, so junk the device writes costs no more than the caller's
//                 budget. Packets are views into the buffers (zero copy) and keep their
//                 pages until release(). Then the buffer rings are refilled from the page
//                 pool and each doorbell written once. No MMIO read.
//
// A packet handed out stays valid until released, also after the queue is disabled and
// freed: the page pool then goes with the last release (or with the queue object).
//
// The device packs several packets into one 4 KiB buffer; it consumes buffers in ring
// order, so a completion naming slot s tells the host that every slot before s is
// finished (and s too, with PAGE_FIN). Completions that contradict the host's state are
// counted and the packet is dropped: nothing outside a posted buffer is ever read.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "fbnic/base/barrier.hpp"
#include "fbnic/base/status.hpp"
#include "fbnic/desc/bd.hpp"
#include "fbnic/desc/rcd.hpp"
#include "fbnic/hw/io.hpp"
#include "fbnic/platform/deadline.hpp"
#include "fbnic/regs/qm.hpp"
#include "fbnic/regs/queue.hpp"
#include "fbnic/ring/desc_ring.hpp"
#include "fbnic/ring/drain.hpp"
#include "fbnic/ring/page_pool.hpp"
#include "fbnic/ring/policy.hpp"

namespace fbnic {

struct RxFragment {
  const std::uint8_t* data = nullptr;
  std::uint32_t len = 0;
  std::uint16_t page = 0;  // the pool page holding it (for release and zero-copy Tx)
  std::uint16_t offset = 0;
};

template <std::uint32_t MaxFrags>
struct RxPacketT {
  std::uint32_t len = 0;  // bytes over all fragments
  std::uint32_t frags = 0;
  std::uint64_t meta = 0;  // the packet's META completion (desc::Rcd), decoded on demand below
  std::array<RxFragment, MaxFrags> frag{};

  [[nodiscard]] std::span<const RxFragment> fragments() const { return {frag.data(), frags}; }
  [[nodiscard]] std::uint32_t rss_hash() const {
    return static_cast<std::uint32_t>(rcd().get(desc::Rcd::kRssHash));
  }
  // The ones' complement sum of the frame after the Ethernet header, as the device
  // reports it (little-endian word order).
  [[nodiscard]] std::uint16_t l2_csum() const {
    return static_cast<std::uint16_t>(rcd().get(desc::Rcd::kL2Csum));
  }
  // 0 other, 1 IPv4, 2 IPv6, 3 IPv6-in-IPv6
  [[nodiscard]] std::uint32_t l3() const {
    return static_cast<std::uint32_t>(rcd().get(desc::Rcd::kL3Type));
  }
  // 0 other, 1 TCP, 2 UDP
  [[nodiscard]] std::uint32_t l4() const {
    return static_cast<std::uint32_t>(rcd().get(desc::Rcd::kL4Type));
  }
  // The device verified the TCP or UDP checksum.
  [[nodiscard]] bool l4_csum_ok() const { return rcd().get(desc::Rcd::kL4CsumOk) != 0; }
  [[nodiscard]] bool parser_error() const { return rcd().get(desc::Rcd::kErrParser) != 0; }
  [[nodiscard]] desc::Rcd rcd() const { return desc::Rcd::from_raw(meta); }
};

struct RxCounters {
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
  std::uint64_t dropped = 0;          // frames the device flagged (MAC error, truncated)
  std::uint64_t bad_completions = 0;  // completions that contradict the host's state
  // Frames the device dropped for want of a posted buffer (its RDE_PKT_BDQ_DROP counter),
  // as of the last Device::service() or stats(): the queue reads no register itself.
  std::uint64_t no_buffers = 0;
  std::uint64_t refill_short = 0;  // refills cut short by an empty page pool (not drops)
  std::uint64_t bad_releases = 0;  // release() of something this queue does not hold
  std::uint64_t doorbells = 0;
};

template <Platform P, class Policy = DefaultPolicy>
class RxQueue {
  static_assert(policy_is_valid<Policy>());

 public:
  static constexpr std::uint32_t kHpq = Policy::kHpqRing;
  static constexpr std::uint32_t kPpq = Policy::kPpqRing;
  static constexpr std::uint32_t kRcq = Policy::kRcqRing;
  static constexpr std::uint32_t kPages = kHpq + kPpq + Policy::kRxSparePages;
  using Packet = RxPacketT<Policy::kMaxRxFrags>;
  // The completions one packet can take: a header, the payload pieces, an OPT_META and
  // the META.
  static constexpr std::uint32_t kCompletionsPerPacket = Policy::kMaxRxFrags + 2;
  // Page references the application may hold at once (packets' fragments, retain()s). A
  // page counts its references in 16 bits, the ring's own included, and a device may name
  // one buffer for every packet it reports: poll() hands out no more than that can count.
  static constexpr std::uint32_t kMaxUserRefs = 0xFFFF - 1;

  RxQueue(Io<P>& io, std::uint32_t queue, std::uint32_t vector)
      : io_(io), pool_(io.platform()), queue_(queue), vector_(vector) {}
  RxQueue(const RxQueue&) = delete;
  RxQueue& operator=(const RxQueue&) = delete;
  // Packets still held die with the queue.
  ~RxQueue() {
    free();
    pool_.free();
  }

  [[nodiscard]] std::uint32_t index() const { return queue_; }
  [[nodiscard]] std::uint32_t vector() const { return vector_; }
  [[nodiscard]] bool enabled() const { return enabled_; }
  [[nodiscard]] const RxCounters& counters() const { return counters_; }
  [[nodiscard]] std::uint32_t free_pages() const { return pool_.free_pages(); }
  // Packets poll() handed out that the application has not released (0 once none of
  // their buffers is held any more, however they were given back).
  [[nodiscard]] std::uint32_t held() const { return held_; }
  // The device's count behind counters().no_buffers (Device keeps it up to date).
  void set_no_buffers(std::uint64_t dropped) { counters_.no_buffers = dropped; }

  // --- lifecycle ---

  Status allocate() {
    if (rcq_.attached()) return ok_status();
    free_pool_when_released_ = false;  // a pool kept for held packets serves again
    P& p = io_.platform();
    Status st = pool_.allocate();
    if (!st.ok()) {
      st = dma_refused(p, st, std::size_t{kPages} * desc::kRxBufferBytes, "rx queue ", queue_,
                       "'s page pool (", kPages, " Rx buffers of 4 KiB)");
    } else if ((pool_.dma(kPages - 1) >> 12) > desc::Bd::kAddr.kMax) {
      // A buffer descriptor carries address bits 45:12: nothing above can be posted.
      log(p, LogLevel::kError, "fbnic: rx queue ", queue_,
          ": the platform's dma_alloc gave the page pool device address ", Hex{pool_.dma(0)},
          ", beyond the 46 bits the device reaches");
      pool_.free();
      st = Error::kOutOfRange;
    }
    const auto ring = [&](auto& r, const char* what) {
      if (!st.ok()) return;
      st = r.allocate(p);
      if (!st.ok()) st = dma_refused(p, st, r.kAllocBytes, "rx queue ", queue_, what);
    };
    ring(hpq_.ring, "'s header buffer ring");
    ring(ppq_.ring, "'s payload buffer ring");
    ring(rcq_, "'s completion ring");
    if (!st.ok()) free();
    return st;
  }

  // Programs the rings (each in reset while its base and size are written), then fills
  // both buffer queues.
  Status enable() {
    if (!rcq_.attached()) return Error::kFailedPrecondition;
    pool_.restock();  // packets held from an earlier session keep their pages
    hpq_.reset();
    ppq_.reset();
    rcq_.clear();
    rcq_head_ = 0;
    in_packet_ = false;
    refs_full_ = false;
    const std::uint32_t q = queue_;
    using regs::BdqCtl;
    FBNIC_TRY(io_.write(BdqCtl::at(q), BdqCtl{}.set(BdqCtl::kReset, 1)));
    FBNIC_TRY(write_ring_base(io_, regs::BdqHpqBal::at(q), regs::BdqHpqBah::at(q), hpq_.ring));
    FBNIC_TRY(
        io_.write(regs::BdqHpqSize::at(q),
                  regs::BdqHpqSize{}.set(regs::BdqHpqSize::kLog2, regs::ring_size_code(kHpq))));
    FBNIC_TRY(write_ring_base(io_, regs::BdqPpqBal::at(q), regs::BdqPpqBah::at(q), ppq_.ring));
    FBNIC_TRY(
        io_.write(regs::BdqPpqSize::at(q),
                  regs::BdqPpqSize{}.set(regs::BdqPpqSize::kLog2, regs::ring_size_code(kPpq))));
    FBNIC_TRY(
        io_.write(BdqCtl::at(q), BdqCtl{}.set(BdqCtl::kEnable, 1).set(BdqCtl::kPpqEnable, 1)));

    using regs::RdeCtl0;
    using regs::RdeCtl1;
    constexpr auto ctl0 = RdeCtl0{}
                              .set(RdeCtl0::kMinHroom, Policy::kRxHeadroom)
                              .set(RdeCtl0::kMinTroom, Policy::kRxTailroom)
                              .set(RdeCtl0::kDropMode, kDropMode)
                              .set(RdeCtl0::kEnHdrSplit, Policy::kRxHeaderSplit ? 1 : 0);
    constexpr auto ctl1 = RdeCtl1{}.set(RdeCtl1::kMaxHdr, Policy::kRxMaxHeader);
    FBNIC_TRY(io_.write(RdeCtl0::at(q), ctl0));
    FBNIC_TRY(io_.write(RdeCtl1::at(q), ctl1));
    FBNIC_TRY(io_.write(regs::RcqCtl::at(q), regs::RcqCtl{}.set(regs::RcqCtl::kReset, 1)));
    FBNIC_TRY(write_ring_base(io_, regs::RcqBal::at(q), regs::RcqBah::at(q), rcq_));
    FBNIC_TRY(io_.write(regs::RcqSize::at(q),
                        regs::RcqSize{}.set(regs::RcqSize::kLog2, regs::ring_size_code(kRcq))));
    FBNIC_TRY(io_.write(regs::RimCtl::at(q), regs::RimCtl{}.set(regs::RimCtl::kVector, vector_)));
    FBNIC_TRY(io_.write(regs::RimThreshold::at(q),
                        regs::RimThreshold{}.set(regs::RimThreshold::kCount, (kRcq - 1) / 2)));
    FBNIC_TRY(io_.write(regs::RimMask::at(q), regs::RimMask{}));
    FBNIC_TRY(io_.write(regs::RcqCtl::at(q), regs::RcqCtl{}.set(regs::RcqCtl::kEnable, 1)));
    FBNIC_TRY(io_.flush());
    enabled_ = true;
    refill();
    return ok_status();
  }

  // Stops the device placing frames, waits (bounded) for it to go idle, hands every
  // complete packet still in the completion ring to on_packet, and takes back all
  // buffers. Packets handed out earlier stay valid until released. The drain reads at
  // most one ring of completions: a device that keeps completing after it was turned off
  // cannot hold the caller here.
  template <class OnPacket>
  Status disable(Deadline deadline, OnPacket&& on_packet) {
    if (!enabled_) return ok_status();
    const std::uint32_t q = queue_;
    // Every step is tried on a device that failed or vanished too: what it wrote to host
    // memory is still handed over. The first error is returned.
    FirstError first;
    first.keep(
        io_.modify(regs::BdqCtl::at(q), [](regs::BdqCtl& r) { r.set(regs::BdqCtl::kEnable, 0); }));
    first.keep(io_.write(regs::RcqCtl::at(q), regs::RcqCtl{}));
    first.keep(io_.write(regs::RimMask::at(q), regs::RimMask{}.set(regs::RimMask::kMasked, 1)));
    first.keep(io_.flush());
    if (first.ok()) first.keep(wait_idle(deadline));
    enabled_ = false;
    std::array<Packet, 16> batch{};
    drain_bounded(kRcq, [&](std::uint32_t budget) {
      const Collected c = collect(
          std::span(batch).first(fit_refs(static_cast<std::uint32_t>(batch.size()))), budget);
      for (std::uint32_t i = 0; i < c.packets; ++i) on_packet(batch[i]);
      return c.completions;
    });
    if (in_packet_) release_fragments(partial_);
    in_packet_ = false;
    hpq_.release_all(pool_);
    ppq_.release_all(pool_);
    return first.status();
  }

  // Frees the rings; the page pool too, unless packets handed out still point into it:
  // then it goes when the last of them is released.
  void free() {
    hpq_.ring.release(io_.platform());
    ppq_.ring.release(io_.platform());
    rcq_.release(io_.platform());
    if (pool_.all_free() || !pool_.allocated()) {
      pool_.free();
    } else {
      free_pool_when_released_ = true;
    }
  }

  // --- the hot path ---

  // On a queue that is not open (before open(), after close(), or one the device does not
  // use) it does nothing and returns 0; packets held from before can still be released.
  std::uint32_t poll(std::span<Packet> out) {
    if (!enabled_) return 0;
    const std::uint32_t slots =
        fit_refs(out.size() < kRcq ? static_cast<std::uint32_t>(out.size()) : kRcq);
    const std::uint32_t budget = slots * kCompletionsPerPacket;
    const std::uint32_t n = collect(out.first(slots), budget < kRcq ? budget : kRcq).packets;
    refill();
    return n;
  }

  // A release this queue can tell is wrong (a packet it did not hand out: another queue's,
  // forged; or one whose pages nobody holds any more: released twice) is refused, counted in
  // counters().bad_releases and logged, its pages left alone.
  void release(const Packet& p) { release(std::span<const Packet>(&p, 1)); }
  void release(std::span<const Packet> packets) {
    Runs run(*this, Runs::Of::kPackets);
    const std::uint8_t* const base = pool_.cpu(0);
    for (const Packet& p : packets) {
      // A packet poll() handed out and not released: each fragment where this queue's pool
      // put it, on a page someone holds. So a packet released twice never takes the ring's
      // reference: a posted page stays off the free stack whatever the application releases.
      const std::uint32_t k = p.frags;
      if (k == 1) [[likely]] {  // most packets
        const RxFragment& f = p.frag[0];
        if (f.page != run.page) [[unlikely]] {
          run.start(f.page);
        }
        if (run.refs < run.cap && f.data == run.bytes + f.offset) [[likely]] {
          ++run.refs;
        } else {
          refuse_release("release");
        }
        continue;
      }
      run.start(kNoPage);
      bool ours = run.held != 0 && k - 1 < Policy::kMaxRxFrags && run.user_refs >= k;
      for (std::uint32_t i = 0; ours && i < k; ++i) {
        // The references this packet's earlier fragments take from the same page.
        std::uint32_t pending = 0;
        for (std::uint32_t j = 0; j < i; ++j) pending += p.frag[j].page == p.frag[i].page;
        ours = fragment_ours(p.frag[i], base, pending);
      }
      if (!ours) {
        refuse_release("release");
        continue;
      }
      for (std::uint32_t i = 0; i < k; ++i) pool_.unref(p.frag[i].page);
      run.user_refs -= k;
      --run.held;
    }
    run.finish();
  }
  // The pages of fragments given back together (e.g. the cookies of forwarded packets the
  // device has sent): release(fragment) for a fragment on each page, with the same checks.
  void release_pages(std::span<const std::uint16_t> pages) {
    Runs run(*this, Runs::Of::kPageRefs);
    for (const std::uint16_t page : pages) {
      if (page != run.page) [[unlikely]] {
        run.start(page);
      }
      if (run.refs < run.cap) [[likely]] {
        ++run.refs;
      } else {
        refuse_release("release_pages");
      }
    }
    run.finish();
  }
  // Another holder of a fragment's page (e.g. a Tx buffer pointing into it); each retain()
  // is undone by one release(fragment).
  void retain(const RxFragment& f) {
    if (!user_page(f.page)) return refuse_release("retain");
    if (user_refs_ == kMaxUserRefs) return refuse_retain();
    pool_.ref(f.page);
    ++user_refs_;
  }
  void release(const RxFragment& f) {
    if (!user_page(f.page)) return refuse_release("release");
    drop_user_ref(f.page);
    if (free_pool_when_released_) free_pool_if_unused();
  }
  [[nodiscard]] std::uint64_t dma(const RxFragment& f) const {
    return pool_.dma(f.page) + f.offset;
  }

 private:
  static constexpr std::uint16_t kNoPage = 0xFFFF;  // above every page (kPages <= 65535)
  static constexpr std::uint32_t kDropMode =
      Policy::kRxBackPressure ? regs::RdeCtl0::kDropNever : regs::RdeCtl0::kDropImmediate;

  template <std::uint32_t N>
  struct BufferQueue {
    DescRing<N> ring{};
    std::uint32_t head = 0;  // oldest slot the device may still write to (free-running)
    std::uint32_t tail = 0;  // next slot to post (free-running)
    std::array<std::uint16_t, N> page{};

    void reset() {
      ring.clear();
      head = tail = 0;
    }
    // Slot s (as the device names it) in free-running terms, if it is posted.
    bool locate(std::uint32_t id, std::uint32_t& pos) const {
      if (id >= N) return false;
      pos = head + ((id - head) & (N - 1));
      return pos - head < tail - head;
    }
    template <class Pool>
    void release_before(std::uint32_t pos, Pool& pool) {
      for (; head != pos; ++head) pool.unref_posted(page[head & (N - 1)]);
    }
    template <class Pool>
    void release_all(Pool& pool) {
      release_before(tail, pool);
    }
  };

  struct Collected {
    std::uint32_t packets = 0;
    std::uint32_t completions = 0;
    std::uint64_t bytes = 0;  // of the packets (collect_single(); collect() counts them)
  };

  // Packets are assembled in place in `out`, from at most `budget` completions. One the
  // device has not finished writing when the completions run out is kept aside and
  // continued by the next call. The META word is kept whole; the packet decodes its fields
  // when asked.
  Collected collect(std::span<Packet> out, std::uint32_t budget) {
    if (out.empty() || budget == 0) return {};
    std::uint32_t n = 0;
    std::uint32_t head = rcq_head_;
    bool in_packet = in_packet_;
    bool bad = partial_bad_;
    std::uint64_t packets = 0;
    std::uint64_t bytes = 0;
    if (in_packet) out[0] = partial_;
    const auto max = static_cast<std::uint32_t>(out.size());
    const std::uint32_t first = head;
    while (n < max && head - first < budget) {
      if (Policy::kFastPaths && !in_packet) {  // the common case first, in a loop of its own
        const Collected run = collect_single(out.subspan(n), head, budget - (head - first));
        n += run.packets;
        head += run.completions;
        packets += run.packets;
        bytes += run.bytes;
        if (n == max || head - first == budget) break;
      }
      const desc::Rcd rcd = desc::Rcd::from_raw(rcq_.read(head));
      if (rcd.get(desc::Rcd::kDone) != DescRing<kRcq>::expected_done(head)) break;
      dma_rmb();
      Packet& cur = out[n];
      ++head;
      switch (rcd.get(desc::Rcd::kType)) {
        case desc::Rcd::kTypeHdrAl:
          if (in_packet) release_fragments(cur);  // a header before the last packet ended
          cur.frags = 0;
          cur.len = 0;
          in_packet = true;
          bad = !add_fragment(hpq_, rcd, cur);
          break;
        case desc::Rcd::kTypePayAl:
          if (!in_packet) {
            ++counters_.bad_completions;
          } else if (!bad) {
            bad = !add_fragment(ppq_, rcd, cur);
          }
          break;
        case desc::Rcd::kTypeOptMeta: break;
        default:  // META: the packet is complete
          if (!in_packet) {
            ++counters_.bad_completions;
            break;
          }
          in_packet = false;
          if (bad || (rcd.raw() & kFrameErrors) != 0) {
            if (!bad) ++counters_.dropped;
            release_fragments(cur);
            break;
          }
          cur.meta = rcd.raw();
          bytes += cur.len;
          ++packets;
          ++n;
          break;
      }
    }
    counters_.packets += packets;
    counters_.bytes += bytes;
    held_ += static_cast<std::uint32_t>(packets);
    in_packet_ = in_packet;
    partial_bad_ = bad;
    if (in_packet) partial_ = out[n];
    if (head != rcq_head_) {
      rcq_head_ = head;
      io_.write(regs::RcqHead::at(queue_), regs::RcqHead::from_raw(head & (kRcq - 1))).ignore();
    }
    return {n, head - first};
  }

  static constexpr std::uint64_t kFrameErrors =
      desc::Rcd{}.set(desc::Rcd::kErrMacEop, 1).set(desc::Rcd::kErrTruncated, 1).raw();

  // What a packet of one header buffer looks like: a finished HDR_AL naming a slot of the
  // header ring (an ID below kHpq), then a finished META without frame errors, by the DONE
  // value of the completion's lap.
  static constexpr std::uint64_t kDoneAndType =
      desc::Rcd{}.set_all(desc::Rcd::kDone).set_all(desc::Rcd::kType).raw();
  static constexpr std::uint64_t kHdrMask =
      kDoneAndType | (desc::Rcd::kBuffId.kMask & ~std::uint64_t{kHpq - 1});
  static constexpr std::uint64_t kMetaMask = kDoneAndType | kFrameErrors;
  // A header naming one buffer, and not its last packet (PAGE_FIN clear).
  static constexpr std::uint64_t kSameBufferMask =
      kDoneAndType | desc::Rcd{}.set_all(desc::Rcd::kBuffId).set_all(desc::Rcd::kPageFin).raw();
  static constexpr std::uint64_t kHeaderAl =
      desc::Rcd{}.set(desc::Rcd::kType, desc::Rcd::kTypeHdrAl).raw();
  static constexpr std::uint64_t kMeta =
      desc::Rcd{}.set(desc::Rcd::kType, desc::Rcd::kTypeMeta).raw();
  // The DONE bit a completion at this index has once written.
  static constexpr std::uint64_t done_bit(std::uint32_t index) {
    return desc::Rcd{}.set(desc::Rcd::kDone, DescRing<kRcq>::expected_done(index)).raw();
  }

  // Most packets are one header buffer and an error-free META: taken two completions at a
  // time, with the checks and references of collect() (add_fragment()'s, for a first
  // fragment); collect() counts the packets and their bytes. Stops at anything else, which
  // collect() then takes one completion at a time. Up to the end of the ring's lap every
  // completion has the same DONE value, so the pairs there are read through a pointer and
  // compared with fixed words; a pair across the end of the lap is left to collect().
  // The device fills the oldest posted header buffer with packet after packet: a header that
  // names it and is not its last is checked by one compare with a fixed word (then only its
  // offset and length), and the references of those packets are counted in a register and
  // added to the page when something else comes. The header queue's position is kept in
  // locals: dma_rmb() is a compiler barrier, after which members would be loaded again, and
  // the packets written could alias them.
  Collected collect_single(std::span<Packet> out, std::uint32_t head, std::uint32_t budget) {
    using R = desc::Rcd;
    std::uint8_t* const base = pool_.cpu(0);
    std::uint32_t posted = hpq_.head;            // oldest header buffer the device may still write
    std::uint32_t in_ring = hpq_.tail - posted;  // posted from there on
    Packet* cur = out.data();
    const std::uint32_t first = head;
    std::uint32_t pairs = budget / 2;
    if (out.size() < pairs) pairs = static_cast<std::uint32_t>(out.size());
    if (in_ring == 0) pairs = 0;  // no header buffer to name
    std::uint64_t bytes = 0;
    std::uint16_t page = hpq_.page[posted & (kHpq - 1)];  // the oldest posted buffer's
    std::uint32_t refs = 0;  // references its packets took, not yet added to the page
    bool more = true;
    while (more && pairs != 0) {
      std::uint32_t lap = (kRcq - (head & (kRcq - 1))) / 2;  // pairs left in this lap
      if (lap > pairs) lap = pairs;
      if (lap == 0) break;
      const std::uint64_t header_done = kHeaderAl | done_bit(head);
      const std::uint64_t meta_done = kMeta | done_bit(head);
      std::uint64_t oldest = header_done | (posted & (kHpq - 1));  // a header naming it
      const std::uint64_t* const start = rcq_.slot(head);
      const std::uint64_t* const stop = start + 2 * std::size_t{lap};
      const std::uint64_t* c = start;
      for (; c != stop; c += 2) {
        const std::uint64_t hdr = DescRing<kRcq>::load(c);
        const std::uint64_t end = DescRing<kRcq>::load(c + 1);
        if (((end ^ meta_done) & kMetaMask) != 0) break;
        const R rcd = R::from_raw(hdr);
        const auto off = static_cast<std::uint32_t>(rcd.get(R::kBuffOff));
        const auto len = static_cast<std::uint32_t>(rcd.get(R::kBuffLen));
        // One compare for a length of 0 and one past the buffer's end (off is below 4096).
        const bool fits = len - 1u < desc::kRxBufferBytes - off;
        std::uint16_t at = page;  // the packet's page
        if (((hdr ^ oldest) & kSameBufferMask) == 0) [[likely]] {
          dma_rmb();
          if (!fits) continue;  // counted below
          ++refs;
        } else {
          if (((hdr ^ header_done) & kHdrMask) != 0) break;
          dma_rmb();
          const auto id = static_cast<std::uint32_t>(rcd.get(R::kBuffId));
          const std::uint32_t done = (id - posted) & (kHpq - 1);  // buffers before it (locate())
          if (done >= in_ring || !fits) continue;                 // counted below
          pool_.ref(page, refs);  // before pages the device moved past are let go
          refs = 0;
          if (done != 0) {
            in_ring -= done;
            for (const std::uint32_t to = posted + done; posted != to; ++posted) {
              pool_.unref_posted(hpq_.page[posted & (kHpq - 1)]);
            }
          }
          at = hpq_.page[id];  // its slot: id is below kHpq
          if (rcd.get(R::kPageFin) != 0) {
            ++posted;  // the device is done with it: the ring's reference passes to the packet
            --in_ring;
            pool_.unpost(at);
          } else {
            ++refs;  // on the oldest posted page, which `at` now is
          }
          page = hpq_.page[posted & (kHpq - 1)];
          oldest = header_done | (posted & (kHpq - 1));
          if (in_ring == 0) more = false;  // after this packet: no header buffer left to name
        }
        cur->len = len;
        cur->frags = 1;
        cur->meta = end;
        cur->frag[0] = {base + std::size_t{at} * desc::kRxBufferBytes + off, len, at,
                        static_cast<std::uint16_t>(off)};
        ++cur;
        bytes += len;
        if (!more) {
          c += 2;
          break;
        }
      }
      const auto taken = static_cast<std::uint32_t>(c - start);
      head += taken;
      pairs -= taken / 2;
      more = more && c == stop;
    }
    pool_.ref(page, refs);
    const auto n = static_cast<std::uint32_t>(cur - out.data());
    hpq_.head = posted;
    user_refs_ += n;
    counters_.bad_completions += (head - first) / 2 - n;
    return {n, head - first, bytes};
  }

  // Releases next to each other often name one page (the device packs several packets into a
  // buffer): a run of them is checked against what the page had when the run began (how many
  // references it has outside the ring, and where its bytes are) and its references are dropped
  // together when the run ends, not by a count changed in memory per release. The queue's
  // counts are kept here until finish(): the packets released could alias them.
  struct Runs {
    enum class Of { kPageRefs, kPackets };  // what each release gives back
    Runs(RxQueue& queue, Of what)
        : q(queue), held(queue.held_), user_refs(queue.user_refs_), of(what) {}
    void start(std::uint16_t next) {
      if (refs != 0) {
        q.pool_.unref(page, refs);
        user_refs -= refs;
        if (of == Of::kPackets) held -= refs;  // one reference each
      }
      refs = 0;
      page = next;
      cap = next < kPages ? q.pool_.held_refs(next) : 0;  // none: the run's releases are refused
      if (of == Of::kPackets && cap > held) cap = held;
      if (cap > user_refs) cap = user_refs;
      if (cap != 0) bytes = q.pool_.cpu(0) + std::size_t{next} * desc::kRxBufferBytes;
    }
    void finish() {
      start(kNoPage);
      q.user_refs_ = user_refs;
      q.held_ = user_refs == 0 ? 0 : held;
      if (q.free_pool_when_released_) q.free_pool_if_unused();
    }

    RxQueue& q;
    std::uint32_t held;       // packets handed out and not released
    std::uint32_t user_refs;  // references outside the ring
    Of of;
    std::uint16_t page = kNoPage;
    std::uint32_t refs = 0;  // this run's releases (one reference each)
    std::uint32_t cap = 0;   // what the run may drop: the page's, and no more than is held
    const std::uint8_t* bytes = nullptr;  // the run's page
  };

  void unref(const Packet& p) {
    for (std::uint32_t i = 0; i < p.frags; ++i) drop_user_ref(p.frag[i].page);
  }
  void drop_user_ref(std::uint16_t page) {
    pool_.unref(page);
    if (--user_refs_ == 0) held_ = 0;
  }
  // A page of the pool that someone outside the ring holds a reference to.
  [[nodiscard]] bool user_page(std::uint32_t page) const {
    return page < kPages && pool_.held_refs(static_cast<std::uint16_t>(page)) != 0 &&
           user_refs_ != 0;
  }
  // A fragment where the pool put it (base: the pool's first page), in a page with more
  // references outside the ring than its packet's earlier fragments take (pending).
  [[nodiscard]] bool fragment_ours(const RxFragment& f, const std::uint8_t* base,
                                   std::uint32_t pending) const {
    return f.page < kPages && pending < pool_.held_refs(f.page) &&
           f.data == base + std::size_t{f.page} * desc::kRxBufferBytes + f.offset;
  }
  [[gnu::cold, gnu::noinline]] void refuse_retain() {
    ++counters_.bad_releases;
    log(io_.platform(), LogLevel::kError, "fbnic: rx queue ", queue_,
        ": retain() refused: ", kMaxUserRefs,
        " page references are held already, as many as a page can count");
  }
  // How many of `slots` packets may be handed out without the references held passing
  // kMaxUserRefs (each packet can take kMaxRxFrags).
  std::uint32_t fit_refs(std::uint32_t slots) {
    if (slots * Policy::kMaxRxFrags > kMaxUserRefs - user_refs_) [[unlikely]] {
      return refs_room();
    }
    return slots;
  }
  // Said once a session.
  [[gnu::cold, gnu::noinline]] std::uint32_t refs_room() {
    if (!refs_full_) {
      log(io_.platform(), LogLevel::kWarning, "fbnic: rx queue ", queue_, ": ", user_refs_,
          " page references held, near what a page counts: poll() hands out fewer until "
          "release()");
    }
    refs_full_ = true;
    return (kMaxUserRefs - user_refs_) / Policy::kMaxRxFrags;
  }
  [[gnu::cold, gnu::noinline]] void refuse_release(const char* call) {
    ++counters_.bad_releases;
    log(io_.platform(), LogLevel::kError, "fbnic: rx queue ", queue_, ": ", call,
        "() of a packet or fragment this queue does not hold (released already, another "
        "queue's, or not from poll()): ignored, its pages left alone");
  }
  void free_pool_if_unused() {
    if (!pool_.all_free()) return;
    pool_.free();
    free_pool_when_released_ = false;
  }

  void release_fragments(Packet& pkt) {
    unref(pkt);
    pkt.frags = 0;
    pkt.len = 0;
  }

  template <std::uint32_t N>
  bool add_fragment(BufferQueue<N>& q, desc::Rcd rcd, Packet& pkt) {
    using R = desc::Rcd;
    std::uint32_t pos = 0;
    const auto id = static_cast<std::uint32_t>(rcd.get(R::kBuffId));
    const auto off = static_cast<std::uint32_t>(rcd.get(R::kBuffOff));
    const auto len = static_cast<std::uint32_t>(rcd.get(R::kBuffLen));
    if (!q.locate(id, pos) || len == 0 || off + len > desc::kRxBufferBytes ||
        pkt.frags == Policy::kMaxRxFrags) {
      ++counters_.bad_completions;
      return false;
    }
    q.release_before(pos, pool_);  // the device moved past every earlier buffer
    const std::uint16_t page = q.page[pos & (N - 1)];
    pool_.ref(page);
    ++user_refs_;
    pkt.frag[pkt.frags++] = {pool_.cpu(page) + off, len, page, static_cast<std::uint16_t>(off)};
    pkt.len += len;
    if (rcd.get(R::kPageFin) != 0) q.release_before(pos + 1, pool_);
    return true;
  }

  void refill() {
    refill(hpq_, regs::BdqHpqTail::at(queue_));
    refill(ppq_, regs::BdqPpqTail::at(queue_));
  }
  template <std::uint32_t N, class TailReg>
  void refill(BufferQueue<N>& q, regs::RegAddr<TailReg> doorbell) {
    const std::uint32_t start = q.tail;
    while (q.tail - q.head < N - 1) {
      const std::uint16_t page = pool_.take();
      if (page == decltype(pool_)::kNone) {
        ++counters_.refill_short;
        if (q.tail == q.head && !starved_) starving();
        break;
      }
      const std::uint32_t slot = q.tail & (N - 1);
      q.page[slot] = page;
      q.ring.write(q.tail, desc::Bd::make(pool_.dma(page), static_cast<std::uint16_t>(slot)).raw());
      ++q.tail;
    }
    if (q.tail == start) return;
    starved_ = false;
    dma_wmb();
    io_.write(doorbell, TailReg::from_raw(q.tail & (N - 1))).ignore();
    ++counters_.doorbells;
  }

  // Every page is held by packets the application kept: the device drops what arrives.
  [[gnu::cold, gnu::noinline]] void starving() {
    starved_ = true;
    log(io_.platform(), LogLevel::kWarning, "fbnic: rx queue ", queue_,
        ": no free Rx buffers: all ", kPages, " pages are held by ", held_,
        " packets not yet released; the device drops what arrives until release()");
  }

  Status wait_idle(Deadline deadline) {
    const std::uint32_t reg = queue_ / 32;
    const std::uint32_t bit = 1u << (queue_ % 32);
    return poll_until(io_.platform(), deadline, 2, [&]() -> Status {
      FBNIC_TRY_ASSIGN(const auto hpq, io_.read(regs::QmHpqIdle::at(reg)));
      FBNIC_TRY_ASSIGN(const auto ppq, io_.read(regs::QmPpqIdle::at(reg)));
      FBNIC_TRY_ASSIGN(const auto rcq, io_.read(regs::QmRcqIdle::at(reg)));
      return (hpq.raw() & ppq.raw() & rcq.raw() & bit) != 0 ? ok_status() : Status(Error::kBusy);
    });
  }

  Io<P>& io_;
  PagePool<P, kPages> pool_;
  std::uint32_t queue_;
  std::uint32_t vector_;
  bool enabled_ = false;
  BufferQueue<kHpq> hpq_{};
  BufferQueue<kPpq> ppq_{};
  DescRing<kRcq> rcq_{};
  std::uint32_t rcq_head_ = 0;
  Packet partial_{};
  bool in_packet_ = false;
  bool partial_bad_ = false;
  bool free_pool_when_released_ = false;
  bool starved_ = false;
  bool refs_full_ = false;       // refs_room() has said so this session
  std::uint32_t held_ = 0;       // packets handed out, not released
  std::uint32_t user_refs_ = 0;  // page references outside the rings (packets, retain())
  RxCounters counters_{};
};

}  // namespace fbnic
