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
#include "fbnic/dev/queue_ref.hpp"
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

// The MTU range: upstream's (fbnic_netdev.c: IPV6_MIN_MTU up to the largest frame less the
// 14-byte Ethernet header).
inline constexpr std::uint32_t kMinMtu = 1280;
inline constexpr std::uint32_t kMaxMtu = desc::kMaxFrameBytes - 14;

struct DeviceConfig {
  MacAddress mac;  // the station address (upstream derives it from the DSN)
  // Tx frames longer than mtu + 18 (the Ethernet header and one VLAN tag), or than the
  // device's 9742 bytes, are refused by send() (kInvalidArgument); so are TSO segments.
  // kMinMtu..kMaxMtu. Rx takes frames up to 9742 bytes whatever the MTU, as upstream does.
  std::uint32_t mtu = 1500;
  // Queues to open: 1 up to what the Policy holds (Policy::kTxQueues, kRxQueues, at most
  // 128); 0 opens all it holds. The Device object is sized by the Policy; DMA memory and
  // interrupt vectors are taken only for the queues opened, and RSS spreads over the Rx
  // queues opened. Queues past the count stay closed (their calls are refused).
  std::uint32_t tx_queues = 0;
  std::uint32_t rx_queues = 0;
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
  // The most queues this Device holds (its size follows); DeviceConfig chooses how many of
  // them open() opens.
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
        rx_(make_queues<Rx>(std::make_index_sequence<kRxQueues>{})) {
    for (std::uint32_t i = 0; i < kTxQueues; ++i) tx_ref_[i] = TxRef<Tx>(tx_[i]);
    for (std::uint32_t i = 0; i < kRxQueues; ++i) rx_ref_[i] = RxRef<Rx>(rx_[i]);
  }
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;
  ~Device() { close().ignore(); }

  [[nodiscard]] bool is_open() const { return open_; }
  [[nodiscard]] Io<P>& io() { return io_; }
  [[nodiscard]] Firmware& firmware() { return fw_; }
  [[nodiscard]] rpc::Classifier<P>& classifier() { return rpc_; }
  [[nodiscard]] mac::Link<P>& link() { return link_; }
  // Queue i (dev/queue_ref.hpp). An index past the queues this Device holds is logged and
  // gives a ref to no queue, whose calls are refused: never an access out of bounds.
  [[nodiscard]] TxRef<Tx>& tx(std::uint32_t i) {
    if (i < kTxQueues) return tx_ref_[i];
    no_such_queue("tx(", i, kTxQueues, " Tx queue(s) (Policy::kTxQueues)");
    return tx_ref_[kTxQueues];
  }
  [[nodiscard]] RxRef<Rx>& rx(std::uint32_t i) {
    if (i < kRxQueues) return rx_ref_[i];
    no_such_queue("rx(", i, kRxQueues, " Rx queue(s) (Policy::kRxQueues)");
    return rx_ref_[kRxQueues];
  }
  [[nodiscard]] const DeviceConfig& config() const { return cfg_; }
  // The queues open (or last opened): what DeviceConfig::tx_queues / rx_queues chose.
  [[nodiscard]] std::uint32_t tx_queues() const { return tx_count_; }
  [[nodiscard]] std::uint32_t rx_queues() const { return rx_count_; }
  static constexpr std::uint32_t queue_vector(std::uint32_t pair) {
    return regs::kFirstQueueVector + pair;
  }

  Status open(const DeviceConfig& cfg) {
    if (open_) {
      log(io_.platform(), LogLevel::kError,
          "fbnic: open() on a device already open: close() it first");
      return Error::kFailedPrecondition;
    }
    if (!cfg.mac.is_valid_unicast()) {
      log(io_.platform(), LogLevel::kError, "fbnic: open(): DeviceConfig::mac = ", cfg.mac,
          " is not a unicast station address (multicast bit set, or all zeros); upstream "
          "takes it from the device serial number");
      return Error::kInvalidArgument;
    }
    if (cfg.mtu < kMinMtu || cfg.mtu > kMaxMtu) {
      log(io_.platform(), LogLevel::kError, "fbnic: open(): DeviceConfig::mtu = ", cfg.mtu,
          " is outside the device's range ", kMinMtu, "..", kMaxMtu,
          " (1500 for Ethernet, 9000 for jumbo frames)");
      return Error::kInvalidArgument;
    }
    const std::uint32_t txq = cfg.tx_queues == 0 ? kTxQueues : cfg.tx_queues;
    const std::uint32_t rxq = cfg.rx_queues == 0 ? kRxQueues : cfg.rx_queues;
    if (txq > kTxQueues || rxq > kRxQueues) {
      const bool tx = txq > kTxQueues;
      log(io_.platform(), LogLevel::kError,
          "fbnic: open(): DeviceConfig::", tx ? "tx_queues = " : "rx_queues = ", tx ? txq : rxq,
          ", but this Device holds ", tx ? kTxQueues : kRxQueues,
          tx ? " (Policy::kTxQueues)" : " (Policy::kRxQueues)",
          ": ask for fewer, or raise it in the Policy");
      return Error::kInvalidArgument;
    }
    if (!cfg.spread_rss) FBNIC_TRY(check_rss_table(cfg.rss, rxq));
    cfg_ = cfg;
    tx_count_ = txq;
    rx_count_ = rxq;
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

    rpc_.set_rx_queues(rx_count_);
    Status st = start_queues();
    if (st.ok()) {
      rpc::RssConfig rss = cfg.rss;
      if (cfg.spread_rss) rss.table = rpc::RssConfig::spread(rx_count_).table;
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
  // close() succeeds with packets still held, but logs, per Rx queue, how many the
  // application has not released (rx(i).held() says it too): their buffers stay allocated
  // until then.
  template <class TxDone, class TxAborted, class RxPacket>
  Status close(TxDone&& on_tx_done, TxAborted&& on_tx_aborted, RxPacket&& on_rx) {
    if (!open_) return ok_status();
    open_ = false;
    const Status st = teardown(on_tx_done, on_tx_aborted, on_rx);
    log_held();
    return st;
  }
  // The same, dropping what is left: each Rx packet goes back to its own queue.
  Status close() {
    if (!open_) return ok_status();
    open_ = false;
    const Status st = discarding_teardown();
    log_held();
    return st;
  }

  // The periodic work, about once a second: the firmware heartbeat (one every 10 s; see
  // docs/firmware.md for what a lapse does), the link state, and the device's 32-bit
  // counters (so that none wraps unseen between two stats() calls).
  Status service() {
    if (!open_) {
      log(io_.platform(), LogLevel::kError,
          "fbnic: service() on a device not open: open() it first");
      return Error::kFailedPrecondition;
    }
    Status fw = cfg_.use_firmware ? fw_.keepalive() : ok_status();
    const Status link = link_.poll().status();
    const Status counters = hw_.refresh32();
    sync_rx_drops();
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
      sync_rx_drops();
      out.tx_queues = tx_count_;
      out.rx_queues = rx_count_;
      for (std::uint32_t i = 0; i < kTxQueues; ++i) {
        const TxCounters& c = tx_[i].counters();
        out.tx[i] = {c.packets, c.bytes, c.rejected, c.full};
      }
      for (std::uint32_t i = 0; i < kRxQueues; ++i) {
        const RxCounters& c = rx_[i].counters();
        out.rx[i].packets = c.packets;
        out.rx[i].bytes = c.bytes;
        out.rx[i].dropped = c.dropped;
        out.rx[i].alloc_failed = c.refill_short;
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
  // Each Rx queue's no_buffers: the frames the device dropped on it for want of a buffer
  // (a device counter: not kept without Policy::kDeviceCounters).
  void sync_rx_drops() {
    if constexpr (Policy::kDeviceCounters) {
      for (Rx& q : rx_) q.set_no_buffers(hw_.total32(regs::RdeBdqDropCnt::at(q.index())));
    }
  }

  // on_rx for a close that keeps nothing: every packet back to the queue it came from.
  struct ReleaseToItsQueue {};

  void log_held() {
    for (Rx& q : rx_) {
      if (q.held() != 0) {
        log(io_.platform(), LogLevel::kWarning, "fbnic: close(): rx queue ", q.index(),
            ": the application still holds ", q.held(),
            " packets from poll(); their buffers stay allocated until it releases them");
      }
    }
  }

  [[gnu::cold, gnu::noinline]] void no_such_queue(const char* call, std::uint32_t i,
                                                  std::uint32_t count, const char* what) {
    log(io_.platform(), LogLevel::kError, "fbnic: ", call, i, "): no such queue: this Device has ",
        count, what, "; every call on it is refused");
  }

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

  // The longest Tx frame the MTU allows: an Ethernet header and one VLAN tag beyond it.
  [[nodiscard]] std::uint32_t max_tx_frame() const { return cfg_.mtu + 18; }

  // Queue pairs share a vector: as many as the larger of the two counts.
  [[nodiscard]] std::uint32_t vectors() const {
    return tx_count_ > rx_count_ ? tx_count_ : rx_count_;
  }

  // A table naming an Rx queue that is not open would send frames nowhere.
  Status check_rss_table(const rpc::RssConfig& rss, std::uint32_t rxq) {
    for (std::uint32_t t = 0; t < rss.table.size(); ++t) {
      for (std::uint32_t i = 0; i < rss.table[t].size(); ++i) {
        if (rss.table[t][i] < rxq) continue;
        log(io_.platform(), LogLevel::kError, "fbnic: open(): DeviceConfig::rss.table[", t, "][", i,
            "] = ", rss.table[t][i], ", but only ", rxq,
            " Rx queue(s) open (DeviceConfig::rx_queues): name queues below that, or set "
            "spread_rss");
        return Error::kInvalidArgument;
      }
    }
    return ok_status();
  }

  Status start_queues() {
    FBNIC_TRY(bus_mastering(true));
    for (std::uint32_t i = 0; i < tx_count_; ++i) tx_[i].set_max_frame(max_tx_frame());
    for (std::uint32_t i = 0; i < tx_count_; ++i) FBNIC_TRY(tx_[i].allocate());
    for (std::uint32_t i = 0; i < rx_count_; ++i) FBNIC_TRY(rx_[i].allocate());
    for (std::uint32_t i = 0; i < tx_count_; ++i) FBNIC_TRY(tx_[i].enable());
    for (std::uint32_t i = 0; i < rx_count_; ++i) FBNIC_TRY(rx_[i].enable());
    FBNIC_TRY(io_.flush());
    const std::uint32_t n = vectors();
    for (std::uint32_t i = 0; i < n; ++i) {
      FBNIC_TRY(arm_vector(io_, queue_vector(i), Policy::kRxCoalesceUs, Policy::kTxCoalesceUs));
    }
    // One interrupt now, so that an interrupt-driven user polls once after bring-up.
    for (std::uint32_t i = 0; i < n; ++i) FBNIC_TRY(fire_vector(io_, queue_vector(i)));
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
    FirstError first;
    first.keep(link_.stop());
    first.keep(rpc_.stop());
    const Deadline idle =
        Deadline::after_us(p.now_ns(), std::uint64_t{cfg_.idle_timeout_ms} * 1000);
    for (auto& q : tx_) first.keep(q.disable(idle, on_tx_done, on_tx_aborted));
    for (auto& q : rx_) {
      if constexpr (std::is_same_v<std::remove_cvref_t<RxPacket>, ReleaseToItsQueue>) {
        first.keep(q.disable(idle, [&q](const typename Rx::Packet& pkt) { q.release(pkt); }));
      } else {
        first.keep(q.disable(idle, on_rx));
      }
    }
    for (std::uint32_t i = 0; i < vectors(); ++i) first.keep(mask_vector(io_, queue_vector(i)));
    if (cfg_.use_firmware) {
      first.keep(
          fw_.stop(Deadline::after_us(p.now_ns(), std::uint64_t{cfg_.firmware_timeout_ms} * 1000)));
    }
    first.keep(bus_mastering(false));
    for (auto& q : tx_) q.free();
    for (auto& q : rx_) q.free();
    return first.status();
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
  // One ref per queue and, last, one to no queue (what a bad index gets).
  std::array<TxRef<Tx>, kTxQueues + 1> tx_ref_{};
  std::array<RxRef<Rx>, kRxQueues + 1> rx_ref_{};
  DeviceConfig cfg_{};
  std::uint32_t tx_count_ = kTxQueues;
  std::uint32_t rx_count_ = kRxQueues;
  bool open_ = false;
};

}  // namespace fbnic
