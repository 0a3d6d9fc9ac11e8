// One-time datapath setup around the MAC, done at probe and after a reset: PCIe request
// sizes for the DMA engines, the queue managers, the Rx packet buffer FIFOs and their
// thresholds, and the Tx buffer. The values are the upstream driver's; the order is its
// too (AXI sizing, queue manager, Rx buffer, Tx buffer).
#pragma once

#include <array>
#include <cstdint>

#include "fbnic/base/status.hpp"
#include "fbnic/hw/io.hpp"
#include "fbnic/regs/master.hpp"
#include "fbnic/regs/qm.hpp"
#include "fbnic/regs/rpc.hpp"
#include "fbnic/regs/rxb.hpp"
#include "fbnic/regs/tce.hpp"

namespace fbnic::mac {

inline constexpr std::uint32_t kMaxFrameBytes = 9742;
inline constexpr std::uint32_t kCoreClockHz = 600'000'000;

// What the PCIe link negotiated, from configuration space (the platform knows).
struct PcieParams {
  std::uint32_t max_payload = 256;       // bytes
  std::uint32_t max_read_request = 512;  // bytes
  std::uint32_t cache_line = 64;
};

namespace detail {
// Sizes are coded as log2(bytes) - 6, clamped to 0..3.
constexpr std::uint32_t size_code(std::uint32_t bytes) {
  std::uint32_t log2 = 0;
  while ((2u << log2) <= bytes) ++log2;
  const int code = static_cast<int>(log2) - 6;
  return code < 0 ? 0u : (code > 3 ? 3u : static_cast<std::uint32_t>(code));
}

struct FifoLayout {
  std::uint32_t base;  // 64-byte units
  std::uint32_t size;  // 2 KiB units
};
// 0: multicast to host and BMC; 3: network to BMC; 4: network to host; 6: BMC to host.
inline constexpr std::array<FifoLayout, 8> kFifos{{
    {0x1800, 0x20},
    {0, 0},
    {0, 0},
    {0x1C00, 0x10},
    {0x0000, 0xC0},
    {0, 0},
    {0x1E00, 0x10},
    {0, 0},
}};
inline constexpr std::uint32_t kDropFifos = 0x7D;
inline constexpr std::uint32_t kPauseFifos = 0x14;
inline constexpr std::uint32_t kEcnFifos = 0x10;
inline constexpr std::uint32_t kMaxFrameUnits = kMaxFrameBytes / 64;  // 152
}  // namespace detail

template <Platform P>
Status init_axi(Io<P>& io, const PcieParams& pcie) {
  using namespace regs;
  const std::uint32_t mrrs = detail::size_code(pcie.max_read_request);
  const std::uint32_t mps = detail::size_code(pcie.max_payload);
  const std::uint32_t cls = detail::size_code(pcie.cache_line);
  const bool mrrs_1k = pcie.max_read_request > 512;
  auto readrq = [&](auto addr) {
    return io.modify(addr, [&](auto& r) { r.set(r.kSize, mrrs).set(r.kCls, cls); });
  };
  auto payload = [&](auto addr) {
    return io.modify(addr, [&](auto& r) { r.set(r.kSize, mps).set(r.kCls, cls); });
  };
  FBNIC_TRY(readrq(QmTniTdfCtl::addr()));
  FBNIC_TRY(payload(QmTniTcmCtl::addr()));
  FBNIC_TRY(io.write(QmTniTdeCtl{}
                         .set(QmTniTdeCtl::kMrrs1k, mrrs_1k ? 1 : 0)
                         .set(QmTniTdeCtl::kMaxOb, 704)
                         .set(QmTniTdeCtl::kMaxOt, 128)
                         .set(QmTniTdeCtl::kMrrs, mrrs)
                         .set(QmTniTdeCtl::kCls, cls)));
  FBNIC_TRY(readrq(QmRniRbpCtl::addr()));
  FBNIC_TRY(payload(QmRniRdeCtl::addr()));
  return payload(QmRniRcmCtl::addr());
}

template <Platform P>
Status init_queue_manager(Io<P>& io) {
  using namespace regs;
  constexpr std::uint32_t kTick = kCoreClockHz / 1'000'000;  // a 1 us tick
  FBNIC_TRY(io.write(QmTqsCtl0{}
                         .set(QmTqsCtl0::kLsoTsLast, 1)
                         .set(QmTqsCtl0::kPrefetchThresh, QmTqsCtl0::kPrefetchThreshMin)));
  FBNIC_TRY(io.write(QmTqsEdtTsRange::from_raw(0x7FFF'FFFF)));
  // A hardware erratum: the MTU must not sit within 16 bytes of a 64-byte boundary,
  // hence the largest frame + 1.
  FBNIC_TRY(io.write(QmTqsMtuCtl0::from_raw(kMaxFrameBytes + 1)));
  FBNIC_TRY(io.write(QmTqsMtuCtl1{}.set(QmTqsMtuCtl1::kBulk, kMaxFrameBytes + 1)));
  FBNIC_TRY(io.write(QmTcqCtl0{}
                         .set(QmTcqCtl0::kTickCycles, kTick)
                         .set(QmTcqCtl0::kCoalWait, kCoreClockHz / 12'500)));  // 80 us
  FBNIC_TRY(io.write(QmRcqCtl0{}
                         .set(QmRcqCtl0::kTickCycles, kTick)
                         .set(QmRcqCtl0::kCoalWait, kCoreClockHz / 500'000)));  // 2 us
  return io.write(FabAxi4ArSpacer2Cfg{}
                      .set(FabAxi4ArSpacer2Cfg::kEnable, 1)
                      .set(FabAxi4ArSpacer2Cfg::kThreshold, 2));
}

// The Rx FIFOs. If the Rx path is already running (a BMC using it, set up by firmware),
// the layout is left alone and only checked.
template <Platform P>
Status init_rx_buffer(Io<P>& io) {
  using namespace regs;
  FBNIC_TRY_ASSIGN(const auto rmi, io.read(RpcRmiConfig::addr()));
  const bool running = rmi.get(RpcRmiConfig::kEnable) != 0;
  for (std::uint32_t i = 0; i < kRxbFifos; ++i) {
    std::uint32_t size = detail::kFifos[i].size;
    if (running) {
      FBNIC_TRY_ASSIGN(const auto cfg, io.read(RxbPbufCfg::at(i)));
      size = cfg.get(RxbPbufCfg::kSize);
      if (size < detail::kFifos[i].size) {
        log(io.platform(), LogLevel::kWarning, "fbnic: Rx FIFO ", i, " is smaller than expected");
      }
    } else {
      FBNIC_TRY(io.write(RxbCtSize::at(i),
                         RxbCtSize{}.set(RxbCtSize::kHeader, 4).set(RxbCtSize::kPayload, 2)));
      FBNIC_TRY(io.write(RxbPbufCfg::at(i), RxbPbufCfg{}
                                                .set(RxbPbufCfg::kBaseAddr, detail::kFifos[i].base)
                                                .set(RxbPbufCfg::kSize, size)));
      FBNIC_TRY(io.write(RxbPbufCredit::at(i), RxbPbufCredit{}.set(RxbPbufCredit::kCredits,
                                                                   size != 0 ? size * 32 + 4 : 0)));
    }
    if (size == 0) continue;
    const std::uint32_t units = size * 32;  // 64-byte units
    const std::uint32_t bit = 1u << i;
    const bool pause = (detail::kPauseFifos & bit) != 0;
    const bool drop = (detail::kDropFifos & bit) != 0;
    const bool ecn = (detail::kEcnFifos & bit) != 0;
    FBNIC_TRY(
        io.write(RxbPauseThld::at(i), RxbPauseThld{}
                                          .set(RxbPauseThld::kOn, pause ? units - 0x380 : 0x1FFF)
                                          .set(RxbPauseThld::kOff, pause ? 0x380 : 0x1FFF)));
    const std::uint32_t drop_at = drop ? units - detail::kMaxFrameUnits : 0x1FFF;
    FBNIC_TRY(
        io.write(RxbDropThld::at(i),
                 RxbDropThld{}.set(RxbDropThld::kOn, drop_at).set(RxbDropThld::kOff, drop_at)));
    const std::uint32_t ecn_at =
        ecn ? (units / 4 > detail::kMaxFrameUnits ? units / 4 : detail::kMaxFrameUnits) : 0x1FFF;
    FBNIC_TRY(io.write(RxbEcnThld::at(i),
                       RxbEcnThld{}.set(RxbEcnThld::kOn, ecn_at).set(RxbEcnThld::kOff, ecn_at)));
  }
  // Pause generation is switched on at link up, when the pause settings are known.
  FBNIC_TRY(io.write(RxbPauseDropCtrl{}
                         .set(RxbPauseDropCtrl::kDropEnable, detail::kDropFifos)
                         .set(RxbPauseDropCtrl::kEcnEnable, detail::kEcnFifos)));
  FBNIC_TRY(io.write(RxbIntfCredit{}
                         .set_all(RxbIntfCredit::kCredit0)
                         .set_all(RxbIntfCredit::kCredit1)
                         .set_all(RxbIntfCredit::kCredit2)
                         .set(RxbIntfCredit::kCredit3, 8)));
  for (std::uint32_t i = 0; i < 16; ++i) {
    FBNIC_TRY(io.write(RxbCldrPrioCfg::at(i),
                       RxbCldrPrioCfg::from_raw(i == 15 ? 0x1E1B1B1B : 0x1B1B1B1B)));
  }
  FBNIC_TRY(io.write(RxbDwrrRdeWeight0{}
                         .set(RxbDwrrRdeWeight0::kQuantum0, 0x40)
                         .set(RxbDwrrRdeWeight0::kQuantum2, 0x50)));
  FBNIC_TRY(io.write(RxbDwrrRdeWeight0Ext{}.set(RxbDwrrRdeWeight0Ext::kQuantum0, 0x1F)));
  FBNIC_TRY(io.write(RxbDwrrRdeWeight1{}.set(RxbDwrrRdeWeight1::kQuantum4, 0x40)));
  FBNIC_TRY(io.write(RxbDwrrRdeWeight1Ext{}.set(RxbDwrrRdeWeight1Ext::kQuantum4, 0x1F)));
  return io.write(RxbEndianFcs::from_raw(0x0AAA'AAA0));
}

template <Platform P>
Status init_tx_buffer(Io<P>& io) {
  using namespace regs;
  FBNIC_TRY(io.write(TceTxbCtrl{}));
  FBNIC_TRY(io.write(
      QmTqsCtl1{}.set(QmTqsCtl1::kMcMaxCredits, 0x40).set(QmTqsCtl1::kBulkMaxCredits, 0x20)));
  FBNIC_TRY(io.write(TceTxbTeiQ0Ctrl{}));
  FBNIC_TRY(io.write(TceTxbTeiQ1Ctrl{}));
  FBNIC_TRY(
      io.write(TceTxbMcQCtrl{}.set(TceTxbMcQCtrl::kSize, 0x400).set(TceTxbMcQCtrl::kStart, 0)));
  FBNIC_TRY(io.write(TceTxbRxTeiQCtrl{}));
  FBNIC_TRY(io.write(
      TceTxbTxBmcQCtrl{}.set(TceTxbTxBmcQCtrl::kSize, 0x200).set(TceTxbTxBmcQCtrl::kStart, 0x400)));
  FBNIC_TRY(io.write(
      TceTxbRxBmcQCtrl{}.set(TceTxbRxBmcQCtrl::kSize, 0x200).set(TceTxbRxBmcQCtrl::kStart, 0x600)));
  // Segmentation: increment IPv4 IDs; clear FIN and PSH in the first segment, FIN, PSH
  // and CWR in middle ones, CWR in the last.
  constexpr std::uint32_t kFin = 0x01;
  constexpr std::uint32_t kPsh = 0x08;
  constexpr std::uint32_t kCwr = 0x80;
  FBNIC_TRY(io.write(TceLsoCtrl{}
                         .set(TceLsoCtrl::kIpidModeInc, 1)
                         .set(TceLsoCtrl::kTcpfClrFirst, kFin | kPsh)
                         .set(TceLsoCtrl::kTcpfClrMid, kFin | kPsh | kCwr)
                         .set(TceLsoCtrl::kTcpfClrEnd, kCwr)));
  FBNIC_TRY(io.write(TceCsoCtrl{}));
  FBNIC_TRY(io.write(TceBmcMaxPktsz{}
                         .set(TceBmcMaxPktsz::kTx, kMaxFrameBytes)
                         .set(TceBmcMaxPktsz::kRx, kMaxFrameBytes)));
  FBNIC_TRY(io.write(TceMcMaxPktsz{}.set(TceMcMaxPktsz::kTmi, kMaxFrameBytes)));
  for (std::uint32_t i = 0; i < 16; ++i) {
    FBNIC_TRY(io.write(TceTxbCldrSlotCfg::at(i),
                       TceTxbCldrSlotCfg::from_raw(i == 15 ? 0x1E1B1B1B : 0x1B1B1B1B)));
  }
  FBNIC_TRY(io.write(TceTxbEnqWrrCtrl{}
                         .set(TceTxbEnqWrrCtrl::kWeight0, 0x64)
                         .set(TceTxbEnqWrrCtrl::kWeight2, 0x04)));
  FBNIC_TRY(io.write(TceTxbTeiDwrrCtrl{}));
  FBNIC_TRY(io.write(TceTxbTeiDwrrCtrlExt{}));
  FBNIC_TRY(io.write(TceTxbBmcDwrrCtrl{}
                         .set(TceTxbBmcDwrrCtrl::kQuantum0, 0x50)
                         .set(TceTxbBmcDwrrCtrl::kQuantum1, 0x82)));
  FBNIC_TRY(io.write(TceTxbBmcDwrrCtrlExt{}));
  FBNIC_TRY(io.write(TceTxbNtwrkDwrrCtrl{}
                         .set(TceTxbNtwrkDwrrCtrl::kQuantum1, 0x50)
                         .set(TceTxbNtwrkDwrrCtrl::kQuantum2, 0x20)));
  FBNIC_TRY(io.write(TceTxbNtwrkDwrrCtrlExt{}.set(TceTxbNtwrkDwrrCtrlExt::kQuantum2, 0x03)));
  FBNIC_TRY(io.write(TceSopProtCtrl{}
                         .set(TceSopProtCtrl::kTbi, 0x78)
                         .set(TceSopProtCtrl::kTtiFrm, 0x40)
                         .set(TceSopProtCtrl::kTtiCm, 0x0C)));
  FBNIC_TRY(io.write(TmiSopProtCtrl::from_raw(8)));
  FBNIC_TRY(io.flush());
  return io.write(TceTxbCtrl{}.set(TceTxbCtrl::kTcamEnable, 1).set(TceTxbCtrl::kLoad, 1));
}

// All of the above, in order.
template <Platform P>
Status init_datapath(Io<P>& io, const PcieParams& pcie = {}) {
  FBNIC_TRY(init_axi(io, pcie));
  FBNIC_TRY(init_queue_manager(io));
  FBNIC_TRY(init_rx_buffer(io));
  return init_tx_buffer(io);
}

}  // namespace fbnic::mac
