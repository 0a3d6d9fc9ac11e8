// Interrupts: INTx, MSI and MSI-X vectors routed to eventfds with VFIO_DEVICE_SET_IRQS.
#include <linux/vfio.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "fbnic/vfio/platform.hpp"

namespace fbnic::vfio {
namespace {

// One VFIO_DEVICE_SET_IRQS call; `fds` is empty for the calls that carry no data.
int set_irqs(int device_fd, std::uint32_t flags, std::uint32_t index, std::uint32_t start,
             std::uint32_t count, const std::vector<int>& fds) {
  const std::size_t bytes = sizeof(vfio_irq_set) + fds.size() * sizeof(int);
  std::vector<std::uint64_t> storage((bytes + 7) / 8);
  auto* set = reinterpret_cast<vfio_irq_set*>(storage.data());
  set->argsz = static_cast<std::uint32_t>(bytes);
  set->flags = flags;
  set->index = index;
  set->start = start;
  set->count = count;
  if (!fds.empty()) std::memcpy(set->data, fds.data(), fds.size() * sizeof(int));
  return ::ioctl(device_fd, VFIO_DEVICE_SET_IRQS, set);
}

timespec to_timespec(std::uint64_t ns) {
  return timespec{static_cast<time_t>(ns / 1000000000u), static_cast<long>(ns % 1000000000u)};
}

}  // namespace

Result<IrqInfo> Platform::irq_info(IrqType type) const {
  const auto index = static_cast<std::size_t>(type);
  if (!is_open() || index >= irqs_.size()) return Error::kNotSupported;
  return irqs_[index];
}

Status Platform::enable_irqs(IrqType type, std::uint32_t count) {
  if (!is_open())
    return fail(Problem::kNotOpen, Error::kFailedPrecondition, "enable_irqs: not open");
  const auto index = static_cast<std::uint32_t>(type);
  const IrqInfo info = index < irqs_.size() ? irqs_[index] : IrqInfo{};
  if (info.count == 0) {
    return fail(
        Problem::kNotSupported, Error::kNotSupported,
        std::string("the device offers no ") + irq_type_name(type) + " interrupts through VFIO",
        "`lspci -vv -s " + address_ + "` lists its interrupt capabilities");
  }
  if (count == 0 || count > info.count) {
    return fail(Problem::kInvalidArgument, Error::kInvalidArgument,
                "asked for " + std::to_string(count) + " " + irq_type_name(type) +
                    " vectors, the device offers " + std::to_string(info.count));
  }
  FBNIC_TRY(disable_irqs());
  std::vector<int> fds;
  for (std::uint32_t i = 0; i < count; ++i) {
    const int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd < 0) {
      const int err = errno;
      for (const int f : fds) ::close(f);
      return fail_errno("eventfd", err);
    }
    fds.push_back(fd);
  }
  if (set_irqs(device_fd_, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, index, 0, count,
               fds) != 0) {
    const int err = errno;
    for (const int f : fds) ::close(f);
    return fail_errno("VFIO_DEVICE_SET_IRQS", err);
  }
  irq_fds_ = std::move(fds);
  irq_type_ = type;
  return ok_status();
}

Status Platform::disable_irqs() {
  if (irq_fds_.empty()) return ok_status();
  const int rc = set_irqs(device_fd_, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
                          static_cast<std::uint32_t>(irq_type_), 0, 0, {});
  const int err = errno;
  for (const int fd : irq_fds_) ::close(fd);
  irq_fds_.clear();
  if (rc != 0) return fail_errno("VFIO_DEVICE_SET_IRQS (disable)", err);
  return ok_status();
}

int Platform::irq_fd(std::uint32_t vector) const {
  return vector < irq_fds_.size() ? irq_fds_[vector] : -1;
}

Result<std::uint64_t> Platform::wait_irq(std::uint32_t vector, std::uint64_t timeout_us) {
  if (vector >= irq_fds_.size()) {
    return fail(Problem::kInvalidArgument, Error::kInvalidArgument,
                "wait_irq: vector " + std::to_string(vector) + " is not enabled (" +
                    std::to_string(irq_fds_.size()) + " are)");
  }
  const std::uint64_t deadline = now_ns() + timeout_us * 1000u;
  for (;;) {
    std::uint64_t count = 0;
    if (::read(irq_fds_[vector], &count, sizeof(count)) == sizeof(count)) return count;
    if (errno != EAGAIN && errno != EINTR) return fail_errno("read of an interrupt eventfd", errno);
    const std::uint64_t now = now_ns();
    if (now >= deadline) return Error::kTimeout;
    pollfd p{irq_fds_[vector], POLLIN, 0};
    const timespec left = to_timespec(deadline - now);
    if (::ppoll(&p, 1, &left, nullptr) < 0 && errno != EINTR) return fail_errno("ppoll", errno);
  }
}

Result<std::uint32_t> Platform::wait_any_irq(std::uint64_t timeout_us) {
  if (irq_fds_.empty()) {
    return fail(Problem::kInvalidArgument, Error::kInvalidArgument,
                "wait_any_irq: no vectors enabled");
  }
  const std::uint64_t deadline = now_ns() + timeout_us * 1000u;
  std::vector<pollfd> polls;
  for (const int fd : irq_fds_) polls.push_back(pollfd{fd, POLLIN, 0});
  for (;;) {
    for (std::uint32_t v = 0; v < irq_fds_.size(); ++v) {
      std::uint64_t count = 0;
      if (::read(irq_fds_[v], &count, sizeof(count)) == sizeof(count)) return v;
    }
    const std::uint64_t now = now_ns();
    if (now >= deadline) return Error::kTimeout;
    const timespec left = to_timespec(deadline - now);
    if (::ppoll(polls.data(), polls.size(), &left, nullptr) < 0 && errno != EINTR) {
      return fail_errno("ppoll", errno);
    }
  }
}

// vfio-pci signals the request eventfd when the kernel wants the device back (an unbind);
// without one registered the unbind just waits for close().
void Platform::enable_request_irq() {
  if (irqs_.size() <= VFIO_PCI_REQ_IRQ_INDEX || irqs_[VFIO_PCI_REQ_IRQ_INDEX].count == 0) return;
  const int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) return;
  if (set_irqs(device_fd_, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
               VFIO_PCI_REQ_IRQ_INDEX, 0, 1, {fd}) != 0) {
    log(LogLevel::kWarning, "vfio: no request eventfd: an unbind will simply wait for close()");
    ::close(fd);
    return;
  }
  request_fd_ = fd;
}

void Platform::disable_request_irq() {
  if (request_fd_ < 0) return;
  set_irqs(device_fd_, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_PCI_REQ_IRQ_INDEX,
           0, 0, {});
  ::close(request_fd_);
  request_fd_ = -1;
}

Status Platform::unmask_intx() {
  if (!is_open())
    return fail(Problem::kNotOpen, Error::kFailedPrecondition, "unmask_intx: not open");
  if (set_irqs(device_fd_, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK,
               VFIO_PCI_INTX_IRQ_INDEX, 0, 1, {}) != 0) {
    return fail_errno("VFIO_DEVICE_SET_IRQS (unmask INTx)", errno);
  }
  return ok_status();
}

}  // namespace fbnic::vfio
