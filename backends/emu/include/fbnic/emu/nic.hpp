// Nic: the device model presented as a PCI function.
//
// BAR0 and BAR4 go to the model's read32/write32 (Bar::kCsr, Bar::kIpc); BAR2 is the
// MSI-X table and PBA of the PciFunction. The model's interrupt messages (IrqSink) go
// through the MSI-X table, so masking and pending bits behave as on PCIe. The guest RAM
// the transport maps becomes one DMA mapping per region with iova = guest physical
// address: User-Mode Linux hands the driver physical addresses as DMA addresses, and
// QEMU's proxy device shares guest RAM by physical address, bypassing any guest IOMMU.
// The model's clock follows CLOCK_MONOTONIC: tick() advances it by the real time
// elapsed, before every batch of accesses and on the periodic timer.
//
// Counted on the bus side: MMIO reads and writes per BAR, and mailbox messages (a Tx
// descriptor posted with HOST_CMPL, an Rx descriptor the host reads back completed).
#pragma once

#include <time.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fbnic/emu/pci_bus.hpp"
#include "fbnic/emu/pci_function.hpp"
#include "fbnic/platform/bar.hpp"
#include "fbnic/regs/mailbox.hpp"

namespace fbnic::emu {

inline std::uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

struct BusCounters {
  std::uint64_t csr_reads = 0;
  std::uint64_t csr_writes = 0;
  std::uint64_t ipc_reads = 0;
  std::uint64_t ipc_writes = 0;
  std::uint64_t msix_reads = 0;
  std::uint64_t msix_writes = 0;
  std::uint64_t odd_accesses = 0;  // not one aligned 32-bit word (split or merged here)
  std::uint64_t outside_bar = 0;   // past the end of a BAR, or a BAR that does not exist
  std::uint64_t mbx_to_firmware = 0;
  std::uint64_t mbx_to_host = 0;
  std::uint64_t bus_resets = 0;  // resets of the function by the front end
};

template <class Model>
class Nic final : public PciBus {
 public:
  Nic(std::string name, const PciIdentity& id, PciLayout layout = PciLayout::kExpress)
      : name_(std::move(name)), pci_(id, layout), model_(std::make_unique<Model>()) {
    model_->set_irq_sink({&Nic::on_model_irq, this});
    pci_.set_command_handler(
        [this](std::uint8_t op, std::uint32_t arg) { return vsec_command(op, arg); });
    last_ns_ = monotonic_ns();
  }

  [[nodiscard]] Model& model() { return *model_; }
  [[nodiscard]] PciFunction& pci() { return pci_; }
  [[nodiscard]] const BusCounters& counters() const { return counters_; }
  [[nodiscard]] const std::string& name() const { return name_; }
  void set_msi_sink(PciFunction::MsiSink sink) { pci_.set_msi_sink(std::move(sink)); }
  // Print the counters at every latch command (each scenario mark) too.
  void set_print_marks(bool on) { print_marks_ = on; }

  // Power-on: a new guest connected. Registers, config space and counters start over
  // (the model's clock runs on).
  void power_on() {
    model_->reset();
    pci_.reset();
    model_->faults().clear();
    counters_ = {};
    mbx_rx_lo_ = {};
    dma_ = {};
    dma_base_ = dma_.off_since = dma_total();  // bus mastering starts off
    // The model keeps these across its reset: count from here.
    base_ = {model_->firmware().stats().requests, model_->firmware().stats().answers,
             model_->unmodelled_accesses()};
    last_ns_ = monotonic_ns();
  }

  // Who pulls and plugs this NIC's cable (the wiring); false from it = no wire.
  void set_link_handler(std::function<bool(bool)> handler) { link_ = std::move(handler); }
  bool set_link(bool up) { return link_ ? link_(up) : false; }

  // --- PciBus ---
  std::uint64_t config_read(std::uint32_t offset, std::uint32_t size) override {
    return pci_.config_read(offset, size);
  }
  void config_write(std::uint32_t offset, std::uint32_t size, std::uint64_t value) override {
    const bool was_on = pci_.bus_master();
    pci_.config_write(offset, size, value);
    if (pci_.bus_master() != was_on) on_bus_master(pci_.bus_master());
  }

  // DMA the device attempted while the function's bus mastering (command register bit 2)
  // was off: a driver that stopped its device (Stop, ExitBootServices) must see none.
  struct DmaWatch {
    std::uint64_t total = 0;       // since power-on
    std::uint64_t while_off = 0;   // ... while bus mastering was off
    std::uint64_t turned_off = 0;  // times the guest turned it off
    std::uint64_t off_since = 0;   // dma_total() when it last went off
    bool on = false;
  };
  [[nodiscard]] DmaWatch dma_watch() const {
    DmaWatch w = dma_;
    w.total = dma_total() - dma_base_;
    if (!w.on) w.while_off += dma_total() - w.off_since;
    return w;
  }

  void mmio_read(std::uint8_t bar, std::uint64_t offset, std::uint8_t* out,
                 std::uint32_t size) override {
    if (!inside(bar, offset, size)) {
      ++counters_.outside_bar;
      return;  // the transport prefilled all ones
    }
    const auto off = static_cast<std::uint32_t>(offset);
    if ((off & 3) != 0 || (size & 3) != 0) ++counters_.odd_accesses;
    const std::uint32_t first = off & ~3u;
    for (std::uint32_t w = first; w < off + size; w += 4) {
      const std::uint32_t v = read_word(bar, w);
      for (std::uint32_t b = 0; b < 4; ++b) {
        const std::uint32_t at = w + b;
        if (at >= off && at < off + size) out[at - off] = static_cast<std::uint8_t>(v >> (8 * b));
      }
    }
  }

  void mmio_write(std::uint8_t bar, std::uint64_t offset, const std::uint8_t* data,
                  std::uint32_t size) override {
    if (!inside(bar, offset, size)) {
      ++counters_.outside_bar;
      return;
    }
    const auto off = static_cast<std::uint32_t>(offset);
    if ((off & 3) != 0 || (size & 3) != 0) ++counters_.odd_accesses;
    const std::uint32_t first = off & ~3u;
    for (std::uint32_t w = first; w < off + size; w += 4) {
      const bool whole = w >= off && w + 4 <= off + size;
      // A partial word is merged into the current value (a read the driver did not do).
      std::uint32_t v = whole ? 0 : read_word(bar, w);
      for (std::uint32_t b = 0; b < 4; ++b) {
        const std::uint32_t at = w + b;
        if (at >= off && at < off + size) {
          v = (v & ~(0xFFu << (8 * b))) | (std::uint32_t{data[at - off]} << (8 * b));
        }
      }
      write_word(bar, w, v);
    }
  }

  [[nodiscard]] std::optional<BarHit> bar_at(std::uint64_t address,
                                             std::uint32_t size) const override {
    return pci_.bar_at(address, size);
  }

  // A reset from the bus: as at power-on, but the counters of this session go on.
  void bus_reset() override {
    const bool was_on = pci_.bus_master();
    model_->reset();
    pci_.reset();
    mbx_rx_lo_ = {};
    ++counters_.bus_resets;
    if (was_on) on_bus_master(false);
  }

  void mmio_memset(std::uint8_t bar, std::uint64_t offset, std::uint8_t value,
                   std::uint32_t size) override {
    if (!inside(bar, offset, size)) {  // before allocating: size comes from the guest
      ++counters_.outside_bar;
      return;
    }
    std::vector<std::uint8_t> bytes(size, value);
    mmio_write(bar, offset, bytes.data(), size);
  }

  void memory_changed(const GuestMemory& mem) override {
    for (std::uint64_t iova : mapped_) (void)model_->dma_space().unmap(iova);
    mapped_.clear();
    for (const GuestMemory::Region& r : mem.regions()) {
      if (model_->dma_space().map(r.gpa, r.host, static_cast<std::size_t>(r.size))) {
        mapped_.push_back(r.gpa);
      } else {
        std::fprintf(stderr, "fbnic-emu[%s]: model refused DMA mapping of 0x%llx\n", name_.c_str(),
                     static_cast<unsigned long long>(r.gpa));
      }
    }
  }

  void tick() override {
    const std::uint64_t now = monotonic_ns();
    if (now > last_ns_) {
      model_->advance(now - last_ns_);
      last_ns_ = now;
    }
  }

  // Mailbox messages as the model's firmware counts them (the bus counts are kept beside
  // them: a difference means a message the firmware did not take).
  [[nodiscard]] std::uint64_t mailbox_to_firmware() const {
    return model_->firmware().stats().requests - base_.mbx_to_firmware;
  }
  [[nodiscard]] std::uint64_t mailbox_to_host() const {
    return model_->firmware().stats().answers - base_.mbx_to_host;
  }
  [[nodiscard]] std::uint64_t unmodelled_accesses() const {
    return model_->unmodelled_accesses() - base_.unmodelled;
  }

  void print_summary(std::FILE* f, const char* title) {
    const PciFunction::Stats& m = pci_.stats();
    std::fprintf(f,
                 "fbnic-emu[%s] %s: BAR0 reads %llu writes %llu | BAR4 reads %llu writes %llu | "
                 "mailbox to-fw %llu to-host %llu (bus: %llu, %llu) | MSI sent %llu pended %llu "
                 "dropped %llu | "
                 "MSI-X table reads %llu writes %llu | odd-size %llu outside-BAR %llu | "
                 "model faults %llu unmodelled %llu (last 0x%x) | model time %.3f s | DMA %llu, "
                 "while bus mastering was off %llu (turned off %llu times)\n",
                 name_.c_str(), title, ull(counters_.csr_reads), ull(counters_.csr_writes),
                 ull(counters_.ipc_reads), ull(counters_.ipc_writes), ull(mailbox_to_firmware()),
                 ull(mailbox_to_host()), ull(counters_.mbx_to_firmware), ull(counters_.mbx_to_host),
                 ull(m.msi_sent), ull(m.msi_pended), ull(m.msi_dropped), ull(counters_.msix_reads),
                 ull(counters_.msix_writes), ull(counters_.odd_accesses),
                 ull(counters_.outside_bar), ull(fault_count()), ull(unmodelled_accesses()),
                 model_->last_unmodelled_offset(), static_cast<double>(model_->now_ns()) / 1e9,
                 ull(dma_watch().total), ull(dma_watch().while_off), ull(dma_.turned_off));
    std::fflush(f);
  }

  // Fills the VSEC counter registers from the live counters.
  void latch() {
    using namespace vsec;
    const PciFunction::Stats& m = pci_.stats();
    pci_.set_counter(kCsrReads, counters_.csr_reads);
    pci_.set_counter(kCsrWrites, counters_.csr_writes);
    pci_.set_counter(kIpcReads, counters_.ipc_reads);
    pci_.set_counter(kIpcWrites, counters_.ipc_writes);
    pci_.set_counter(kMbxToFirmware, mailbox_to_firmware());
    pci_.set_counter(kMbxToHost, mailbox_to_host());
    pci_.set_counter(kMsiSent, m.msi_sent);
    pci_.set_counter(kMsiPended, m.msi_pended);
    pci_.set_counter(kMsiDropped, m.msi_dropped);
    pci_.set_counter(kModelFaults, fault_count());
    pci_.set_counter(kUnmodelled, unmodelled_accesses());
    pci_.set_counter(kModelTimeUs, model_->now_ns() / 1000);
  }

 private:
  static unsigned long long ull(std::uint64_t v) { return v; }

  [[nodiscard]] std::uint64_t fault_count() { return model_->faults().total(); }

  [[nodiscard]] std::uint64_t dma_total() const {
    return model_->dma_counters().reads + model_->dma_counters().writes;
  }
  void on_bus_master(bool on) {
    if (on) {
      dma_.while_off += dma_total() - dma_.off_since;
    } else {
      dma_.off_since = dma_total();
      ++dma_.turned_off;
    }
    dma_.on = on;
  }

  [[nodiscard]] bool inside(std::uint8_t bar, std::uint64_t offset, std::uint32_t size) const {
    const std::uint64_t limit = pci_.bar_size(bar);
    return size != 0 && offset < limit && size <= limit - offset;
  }

  std::uint32_t read_word(std::uint8_t bar, std::uint32_t off) {
    switch (bar) {
      case PciFunction::kCsrBar: ++counters_.csr_reads; return model_->read32(Bar::kCsr, off);
      case PciFunction::kIpcBar: {
        ++counters_.ipc_reads;
        const std::uint32_t v = model_->read32(Bar::kIpc, off);
        observe_ipc_read(off, v);
        return v;
      }
      default: ++counters_.msix_reads; return pci_.msix_read32(off);
    }
  }

  void write_word(std::uint8_t bar, std::uint32_t off, std::uint32_t v) {
    switch (bar) {
      case PciFunction::kCsrBar:
        ++counters_.csr_writes;
        model_->write32(Bar::kCsr, off, v);
        return;
      case PciFunction::kIpcBar:
        ++counters_.ipc_writes;
        observe_ipc_write(off, v);
        model_->write32(Bar::kIpc, off, v);
        return;
      default:
        ++counters_.msix_writes;
        pci_.msix_write32(off, v);
        return;
    }
  }

  // Mailbox descriptors: bit 0 HOST_CMPL, bit 1 FW_CMPL in the low word; the length in
  // bits [31:16] of the high word.
  static constexpr std::uint32_t kHostCmpl = 1u << 0;
  static constexpr std::uint32_t kFwCmpl = 1u << 1;
  static constexpr std::uint32_t kLenShift = 16;

  static constexpr std::uint32_t desc_lo(std::uint32_t mbx, std::uint32_t d) {
    return regs::MbxDescLo::at(d, mbx).offset;
  }
  static bool in_ring(std::uint32_t mbx, std::uint32_t off, bool high, std::uint32_t& d) {
    const std::uint32_t base = desc_lo(mbx, 0) + (high ? 4u : 0u);
    const std::uint32_t stride = desc_lo(mbx, 1) - desc_lo(mbx, 0);
    if (off < base || (off - base) % stride != 0) return false;
    d = (off - base) / stride;
    return d < regs::kMailboxDescs;
  }

  void observe_ipc_write(std::uint32_t off, std::uint32_t v) {
    std::uint32_t d = 0;
    if (in_ring(regs::kMailboxTx, off, false, d) && (v & (kHostCmpl | kFwCmpl)) == kHostCmpl) {
      ++counters_.mbx_to_firmware;
    }
  }
  void observe_ipc_read(std::uint32_t off, std::uint32_t v) {
    std::uint32_t d = 0;
    if (in_ring(regs::kMailboxRx, off, false, d)) {
      mbx_rx_lo_[d] = v;
    } else if (in_ring(regs::kMailboxRx, off, true, d) && (mbx_rx_lo_[d] & kFwCmpl) != 0 &&
               (v >> kLenShift) != 0) {
      ++counters_.mbx_to_host;
      mbx_rx_lo_[d] = 0;
    }
  }

  std::uint8_t vsec_command(std::uint8_t op, std::uint32_t arg) {
    switch (op) {
      case vsec::kLatch: {
        latch();
        char title[32];
        std::snprintf(title, sizeof(title), "mark %u", arg);
        if (print_marks_) print_summary(stdout, title);
        return vsec::kOk;
      }
      case vsec::kLinkDown: return set_link(false) ? vsec::kOk : vsec::kUnsupported;
      case vsec::kLinkUp: return set_link(true) ? vsec::kOk : vsec::kUnsupported;
      case vsec::kPrint: print_summary(stdout, "on request"); return vsec::kOk;
      default: return vsec::kUnknown;
    }
  }

  static void on_model_irq(void* ctx, std::uint32_t vector) {
    static_cast<Nic*>(ctx)->pci_.raise(vector);
  }

  std::string name_;
  PciFunction pci_;
  std::unique_ptr<Model> model_;
  BusCounters counters_{};
  std::array<std::uint32_t, regs::kMailboxDescs> mbx_rx_lo_{};
  struct {
    std::uint64_t mbx_to_firmware = 0;
    std::uint64_t mbx_to_host = 0;
    std::uint64_t unmodelled = 0;
  } base_;
  std::vector<std::uint64_t> mapped_;
  DmaWatch dma_{};
  std::uint64_t dma_base_ = 0;
  std::uint64_t last_ns_ = 0;
  std::function<bool(bool)> link_;
  bool print_marks_ = false;
};

}  // namespace fbnic::emu
