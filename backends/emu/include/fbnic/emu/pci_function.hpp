// PciFunction: the PCI side of the emulated NIC that is not the device model: type-0
// configuration space with the capabilities the Linux driver reads, BAR sizing and
// decoding, and the MSI-X table and pending-bit array (in their own BAR) with per-vector
// and function masking.
//
// Two layouts, one per kind of front end (docs/emulator.md shows both beside the real
// card's):
//   kExpress       (vhost-user, User-Mode Linux): 4 KiB PCIe configuration space
//   kConventional  (QEMU's x-pci-proxy-dev): 256 bytes, no PCI Express capability and no
//                  extended capabilities, since the proxy is a conventional PCI device
// Both:
//   0x000  header: 1d9b:0013, class 0x020000, 32-bit memory BARs 0 (CSRs), 2 (MSI-X),
//          4 (mailbox); no I/O BARs, no expansion ROM, no INTx pin
//   0x040  the emulator's vendor-specific capability (ID 0x09, see vsec below): counters
//          and controls a test in the guest reaches through config space, and a copy of
//          the serial number for the layout that has no DSN capability
//   0x0B8  MSI-X capability: table at BAR2 + 0, PBA at BAR2 + 0x1000
// kExpress only:
//   0x0C4  PCI Express capability v2, endpoint (Device Control carries MPS/MRRS)
//   0x100  Device Serial Number extended capability (the driver's MAC comes from it)
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>

#include "fbnic/emu/pci_bus.hpp"
#include "fbnic/regs/intr.hpp"

namespace fbnic::emu {

struct PciIdentity {
  std::uint16_t vendor = 0x1D9B;        // Meta
  std::uint16_t device = 0x0013;        // fbnic ASIC
  std::uint32_t class_code = 0x020000;  // Ethernet controller
  std::uint8_t revision = 0;
  // Serial number; the driver makes its MAC from bytes 7,6,5 and 2,1,0 (most
  // significant first), so this default gives the valid unicast 00:11:22:55:66:77.
  std::uint64_t dsn = 0x001122FFFE556677ull;
  std::uint32_t csr_bar_size = 4u << 20;    // BAR0: all CSRs incl. 128 queue blocks
  std::uint32_t ipc_bar_size = 128u << 10;  // BAR4: firmware mailbox and OTP
};

enum class PciLayout : std::uint8_t {
  kExpress,       // PCIe: 4 KiB config space, PCI Express and DSN capabilities
  kConventional,  // conventional PCI: 256 bytes of config space, no extended capabilities
};

// The emulator's vendor-specific capability (a standard capability, ID 0x09, so that it
// sits in the first 256 bytes every front end forwards). Offsets from its base.
namespace vsec {
inline constexpr std::uint32_t kBase = 0x40;
inline constexpr std::uint8_t kCapId = 0x09;       // PCI "vendor specific" capability
inline constexpr std::uint32_t kSignature = 0x04;  // [15:0] kId, [23:16] revision
inline constexpr std::uint16_t kId = 0xFB1C;       // marks the emulator's block
inline constexpr std::uint8_t kRevision = 2;       // 2: standard capability, DSN copy
inline constexpr std::uint32_t kCommand = 0x08;    // write: opcode [7:0], argument [31:8]
inline constexpr std::uint32_t kStatus = 0x0C;     // read: result [7:0], command count [31:8]
inline constexpr std::uint32_t kCounters = 0x10;   // latched 64-bit counters, low word first
inline constexpr std::uint32_t kCounterCount = 12;
inline constexpr std::uint32_t kDsn = kCounters + 8 * kCounterCount;  // serial number copy
inline constexpr std::uint32_t kLength = kDsn + 8;

enum Opcode : std::uint8_t {
  kLatch = 1,     // copy the live counters into the registers; argument = scenario mark
  kLinkDown = 2,  // take the model's link down (a cable pull)
  kLinkUp = 3,    // bring it back
  kPrint = 4,     // print the counters on the emulator's output
};
enum Result : std::uint8_t { kOk = 0, kUnsupported = 1, kUnknown = 2 };

// Counter slots, in register order.
enum Counter : std::uint32_t {
  kCsrReads,
  kCsrWrites,
  kIpcReads,
  kIpcWrites,
  kMbxToFirmware,
  kMbxToHost,
  kMsiSent,
  kMsiPended,
  kMsiDropped,
  kModelFaults,
  kUnmodelled,
  kModelTimeUs,
};
}  // namespace vsec

class PciFunction {
 public:
  static constexpr std::uint32_t kConfigSize = 4096;  // storage; the layout may expose less
  static constexpr std::uint8_t kCsrBar = 0;
  static constexpr std::uint8_t kMsixBar = 2;
  static constexpr std::uint8_t kIpcBar = 4;
  static constexpr std::uint32_t kMsixVectors = regs::kMaxMsixVectors;
  static constexpr std::uint32_t kMsixTable = 0x0;
  static constexpr std::uint32_t kMsixPba = 0x1000;
  static constexpr std::uint32_t kMsixBarSize = 0x2000;

  static constexpr std::uint32_t kMsixCap = 0xB8;
  static constexpr std::uint32_t kPcieCap = 0xC4;  // kExpress only
  static constexpr std::uint32_t kDsnCap = 0x100;  // kExpress only

  // An MSI-X message the function sends: its vector, and the table entry's address and data.
  using MsiSink =
      std::function<void(std::uint32_t vector, std::uint64_t address, std::uint32_t data)>;
  // Runs a VSEC command; returns a vsec::Result.
  using CommandHandler = std::function<std::uint8_t(std::uint8_t op, std::uint32_t arg)>;

  struct Stats {
    std::uint64_t msi_sent = 0;
    std::uint64_t msi_pended = 0;   // raised while masked or not bus master, sent later
    std::uint64_t msi_dropped = 0;  // raised with MSI-X disabled, or past the table
  };

  explicit PciFunction(const PciIdentity& id = {}, PciLayout layout = PciLayout::kExpress)
      : id_(id), layout_(layout) {
    reset();
  }

  [[nodiscard]] PciLayout layout() const { return layout_; }
  // What the front end sees of config space: 4 KiB (PCIe) or 256 bytes.
  [[nodiscard]] std::uint32_t config_size() const {
    return layout_ == PciLayout::kExpress ? kConfigSize : 256;
  }

  void set_msi_sink(MsiSink sink) { msi_ = std::move(sink); }
  void set_command_handler(CommandHandler h) { command_ = std::move(h); }

  // Power-on: config space, MSI-X table and PBA, and the counters start over.
  void reset() {
    stats_ = {};
    commands_ = 0;
    cfg_.fill(0);
    wmask_.fill(0);
    w1c_.fill(0);
    put(0x00, 2, id_.vendor);
    put(0x02, 2, id_.device);
    put(0x06, 2, 0x0010);  // status: capability list
    put(0x08, 1, id_.revision);
    put(0x09, 3, id_.class_code);
    put(0x2C, 2, id_.vendor);  // subsystem
    put(0x2E, 2, id_.device);
    put(0x34, 1, vsec::kBase);
    mask(0x04, 2, 0x0546);  // command: memory, bus master, parity, SERR, INTx disable
    w1c(0x06, 2, 0xF900);   // status error bits
    mask(0x0C, 1, 0xFF);    // cache line size
    mask(0x3C, 1, 0xFF);    // interrupt line
    bar(kCsrBar, id_.csr_bar_size);
    bar(kMsixBar, kMsixBarSize);
    bar(kIpcBar, id_.ipc_bar_size);
    const bool express = layout_ == PciLayout::kExpress;

    // The emulator's block: ID, next, length; signature; command; the serial number copy.
    put(vsec::kBase + 0x00, 1, vsec::kCapId);
    put(vsec::kBase + 0x01, 1, kMsixCap);
    put(vsec::kBase + 0x02, 1, vsec::kLength);
    put(vsec::kBase + vsec::kSignature, 4, vsec::kId | (std::uint32_t{vsec::kRevision} << 16));
    mask(vsec::kBase + vsec::kCommand, 4, 0xFFFF'FFFF);
    put(vsec::kBase + vsec::kDsn, 8, id_.dsn);

    // MSI-X: table size N-1 in [10:0]; function mask (14) and enable (15) writable.
    put(kMsixCap + 0x00, 1, 0x11);
    put(kMsixCap + 0x01, 1, express ? kPcieCap : 0);
    put(kMsixCap + 0x02, 2, kMsixVectors - 1);
    mask(kMsixCap + 0x02, 2, 0xC000);
    put(kMsixCap + 0x04, 4, kMsixTable | kMsixBar);
    put(kMsixCap + 0x08, 4, kMsixPba | kMsixBar);

    if (express) {
      // PCI Express capability, version 2, endpoint.
      put(kPcieCap + 0x00, 1, 0x10);
      put(kPcieCap + 0x01, 1, 0x00);
      put(kPcieCap + 0x02, 2, 0x0002);
      put(kPcieCap + 0x04, 4, 0x0000'8022);  // DevCap: MPS 512, extended tags, role-based errors
      put(kPcieCap + 0x08, 2, 0x2810);       // DevCtl: relaxed ordering, no-snoop, MRRS 512
      mask(kPcieCap + 0x08, 2, 0x7FFF);
      w1c(kPcieCap + 0x0A, 2, 0x000F);       // DevSta error bits
      put(kPcieCap + 0x0C, 4, 0x0000'0104);  // LnkCap: 16 GT/s x16
      mask(kPcieCap + 0x10, 2, 0x0FFB);
      put(kPcieCap + 0x12, 2, 0x1104);       // LnkSta: 16 GT/s x16, common clock
      mask(kPcieCap + 0x28, 2, 0xFFFF);      // DevCtl2
      put(kPcieCap + 0x2C, 4, 0x0000'001E);  // LnkCap2: 2.5 to 16 GT/s
      put(kPcieCap + 0x30, 2, 0x0004);
      mask(kPcieCap + 0x30, 2, 0xFFFF);

      // Device serial number, the only extended capability.
      put(kDsnCap + 0x00, 4, 0x0003u | (1u << 16));
      put(kDsnCap + 0x04, 4, static_cast<std::uint32_t>(id_.dsn));
      put(kDsnCap + 0x08, 4, static_cast<std::uint32_t>(id_.dsn >> 32));
    }

    for (std::uint32_t v = 0; v < kMsixVectors; ++v) {
      table_[4 * v + 0] = 0;
      table_[4 * v + 1] = 0;
      table_[4 * v + 2] = 0;
      table_[4 * v + 3] = 1;  // masked
    }
    pba_.fill(0);
  }

  // --- configuration space (any size 1..8, little endian) ---
  // Outside the layout's config space: reads all ones, writes ignored (a conventional
  // function has no extended space).
  [[nodiscard]] std::uint64_t config_read(std::uint32_t offset, std::uint32_t size) const {
    if (!in_config(offset, size)) return ~std::uint64_t{0};
    return get(offset, size);
  }

  void config_write(std::uint32_t offset, std::uint32_t size, std::uint64_t value) {
    if (!in_config(offset, size)) return;
    const bool was_bme = bus_master();
    const std::uint16_t old_msix = msix_control();
    for (std::uint32_t i = 0; i < size; ++i) {
      const auto b = static_cast<std::uint8_t>(value >> (8 * i));
      const std::uint32_t o = offset + i;
      cfg_[o] = static_cast<std::uint8_t>((cfg_[o] & ~wmask_[o]) | (b & wmask_[o]));
      cfg_[o] = static_cast<std::uint8_t>(cfg_[o] & ~(b & w1c_[o]));
    }
    const std::uint32_t cmd = vsec::kBase + vsec::kCommand;
    if (offset <= cmd && offset + size >= cmd + 4) run_command(get(cmd, 4));
    if ((bus_master() && !was_bme) || msix_control() != old_msix) flush_pending();
  }

  [[nodiscard]] bool in_config(std::uint32_t offset, std::uint32_t size) const {
    return size != 0 && size <= 8 && offset < config_size() && size <= config_size() - offset;
  }

  // The size of memory BAR `bar` (0 when it does not exist).
  [[nodiscard]] std::uint32_t bar_size(std::uint8_t bar) const {
    switch (bar) {
      case kCsrBar: return id_.csr_bar_size;
      case kIpcBar: return id_.ipc_bar_size;
      case kMsixBar: return kMsixBarSize;
      default: return 0;
    }
  }
  // Where the guest put BAR `bar` (its programmed base; meaningful with memory decoding on).
  [[nodiscard]] std::uint64_t bar_base(std::uint8_t bar) const {
    return get(0x10 + 4u * bar, 4) & ~std::uint64_t{0xF};
  }
  // The BAR holding [address, address + size) as the guest programmed them: nothing while
  // memory decoding is off, or for an access that straddles a BAR's end.
  [[nodiscard]] std::optional<BarHit> bar_at(std::uint64_t address, std::uint32_t size) const {
    if (!memory_enabled() || size == 0) return std::nullopt;
    for (std::uint8_t b : {kCsrBar, kMsixBar, kIpcBar}) {
      const std::uint64_t base = bar_base(b);
      const std::uint64_t len = bar_size(b);
      if (address >= base && address - base < len && size <= len - (address - base)) {
        return BarHit{b, address - base};
      }
    }
    return std::nullopt;
  }

  [[nodiscard]] bool memory_enabled() const { return (get(0x04, 2) & 0x2) != 0; }
  [[nodiscard]] bool bus_master() const { return (get(0x04, 2) & 0x4) != 0; }
  [[nodiscard]] bool msix_enabled() const { return (msix_control() & 0x8000) != 0; }
  [[nodiscard]] bool msix_function_masked() const { return (msix_control() & 0x4000) != 0; }
  [[nodiscard]] std::uint64_t dsn() const { return id_.dsn; }

  // The latched counter registers of the VSEC, filled by the owner on a latch command.
  void set_counter(std::uint32_t slot, std::uint64_t value) {
    if (slot < vsec::kCounterCount) put(vsec::kBase + vsec::kCounters + 8 * slot, 8, value);
  }

  // --- the MSI-X BAR ---
  [[nodiscard]] std::uint32_t msix_read32(std::uint32_t offset) const {
    if (offset < kMsixTable + 16 * kMsixVectors) return table_[(offset - kMsixTable) / 4];
    if (offset >= kMsixPba && offset < kMsixPba + kMsixVectors / 8) {
      const std::uint32_t word = (offset - kMsixPba) / 4;
      return static_cast<std::uint32_t>(pba_[word / 2] >> (32 * (word % 2)));
    }
    return 0;
  }

  void msix_write32(std::uint32_t offset, std::uint32_t value) {
    if (offset >= kMsixTable + 16 * kMsixVectors) return;  // the PBA is read-only
    const std::uint32_t word = (offset - kMsixTable) / 4;
    table_[word] = value;
    if (word % 4 == 3 && (value & 1) == 0) deliver_if_pending(word / 4);
  }

  [[nodiscard]] bool vector_masked(std::uint32_t v) const {
    return v >= kMsixVectors || (table_[4 * v + 3] & 1) != 0;
  }
  [[nodiscard]] bool vector_pending(std::uint32_t v) const {
    return v < kMsixVectors && (pba_[v / 64] >> (v % 64) & 1) != 0;
  }

  // An interrupt message for vector v from the device.
  void raise(std::uint32_t v) {
    if (v >= kMsixVectors || !msix_enabled()) {
      ++stats_.msi_dropped;
      return;
    }
    if (!deliverable(v)) {
      if (!vector_pending(v)) ++stats_.msi_pended;
      pba_[v / 64] |= std::uint64_t{1} << (v % 64);
      return;
    }
    send(v);
  }

  [[nodiscard]] const Stats& stats() const { return stats_; }

 private:
  [[nodiscard]] std::uint64_t get(std::uint32_t offset, std::uint32_t size) const {
    std::uint64_t v = 0;
    for (std::uint32_t i = 0; i < size; ++i) v |= std::uint64_t{cfg_[offset + i]} << (8 * i);
    return v;
  }
  void put(std::uint32_t offset, std::uint32_t size, std::uint64_t value) {
    for (std::uint32_t i = 0; i < size; ++i) {
      cfg_[offset + i] = static_cast<std::uint8_t>(value >> (8 * i));
    }
  }
  void mask(std::uint32_t offset, std::uint32_t size, std::uint64_t bits) {
    for (std::uint32_t i = 0; i < size; ++i) {
      wmask_[offset + i] = static_cast<std::uint8_t>(bits >> (8 * i));
    }
  }
  void w1c(std::uint32_t offset, std::uint32_t size, std::uint64_t bits) {
    for (std::uint32_t i = 0; i < size; ++i) {
      w1c_[offset + i] = static_cast<std::uint8_t>(bits >> (8 * i));
    }
  }
  // A 32-bit memory BAR of a power-of-two size: the low bits read as zero, so the
  // sizing write of all ones reads back the size.
  void bar(std::uint8_t index, std::uint32_t size) {
    mask(0x10 + 4u * index, 4, ~(size - 1) & 0xFFFF'FFF0u);
  }

  [[nodiscard]] std::uint16_t msix_control() const {
    return static_cast<std::uint16_t>(get(kMsixCap + 2, 2));
  }
  [[nodiscard]] bool deliverable(std::uint32_t v) const {
    return msix_enabled() && !msix_function_masked() && bus_master() && !vector_masked(v);
  }
  void send(std::uint32_t v) {
    const std::uint64_t addr =
        table_[4 * v] | (static_cast<std::uint64_t>(table_[4 * v + 1]) << 32);
    ++stats_.msi_sent;
    if (msi_) msi_(v, addr, table_[4 * v + 2]);
  }
  void deliver_if_pending(std::uint32_t v) {
    if (vector_pending(v) && deliverable(v)) {
      pba_[v / 64] &= ~(std::uint64_t{1} << (v % 64));
      send(v);
    }
  }
  void flush_pending() {
    for (std::uint32_t v = 0; v < kMsixVectors; ++v) deliver_if_pending(v);
  }
  void run_command(std::uint64_t raw) {
    const auto op = static_cast<std::uint8_t>(raw & 0xFF);
    const auto arg = static_cast<std::uint32_t>(raw >> 8);
    const std::uint8_t result =
        command_ ? command_(op, arg) : static_cast<std::uint8_t>(vsec::kUnsupported);
    ++commands_;
    put(vsec::kBase + vsec::kStatus, 4, std::uint32_t{result} | (commands_ << 8));
  }

  PciIdentity id_;
  PciLayout layout_;
  std::array<std::uint8_t, kConfigSize> cfg_{};
  std::array<std::uint8_t, kConfigSize> wmask_{};
  std::array<std::uint8_t, kConfigSize> w1c_{};
  std::array<std::uint32_t, 4 * kMsixVectors> table_{};
  std::array<std::uint64_t, kMsixVectors / 64> pba_{};
  MsiSink msi_;
  CommandHandler command_;
  Stats stats_{};
  std::uint32_t commands_ = 0;
};

}  // namespace fbnic::emu
