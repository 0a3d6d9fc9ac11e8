// TxRef and RxRef: what Device::tx(i) and Device::rx(i) return.
//
// For an index the Device holds (below Policy::kTxQueues / kRxQueues) a ref is that queue,
// open or not: a queue that is not open refuses send() with kFailedPrecondition, and its
// poll() and reclaim() do nothing and return 0. For an index past that, the ref names no
// queue, and every call is refused the same way without touching memory: send() returns
// kOutOfRange, poll() and reclaim() return 0, counters read zero, release() does nothing
// (Device::tx/rx log the bad index). A mistaken index is an error, never an access out of
// bounds. The check costs one compare per call, not per packet. Of the queue's lifecycle
// only disable() is here (Device::open and close do the rest); get() reaches the queue.
#pragma once

#include <cstdint>
#include <span>

#include "fbnic/base/status.hpp"
#include "fbnic/platform/deadline.hpp"
#include "fbnic/ring/rx_queue.hpp"
#include "fbnic/ring/tx_queue.hpp"

namespace fbnic {

inline constexpr std::uint32_t kNoQueue = 0xFFFF'FFFFu;

template <class Q>
class TxRef {
 public:
  using Queue = Q;
  constexpr TxRef() = default;  // no queue
  explicit constexpr TxRef(Q& q) : q_(&q) {}

  [[nodiscard]] bool valid() const { return q_ != nullptr; }
  // The queue itself (lifecycle, tests); nullptr for an index past the Device's queues.
  [[nodiscard]] Q* get() const { return q_; }

  [[nodiscard]] std::uint32_t index() const { return q_ != nullptr ? q_->index() : kNoQueue; }
  [[nodiscard]] bool enabled() const { return q_ != nullptr && q_->enabled(); }
  [[nodiscard]] const TxCounters& counters() const {
    return q_ != nullptr ? q_->counters() : kNoCounters;
  }
  [[nodiscard]] std::uint32_t free_descriptors() const {
    return q_ != nullptr ? q_->free_descriptors() : 0;
  }
  [[nodiscard]] std::uint32_t in_flight() const { return q_ != nullptr ? q_->in_flight() : 0; }

  SendResult send(std::span<const TxPacket> packets) {
    if (q_ == nullptr) return {0, Error::kOutOfRange};
    return q_->send(packets);
  }
  SendResult send(std::span<const TxFrame> frames) {
    if (q_ == nullptr) return {0, Error::kOutOfRange};
    return q_->send(frames);
  }
  template <class OnDone>
  std::uint32_t reclaim(OnDone&& on_done, std::uint32_t budget = Q::kRing) {
    return q_ != nullptr ? q_->reclaim(static_cast<OnDone&&>(on_done), budget) : 0;
  }
  // Stops the queue ahead of Device::close() (TxQueue::disable: every packet reported done
  // or aborted), e.g. to take back Rx pages a forwarder lent it; close() then skips it.
  template <class OnDone, class OnAborted>
  Status disable(Deadline deadline, OnDone&& on_done, OnAborted&& on_aborted) {
    if (q_ == nullptr) return Error::kOutOfRange;
    return q_->disable(deadline, static_cast<OnDone&&>(on_done),
                       static_cast<OnAborted&&>(on_aborted));
  }

 private:
  static constexpr TxCounters kNoCounters{};
  Q* q_ = nullptr;
};

template <class Q>
class RxRef {
 public:
  using Queue = Q;
  using Packet = typename Q::Packet;
  constexpr RxRef() = default;  // no queue
  explicit constexpr RxRef(Q& q) : q_(&q) {}

  [[nodiscard]] bool valid() const { return q_ != nullptr; }
  [[nodiscard]] Q* get() const { return q_; }

  [[nodiscard]] std::uint32_t index() const { return q_ != nullptr ? q_->index() : kNoQueue; }
  [[nodiscard]] bool enabled() const { return q_ != nullptr && q_->enabled(); }
  [[nodiscard]] const RxCounters& counters() const {
    return q_ != nullptr ? q_->counters() : kNoCounters;
  }
  [[nodiscard]] std::uint32_t free_pages() const { return q_ != nullptr ? q_->free_pages() : 0; }
  [[nodiscard]] std::uint32_t held() const { return q_ != nullptr ? q_->held() : 0; }

  std::uint32_t poll(std::span<Packet> out) { return q_ != nullptr ? q_->poll(out) : 0; }
  // Stops the queue ahead of Device::close() (RxQueue::disable: every packet still in the
  // ring goes to on_packet).
  template <class OnPacket>
  Status disable(Deadline deadline, OnPacket&& on_packet) {
    if (q_ == nullptr) return Error::kOutOfRange;
    return q_->disable(deadline, static_cast<OnPacket&&>(on_packet));
  }
  void release(const Packet& p) {
    if (q_ != nullptr) q_->release(p);
  }
  void release(std::span<const Packet> packets) {
    if (q_ != nullptr) q_->release(packets);
  }
  void retain(const RxFragment& f) {
    if (q_ != nullptr) q_->retain(f);
  }
  void release(const RxFragment& f) {
    if (q_ != nullptr) q_->release(f);
  }
  void release_pages(std::span<const std::uint16_t> pages) {
    if (q_ != nullptr) q_->release_pages(pages);
  }
  [[nodiscard]] std::uint64_t dma(const RxFragment& f) const {
    return q_ != nullptr ? q_->dma(f) : 0;
  }

 private:
  static constexpr RxCounters kNoCounters{};
  Q* q_ = nullptr;
};

}  // namespace fbnic
