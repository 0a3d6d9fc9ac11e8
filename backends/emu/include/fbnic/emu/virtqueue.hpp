// Virtqueue: the device side of one split virtqueue in shared guest memory.
//
// The guest (driver side) writes descriptors and the avail ring and kicks an eventfd; the
// device takes chains in avail order, reads or fills their buffers, returns them through
// the used ring and signals the call fd. Index loads and stores are acquire/release: the
// other side is another process writing the same pages.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "fbnic/base/result.hpp"
#include "fbnic/emu/guest_memory.hpp"

namespace fbnic::emu {

class Virtqueue {
 public:
  static constexpr std::uint16_t kDescNext = 1;
  static constexpr std::uint16_t kDescWrite = 2;
  static constexpr std::uint16_t kDescIndirect = 4;
  static constexpr std::uint16_t kAvailNoInterrupt = 1;
  static constexpr std::uint16_t kUsedNoNotify = 1;
  static constexpr std::size_t kMaxSegments = 16;
  // The largest ring this device takes (the split ring's limit; virtio_uml uses 256).
  static constexpr std::uint32_t kMaxSize = 32768;

  struct Segment {
    std::uint8_t* data = nullptr;
    std::uint32_t len = 0;
    bool writable = false;
  };
  struct Chain {
    std::uint16_t head = 0;
    std::size_t count = 0;
    std::array<Segment, kMaxSegments> segments{};
  };

  Virtqueue() = default;
  Virtqueue(const Virtqueue&) = delete;
  Virtqueue& operator=(const Virtqueue&) = delete;
  ~Virtqueue() { close_fds(); }

  // A power of two up to kMaxSize. A new size needs the ring addresses again: they were
  // checked against the old one.
  Status set_num(std::uint32_t num) {
    if (num == 0 || num > kMaxSize || (num & (num - 1)) != 0) return Error::kInvalidArgument;
    if (num != num_) forget_rings();
    num_ = num;
    return ok_status();
  }
  [[nodiscard]] std::uint32_t num() const { return num_; }
  void set_base(std::uint16_t base) { last_avail_ = base; }
  [[nodiscard]] std::uint16_t base() const { return last_avail_; }
  // All three rings inside guest memory, or none: on failure the queue is not ready.
  Status set_addr(const GuestMemory& mem, std::uint64_t desc, std::uint64_t avail,
                  std::uint64_t used) {
    forget_rings();
    if (num_ == 0) return Error::kInvalidArgument;
    std::uint8_t* d = mem.uva(desc, 16ull * num_);
    std::uint8_t* a = mem.uva(avail, 6ull + 2ull * num_);
    std::uint8_t* u = mem.uva(used, 6ull + 8ull * num_);
    if (d == nullptr || a == nullptr || u == nullptr) return Error::kOutOfRange;
    desc_ = d;
    avail_ = a;
    used_ = u;
    return ok_status();
  }
  // The memory the rings were in is gone (a new memory table): the guest sets them again.
  void forget_rings() { desc_ = avail_ = used_ = nullptr; }
  void set_enabled(bool on) { enabled_ = on; }
  // Both are used non-blocking: a kick is read only to clear it, and a full call pipe
  // means the guest already has a signal pending.
  void set_kick_fd(int fd) { replace_fd(kick_fd_, nonblocking(fd)); }
  void set_call_fd(int fd) { replace_fd(call_fd_, nonblocking(fd)); }
  [[nodiscard]] int kick_fd() const { return kick_fd_; }
  [[nodiscard]] bool ready() const {
    return enabled_ && desc_ != nullptr && avail_ != nullptr && used_ != nullptr;
  }

  void reset() {
    close_fds();
    num_ = 0;
    forget_rings();
    last_avail_ = 0;
    enabled_ = false;
  }

  // Clears the kick eventfd (the avail ring is what counts, not how often it was kicked).
  void drain_kick() const {
    std::uint64_t n = 0;
    if (kick_fd_ >= 0) (void)!read(kick_fd_, &n, sizeof(n));
  }

  [[nodiscard]] bool has_work() const { return ready() && avail_idx() != last_avail_; }

  // Takes the next available chain. False when there is none; an error for a chain the
  // device cannot follow (bad address, loop, indirect table), which the caller returns
  // to the guest unused.
  Result<bool> pop(const GuestMemory& mem, Chain& chain) {
    if (!has_work()) return false;
    const std::uint16_t slot = static_cast<std::uint16_t>(last_avail_ % num_);
    std::uint16_t head = 0;
    std::memcpy(&head, avail_ + 4 + 2 * slot, 2);
    ++last_avail_;
    chain.head = head;
    chain.count = 0;
    std::uint16_t i = head;
    for (std::uint32_t hops = 0;; ++hops) {
      if (i >= num_ || hops >= num_ || chain.count == kMaxSegments) return Error::kBadMessage;
      const std::uint8_t* d = desc_ + 16u * i;
      std::uint64_t addr = 0;
      std::uint32_t len = 0;
      std::uint16_t flags = 0;
      std::uint16_t next = 0;
      std::memcpy(&addr, d, 8);
      std::memcpy(&len, d + 8, 4);
      std::memcpy(&flags, d + 12, 2);
      std::memcpy(&next, d + 14, 2);
      if ((flags & kDescIndirect) != 0) return Error::kNotSupported;  // never negotiated
      std::uint8_t* p = mem.gpa(addr, len);
      if (p == nullptr && len != 0) return Error::kOutOfRange;
      chain.segments[chain.count++] = {p, len, (flags & kDescWrite) != 0};
      if ((flags & kDescNext) == 0) break;
      i = next;
    }
    return true;
  }

  // Returns a chain with the number of bytes the device wrote into it.
  void push(std::uint16_t head, std::uint32_t written) {
    const std::uint16_t idx = used_idx();
    std::uint8_t* e = used_ + 4 + 8 * (idx % num_);
    const std::uint32_t id = head;
    std::memcpy(e, &id, 4);
    std::memcpy(e + 4, &written, 4);
    std::atomic_ref<std::uint16_t>(*reinterpret_cast<std::uint16_t*>(used_ + 2))
        .store(static_cast<std::uint16_t>(idx + 1), std::memory_order_release);
    ++pushed_since_notify_;
  }

  // Signals the guest if anything was returned since the last call and the guest wants
  // interrupts. Returns whether it signalled.
  bool notify() {
    if (pushed_since_notify_ == 0 || call_fd_ < 0) return false;
    pushed_since_notify_ = 0;
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if ((avail_flags() & kAvailNoInterrupt) != 0) return false;
    const std::uint64_t one = 1;
    // The call fd is a pipe or eventfd; a full pipe means a signal is already pending.
    (void)!write(call_fd_, &one, sizeof(one));
    return true;
  }

  // Asks the guest not to kick while the device is polling the ring anyway.
  void set_kicks_wanted(bool wanted) {
    if (used_ == nullptr) return;
    std::atomic_ref<std::uint16_t>(*reinterpret_cast<std::uint16_t*>(used_))
        .store(wanted ? 0 : kUsedNoNotify, std::memory_order_release);
    std::atomic_thread_fence(std::memory_order_seq_cst);
  }

 private:
  [[nodiscard]] std::uint16_t avail_idx() const {
    return std::atomic_ref<std::uint16_t>(*reinterpret_cast<std::uint16_t*>(avail_ + 2))
        .load(std::memory_order_acquire);
  }
  [[nodiscard]] std::uint16_t avail_flags() const {
    return std::atomic_ref<std::uint16_t>(*reinterpret_cast<std::uint16_t*>(avail_))
        .load(std::memory_order_acquire);
  }
  [[nodiscard]] std::uint16_t used_idx() const {
    return std::atomic_ref<std::uint16_t>(*reinterpret_cast<std::uint16_t*>(used_ + 2))
        .load(std::memory_order_relaxed);
  }
  static int nonblocking(int fd) {
    if (fd >= 0) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
  }
  static void replace_fd(int& slot, int fd) {
    if (slot >= 0) close(slot);
    slot = fd;
  }
  void close_fds() {
    replace_fd(kick_fd_, -1);
    replace_fd(call_fd_, -1);
  }

  std::uint32_t num_ = 0;
  std::uint8_t* desc_ = nullptr;
  std::uint8_t* avail_ = nullptr;
  std::uint8_t* used_ = nullptr;
  std::uint16_t last_avail_ = 0;
  bool enabled_ = false;
  int kick_fd_ = -1;
  int call_fd_ = -1;
  std::uint32_t pushed_since_notify_ = 0;
};

}  // namespace fbnic::emu
