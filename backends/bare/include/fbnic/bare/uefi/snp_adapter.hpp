// SnpAdapter: EFI_SIMPLE_NETWORK_PROTOCOL over fbnic::Device, with the protocol's three
// states as EDK2's network drivers use them:
//
//   Stopped --Start--> Started --Initialize--> Initialized
//   Stopped <--Stop--- Started <--Shutdown---- Initialized      (Reset: Initialized again)
//
// Initialize is the device's open() (datapath, firmware handshake and ownership, queues,
// classifier, link) and Shutdown its close() (quiesce, ownership given back, memory freed).
// A call in the wrong state fails as EDK2's drivers fail it: EFI_NOT_STARTED when stopped,
// EFI_ALREADY_STARTED for Start when not stopped, EFI_DEVICE_ERROR otherwise. Every entry
// point runs at TPL_CALLBACK (see tpl.hpp).
//
// Transmit copies the frame into one of kTxSlots DMA buffers (so the caller's buffer never
// needs mapping) and remembers the caller's pointer; GetStatus hands that pointer back once
// the device has sent the frame (the "recycled transmit buffer"). A slot stays taken until
// its buffer is recycled, so Transmit returns EFI_NOT_READY when the caller stops calling
// GetStatus, as the specification describes. Receive copies one packet out of the Rx queue.
// GetStatus also polls the link (MediaPresent, at most every 10 ms) and, about once a
// second of the platform's clock, runs Device::service() (the firmware heartbeat); so does a
// periodic timer event when the configuration asks for one (a driver does; nothing else may
// call the device behind a test's back).
//
// attach() creates the WaitForPacket event, the timer, and an ExitBootServices event that
// stops all DMA with register writes (fbnic/dev/stop_dma.hpp) and then, through the
// caller's hook, bus mastering at the PCI level (PciDevice::disable_bus_master). Nothing is
// unmapped or freed then: the specification forbids memory services in that notification.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "fbnic/bare/uefi/efi.hpp"
#include "fbnic/bare/uefi/exit_boot_services.hpp"
#include "fbnic/bare/uefi/simple_network.hpp"
#include "fbnic/bare/uefi/tpl.hpp"
#include "fbnic/base/bytes.hpp"
#include "fbnic/base/mac_address.hpp"
#include "fbnic/dev/device.hpp"
#include "fbnic/dev/stop_dma.hpp"
#include "fbnic/hw/counter.hpp"
#include "fbnic/regs/mac_stats.hpp"
#include "fbnic/ring/policy.hpp"

namespace fbnic::bare::uefi {

// Rings for a boot-time driver: PXE and HTTP boot move one frame at a time.
struct SnpPolicy : DefaultPolicy {
  static constexpr std::uint32_t kTxRing = 256;
  static constexpr std::uint32_t kTcqRing = 256;
  static constexpr std::uint32_t kHpqRing = 64;
  static constexpr std::uint32_t kPpqRing = 64;
  static constexpr std::uint32_t kRcqRing = 256;
  static constexpr std::uint32_t kRxSparePages = 64;
  static constexpr std::size_t kFirmwareLogs = 0;  // a boot driver never asks for the log
  static constexpr bool kTxOffloads = false;       // SNP hands over whole frames
  static constexpr bool kDeviceCounters = false;   // Statistics reads its MAC counters
  static constexpr bool kFastPaths = false;        // a packet at a time needs no speed
};

struct SnpConfig {
  DeviceConfig device;  // the station address, firmware and link options
  // Called at ExitBootServices after the device's DMA is stopped, e.g. PciDevice's
  // disable_bus_master; nullptr when there is no PCI layer (a device model).
  void (*stop_bus_master)(void* ctx) = nullptr;
  void* stop_bus_master_ctx = nullptr;
  // A periodic TPL_CALLBACK timer that keeps the heartbeat and the link state while
  // nobody calls GetStatus; 0: none.
  std::uint32_t service_period_ms = 0;
  // How long Initialize and Reset wait for the link (0: not at all). EDK2's network stack
  // reads MediaPresent right after Initialize and, if it is FALSE, shuts the interface down
  // and initializes it again to ask anew (NetLibDetectMedia), which restarts the link's
  // training: a driver must return with the link's real state.
  std::uint32_t link_wait_ms = 0;
};

// EFI_NETWORK_STATISTICS: 64-bit counters; one the device does not count reads all ones.
struct NetworkStatistics {
  enum : std::uint32_t {
    kRxTotalFrames,
    kRxGoodFrames,
    kRxUndersizeFrames,
    kRxOversizeFrames,
    kRxDroppedFrames,
    kRxUnicastFrames,
    kRxBroadcastFrames,
    kRxMulticastFrames,
    kRxCrcErrorFrames,
    kRxTotalBytes,
    kTxTotalFrames,
    kTxGoodFrames,
    kTxUndersizeFrames,
    kTxOversizeFrames,
    kTxDroppedFrames,
    kTxUnicastFrames,
    kTxBroadcastFrames,
    kTxMulticastFrames,
    kTxCrcErrorFrames,
    kTxTotalBytes,
    kCollisions,
    kUnsupportedProtocol,
    kRxDuplicatedFrames,
    kRxDecryptErrorFrames,
    kTxErrorFrames,
    kTxRetryFrames,
    kCount
  };
  std::uint64_t counter[kCount];
};
static_assert(sizeof(NetworkStatistics) == 208);

constexpr Status efi_status(fbnic::Status s) {
  switch (s.code()) {
    case Error::kOk: return kSuccess;
    case Error::kNoMemory: return kOutOfResources;
    case Error::kTimeout: return kTimeout;
    case Error::kBusy: return kNotReady;
    case Error::kInvalidArgument:
    case Error::kOutOfRange: return kInvalidParameter;
    case Error::kNotSupported: return kUnsupported;
    case Error::kAborted: return kAborted;
    default: return kDeviceError;
  }
}

template <fbnic::Platform P, class Policy = SnpPolicy>
class SnpAdapter {
  static_assert(Policy::kTxQueues == 1 && Policy::kRxQueues == 1, "SNP is one queue pair");

 public:
  using Nic = Device<P, Policy>;
  using Packet = typename Nic::Rx::Packet;
  static constexpr std::uint32_t kMediaHeader = 14;  // Ethernet: destination, source, type
  static constexpr std::uint32_t kMaxPacket = 1500;  // payload, as EDK2's drivers report it
  static constexpr std::uint32_t kTxSlots = 32;
  static constexpr std::uint32_t kTxSlotBytes = 2048;  // one frame of kMediaHeader + kMaxPacket
  static constexpr std::uint32_t kRxBatch = 8;
  static constexpr std::uint64_t kServiceIntervalNs = 1'000'000'000;
  // A network stack calls GetStatus for every frame it sends and every time it polls; the
  // link registers are read at most this often (media is plugged in seconds, not in
  // microseconds), so the data path does no MMIO read of its own.
  static constexpr std::uint64_t kLinkPollNs = 10'000'000;

  SnpAdapter(P& platform, BootServices* bs, const SnpConfig& config)
      : platform_(platform),
        bs_(bs),
        config_(config),
        nic_(*::new (static_cast<void*>(nic_storage_)) Nic(platform)) {
    SimpleNetwork& p = instance_.protocol;
    p.revision = kSimpleNetworkRevision;
    p.start = &entry<&SnpAdapter::start>;
    p.stop = &entry<&SnpAdapter::stop>;
    p.initialize = &entry<&SnpAdapter::initialize, std::uintptr_t, std::uintptr_t>;
    p.reset = &entry<&SnpAdapter::reset, Boolean>;
    p.shutdown = &entry<&SnpAdapter::shutdown>;
    p.receive_filters = &entry<&SnpAdapter::receive_filters, std::uint32_t, std::uint32_t, Boolean,
                               std::uintptr_t, const MacAddr*>;
    p.station_address = &entry<&SnpAdapter::station_address, Boolean, const MacAddr*>;
    p.statistics = &entry<&SnpAdapter::statistics, Boolean, std::uintptr_t*, void*>;
    p.mcast_ip_to_mac = &entry<&SnpAdapter::mcast_ip_to_mac, Boolean, const IpAddr*, MacAddr*>;
    p.nv_data = &entry<&SnpAdapter::nv_data, Boolean, std::uintptr_t, std::uintptr_t, void*>;
    p.get_status = &entry<&SnpAdapter::get_status, std::uint32_t*, void**>;
    p.transmit = &entry<&SnpAdapter::transmit, std::uintptr_t, std::uintptr_t, void*,
                        const MacAddr*, const MacAddr*, const std::uint16_t*>;
    p.receive = &entry<&SnpAdapter::receive, std::uintptr_t*, std::uintptr_t*, void*, MacAddr*,
                       MacAddr*, std::uint16_t*>;
    p.wait_for_packet = nullptr;
    p.mode = &mode_;
    station_ = config.device.mac;
    mode_.state = SnpState::kStopped;
    mode_.hw_address_size = 6;
    mode_.media_header_size = kMediaHeader;
    mode_.max_packet_size = kMaxPacket;
    mode_.receive_filter_mask = kReceiveUnicast | kReceiveMulticast | kReceiveBroadcast |
                                kReceivePromiscuous | kReceivePromiscuousMulticast;
    mode_.max_mcast_filter_count = kMaxMcastFilterCount;
    put_mac(mode_.current_address, station_);
    put_mac(mode_.permanent_address, station_);
    put_mac(mode_.broadcast_address, kBroadcastMac);
    mode_.if_type = 1;  // Ethernet (RFC 1700 hardware type)
    mode_.mac_address_changeable = 1;
    mode_.multiple_tx_supported = 1;
    mode_.media_present_supported = 1;
  }
  SnpAdapter(const SnpAdapter&) = delete;
  SnpAdapter& operator=(const SnpAdapter&) = delete;
  // After ExitBootServices the device is left as it is: closing it would wait and free
  // through boot services that no longer exist.
  ~SnpAdapter() {
    detach();
    if (!exited_) nic_.~Nic();
  }

  // Creates the WaitForPacket, timer and ExitBootServices events; the protocol works only
  // after. On failure none is left.
  Status attach() {
    SimpleNetwork& p = instance_.protocol;
    if (p.wait_for_packet != nullptr) return kAlreadyStarted;
    Status st =
        bs_->create_event(kEvtNotifyWait, kTplCallback, &wait_notify, this, &p.wait_for_packet);
    if (!is_error(st) && config_.service_period_ms != 0) {
      st = bs_->create_event(kEvtTimer | kEvtNotifySignal, kTplCallback, &timer_notify, this,
                             &timer_);
      // SetTimer counts in 100 ns units.
      if (!is_error(st)) {
        st = bs_->set_timer(timer_, TimerDelay::kPeriodic,
                            std::uint64_t{config_.service_period_ms} * 10'000);
      }
    }
    if (!is_error(st)) st = ebs_.create(bs_, &on_exit_boot_services, this);
    if (is_error(st)) close_events();
    return st;
  }
  // Shuts the device down if it is up and closes the events (a driver's Stop()).
  void detach() {
    if (instance_.protocol.wait_for_packet == nullptr || exited_) return;
    {
      const TplGuard tpl(bs_, kTplCallback);
      if (mode_.state == SnpState::kInitialized) shutdown();
      mode_.state = SnpState::kStopped;
    }
    close_events();
  }

  // Brings the device up and down again (datapath, firmware handshake and ownership,
  // queues, classifier, link): a driver's Start() asks this before it publishes the
  // protocol, so that a device that is gone or whose firmware does not answer is refused
  // at once, within the firmware timeout. Only while Stopped.
  Status probe() {
    if (mode_.state != SnpState::kStopped || exited_) return kAlreadyStarted;
    if (const Status st = open_device(); st != kSuccess) return st;
    return close_device();
  }

  [[nodiscard]] SimpleNetwork* protocol() { return &instance_.protocol; }
  [[nodiscard]] const SimpleNetworkMode& mode() const { return mode_; }
  [[nodiscard]] Nic& device() { return nic_; }
  // True once ExitBootServices ran and stopped the device.
  [[nodiscard]] bool exited_boot_services() const { return exited_; }
  // Transmitted frames whose buffers GetStatus has not handed back yet.
  [[nodiscard]] std::uint32_t tx_outstanding() const { return kTxSlots - free_count_; }

 private:
  // The protocol table followed by a way back to the adapter: the firmware hands the
  // functions the table's address, which is also the instance's (its first member).
  struct Instance {
    SimpleNetwork protocol{};
    SnpAdapter* self = nullptr;
  };

  // Every protocol function: check This, raise to TPL_CALLBACK, call the member.
  template <auto Member, class... Args>
  static Status FBNIC_EFIAPI entry(SimpleNetwork* self, Args... args) {
    if (self == nullptr) return kInvalidParameter;
    SnpAdapter& a = *reinterpret_cast<Instance*>(self)->self;
    const Tpl caller = a.enter();
    const Status st = (a.*Member)(args...);
    a.leave(caller);
    return st;
  }

  // After ExitBootServices there are no boot services to raise the TPL with; the state
  // is Stopped and every call fails on it without touching them.
  static constexpr Tpl kNoTpl = ~Tpl{0};
  [[gnu::noinline]] Tpl enter() { return exited_ ? kNoTpl : bs_->raise_tpl(kTplCallback); }
  [[gnu::noinline]] void leave(Tpl caller) {
    if (caller != kNoTpl) bs_->restore_tpl(caller);
  }

  // A device found gone once the protocol was up, and Started again: EDK2's network stack
  // shuts down and initializes again when media goes (NetLibDetectMedia), the Initialize
  // fails on the gone device, and then its teardown (ReceiveFilters, Shutdown) must still
  // succeed for it to stop. Nothing is left on the device to change, so both succeed.
  [[nodiscard]] bool gone_while_started() {
    return mode_.state == SnpState::kStarted && nic_.io().removed();
  }

  // kSuccess in the wanted state, else the failure EDK2's drivers report for it.
  [[nodiscard]] Status require(SnpState wanted) const {
    if (mode_.state == wanted) return kSuccess;
    return mode_.state == SnpState::kStopped ? kNotStarted : kDeviceError;
  }

  Status start() {
    if (exited_) return kDeviceError;
    if (mode_.state != SnpState::kStopped) return kAlreadyStarted;
    mode_.state = SnpState::kStarted;
    return kSuccess;
  }
  Status stop() {
    if (const Status st = require(SnpState::kStarted); st != kSuccess) return st;
    mode_.state = SnpState::kStopped;
    return kSuccess;
  }

  // The extra buffer sizes are hints for drivers that preallocate; this one needs none.
  Status initialize(std::uintptr_t /*extra_rx*/, std::uintptr_t /*extra_tx*/) {
    if (const Status st = require(SnpState::kStarted); st != kSuccess) return st;
    mode_.receive_filter_setting = kReceiveUnicast | kReceiveBroadcast;  // the device's default
    mode_.mcast_filter_count = 0;
    free_count_ = 0;
    for (std::uint32_t i = kTxSlots; i-- > 0;)
      free_slots_[free_count_++] = static_cast<std::uint8_t>(i);
    in_flight_ = recycled_ = {};
    if (const Status st = open_device(); st != kSuccess) return st;
    wait_for_link();
    mode_.state = SnpState::kInitialized;
    return kSuccess;
  }

  Status shutdown() {
    if (gone_while_started()) return kSuccess;
    if (const Status st = require(SnpState::kInitialized); st != kSuccess) return st;
    mode_.state = SnpState::kStarted;
    return close_device();
  }

  // A fresh bring-up of the device, keeping the station address and receive filters.
  // Frames in flight are dropped, and their buffers recycled (GetStatus hands them back).
  Status reset(Boolean /*extended_verification*/) {
    if (const Status st = require(SnpState::kInitialized); st != kSuccess) return st;
    const Status closed = close_device();
    if (const Status opened = open_device(); opened != kSuccess) {
      mode_.state = SnpState::kStarted;
      return opened;
    }
    wait_for_link();
    return closed;
  }

  Status receive_filters(std::uint32_t enable, std::uint32_t disable, Boolean reset_mcast,
                         std::uintptr_t count, const MacAddr* list) {
    if (gone_while_started()) return kSuccess;
    if (const Status st = require(SnpState::kInitialized); st != kSuccess) return st;
    if (((enable | disable) & ~mode_.receive_filter_mask) != 0) return kInvalidParameter;
    const bool new_list = reset_mcast == 0 && count != 0;
    if (new_list) {
      if (count > kMaxMcastFilterCount || list == nullptr) return kInvalidParameter;
      for (std::uintptr_t i = 0; i < count; ++i) {
        if ((list[i].addr[0] & 1u) == 0) return kInvalidParameter;  // not a multicast address
      }
    }
    const SimpleNetworkMode old = mode_;  // Mode shows only what was programmed
    mode_.receive_filter_setting = (mode_.receive_filter_setting | enable) & ~disable;
    if (reset_mcast != 0) mode_.mcast_filter_count = 0;
    if (new_list) {
      for (std::uintptr_t i = 0; i < count; ++i) mode_.mcast_filter[i] = list[i];
      mode_.mcast_filter_count = static_cast<std::uint32_t>(count);
    }
    // A device that is gone receives nothing whatever the filters say: the setting is
    // kept and the call succeeds, since the network stack above (MNP) reconfigures its
    // filters while it tears down and cannot stop while that fails.
    const fbnic::Status applied = apply_rx_mode();
    if (applied.ok() || applied.code() == Error::kDeviceRemoved) return kSuccess;
    mode_ = old;
    return efi_status(applied);
  }

  Status station_address(Boolean reset, const MacAddr* new_address) {
    if (const Status st = require(SnpState::kInitialized); st != kSuccess) return st;
    MacAddress mac = config_.device.mac;
    if (reset == 0) {
      if (new_address == nullptr) return kInvalidParameter;
      for (std::size_t i = 0; i < 6; ++i) mac.bytes[i] = new_address->addr[i];
      if (!mac.is_valid_unicast()) return kInvalidParameter;
    }
    const MacAddress old = station_;
    station_ = mac;
    if (const Status st = efi_status(apply_rx_mode()); st != kSuccess) {
      station_ = old;
      return st;
    }
    put_mac(mode_.current_address, station_);
    return kSuccess;
  }

  // The MAC's counters since Initialize (or the last reset of the statistics); what the
  // device does not count reads all ones, as the specification asks. As EDK2's SnpDxe:
  // Reset only resets, and a NULL table asks for the size.
  Status statistics(Boolean reset, std::uintptr_t* size, void* table) {
    if (const Status st = require(SnpState::kInitialized); st != kSuccess) return st;
    if (reset == 0 && size == nullptr) return table != nullptr ? kInvalidParameter : kSuccess;
    MacCounts now;
    if (!read_mac_counters(now).ok()) return kDeviceError;
    if (reset != 0) {
      mac_base_ = now;
      return kSuccess;
    }
    if (table == nullptr) {
      *size = sizeof(NetworkStatistics);
      return kBufferTooSmall;
    }
    using S = NetworkStatistics;
    NetworkStatistics out;
    fill_bytes(&out, 0xFF, sizeof out);
    for (std::size_t i = 0; i < kMacCounters.size(); ++i) {
      out.counter[kMacCounters[i].entry] = now[i] - mac_base_[i];
    }
    std::uint64_t* c = out.counter;
    c[S::kRxTotalFrames] += c[S::kRxGoodFrames];  // it held the frames in error
    c[S::kTxTotalFrames] = c[S::kTxGoodFrames] + c[S::kTxErrorFrames];
    const std::uint64_t rx_group = c[S::kRxBroadcastFrames] + c[S::kRxMulticastFrames];
    const std::uint64_t tx_group = c[S::kTxBroadcastFrames] + c[S::kTxMulticastFrames];
    c[S::kRxUnicastFrames] = c[S::kRxGoodFrames] >= rx_group ? c[S::kRxGoodFrames] - rx_group : 0;
    c[S::kTxUnicastFrames] = c[S::kTxGoodFrames] >= tx_group ? c[S::kTxGoodFrames] - tx_group : 0;
    // Only whole counters are copied into a short table.
    const std::uintptr_t room = *size < sizeof out ? *size / 8 * 8 : sizeof out;
    copy_bytes(table, &out, room);
    const bool whole = *size >= sizeof out;
    *size = sizeof out;
    return whole ? kSuccess : kBufferTooSmall;
  }

  // IPv4 224.0.0.0/4 -> 01:00:5e + the low 23 bits; IPv6 ff00::/8 -> 33:33 + the low 32 bits.
  Status mcast_ip_to_mac(Boolean ipv6, const IpAddr* ip, MacAddr* mac) {
    if (const Status st = require(SnpState::kInitialized); st != kSuccess) return st;
    if (ip == nullptr || mac == nullptr) return kInvalidParameter;
    *mac = MacAddr{};
    if (ipv6 != 0) {
      if (ip->v6[0] != 0xFF) return kInvalidParameter;
      const std::uint8_t m[6] = {0x33, 0x33, ip->v6[12], ip->v6[13], ip->v6[14], ip->v6[15]};
      copy_bytes(mac->addr, m, 6);
    } else {
      if ((ip->v4[0] & 0xF0u) != 0xE0u) return kInvalidParameter;
      const std::uint8_t m[6] = {
          0x01, 0x00, 0x5E, static_cast<std::uint8_t>(ip->v4[1] & 0x7Fu), ip->v4[2], ip->v4[3]};
      copy_bytes(mac->addr, m, 6);
    }
    return kSuccess;
  }

  Status nv_data(Boolean /*read_write*/, std::uintptr_t /*offset*/, std::uintptr_t /*size*/,
                 void* /*buffer*/) {
    if (const Status st = require(SnpState::kInitialized); st != kSuccess) return st;
    return kUnsupported;  // NvRamSize is 0
  }

  Status get_status(std::uint32_t* interrupt_status, void** tx_buf) {
    if (const Status st = require(SnpState::kInitialized); st != kSuccess) return st;
    if (interrupt_status == nullptr && tx_buf == nullptr) return kInvalidParameter;
    reclaim_tx();
    tick();
    if (interrupt_status != nullptr) {
      *interrupt_status =
          (tx_interrupt_ ? kTransmitInterrupt : 0u) | (rx_pending() ? kReceiveInterrupt : 0u);
      tx_interrupt_ = false;
    }
    if (tx_buf != nullptr) {
      *tx_buf = nullptr;
      if (recycled_.count != 0) {
        const std::uint8_t slot = recycled_.pop();
        *tx_buf = tx_owner_[slot];
        free_slots_[free_count_++] = slot;
      }
    }
    return kSuccess;
  }

  // With header_size == kMediaHeader the Ethernet header is written into the caller's
  // buffer first (destination, source or the station address, protocol in network order).
  Status transmit(std::uintptr_t header_size, std::uintptr_t size, void* buffer, const MacAddr* src,
                  const MacAddr* dest, const std::uint16_t* protocol) {
    if (const Status st = require(SnpState::kInitialized); st != kSuccess) return st;
    if (buffer == nullptr) return kInvalidParameter;
    if (header_size != 0 &&
        (header_size != kMediaHeader || dest == nullptr || protocol == nullptr)) {
      return kInvalidParameter;
    }
    if (size < kMediaHeader) return kBufferTooSmall;
    if (size > kMediaHeader + kMaxPacket) return kInvalidParameter;
    if (free_count_ == 0) return kNotReady;  // every slot waits for GetStatus to recycle it
    // The send path reads no register, so it would not notice; GetStatus's polls do.
    if (nic_.io().removed()) return kDeviceError;
    auto* frame = static_cast<std::uint8_t*>(buffer);
    if (header_size != 0) {
      copy_bytes(frame, dest->addr, 6);
      copy_bytes(frame + 6, src != nullptr ? src->addr : mode_.current_address.addr, 6);
      frame[12] = static_cast<std::uint8_t>(*protocol >> 8);
      frame[13] = static_cast<std::uint8_t>(*protocol & 0xFFu);
    }
    const std::uint8_t slot = free_slots_[--free_count_];
    copy_bytes(static_cast<std::uint8_t*>(tx_mem_.cpu) + std::size_t{slot} * kTxSlotBytes, frame,
               size);
    const TxBuffer piece{tx_mem_.device + std::uint64_t{slot} * kTxSlotBytes,
                         static_cast<std::uint32_t>(size)};
    const TxPacket pkt{std::span(&piece, 1), {}, slot};
    const SendResult sent = nic_.tx(0).send(std::span(&pkt, 1));
    if (sent.sent != 1) {
      free_slots_[free_count_++] = slot;
      return sent.status == Error::kBusy ? kNotReady : kDeviceError;
    }
    tx_owner_[slot] = buffer;
    in_flight_.push(slot);
    return kSuccess;
  }

  Status receive(std::uintptr_t* header_size, std::uintptr_t* size, void* buffer, MacAddr* src,
                 MacAddr* dest, std::uint16_t* protocol) {
    if (const Status st = require(SnpState::kInitialized); st != kSuccess) return st;
    if (size == nullptr || buffer == nullptr) return kInvalidParameter;
    if (!rx_pending()) return kNotReady;
    const Packet& pkt = rx_[rx_next_];
    if (*size < pkt.len) {
      *size = pkt.len;  // the packet stays for a call with a larger buffer
      return kBufferTooSmall;
    }
    auto* out = static_cast<std::uint8_t*>(buffer);
    std::uint32_t at = 0;
    for (const RxFragment& f : pkt.fragments()) {
      copy_bytes(out + at, f.data, f.len);
      at += f.len;
    }
    *size = pkt.len;
    nic_.rx(0).release(pkt);
    ++rx_next_;
    if (pkt.len >= kMediaHeader) {
      if (header_size != nullptr) *header_size = kMediaHeader;
      if (dest != nullptr) put_mac(*dest, out);
      if (src != nullptr) put_mac(*src, out + 6);
      if (protocol != nullptr) *protocol = static_cast<std::uint16_t>((out[12] << 8) | out[13]);
    }
    return kSuccess;
  }

  // --- helpers ---

  // The MAC counters Statistics reports, by their entry in its table. Read straight from
  // their registers: 64 bits wide, they do not wrap, so no running total is needed, and a
  // driver carries one loop rather than the device's whole statistics (Device::stats()).
  // Frames in error go first into RxTotalFrames, which then adds the good ones.
  struct MacCounter {
    std::uint32_t entry;
    std::uint32_t low;  // register offsets of the two halves
    std::uint32_t high;
  };
  template <class R>
  static constexpr MacCounter counter(std::uint32_t entry) {
    return {entry, R::kOffset, R::kHighOffset};
  }
  static constexpr std::array<MacCounter, 13> kMacCounters{
      counter<regs::MacStatRxReceivedOk>(NetworkStatistics::kRxGoodFrames),
      counter<regs::MacStatRxIfInErrors>(NetworkStatistics::kRxTotalFrames),
      counter<regs::MacStatRxUndersize>(NetworkStatistics::kRxUndersizeFrames),
      counter<regs::MacStatRxToolong>(NetworkStatistics::kRxOversizeFrames),
      counter<regs::MacStatRxBroadcast>(NetworkStatistics::kRxBroadcastFrames),
      counter<regs::MacStatRxMulticast>(NetworkStatistics::kRxMulticastFrames),
      counter<regs::MacStatRxPacketBadFcs>(NetworkStatistics::kRxCrcErrorFrames),
      counter<regs::MacStatRxByteCount>(NetworkStatistics::kRxTotalBytes),
      counter<regs::MacStatTxTransmittedOk>(NetworkStatistics::kTxGoodFrames),
      counter<regs::MacStatTxIfOutErrors>(NetworkStatistics::kTxErrorFrames),
      counter<regs::MacStatTxBroadcast>(NetworkStatistics::kTxBroadcastFrames),
      counter<regs::MacStatTxMulticast>(NetworkStatistics::kTxMulticastFrames),
      counter<regs::MacStatTxByteCount>(NetworkStatistics::kTxTotalBytes),
  };
  using MacCounts = std::array<std::uint64_t, kMacCounters.size()>;

  fbnic::Status read_mac_counters(MacCounts& out) {
    for (std::size_t i = 0; i < kMacCounters.size(); ++i) {
      FBNIC_TRY_ASSIGN(
          out[i], read_split64(nic_.io(), regs::RegAddr<regs::CsrWord>{kMacCounters[i].low, true},
                               regs::RegAddr<regs::CsrWord>{kMacCounters[i].high, true}));
    }
    return ok_status();
  }

  // Slots in order: sent and not completed, or completed and not yet handed back.
  struct SlotQueue {
    std::array<std::uint8_t, kTxSlots> slot{};
    std::uint32_t head = 0;
    std::uint32_t count = 0;
    void push(std::uint8_t s) {
      slot[(head + count) % kTxSlots] = s;
      ++count;
    }
    std::uint8_t pop() {
      const std::uint8_t s = slot[head];
      head = (head + 1) % kTxSlots;
      --count;
      return s;
    }
  };

  // The Tx slots' memory, the device, its receive filters and the statistics' starting
  // point. The slots' bookkeeping is Initialize's (Reset keeps buffers to recycle).
  Status open_device() {
    Result<DmaBuffer> mem = platform_.dma_alloc(std::size_t{kTxSlots} * kTxSlotBytes, 4096);
    if (!mem.ok()) return kOutOfResources;
    tx_mem_ = mem.value();
    DeviceConfig cfg = config_.device;
    cfg.mac = station_;
    fbnic::Status st = nic_.open(cfg);
    if (st.ok()) {
      st = apply_rx_mode();
      if (!st.ok()) nic_.close().ignore();
    }
    if (!st.ok()) {
      log_always(platform_, LogLevel::kError, "fbnic-snp: bring-up failed: ", st.name());
      release_tx_memory();
      return efi_status(st);
    }
    rx_next_ = rx_count_ = 0;
    tx_interrupt_ = false;
    last_service_ns_ = platform_.now_ns();
    mode_.media_present = nic_.link().up() ? 1 : 0;
    if (!read_mac_counters(mac_base_).ok()) mac_base_ = {};
    return kSuccess;
  }

  // Packets the caller has not taken are dropped; frames in flight are recycled in the
  // order they were sent, whether the device sent them or not; the memory is freed.
  // A device that is gone has nothing left to shut down once that is done: success (the
  // removal is logged), so that the network stack above (MNP), which cannot stop while
  // Shutdown fails, lets the controller go.
  Status close_device() {
    nic_.rx(0).release(std::span<const Packet>(rx_.data() + rx_next_, rx_count_ - rx_next_));
    rx_next_ = rx_count_ = 0;
    const fbnic::Status st = nic_.close();
    if (!st.ok()) log_always(platform_, LogLevel::kError, "fbnic-snp: shutdown: ", st.name());
    while (in_flight_.count != 0) recycled_.push(in_flight_.pop());
    release_tx_memory();
    mode_.media_present = 0;
    return st.code() == Error::kDeviceRemoved ? kSuccess : efi_status(st);
  }

  void release_tx_memory() {
    platform_.dma_free(tx_mem_);
    tx_mem_ = {};
  }

  fbnic::Status apply_rx_mode() {
    std::array<MacAddress, kMaxMcastFilterCount> multicast{};
    const std::uint32_t setting = mode_.receive_filter_setting;
    const std::uint32_t n = (setting & kReceiveMulticast) != 0 ? mode_.mcast_filter_count : 0;
    for (std::uint32_t i = 0; i < n; ++i)
      copy_bytes(multicast[i].bytes.data(), mode_.mcast_filter[i].addr, 6);
    rpc::RxMode m;
    m.station = station_;  // always received: the classifier has no "no unicast" mode
    m.multicast = std::span<const MacAddress>(multicast.data(), n);
    m.broadcast = (setting & kReceiveBroadcast) != 0;
    m.promiscuous = (setting & kReceivePromiscuous) != 0;
    m.all_multicast = (setting & kReceivePromiscuousMulticast) != 0;
    return nic_.set_rx_mode(m);
  }

  // The device completes frames in the order they were sent.
  void reclaim_tx() {
    if (nic_.tx(0).reclaim([this](std::uint64_t) { recycled_.push(in_flight_.pop()); }) != 0) {
      tx_interrupt_ = true;
    }
  }

  // Until the link is up or the configured wait is over; MediaPresent says which.
  void wait_for_link() {
    if (config_.link_wait_ms == 0) return;
    const Deadline deadline =
        Deadline::after_us(platform_.now_ns(), std::uint64_t{config_.link_wait_ms} * 1000);
    nic_.wait_link_up(deadline).ignore();  // no link is an answer, not a failure
    mode_.media_present = nic_.link().up() ? 1 : 0;
  }

  // The link state, and about once a second the device's periodic work (heartbeat).
  void tick() {
    const std::uint64_t now = platform_.now_ns();
    if (now - last_service_ns_ >= kServiceIntervalNs) {
      last_service_ns_ = now;
      const fbnic::Status st = nic_.service();
      // A failure is logged when it first appears: a device that is gone fails every second.
      if (!st.ok() && st.code() != last_service_error_) {
        log_always(platform_, LogLevel::kError, "fbnic-snp: service: ", st.name());
      }
      last_service_error_ = st.code();
    } else if (now - last_link_ns_ >= kLinkPollNs) {
      last_link_ns_ = now;
      nic_.link().poll().status().ignore();
    }
    // A device that is gone keeps the last link state it showed.
    mode_.media_present = nic_.link().up() && !nic_.io().removed() ? 1 : 0;
  }

  bool rx_pending() {
    if (rx_next_ == rx_count_) {
      rx_next_ = 0;
      rx_count_ = nic_.rx(0).poll(rx_);
    }
    return rx_next_ < rx_count_;
  }

  void close_events() {
    SimpleNetwork& p = instance_.protocol;
    ebs_.close();
    if (timer_ != nullptr) bs_->close_event(timer_);  // closing cancels it
    timer_ = nullptr;
    if (p.wait_for_packet != nullptr) bs_->close_event(p.wait_for_packet);
    p.wait_for_packet = nullptr;
  }

  static void put_mac(MacAddr& out, const std::uint8_t* mac) {
    out = MacAddr{};
    copy_bytes(out.addr, mac, 6);
  }
  static void put_mac(MacAddr& out, const MacAddress& mac) { put_mac(out, mac.bytes.data()); }

  static void FBNIC_EFIAPI wait_notify(Event event, void* ctx) {
    auto* a = static_cast<SnpAdapter*>(ctx);
    if (a->mode_.state == SnpState::kInitialized && a->rx_pending()) a->bs_->signal_event(event);
  }

  static void FBNIC_EFIAPI timer_notify(Event /*event*/, void* ctx) {
    auto* a = static_cast<SnpAdapter*>(ctx);
    if (a->mode_.state == SnpState::kInitialized && !a->exited_) a->tick();
  }

  // Inside ExitBootServices: no waiting, allocating or freeing; the device object is
  // abandoned (still "open") and the protocol answers EFI_NOT_STARTED from now on.
  static void on_exit_boot_services(void* ctx) {
    auto* a = static_cast<SnpAdapter*>(ctx);
    a->exited_ = true;
    if (a->nic_.is_open()) fbnic::stop_dma(a->nic_);
    if (a->config_.stop_bus_master != nullptr)
      a->config_.stop_bus_master(a->config_.stop_bus_master_ctx);
    a->mode_.state = SnpState::kStopped;
    a->mode_.media_present = 0;
  }

  P& platform_;
  BootServices* bs_;
  SnpConfig config_;
  alignas(Nic) std::byte nic_storage_[sizeof(Nic)];
  Nic& nic_;
  Instance instance_{{}, this};
  SimpleNetworkMode mode_{};
  ExitBootServicesEvent ebs_;
  Event timer_ = nullptr;
  Error last_service_error_ = Error::kOk;
  MacAddress station_{};
  DmaBuffer tx_mem_{};
  std::array<void*, kTxSlots> tx_owner_{};  // the caller's buffer in each slot
  std::array<std::uint8_t, kTxSlots> free_slots_{};
  std::uint32_t free_count_ = 0;
  SlotQueue in_flight_{};  // handed to the device, in order
  SlotQueue recycled_{};   // sent, waiting for GetStatus, in order
  std::array<Packet, kRxBatch> rx_{};
  std::uint32_t rx_next_ = 0;
  std::uint32_t rx_count_ = 0;
  std::uint64_t last_service_ns_ = 0;
  std::uint64_t last_link_ns_ = 0;
  MacCounts mac_base_{};  // Statistics counts from these
  bool tx_interrupt_ = false;
  bool exited_ = false;
};

}  // namespace fbnic::bare::uefi
