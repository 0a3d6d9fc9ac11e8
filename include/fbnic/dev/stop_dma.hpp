// stop_dma: stops every DMA the device does, at once, by register writes alone.
//
// For the moment firmware hands the machine to an operating system (UEFI ExitBootServices,
// a bootloader jumping to a kernel): memory the driver gave the device is about to belong to
// someone else, and nothing may be waited for, allocated or freed. Device::close() is the
// orderly way (quiesce, give ownership back to the firmware, free); this is the way that
// cannot wait: queues off, queue interrupts masked (an MSI-X message is a DMA write too), and
// bus mastering off at the device's PCIe user logic, in both directions (that also stops the
// firmware mailbox's DMA). The Device object is left believing it is open: after this only
// reopening the device from scratch is meaningful.
#pragma once

#include <cstdint>

#include "fbnic/dev/device.hpp"
#include "fbnic/regs/intr.hpp"
#include "fbnic/regs/pul.hpp"
#include "fbnic/regs/queue.hpp"

namespace fbnic {

template <Platform P, class Policy>
void stop_dma(Device<P, Policy>& nic) {
  using Nic = Device<P, Policy>;
  Io<P>& io = nic.io();
  for (std::uint32_t q = 0; q < Nic::kTxQueues; ++q) {
    io.write(regs::Twq0Ctl::at(q), regs::Twq0Ctl{}).ignore();
    io.write(regs::TcqCtl::at(q), regs::TcqCtl{}).ignore();
  }
  for (std::uint32_t q = 0; q < Nic::kRxQueues; ++q) {
    io.write(regs::BdqCtl::at(q), regs::BdqCtl{}).ignore();
    io.write(regs::RcqCtl::at(q), regs::RcqCtl{}).ignore();
  }
  for (std::uint32_t r = 0; r < regs::IntrMaskSet::kCount; ++r) {
    io.write(regs::IntrMaskSet::at(r), regs::IntrMaskSet::from_raw(0xFFFF'FFFFu)).ignore();
  }
  io.write(regs::PulObTlpHdrArCfg{}).ignore();
  io.write(regs::PulObTlpHdrAwCfg{}).ignore();
  io.flush().ignore();  // the writes are posted: make them land before returning
}

}  // namespace fbnic
