// BAR4: the firmware IPC mailboxes and OTP status.
//
// Two rings of 16 descriptors are used: mailbox 0 carries firmware-to-host messages
// (the host's Rx), mailbox 1 host-to-firmware (the host's Tx). Each 64-bit descriptor
// is split over two registers, the low half first.
#pragma once

#include <cstdint>

#include "fbnic/regs/register.hpp"

namespace fbnic::regs {

inline constexpr std::uint32_t kMailboxRx = 0;  // firmware -> host
inline constexpr std::uint32_t kMailboxTx = 1;  // host -> firmware
inline constexpr std::uint32_t kMailboxDescs = 16;

// at(descriptor, mailbox)
struct MbxDescLo
    : RegisterTable<MbxDescLo, Bar::kIpc, 0x6000, kMailboxDescs, 2, 2 * kMailboxDescs, 2>,
      WholeValue<MbxDescLo> {};
struct MbxDescHi
    : RegisterTable<MbxDescHi, Bar::kIpc, 0x6001, kMailboxDescs, 2, 2 * kMailboxDescs, 2>,
      WholeValue<MbxDescHi> {};

struct NsOtpStatus : Register<NsOtpStatus, Bar::kIpc, 0x021D>, WholeValue<NsOtpStatus> {};
struct NsOtpWriteStatus : Register<NsOtpWriteStatus, Bar::kIpc, 0x021E> {
  static constexpr Field<15, 0> kEccStatus{};
  static constexpr Field<31, 16> kWriteDataStatus{};
};

}  // namespace fbnic::regs
