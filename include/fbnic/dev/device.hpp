// Device: the one entry point. It composes bring-up and teardown of everything below:
//
//   open():  datapath registers -> firmware handshake (capabilities, version gate,
//            ownership, heartbeat) -> queues (allocate, enable, fill, arm vectors) ->
//            classifier (RSS, MAC filters) -> link
//   close(): link -> classifier -> queues (quiesce: every packet delivered or reported)
//            -> ownership released -> mailbox closed -> bus mastering off -> queue memory
//            freed (nothing is freed while the device could still write to it)
//
// A failure part way through open() undoes what was done, ownership included.
// MSI-X vectors: 0 mailbox, 1 link, 2 + i queue pair i.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "fbnic/base/mac_address.hpp"
#include "fbnic/base/status.hpp"
#include "fbnic/dev/stats.hpp"
#include "fbnic/fw/client.hpp"
#include "fbnic/fw/mailbox.hpp"
#include "fbnic/hw/io.hpp"
#include "fbnic/mac/datapath.hpp"
#include "fbnic/mac/link.hpp"
#include "fbnic/platform/deadline.hpp"
#include "fbnic/regs/intr.hpp"
#include "fbnic/regs/pul.hpp"
#include "fbnic/ring/policy.hpp"
#include "fbnic/ring/rx_queue.hpp"
#include "fbnic/ring/tx_queue.hpp"
#include "fbnic/ring/vector.hpp"
#include "fbnic/rpc/classifier.hpp"

namespace fbnic {

struct DeviceConfig {
  MacAddress mac;            // the station address (upstream derives it from the DSN)
  bool use_firmware = true;  // talk to the management firmware over the mailbox
  mac::PcieParams pcie{};
  rpc::RssConfig rss{};    // key, tables and fields; tables default to spreading
  bool spread_rss = true;  // fill the tables over all Rx queues
  bool promiscuous = false;
  bool all_multicast = false;
  mac::LinkOptions link{};
  mac::LinkConfig link_mode{};  // without firmware: the mode to run
  std::uint32_t firmware_timeout_ms = 10'000;
  std::uint32_t idle_timeout_ms = 500;
};

template <Platform P, class Policy = DefaultPolicy>
class Device {
 public:
  using Tx = TxQueue<P, Policy>;
  using Rx = RxQueue<P, Policy>;
  using Firmware = fw::Client<P, Policy::kFirmwareLogs>;
  static constexpr std::uint32_t kTxQueues = Policy::kTxQueues;
  static constexpr std::uint32_t kRxQueues = Policy::kRxQueues;
  using Stats = fbnic::Stats<kTxQueues, kRxQueues>;

  explicit Device(P& platform)
      : io_(platform),
        mbx_(io_),
        fw_(mbx_),
        rpc_(io_),
        link_(io_),
        hw_(io_),
        tx_(make_queues<Tx>(std::make_index_sequence<kTxQueues>{})),
        rx_(make_queues<Rx>(std::make_index_sequence<kRxQueues>{})) {}
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;
  ~Device() { close().ignore(); }

  [[nodiscard]] bool is_open() const { return open_; }
  [[nodiscard]] Io<P>& io() { return io_; }
  [[nodiscard]] Firmware& firmware() { return fw_; }
  [[nodiscard]] rpc::Classifier<P>& classifier() { return rpc_; }
  [[nodiscard]] mac::Link<P>& link() { return link_; }
  [[nodiscard]] Tx& tx(std::uint32_t i) { return tx_[i]; }
  [[nodiscard]] Rx& rx(std::uint32_t i) { return rx_[i]; }
  [[nodiscard]] const DeviceConfig& config() const { return cfg_; }
  static constexpr std::uint32_t queue_vector(std::uint32_t pair) {
    return regs::kFirstQueueVector + pair;
  }

  Status open(const DeviceConfig& cfg) {
    if (open_) return Error::kFailedPrecondition;
    if (!cfg.mac.is_valid_unicast()) return Error::kInvalidArgument;
    cfg_ = cfg;
    P& p = io_.platform();
    FBNIC_TRY(mac::init_datapath(io_, cfg.pcie));
    // Counters count from here (a reset since the last open may have zeroed them).
    FBNIC_TRY(hw_.start());

    mac::LinkConfig mode = cfg.link_mode;
    if (cfg.use_firmware) {
      FBNIC_TRY(
          fw_.start(Deadline::after_us(p.now_ns(), std::uint64_t{cfg.firmware_timeout_ms} * 1000)));
      const auto& caps = fw_.capabilities();
      rpc_.set_bmc(caps.bmc_present ? caps.bmc_macs.view() : std::span<const MacAddress>{},
                   caps.bmc_all_multi.value_or(0) != 0);
      mode = mac::LinkConfig::from_firmware(caps.link_speed, caps.link_fec);
    }
    mac::LinkOptions link_opts = cfg.link;
    if (rpc_.has_bmc()) link_opts.keep_up_on_stop = true;  // the BMC still needs the port

    Status st = start_queues();
    if (st.ok()) {
      rpc::RssConfig rss = cfg.rss;
      if (cfg.spread_rss) rss.table = rpc::RssConfig::spread(kRxQueues).table;
      st = rpc_.start(rss);
    }
    if (st.ok()) st = rpc_.set_rx_mode(rx_mode());
    if (st.ok()) st = link_.start(mode, link_opts).status();
    if (!st.ok()) {
      log(p, LogLevel::kError, "fbnic: bring-up failed: ", st.name());
      discarding_teardown().ignore();
      return st;
    }
    open_ = true;
    return ok_status();
  }

  // Quiesces and releases everything. on_tx_done / on_tx_aborted receive the cookie of
  // every packet still owned by a Tx queue; on_rx every packet still in an Rx queue.
  // Packets handed out by poll() before stay valid until released (after close() too);
  // the last release frees their queue's buffers. Destroying the Device frees them all.
  template <class TxDone, class TxAborted, class RxPacket>
  Status close(TxDone&& on_tx_done, TxAborted&& on_tx_aborted, RxPacket&& on_rx) {
    if (!open_) return ok_status();
    open_ = false;
    return teardown(on_tx_done, on_tx_aborted, on_rx);
  }
  // The same, dropping what is left: each Rx packet goes back to its own queue.
  Status close() {
    if (!open_) return ok_status();
    open_ = false;
    return discarding_teardown();
  }

  // The periodic work, about once a second: the firmware heartbeat (one every 10 s; see
  // docs/firmware.md for what a lapse does), the link state, and the device's 32-bit
  // counters (so that none wraps unseen between two stats() calls).
  Status service() {
    if (!open_) return Error::kFailedPrecondition;
    Status fw = cfg_.use_firmware ? fw_.keepalive() : ok_status();
    const Status link = link_.poll().status();
    const Status counters = hw_.refresh32();
    if (!fw.ok()) return fw;
    return link.ok() ? counters : link;
  }

  // Statistics (dev/stats.hpp, named like ethtool -S by dev/stat_names.hpp): the queues'
  // own counters and the device's, read now. Device registers are read on this call only.
  Status stats(Stats& out) {
    if constexpr (!Policy::kDeviceCounters) {
      (void)out;
      return Error::kNotSupported;
    } else {
      if (!hw_.started()) {
        log(io_.platform(), LogLevel::kError,
            "fbnic: stats() before the first open(): the device's counters have no zero yet; "
            "open the device first");
        return Error::kFailedPrecondition;
      }
      FBNIC_TRY(hw_.read(out));
      for (std::uint32_t i = 0; i < kTxQueues; ++i) {
        const TxCounters& c = tx_[i].counters();
        out.tx[i] = {c.packets, c.bytes, c.rejected, c.full};
      }
      for (std::uint32_t i = 0; i < kRxQueues; ++i) {
        const RxCounters& c = rx_[i].counters();
        out.rx[i].packets = c.packets;
        out.rx[i].bytes = c.bytes;
        out.rx[i].dropped = c.dropped;
        out.rx[i].alloc_failed = c.no_buffers;
      }
      return ok_status();
    }
  }

  Status wait_link_up(Deadline deadline) { return link_.wait_up(deadline); }

  Status set_rx_mode(const rpc::RxMode& mode) { return rpc_.set_rx_mode(mode); }
  [[nodiscard]] rpc::RxMode rx_mode() const {
    rpc::RxMode m;
    m.station = cfg_.mac;
    m.promiscuous = cfg_.promiscuous;
    m.all_multicast = cfg_.all_multicast;
    return m;
  }

 private:
  // on_rx for a close that keeps nothing: every packet back to the queue it came from.
  struct ReleaseToItsQueue {};

  template <class Q, std::size_t... I>
  std::array<Q, sizeof...(I)> make_queues(std::index_sequence<I...>) {
    return {Q(io_, static_cast<std::uint32_t>(I), queue_vector(static_cast<std::uint32_t>(I)))...};
  }

  // The PUL's bus-master enables gate all device DMA. The mailbox turns them on when it
  // opens; without firmware nothing else would.
  Status bus_mastering(bool on) {
    const std::uint32_t bme = on ? 1 : 0;
    FBNIC_TRY(io_.write(regs::PulObTlpHdrArCfg{}.set(regs::PulObTlpHdrArCfg::kBme, bme)));
    FBNIC_TRY(io_.write(regs::PulObTlpHdrAwCfg{}.set(regs::PulObTlpHdrAwCfg::kBme, bme)));
    return io_.flush();
  }

  Status start_queues() {
    FBNIC_TRY(bus_mastering(true));
    for (auto& q : tx_) FBNIC_TRY(q.allocate());
    for (auto& q : rx_) FBNIC_TRY(q.allocate());
    for (auto& q : tx_) FBNIC_TRY(q.enable());
    for (auto& q : rx_) FBNIC_TRY(q.enable());
    FBNIC_TRY(io_.flush());
    const std::uint32_t vectors = kTxQueues > kRxQueues ? kTxQueues : kRxQueues;
    for (std::uint32_t i = 0; i < vectors; ++i) {
      FBNIC_TRY(arm_vector(io_, queue_vector(i), Policy::kRxCoalesceUs, Policy::kTxCoalesceUs));
    }
    // One interrupt now, so that an interrupt-driven user polls once after bring-up.
    for (std::uint32_t i = 0; i < vectors; ++i) FBNIC_TRY(fire_vector(io_, queue_vector(i)));
    return ok_status();
  }

  // on_tx_done and on_tx_aborted for a close that keeps nothing.
  struct Discard {
    void operator()(std::uint64_t /*cookie*/) const {}
  };

  // Teardown that hands nothing back: shared by close() and a failed open(), so that
  // an image carries one copy of it.
  Status discarding_teardown() { return teardown(Discard{}, Discard{}, ReleaseToItsQueue{}); }

  template <class TxDone, class TxAborted, class RxPacket>
  Status teardown(TxDone&& on_tx_done, TxAborted&& on_tx_aborted, RxPacket&& on_rx) {
    P& p = io_.platform();
    Status first = ok_status();
    auto keep = [&first](Status s) {
      if (first.ok()) first = s;
    };
    keep(link_.stop());
    keep(rpc_.stop());
    const Deadline idle =
        Deadline::after_us(p.now_ns(), std::uint64_t{cfg_.idle_timeout_ms} * 1000);
    for (auto& q : tx_) keep(q.disable(idle, on_tx_done, on_tx_aborted));
    for (auto& q : rx_) {
      if constexpr (std::is_same_v<std::remove_cvref_t<RxPacket>, ReleaseToItsQueue>) {
        keep(q.disable(idle, [&q](const typename Rx::Packet& pkt) { q.release(pkt); }));
      } else {
        keep(q.disable(idle, on_rx));
      }
    }
    const std::uint32_t vectors = kTxQueues > kRxQueues ? kTxQueues : kRxQueues;
    for (std::uint32_t i = 0; i < vectors; ++i) keep(mask_vector(io_, queue_vector(i)));
    if (cfg_.use_firmware) {
      keep(
          fw_.stop(Deadline::after_us(p.now_ns(), std::uint64_t{cfg_.firmware_timeout_ms} * 1000)));
    }
    keep(bus_mastering(false));
    for (auto& q : tx_) q.free();
    for (auto& q : rx_) q.free();
    return first;
  }

  Io<P> io_;
  fw::Mailbox<P> mbx_;
  Firmware fw_;
  rpc::Classifier<P> rpc_;
  mac::Link<P> link_;
  // Without Policy::kDeviceCounters: nothing kept, nothing read.
  struct NoCounters {
    explicit NoCounters(Io<P>& /*io*/) {}
    static Status start() { return ok_status(); }
    static Status refresh32() { return ok_status(); }
  };
  std::conditional_t<Policy::kDeviceCounters, HwCounters<P, kRxQueues>, NoCounters> hw_;
  std::array<Tx, kTxQueues> tx_;
  std::array<Rx, kRxQueues> rx_;
  DeviceConfig cfg_{};
  bool open_ = false;
};

}  // namespace fbnic
