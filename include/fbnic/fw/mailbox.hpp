// Mailbox: the host side of the two firmware mailbox rings in BAR4.
//
// Tx (host -> firmware) and Rx (firmware -> host) are rings of 16 descriptors, each
// pointing at one 4 KiB DMA buffer. A descriptor becomes the firmware's when the host
// writes its low half with HOST_CMPL (the high half goes first, so the firmware never
// sees a half-written descriptor); it comes back with FW_CMPL. One descriptor always
// stays zero: the firmware stops there.
//
// open() follows the upstream order: software-cleared status for vector 0, both rings
// reset, a wait (bounded) for the firmware's first interrupt, then the Rx ring is filled
// and DMA enabled each way. Nothing here blocks without a deadline.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <type_traits>

#include "fbnic/base/barrier.hpp"
#include "fbnic/base/result.hpp"
#include "fbnic/base/status.hpp"
#include "fbnic/desc/mailbox_desc.hpp"
#include "fbnic/hw/io.hpp"
#include "fbnic/platform/deadline.hpp"
#include "fbnic/platform/platform.hpp"
#include "fbnic/regs/intr.hpp"
#include "fbnic/regs/mailbox.hpp"
#include "fbnic/regs/master.hpp"
#include "fbnic/regs/pul.hpp"
#include "fbnic/tlv/codec.hpp"

namespace fbnic::fw {

struct MailboxStats {
  std::uint64_t sent = 0;           // messages handed to the firmware
  std::uint64_t completed = 0;      // Tx descriptors the firmware gave back
  std::uint64_t fw_errors = 0;      // ... of which marked FW_ERR
  std::uint64_t received = 0;       // Rx messages delivered to the caller
  std::uint64_t rx_bad_length = 0;  // Rx descriptors with an impossible length
  std::uint64_t rx_empty = 0;       // Rx descriptors completed with nothing in them
};

template <Platform P>
class Mailbox {
 public:
  static constexpr std::uint32_t kRing = regs::kMailboxDescs;
  static constexpr std::uint32_t kPollStepUs = 20'000;  // the firmware's pace: 20 ms

  explicit Mailbox(Io<P>& io) : io_(io) {}
  Mailbox(const Mailbox&) = delete;
  Mailbox& operator=(const Mailbox&) = delete;
  ~Mailbox() { release_buffers(); }

  [[nodiscard]] bool is_open() const { return open_; }
  [[nodiscard]] P& platform() { return io_.platform(); }
  [[nodiscard]] const MailboxStats& stats() const { return stats_; }

  // Resets both rings, waits for the firmware to answer, and arms the Rx ring.
  Status open(Deadline deadline) {
    if (open_) return Error::kFailedPrecondition;
    FBNIC_TRY(allocate_buffers());
    Status st = start(deadline);
    if (!st.ok()) {
      reset_ring(regs::kMailboxTx).ignore();
      reset_ring(regs::kMailboxRx).ignore();
      release_buffers();
    }
    return st;
  }

  // Gives the firmware until the deadline to take what was posted, then stops both rings.
  Status close(Deadline deadline) {
    if (!open_) return ok_status();
    io_.write(regs::IntrMaskSet::at(0), regs::IntrMaskSet::from_raw(1u << regs::kMailboxVector))
        .ignore();
    const Status drained = poll_until(io_.platform(), deadline, kPollStepUs / 20, [&]() -> Status {
      FBNIC_TRY(reap());
      return tx_head_ == tx_tail_ ? ok_status() : Status(Error::kBusy);
    });
    reset_ring(regs::kMailboxTx).ignore();
    reset_ring(regs::kMailboxRx).ignore();
    open_ = false;
    release_buffers();
    return drained;
  }

  // A message of any type, to be encoded into a Tx buffer: what lets the callers that
  // wait for room or for an answer share one loop whatever they send.
  struct Encoder {
    Result<std::span<const std::uint8_t>> (*encode)(const void* msg, std::span<std::uint8_t> out);
    const void* msg;
  };
  template <tlv::HasSchema T>
  static Encoder encoder(const T& msg) {
    return {[](const void* m, std::span<std::uint8_t> out) {
              return tlv::encode(*static_cast<const T*>(m), out);
            },
            &msg};
  }

  // Encodes msg straight into the next Tx buffer and hands it to the firmware.
  template <tlv::HasSchema T>
  Status send(const T& msg) {
    return send_encoded(encoder(msg));
  }
  Status send_encoded(Encoder msg) {
    FBNIC_TRY_ASSIGN(const std::uint32_t slot, free_tx_slot());
    FBNIC_TRY_ASSIGN(const auto bytes, msg.encode(msg.msg, tx_buf_[slot].bytes()));
    return post_tx(static_cast<std::uint32_t>(bytes.size()));
  }

  // Takes back what the firmware completed; fails only on a device that is gone.
  Status reap() {
    while (tx_head_ != tx_tail_) {
      FBNIC_TRY_ASSIGN(const auto lo, io_.read(regs::MbxDescLo::at(tx_head_, regs::kMailboxTx)));
      const auto d = desc::MbxDesc::from_raw(lo.raw());
      if (d.get(desc::MbxDesc::kFwCmpl) == 0) break;
      if (d.get(desc::MbxDesc::kFwErr) != 0) ++stats_.fw_errors;
      ++stats_.completed;
      tx_head_ = (tx_head_ + 1) % kRing;
    }
    return ok_status();
  }

  [[nodiscard]] std::uint32_t tx_in_flight() const { return (tx_tail_ + kRing - tx_head_) % kRing; }

  // Hands each message the firmware completed to on_message(std::span<const uint8_t>),
  // then gives its buffer back to the firmware. The span is valid during the call only.
  // At most one ring's worth per call: a stuck FW_CMPL bit, or a firmware that fills each
  // buffer as soon as it is posted, cannot keep the caller here; the rest waits for the
  // next call.
  template <class OnMessage>
  Status receive(OnMessage&& on_message) {
    return receive_to({[](void* ctx, std::span<const std::uint8_t> bytes) {
                         (*static_cast<std::remove_reference_t<OnMessage>*>(ctx))(bytes);
                       },
                       &on_message});
  }

  // True (and cleared) when the firmware raised the mailbox interrupt since last asked.
  Result<bool> take_interrupt() {
    FBNIC_TRY_ASSIGN(const auto status, io_.read(regs::IntrStatus::at(0)));
    if ((status.raw() & regs::vector_bit(regs::kMailboxVector)) == 0) return false;
    FBNIC_TRY(io_.write(regs::IntrClear::at(0),
                        regs::IntrClear::from_raw(regs::vector_bit(regs::kMailboxVector))));
    return true;
  }

  // Re-enables delivery of the mailbox vector after an interrupt was serviced.
  Status unmask_interrupt() {
    return io_.write(regs::IntrMaskClear::at(0),
                     regs::IntrMaskClear::from_raw(regs::vector_bit(regs::kMailboxVector)));
  }

 private:
  // Where receive() delivers, whatever the caller's callable: one copy of the loop.
  struct MessageSink {
    void (*deliver)(void* ctx, std::span<const std::uint8_t> bytes);
    void* ctx;
  };

  Status receive_to(MessageSink sink) {
    if (!open_) return Error::kFailedPrecondition;
    for (std::uint32_t n = 0; n + 1 < kRing; ++n) {
      FBNIC_TRY_ASSIGN(const auto lo, io_.read(regs::MbxDescLo::at(rx_head_, regs::kMailboxRx)));
      if (desc::MbxDesc::from_raw(lo.raw()).get(desc::MbxDesc::kFwCmpl) == 0) break;
      FBNIC_TRY_ASSIGN(const auto hi, io_.read(regs::MbxDescHi::at(rx_head_, regs::kMailboxRx)));
      const auto d = desc::MbxDesc::from_halves(lo.raw(), hi.raw());
      const std::uint32_t len = static_cast<std::uint32_t>(d.get(desc::MbxDesc::kLen));
      const DmaBuffer& buf = rx_buf_[rx_head_];
      if (d.get(desc::MbxDesc::kFwErr) != 0 || len == 0) {
        ++stats_.rx_empty;
      } else if (len < tlv::kHeaderBytes || len > buf.size) {
        ++stats_.rx_bad_length;
      } else {
        dma_rmb();
        ++stats_.received;
        sink.deliver(sink.ctx,
                     std::span<const std::uint8_t>(static_cast<const std::uint8_t*>(buf.cpu), len));
      }
      FBNIC_TRY(recycle_rx());
    }
    return ok_status();
  }

  // The Tx slot a message may be encoded into, once the firmware's completions are taken.
  Result<std::uint32_t> free_tx_slot() {
    if (!open_) return Error::kFailedPrecondition;
    FBNIC_TRY(reap());
    if ((tx_tail_ + 1) % kRing == tx_head_) return Error::kBusy;
    return tx_tail_;
  }

  // Hands the message encoded into the tail slot (bytes long) to the firmware.
  Status post_tx(std::uint32_t bytes) {
    const std::uint32_t slot = tx_tail_;
    tx_tail_ = (tx_tail_ + 1) % kRing;
    // The next slot becomes the stop marker before this one becomes valid.
    FBNIC_TRY(io_.write(regs::MbxDescLo::at(tx_tail_, regs::kMailboxTx), regs::MbxDescLo{}));
    FBNIC_TRY(post(regs::kMailboxTx, slot, desc::MbxDesc::post(tx_buf_[slot].device, bytes, true)));
    ++stats_.sent;
    return ok_status();
  }

  Status start(Deadline deadline) {
    using regs::IntrClear;
    using regs::IntrSwAcMode;
    const std::uint32_t bit = regs::vector_bit(regs::kMailboxVector);
    // Vector 0's status stays until software clears it: the firmware's first interrupt
    // is the only sign that it is alive.
    FBNIC_TRY(io_.write(IntrSwAcMode::at(0), IntrSwAcMode::from_raw(~bit)));
    FBNIC_TRY(io_.write(IntrClear::at(0), IntrClear::from_raw(bit)));
    FBNIC_TRY(reset_ring(regs::kMailboxRx));
    FBNIC_TRY(reset_ring(regs::kMailboxTx));

    // Each reset of the Tx ring prompts a live firmware to raise vector 0.
    const Status ready = poll_until(io_.platform(), deadline, kPollStepUs, [&]() -> Status {
      FBNIC_TRY(reset_ring(regs::kMailboxTx));
      FBNIC_TRY_ASSIGN(const bool raised, take_interrupt());
      return raised ? ok_status() : Status(Error::kBusy);
    });
    if (!ready.ok()) {
      log(io_.platform(), LogLevel::kError,
          "fbnic: firmware mailbox did not become ready: ", ready.name());
      return ready;
    }

    FBNIC_TRY(io_.write(regs::PulObTlpHdrAwCfg{}.set(regs::PulObTlpHdrAwCfg::kBme, 1)));
    rx_head_ = rx_tail_ = 0;
    for (std::uint32_t i = 0; i + 1 < kRing; ++i) FBNIC_TRY(post_rx(rx_tail_++));
    FBNIC_TRY(io_.write(regs::PulObTlpHdrArCfg{}.set(regs::PulObTlpHdrArCfg::kBme, 1)));
    tx_head_ = tx_tail_ = 0;
    open_ = true;
    return ok_status();
  }

  // Stops device DMA for the ring, then leaves descriptor 0 as the stop marker and the
  // rest as "skip", which is what the firmware expects after a reset.
  Status reset_ring(std::uint32_t mbx) {
    if (mbx == regs::kMailboxRx) {
      FBNIC_TRY(io_.write(regs::PulObTlpHdrAwCfg{}
                              .set(regs::PulObTlpHdrAwCfg::kFlush, 1)
                              .set(regs::PulObTlpHdrAwCfg::kFlushMode, 1)));
    } else {
      FBNIC_TRY(io_.write(regs::PulObTlpHdrArCfg{}.set(regs::PulObTlpHdrArCfg::kFlush, 1)));
    }
    FBNIC_TRY(io_.flush());
    FBNIC_TRY(invalidate(mbx, 0, desc::MbxDesc{}));
    for (std::uint32_t i = kRing - 1; i >= 1; --i)
      FBNIC_TRY(invalidate(mbx, i, desc::MbxDesc::skip()));
    return ok_status();
  }

  Status invalidate(std::uint32_t mbx, std::uint32_t slot, desc::MbxDesc d) {
    FBNIC_TRY(io_.write(regs::MbxDescLo::at(slot, mbx), regs::MbxDescLo::from_raw(d.lo())));
    FBNIC_TRY(io_.flush(Bar::kIpc));
    return io_.write(regs::MbxDescHi::at(slot, mbx), regs::MbxDescHi::from_raw(d.hi()));
  }

  Status post(std::uint32_t mbx, std::uint32_t slot, desc::MbxDesc d) {
    if (!d.fits()) {
      log(io_.platform(), LogLevel::kError, "fbnic: a mailbox buffer at ", Hex{d.addr()},
          " (masked) does not fit the descriptor's fields: the platform's dma_alloc gave an "
          "address beyond the 46 bits the device reaches");
      return Error::kInvalidArgument;
    }
    dma_wmb();
    FBNIC_TRY(io_.write(regs::MbxDescHi::at(slot, mbx), regs::MbxDescHi::from_raw(d.hi())));
    FBNIC_TRY(io_.flush(Bar::kIpc));
    return io_.write(regs::MbxDescLo::at(slot, mbx), regs::MbxDescLo::from_raw(d.lo()));
  }

  Status post_rx(std::uint32_t slot) {
    return post(regs::kMailboxRx, slot,
                desc::MbxDesc::post(rx_buf_[slot].device, desc::kMbxBufferBytes, false));
  }

  // The consumed head becomes the stop marker and its buffer is posted again at the tail.
  Status recycle_rx() {
    FBNIC_TRY(io_.write(regs::MbxDescLo::at(rx_head_, regs::kMailboxRx), regs::MbxDescLo{}));
    const DmaBuffer consumed = rx_buf_[rx_head_];
    rx_buf_[rx_head_] = rx_buf_[rx_tail_];
    rx_buf_[rx_tail_] = consumed;
    FBNIC_TRY(post_rx(rx_tail_));
    rx_head_ = (rx_head_ + 1) % kRing;
    rx_tail_ = (rx_tail_ + 1) % kRing;
    return ok_status();
  }

  Status allocate_buffers() {
    for (auto* ring : {&tx_buf_, &rx_buf_}) {
      for (DmaBuffer& b : *ring) {
        auto r = io_.platform().dma_alloc(desc::kMbxBufferBytes, 4096);
        if (!r.ok()) {
          release_buffers();
          return dma_refused(io_.platform(), r.status(), desc::kMbxBufferBytes,
                             "a firmware mailbox buffer (", 2 * kRing, " of them)");
        }
        b = r.value();
      }
    }
    return ok_status();
  }

  void release_buffers() {
    for (auto* ring : {&tx_buf_, &rx_buf_}) {
      for (DmaBuffer& b : *ring) {
        if (b.valid()) io_.platform().dma_free(b);
        b = {};
      }
    }
  }

  Io<P>& io_;
  std::array<DmaBuffer, kRing> tx_buf_{};
  std::array<DmaBuffer, kRing> rx_buf_{};
  std::uint32_t tx_head_ = 0;  // oldest descriptor the firmware may still hold
  std::uint32_t tx_tail_ = 0;  // next free descriptor (always the stop marker)
  std::uint32_t rx_head_ = 0;  // next descriptor the firmware will complete
  std::uint32_t rx_tail_ = 0;  // the stop marker, where the next buffer is posted
  bool open_ = false;
  MailboxStats stats_{};
};

}  // namespace fbnic::fw
