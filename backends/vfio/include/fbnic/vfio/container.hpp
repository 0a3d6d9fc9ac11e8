// fbnic::vfio::Container: one IOMMU context (a type1 container, an iommufd IOAS, or a
// no-IOMMU container) and the DMA memory mapped in it.
//
// Every vfio::Platform works in a Container. A Platform made from Options alone has a
// private one (the one-device API). Platforms made from the same shared Container put
// their devices in one IOMMU context, as DPDK and ixy do: memory mapped once has one
// device address that every one of those devices reaches, so a buffer received on one
// port can be sent on another without a copy.
//
//   auto iommu = std::make_shared<fbnic::vfio::Container>(options);
//   fbnic::vfio::Platform a(iommu, options), b(iommu, options);
//   a.open("0000:00:03.0"); b.open("0000:00:04.0");   // the IOMMU is set up by the first
//   auto pool = iommu->dma_alloc(2 << 20, 4096);      // reachable by both devices
//
// The IOMMU mode and the IOVA mode are settled when the first device opens; a later
// device must fit them (the error says how to open the Container instead). When the last
// device leaves, every DMA mapping is undone and the memory the Container allocated is
// freed, as closing a single Platform always did.
//
// Thread safety: the Container's calls (DMA allocation and mapping, devices joining and
// leaving) take a lock, so Platforms of one Container may be opened, closed and allocate
// from different threads. The hot paths never call into it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "fbnic/base/result.hpp"
#include "fbnic/base/status.hpp"
#include "fbnic/platform/dma.hpp"
#include "fbnic/vfio/iova_allocator.hpp"
#include "fbnic/vfio/options.hpp"
#include "fbnic/vfio/problem.hpp"

namespace fbnic::vfio {

class Platform;

namespace detail {
class Reporter;
}  // namespace detail

class Container {
 public:
  // Takes iommu, iova, dma_memory, hugepage_threshold, iova_base, iova_limit and the log
  // settings from options.
  explicit Container(Options options = {});
  ~Container();
  Container(const Container&) = delete;
  Container& operator=(const Container&) = delete;
  Container(Container&&) = delete;
  Container& operator=(Container&&) = delete;

  // --- DMA memory, reachable at DmaBuffer::device by every device of the Container ---
  // Need at least one open device (the IOMMU is programmed through it): kFailedPrecondition
  // before. Buffers may be freed through any Platform of the Container, or here.
  Result<DmaBuffer> dma_alloc(std::size_t size, std::size_t align,
                              DmaMemory memory = DmaMemory::kAuto);
  Result<DmaBuffer> dma_map(void* cpu, std::size_t size);
  Status dma_unmap(const DmaBuffer& buffer);
  void dma_free(const DmaBuffer& buffer);
  [[nodiscard]] int dma_memfd(const DmaBuffer& buffer) const;
  [[nodiscard]] DmaMemory dma_memory_of(const DmaBuffer& buffer) const;

  // --- what it is ---
  [[nodiscard]] IommuMode iommu_mode() const;
  // kAuto until the first device opened.
  [[nodiscard]] IovaMode iova_mode() const;
  [[nodiscard]] std::vector<IovaRange> iova_windows() const;
  [[nodiscard]] std::size_t dma_mappings() const;
  [[nodiscard]] std::size_t devices() const;
  [[nodiscard]] const Options& options() const { return options_; }

  // The last failure of a call made on the Container itself (a Platform keeps its own).
  [[nodiscard]] Problem last_problem() const;
  [[nodiscard]] std::string last_error() const;

 private:
  friend class Platform;

  struct DmaMapping {
    void* cpu = nullptr;
    std::size_t length = 0;  // page-rounded bytes mapped for the device
    std::uint64_t device = 0;
    DmaMemory memory = DmaMemory::kAnonymous;
    bool owned = false;  // munmap on free
    bool locked = false;
    bool iommu_mapped = false;
    int memfd = -1;
  };
  struct Group {
    int fd = -1;
    int users = 0;
  };

  // --- for Platform (each takes the lock) ---
  // Puts the device in this context and returns its VFIO device fd, or fails (r says why).
  Result<int> attach(detail::Reporter& r, const std::string& address, int group,
                     bool noiommu_group);
  // Settles the IOVA mode with the first device; later devices must fit it.
  Status settle_iova_mode(detail::Reporter& r, bool device_bypasses_iommu);
  // The device fd is closed by the caller first. The last device's leaving undoes every
  // mapping and closes the context.
  void detach(const std::string& address, int group);
  Result<DmaBuffer> dma_alloc(detail::Reporter& r, std::size_t size, std::size_t align,
                              DmaMemory memory);
  Result<DmaBuffer> dma_map(detail::Reporter& r, void* cpu, std::size_t size);
  Status dma_unmap(detail::Reporter& r, const DmaBuffer& buffer);

  // --- with the lock held ---
  Result<int> attach_group(detail::Reporter& r, const std::string& address, int group,
                           bool noiommu);
  Result<int> attach_iommufd(detail::Reporter& r, const std::string& address);
  Status read_type1_windows(detail::Reporter& r);
  Status apply_iova_windows(detail::Reporter& r);
  Status explain_not_viable(detail::Reporter& r, const std::string& address, int group);
  Status check_physical_addresses(detail::Reporter& r);
  Status map_for_device(detail::Reporter& r, DmaMapping& m, std::size_t align);
  Status map_physical(detail::Reporter& r, DmaMapping& m, std::size_t align);
  Status iommu_map(detail::Reporter& r, DmaMapping& m, std::uint64_t iova);
  void unmap_for_device(DmaMapping& m);
  void release_mapping(DmaMapping& m);
  void release_all();
  [[nodiscard]] bool physical() const {
    return iova_ == IovaMode::kPhysical || mode_ == IommuMode::kNoIommu;
  }

  Options options_;
  mutable std::mutex lock_;
  IommuMode mode_ = IommuMode::kAuto;  // settled by the first device
  IovaMode iova_ = IovaMode::kAuto;    // settled by the first device
  int container_fd_ = -1;
  int iommufd_ = -1;
  std::uint32_t ioas_id_ = 0;
  std::map<int, Group> groups_;               // type1 and no-IOMMU: IOMMU group -> fd
  std::map<std::string, int> device_groups_;  // address -> IOMMU group, per open device
  std::map<std::uintptr_t, DmaMapping> dma_;
  std::uintptr_t next_cookie_ = 1;
  std::vector<IovaRange> kernel_windows_;  // the IOMMU's valid IOVA ranges
  IovaAllocator allocator_;
  std::size_t page_size_ = 4096;
  std::size_t iova_page_ = 4096;  // the IOMMU's smallest page
  bool fallback_warned_ = false;
  Failure failure_;  // of calls made on the Container itself
};

}  // namespace fbnic::vfio
