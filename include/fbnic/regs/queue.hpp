// QUEUE block: the per-queue registers of the Tx and Rx triads.
//
// Queue n's registers start at word 0x40000 + 0x400 n. On the Tx side a queue has two
// work queues (TWQ0, TWQ1) and a completion queue (TCQ); on the Rx side two buffer
// descriptor queues (HPQ for headers, PPQ for payload; together the BDQ) and a
// completion queue (RCQ). Offsets below are in words from the queue's base.
#pragma once

#include <cstdint>

#include "fbnic/regs/register.hpp"

namespace fbnic::regs {

inline constexpr std::uint32_t kMaxQueues = 128;
inline constexpr std::uint32_t kQueueBaseWord = 0x40000;
inline constexpr std::uint32_t kQueueStrideWords = 0x400;

template <class Self, std::uint32_t Off>
using QueueRegister =
    RegisterArray<Self, Bar::kCsr, kQueueBaseWord + Off, kQueueStrideWords, kMaxQueues>;

// Ring size registers hold log2(entries); 0 stands for 65536.
constexpr std::uint32_t ring_size_code(std::uint32_t entries) {
  std::uint32_t log2 = 0;
  while ((1u << log2) < entries) ++log2;
  return log2 & 0xF;
}

template <class Self, std::uint32_t Off>
struct QueueCtl : QueueRegister<Self, Off> {
  static constexpr Bit<0> kReset{};
  static constexpr Bit<1> kEnable{};
};
template <class Self, std::uint32_t Off>
struct QueueSize : QueueRegister<Self, Off> {
  static constexpr Field<3, 0> kLog2{};
};
template <class Self, std::uint32_t Off>
struct QueueWord : QueueRegister<Self, Off>, WholeValue<Self> {};

// --- Tx work queues (host produces, device consumes) ---
struct Twq0Ctl : QueueCtl<Twq0Ctl, 0x000> {};
struct Twq1Ctl : QueueCtl<Twq1Ctl, 0x001> {};
struct Twq0Tail : QueueWord<Twq0Tail, 0x002> {};  // doorbell: next free slot
struct Twq1Tail : QueueWord<Twq1Tail, 0x003> {};
struct Twq0Ptrs : QueueRegister<Twq0Ptrs, 0x004> {
  static constexpr Field<31, 16> kHead{};
};
struct Twq1Ptrs : QueueRegister<Twq1Ptrs, 0x005> {
  static constexpr Field<31, 16> kHead{};
};
struct Twq0Size : QueueSize<Twq0Size, 0x00A> {};
struct Twq1Size : QueueSize<Twq1Size, 0x00B> {};
struct Twq0Bal : QueueWord<Twq0Bal, 0x020> {};  // bits 6:0 ignored: 128-byte alignment
struct Twq0Bah : QueueWord<Twq0Bah, 0x021> {};
struct Twq1Bal : QueueWord<Twq1Bal, 0x022> {};
struct Twq1Bah : QueueWord<Twq1Bah, 0x023> {};
struct Twq0PktCnt : QueueWord<Twq0PktCnt, 0x062> {};
struct Twq0ErrCnt : QueueWord<Twq0ErrCnt, 0x063> {};
struct Twq1PktCnt : QueueWord<Twq1PktCnt, 0x072> {};
struct Twq1ErrCnt : QueueWord<Twq1ErrCnt, 0x073> {};

// --- Tx completion queue (device produces, host consumes) ---
struct TcqCtl : QueueCtl<TcqCtl, 0x080> {};
struct TcqHead : QueueWord<TcqHead, 0x081> {};  // doorbell: host's consumer index
struct TcqPtrs : QueueRegister<TcqPtrs, 0x082> {
  static constexpr Field<31, 16> kTail{};
};
struct TcqSize : QueueSize<TcqSize, 0x084> {};
struct TcqBal : QueueWord<TcqBal, 0x0A0> {};
struct TcqBah : QueueWord<TcqBah, 0x0A1> {};

// --- Tx interrupt moderation (TIM) ---
struct TimCtl : QueueRegister<TimCtl, 0x0C0> {
  static constexpr Field<7, 0> kVector{};
};
struct TimThreshold : QueueRegister<TimThreshold, 0x0C1> {
  static constexpr Field<14, 0> kCount{};
};
struct TimClear : QueueWord<TimClear, 0x0C2> {};
struct TimSet : QueueWord<TimSet, 0x0C3> {};
struct TimMask : QueueRegister<TimMask, 0x0C4> {
  static constexpr Bit<0> kMasked{};
};
struct TimTimer : QueueWord<TimTimer, 0x0C5> {};
struct TimCounts : QueueRegister<TimCounts, 0x0C6> {
  static constexpr Field<14, 0> kCnt0{};
  static constexpr Field<30, 16> kCnt1{};
};

// --- Rx completion queue ---
struct RcqCtl : QueueCtl<RcqCtl, 0x200> {};
struct RcqHead : QueueWord<RcqHead, 0x201> {};  // doorbell: host's consumer index
struct RcqPtrs : QueueRegister<RcqPtrs, 0x202> {
  static constexpr Field<15, 0> kHead{};
  static constexpr Field<31, 16> kTail{};
};
struct RcqSize : QueueSize<RcqSize, 0x204> {};
struct RcqBal : QueueWord<RcqBal, 0x220> {};
struct RcqBah : QueueWord<RcqBah, 0x221> {};

// --- Rx buffer descriptor queues: one control register for HPQ and PPQ ---
struct BdqCtl : QueueRegister<BdqCtl, 0x240> {
  static constexpr Bit<0> kReset{};
  static constexpr Bit<1> kEnable{};
  static constexpr Bit<30> kPpqEnable{};
};
struct BdqHpqTail : QueueWord<BdqHpqTail, 0x241> {};  // doorbell, in 4 KiB-buffer units
struct BdqPpqTail : QueueWord<BdqPpqTail, 0x242> {};
struct BdqHpqPtrs : QueueRegister<BdqHpqPtrs, 0x243> {
  static constexpr Field<15, 0> kTail{};
  static constexpr Field<31, 16> kHead{};
};
struct BdqPpqPtrs : QueueRegister<BdqPpqPtrs, 0x244> {
  static constexpr Field<15, 0> kTail{};
  static constexpr Field<31, 16> kHead{};
};
struct BdqHpqSize : QueueSize<BdqHpqSize, 0x247> {};
struct BdqPpqSize : QueueSize<BdqPpqSize, 0x248> {};
struct BdqHpqBal : QueueWord<BdqHpqBal, 0x260> {};
struct BdqHpqBah : QueueWord<BdqHpqBah, 0x261> {};
struct BdqPpqBal : QueueWord<BdqPpqBal, 0x262> {};
struct BdqPpqBah : QueueWord<BdqPpqBah, 0x263> {};

// --- Rx DMA engine (RDE) ---
struct RdeCtl0 : QueueRegister<RdeCtl0, 0x2A0> {
  static constexpr Field<19, 11> kMinTroom{};  // bytes left free after data in a buffer
  static constexpr Field<28, 20> kMinHroom{};  // bytes left free before data
  static constexpr Field<30, 29> kDropMode{};
  static constexpr Bit<31> kEnHdrSplit{};
  static constexpr std::uint32_t kDropImmediate = 0;
  static constexpr std::uint32_t kDropWait = 1;
  static constexpr std::uint32_t kDropNever = 2;
};
struct RdeCtl1 : QueueRegister<RdeCtl1, 0x2A1> {
  static constexpr Field<1, 0> kPayldPack{};  // 0 none, 1 all, 2 RSS
  static constexpr Field<5, 2> kPadLen{};
  static constexpr Field<8, 6> kPayldPgCl{};
  static constexpr Field<11, 9> kPayldOff{};
  static constexpr Field<24, 12> kMaxHdr{};  // bytes placed in the header buffer
};
struct RdePktCnt : QueueWord<RdePktCnt, 0x2A2> {};
struct RdePktErrCnt : QueueWord<RdePktErrCnt, 0x2A3> {};
struct RdeCqDropCnt : QueueWord<RdeCqDropCnt, 0x2A4> {};    // dropped: completion queue full
struct RdeBdqDropCnt : QueueWord<RdeBdqDropCnt, 0x2A5> {};  // dropped: no buffers

// --- Rx interrupt moderation (RIM) ---
struct RimCtl : QueueRegister<RimCtl, 0x2C0> {
  static constexpr Field<7, 0> kVector{};
};
struct RimThreshold : QueueRegister<RimThreshold, 0x2C1> {
  static constexpr Field<14, 0> kCount{};
};
struct RimClear : QueueWord<RimClear, 0x2C2> {};
struct RimSet : QueueWord<RimSet, 0x2C3> {};
struct RimMask : QueueRegister<RimMask, 0x2C4> {
  static constexpr Bit<0> kMasked{};
};
struct RimCoalStatus : QueueRegister<RimCoalStatus, 0x2C5> {
  static constexpr Field<13, 0> kTimer{};
  static constexpr Field<30, 16> kRcdCount{};
};

}  // namespace fbnic::regs
