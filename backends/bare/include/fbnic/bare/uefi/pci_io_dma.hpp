// PciIoDma: DMA memory from EFI_PCI_IO_PROTOCOL, the way a UEFI driver gets it: whole pages
// from AllocateBuffer, mapped for the device with Map(BusMasterCommonBuffer) (which gives the
// device address, through an IOMMU if the platform has one), and on release unmapped and
// freed. The mapping handle travels in DmaBuffer::cookie, so nothing else is kept.
#pragma once

#include <cstddef>
#include <cstdint>

#include "fbnic/bare/uefi/pci_io.hpp"
#include "fbnic/base/bytes.hpp"
#include "fbnic/base/result.hpp"
#include "fbnic/platform/dma.hpp"

namespace fbnic::bare::uefi {

class PciIoDma {
 public:
  static constexpr std::size_t kPageBytes = 4096;

  explicit PciIoDma(PciIo* pci_io) : pci_io_(pci_io) {}

  // Page-aligned; larger alignments are refused rather than wasted.
  Result<DmaBuffer> dma_alloc(std::size_t size, std::size_t align) {
    // (A size within a page of the top would wrap to 0 pages below.)
    if (size == 0 || size > SIZE_MAX - kPageBytes || !is_pow2(align) || align > kPageBytes) {
      return Error::kInvalidArgument;
    }
    const std::uintptr_t pages = (size + kPageBytes - 1) / kPageBytes;
    void* host = nullptr;
    if (is_error(pci_io_->allocate_buffer(pci_io_, AllocateType::kAnyPages,
                                          MemoryType::kBootServicesData, pages, &host, 0))) {
      return Error::kNoMemory;
    }
    std::uintptr_t bytes = pages * kPageBytes;
    PhysicalAddress device = 0;
    void* mapping = nullptr;
    const Status mapped = pci_io_->map(pci_io_, PciIoOperation::kBusMasterCommonBuffer, host,
                                       &bytes, &device, &mapping);
    // A common buffer is mapped whole or not at all, and an IOMMU keeps page offsets; a
    // mapping that breaks either is unusable.
    if (is_error(mapped) || bytes != pages * kPageBytes || (device & (align - 1)) != 0) {
      if (!is_error(mapped)) pci_io_->unmap(pci_io_, mapping);
      pci_io_->free_buffer(pci_io_, pages, host);
      return Error::kNoMemory;
    }
    ++live_;
    fill_bytes(host, 0, bytes);
    return DmaBuffer{host, device, bytes, reinterpret_cast<std::uintptr_t>(mapping)};
  }

  void dma_free(const DmaBuffer& buffer) {
    if (!buffer.valid()) return;
    // NOLINTNEXTLINE(performance-no-int-to-ptr): the handle Map gave, kept in the cookie
    pci_io_->unmap(pci_io_, reinterpret_cast<void*>(buffer.cookie));
    pci_io_->free_buffer(pci_io_, (buffer.size + kPageBytes - 1) / kPageBytes, buffer.cpu);
    --live_;
  }

  [[nodiscard]] std::size_t live_blocks() const { return live_; }

 private:
  PciIo* pci_io_;
  std::size_t live_ = 0;
};

}  // namespace fbnic::bare::uefi
