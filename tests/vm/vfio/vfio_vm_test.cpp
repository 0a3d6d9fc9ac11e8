// The in-VM test of the VFIO backend: a static program that run.sh boots in a QEMU guest
// with an emulated IOMMU, next to QEMU's ivshmem-doorbell and edu devices bound to
// vfio-pci. Everything it does to the devices goes through fbnic::vfio's public API; the
// guest's init stages the system (driver bindings, hugepages) between phases.
//
//   vfio_vm_test errors     error paths that need the group-mate of edu on another driver
//   vfio_vm_test main       ivshmem BARs and MSI-X, edu registers, MSI, DMA, reset, teardown
//   vfio_vm_test container  three edus in one shared Container (two of them in one IOMMU
//                           group) reach one mapping; another Container's device cannot;
//                           IOVA = physical address through the IOMMU, and its refusal
//                           for a user who cannot read physical addresses
//   vfio_vm_test noiommu    (guest without IOMMU) the no-IOMMU explanation
//   vfio_vm_test intremap   (IOMMU without interrupt remapping) the refusal and its fix
//   vfio_vm_test unsafe     (same, after allow_unsafe_interrupts=1) open and DMA work
//   vfio_vm_test noiommumode  (vfio rebuilt with CONFIG_VFIO_NOIOMMU) physical-address DMA
//
// One line per check ("ok" or "FAIL"), then "VFIO-TEST PASS|FAIL phase=...".
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "fbnic/vfio/container.hpp"
#include "fbnic/vfio/platform.hpp"

namespace {

using fbnic::Bar;
using fbnic::Error;
using fbnic::Status;
using fbnic::vfio::Container;
using fbnic::vfio::DmaMemory;
using fbnic::vfio::IovaMode;
using fbnic::vfio::IrqType;
using fbnic::vfio::Options;
using fbnic::vfio::Platform;
using fbnic::vfio::Problem;

// The guest's PCI topology, fixed by run.sh's QEMU command line.
constexpr const char* kIvshmem = "0000:01:00.0";   // ivshmem-doorbell behind a root port
constexpr const char* kEdu = "0000:00:04.0";       // edu, function 0
constexpr const char* kEduMate = "0000:00:04.1";   // edu, function 1: same IOMMU group
constexpr const char* kEduOther = "0000:00:06.0";  // edu in an IOMMU group of its own
constexpr const char* kAbsent = "0000:00:11.0";

// Shared-memory layout agreed with ivshmem_server.py (offsets in BAR2).
constexpr std::uint32_t kPatternBytes = 0x80000;
constexpr std::uint32_t kSeed = 0x80000;           // host -> guest, 2 words
constexpr std::uint32_t kSeedEcho = 0x80010;       // guest -> host, 2 words
constexpr std::uint32_t kHeader = 0x80020;         // guest -> host, 16 bytes of text
constexpr std::uint32_t kReady = 0x80040;          // guest -> server: fire vector 0 now
constexpr std::uint32_t kCommit = 0x80100;         // written last
constexpr std::uint32_t kReadyMagic = 0x59444552;  // "REDY"
constexpr std::uint32_t kCommitMagic = 0xc0ffee01;

// ivshmem BAR0 registers.
constexpr std::uint32_t kIntrMask = 0x00;
constexpr std::uint32_t kIvPosition = 0x08;
constexpr std::uint32_t kDoorbell = 0x0c;

// edu BAR0 registers (QEMU docs/specs/edu.rst).
constexpr std::uint32_t kEduIdent = 0x00;
constexpr std::uint32_t kEduLive = 0x04;
constexpr std::uint32_t kEduFactorial = 0x08;
constexpr std::uint32_t kEduStatus = 0x20;
constexpr std::uint32_t kEduIrqStatus = 0x24;
constexpr std::uint32_t kEduIrqRaise = 0x60;
constexpr std::uint32_t kEduIrqAck = 0x64;
constexpr std::uint32_t kEduDmaSrc = 0x80;
constexpr std::uint32_t kEduDmaDst = 0x88;
constexpr std::uint32_t kEduDmaCount = 0x90;
constexpr std::uint32_t kEduDmaCmd = 0x98;
constexpr std::uint32_t kEduDmaRun = 0x1;
constexpr std::uint32_t kEduDmaToRam = 0x2;
constexpr std::uint32_t kEduDmaIrq = 0x4;
constexpr std::uint32_t kEduDmaIrqValue = 0x100;
constexpr std::uint32_t kEduBuffer = 0x40000;
// QEMU 7.2's edu rejects (and aborts on) a transfer that ends exactly at its 4 KiB buffer.
constexpr std::uint32_t kDmaBytes = 2048;

int failures = 0;

void check(bool ok, const std::string& what) {
  std::printf("%s %s\n", ok ? "ok  " : "FAIL", what.c_str());
  std::fflush(stdout);
  if (!ok) ++failures;
}

std::string hex(std::uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "%#llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string micros(std::uint64_t ns) { return std::to_string(ns / 1000) + " us"; }

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

// The backend's explanation, for a check line that failed.
std::string why(bool ok, const Platform& p) {
  return ok ? std::string() : " -- " + first_line(p.last_error());
}

bool contains(const std::string& haystack, std::initializer_list<const char*> needles) {
  for (const char* n : needles) {
    if (haystack.find(n) == std::string::npos) return false;
  }
  return true;
}

// A staged failure must come back as this Problem and Status, with a message naming
// what the user needs (the fix) and the first line of it printed for the log.
void expect_problem(const char* what, const Platform& p, Status s, Problem problem, Error code,
                    std::initializer_list<const char*> needles) {
  const bool ok =
      !s.ok() && p.last_problem() == problem && s == code && contains(p.last_error(), needles);
  check(ok, std::string(what) + ": " + fbnic::vfio::problem_name(p.last_problem()) + " / " +
                s.name() + " -- " + first_line(p.last_error()));
  if (!ok) std::printf("     full message:\n%s\n", p.last_error().c_str());
}

Options quiet(Options o = {}) {
  o.log = [](fbnic::LogLevel level, const char* line) {
    if (level <= fbnic::LogLevel::kWarning)
      std::printf("     log[%s] %s\n", level_name(level), line);
  };
  return o;
}

Options ivshmem_options() {
  Options o;
  o.bars.csr = 2;  // the shared memory
  o.bars.ipc = 0;  // the registers
  return quiet(o);
}

Options edu_options() {
  Options o;
  o.bars.csr = 0;
  o.bars.ipc = fbnic::vfio::kNoRegion;
  o.iova_limit = 0xffffffff;  // edu runs with dma_mask=0xffffffff
  return quiet(o);
}

// ------------------------------------------------------------------ error paths

void phase_errors() {
  {
    Platform p(quiet());
    expect_problem("malformed address refused", p, p.open("zz:1"), Problem::kBadAddress,
                   Error::kInvalidArgument, {"DDDD:BB:DD.F"});
  }
  {
    Platform p(quiet());
    expect_problem("absent device", p, p.open(kAbsent), Problem::kNoSuchDevice, Error::kNotFound,
                   {"no such PCI device", "lspci"});
  }
  {
    Platform p(quiet());
    expect_problem("device bound to another driver", p, p.open(kEduMate), Problem::kNotBound,
                   Error::kFailedPrecondition,
                   {"uio_pci_generic", "driver/unbind", "driver_override", "drivers_probe"});
  }
  {
    Platform p(edu_options());
    expect_problem("IOMMU group not viable", p, p.open(kEdu), Problem::kGroupNotViable,
                   Error::kFailedPrecondition, {kEduMate, "uio_pci_generic", "vfio-pci"});
  }
  {
    // Root ignores file modes, so the check runs in a child that drops to nobody.
    std::fflush(stdout);
    const pid_t child = ::fork();
    if (child == 0) {
      if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(3);
      Platform p(ivshmem_options());
      expect_problem("no permission on /dev/vfio/N (as uid 65534)", p, p.open(kIvshmem),
                     Problem::kNoPermission, Error::kPermissionDenied,
                     {"/dev/vfio/", "uid 65534", "udev", "chown"});
      std::fflush(stdout);
      ::_exit(failures == 0 ? 0 : 1);
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++failures;
  }
  {
    Platform a(ivshmem_options());
    const Status s = a.open(kIvshmem);
    check(s.ok(), std::string("open ivshmem ") + kIvshmem + why(s.ok(), a));
    if (!s.ok()) return;
    Platform b(ivshmem_options());
    expect_problem("second open of an open group", b, b.open(kIvshmem), Problem::kBusy,
                   Error::kBusy, {"already open", "fuser"});

    auto huge = a.dma_alloc(4096, 4096, DmaMemory::kHugepage);
    expect_problem("hugepages demanded, none reserved", a, huge.status(), Problem::kNoHugepages,
                   Error::kNoMemory, {"nr_hugepages", "HugePages_Free 0"});
    {
      Options physical = ivshmem_options();
      physical.iova = IovaMode::kPhysical;
      a.close();
      Platform p(physical);
      const Status opened = p.open(kIvshmem);
      check(opened.ok() && p.iova_mode() == IovaMode::kPhysical,
            "open with IovaMode::kPhysical through the IOMMU" + why(opened.ok(), p));
      expect_problem("physical IOVAs, a two-page buffer, no hugepages", p,
                     p.dma_alloc(8192, 4096).status(), Problem::kNoHugepages, Error::kNoMemory,
                     {"contiguous", "nr_hugepages"});
      p.close();
      check(a.open(kIvshmem).ok(), "ivshmem opens again with allocated IOVAs");
    }
    auto fallback = a.dma_alloc(2u << 20, 4096);
    check(fallback.ok() && a.dma_memory_of(*fallback) == DmaMemory::kAnonymous,
          "DmaMemory::kAuto falls back to 4 KiB pages without hugepages (2 MiB buffer mapped at " +
              std::to_string(fallback->device) + ")");
    a.dma_free(*fallback);
  }
}

// ------------------------------------------------------------------ ivshmem

void phase_ivshmem() {
  Platform p(ivshmem_options());
  const Status s = p.open(kIvshmem);
  check(s.ok(), std::string("open ivshmem-doorbell ") + kIvshmem + " (" +
                    fbnic::vfio::iommu_mode_name(p.iommu_mode()) + ", IOMMU group " +
                    std::to_string(p.iommu_group()) + ")" + why(s.ok(), p));
  if (!s.ok()) return;
  const auto vendor = p.config_read(fbnic::vfio::kPciVendorId, 2);
  const auto device = p.config_read(fbnic::vfio::kPciDeviceId, 2);
  const auto command = p.config_read(fbnic::vfio::kPciCommand, 2);
  check(vendor.value_or(0) == 0x1af4 && device.value_or(0) == 0x1110,
        "config space IDs 1af4:1110 read through the config region");
  check((command.value_or(0) & 0x6u) == 0x6u, "PCI_COMMAND has MEM and BUSMASTER set");
  check(p.bar_size(Bar::kCsr) == (1u << 20) && p.bar_mmapped(Bar::kCsr),
        "BAR2 (as Bar::kCsr): 1 MiB, mmapped via VFIO_DEVICE_GET_REGION_INFO");
  check(p.bar_size(Bar::kIpc) == 256,
        std::string("BAR0 (as Bar::kIpc): 256 bytes, ") +
            (p.bar_mmapped(Bar::kIpc) ? "mmapped" : "through pread/pwrite (not mmappable)"));

  // Shared memory: the host's seed in, a pattern out (the host checks the file later).
  const std::uint32_t seed_lo = p.read32(Bar::kCsr, kSeed);
  const std::uint32_t seed_hi = p.read32(Bar::kCsr, kSeed + 4);
  check(seed_lo != 0 || seed_hi != 0,
        "read the host's seed from BAR2: " + hex((std::uint64_t{seed_hi} << 32) | seed_lo));
  for (std::uint32_t i = 0; i < kPatternBytes / 4; ++i) {
    p.write32(Bar::kCsr, i * 4, i * 0x9e3779b1u + seed_lo);
  }
  bool readback = true;
  for (std::uint32_t i = 0; i < kPatternBytes / 4; i += 4099) {
    readback = readback && p.read32(Bar::kCsr, i * 4) == i * 0x9e3779b1u + seed_lo;
  }
  check(readback, "wrote a 512 KiB pattern through BAR2 and read it back");
  p.write32(Bar::kCsr, kSeedEcho, seed_lo);
  p.write32(Bar::kCsr, kSeedEcho + 4, seed_hi);
  const char header[17] = "FBNIC-VFIO-OK---";
  for (std::uint32_t i = 0; i < 16; i += 4) {
    std::uint32_t w = 0;
    std::memcpy(&w, header + i, 4);
    p.write32(Bar::kCsr, kHeader + i, w);
  }

  // MSI-X: vector 0 from the host's ivshmem server, vector 1 from our own doorbell.
  const auto msix = p.irq_info(IrqType::kMsix);
  check(msix.ok() && msix->count == 2, "VFIO_DEVICE_GET_IRQ_INFO: 2 MSI-X vectors");
  const Status irqs = p.enable_irqs(IrqType::kMsix, 2);
  check(irqs.ok(), "VFIO_DEVICE_SET_IRQS: MSI-X vectors 0 and 1 on eventfds" + why(irqs.ok(), p));
  if (!irqs.ok()) return;
  std::uint64_t t0 = p.now_ns();
  const auto quiet_wait = p.wait_irq(0, 50000);
  check(quiet_wait.status() == Error::kTimeout, "wait_irq times out when nothing fired (" +
                                                    std::to_string((p.now_ns() - t0) / 1000000) +
                                                    " ms for a 50 ms timeout)");
  p.write32(Bar::kCsr, kReady, kReadyMagic);
  t0 = p.now_ns();
  const auto host_irq = p.wait_irq(0, 20000000);
  check(host_irq.ok(),
        "MSI-X vector 0 fired by the host's server arrived after " + micros(p.now_ns() - t0));
  const std::uint32_t me = p.read32(Bar::kIpc, kIvPosition);
  check(me == 1, "IVPosition (BAR0 register) = " + std::to_string(me));
  t0 = p.now_ns();
  p.write32(Bar::kIpc, kDoorbell, (me << 16) | 1u);
  const auto own_irq = p.wait_irq(1, 5000000);
  check(own_irq.ok(),
        "MSI-X vector 1 from our own doorbell arrived after " + micros(p.now_ns() - t0));
  p.write32(Bar::kIpc, kDoorbell, (me << 16) | 1u);
  const auto any = p.wait_any_irq(5000000);
  check(any.ok() && *any == 1, "wait_any_irq names vector 1 after a second doorbell");

  // Reset: the device forgets its interrupt mask, and MSI-X still works afterwards.
  p.write32(Bar::kIpc, kIntrMask, 0x5a5a5a5au);
  const std::uint32_t before = p.read32(Bar::kIpc, kIntrMask);
  if (p.reset_supported()) {
    const Status r = p.reset();
    const std::uint32_t after = p.read32(Bar::kIpc, kIntrMask);
    check(r.ok() && before == 0x5a5a5a5au && after == 0,
          "VFIO_DEVICE_RESET: IntrMask " + hex(before) + " before, " + hex(after) + " after");
    p.write32(Bar::kIpc, kDoorbell, (me << 16) | 1u);
    check(p.wait_irq(1, 5000000).ok(), "MSI-X vector 1 still delivered after the reset");
  } else {
    expect_problem("reset refused: VFIO offers none for this device", p, p.reset(),
                   Problem::kNotSupported, Error::kNotSupported, {"reset"});
  }
  p.write32(Bar::kCsr, kCommit, kCommitMagic);
  p.close();
  check(!p.is_open(), "ivshmem closed");
}

// ------------------------------------------------------------------ edu

bool edu_wait_dma(Platform& p) {
  const auto irq = p.wait_irq(0, 5000000);
  const std::uint32_t status = p.read32(Bar::kCsr, kEduIrqStatus);
  p.write32(Bar::kCsr, kEduIrqAck, status);
  return irq.ok() && (status & kEduDmaIrqValue) != 0 &&
         (p.read32(Bar::kCsr, kEduDmaCmd) & kEduDmaRun) == 0;
}

// One edu transfer between guest memory at `iova` and the device's buffer.
bool edu_dma(Platform& p, std::uint64_t iova, bool to_ram) {
  const auto addr = static_cast<std::uint32_t>(iova);
  p.write32(Bar::kCsr, kEduDmaSrc, to_ram ? kEduBuffer : addr);
  p.write32(Bar::kCsr, kEduDmaDst, to_ram ? addr : kEduBuffer);
  p.write32(Bar::kCsr, kEduDmaCount, kDmaBytes);
  p.write32(Bar::kCsr, kEduDmaCmd, kEduDmaRun | kEduDmaIrq | (to_ram ? kEduDmaToRam : 0));
  return edu_wait_dma(p);
}

void dma_round_trip(Platform& p, DmaMemory memory, std::uint8_t salt) {
  auto buf = p.dma_alloc(8192, 4096, memory);
  check(buf.ok(), std::string("dma_alloc 8 KiB, DmaMemory::") +
                      fbnic::vfio::dma_memory_name(memory) + why(buf.ok(), p));
  if (!buf.ok()) return;
  const std::string name = fbnic::vfio::dma_memory_name(p.dma_memory_of(*buf));
  // IOVAs come from the allocator's windows; without an IOMMU they are physical addresses.
  const auto& w = p.iova_windows();
  const bool in_window =
      buf->device < 0xffffffffu && (p.iommu_mode() == fbnic::vfio::IommuMode::kNoIommu
                                        ? buf->device != reinterpret_cast<std::uintptr_t>(buf->cpu)
                                        : !w.empty() && buf->device >= w.front().first);
  bool zeroed = true;
  for (std::uint8_t b : buf->bytes()) zeroed = zeroed && b == 0;
  auto* bytes = static_cast<std::uint8_t*>(buf->cpu);
  for (std::uint32_t i = 0; i < kDmaBytes; ++i) bytes[i] = static_cast<std::uint8_t>(i * 7 + salt);
  const bool in = edu_dma(p, buf->device, false);
  const bool out = edu_dma(p, buf->device + 4096, true);
  const bool same = std::memcmp(bytes, bytes + 4096, kDmaBytes) == 0;
  char line[200];
  std::snprintf(
      line, sizeof(line),
      "%s: device address %#llx (zeroed %s), edu DMA RAM->device and device->RAM with MSI, "
      "%u bytes %s",
      name.c_str(), static_cast<unsigned long long>(buf->device), zeroed ? "yes" : "NO", kDmaBytes,
      same ? "match" : "DIFFER");
  check(in_window && zeroed && in && out && same, line);
  if (memory == DmaMemory::kHugepage) {
    check(p.dma_memory_of(*buf) == DmaMemory::kHugepage && buf->device % (2u << 20) == 0,
          "hugepage buffer is 2 MiB-aligned in IOVA space");
  }
  p.dma_free(*buf);
}

void phase_edu(bool full) {
  Platform p(edu_options());
  const Status s = p.open(kEdu);
  check(s.ok(), std::string("open edu ") + kEdu + " (" +
                    fbnic::vfio::iommu_mode_name(p.iommu_mode()) + ", IOMMU group " +
                    std::to_string(p.iommu_group()) + ")" + why(s.ok(), p));
  if (!s.ok()) return;
  const auto vendor = p.config_read(fbnic::vfio::kPciVendorId, 2);
  const auto device = p.config_read(fbnic::vfio::kPciDeviceId, 2);
  check(vendor.value_or(0) == 0x1234 && device.value_or(0) == 0x11e8, "config space IDs 1234:11e8");

  if (full) {
    const std::uint32_t ident = p.read32(Bar::kCsr, kEduIdent);
    check((ident & 0xff) == 0xed, "edu identification register " + hex(ident));
    p.write32(Bar::kCsr, kEduLive, 0x12345678u);
    check(p.read32(Bar::kCsr, kEduLive) == ~0x12345678u, "edu liveness register inverts a write");
    p.write32(Bar::kCsr, kEduFactorial, 10);
    const std::uint64_t deadline = p.now_ns() + 2000000000u;
    while ((p.read32(Bar::kCsr, kEduStatus) & 1u) != 0 && p.now_ns() < deadline) p.delay_us(100);
    check(p.read32(Bar::kCsr, kEduFactorial) == 3628800u, "edu computes 10! = 3628800");
    expect_problem("MSI-X on a device without it", p, p.enable_irqs(IrqType::kMsix, 1),
                   Problem::kNotSupported, Error::kNotSupported, {"MSI-X", "lspci"});
  }
  const auto msi = p.irq_info(IrqType::kMsi);
  check(msi.ok() && msi->count >= 1 && p.enable_irqs(IrqType::kMsi, 1).ok(),
        "MSI vector 0 on an eventfd (" + std::to_string(msi.ok() ? msi->count : 0) + " offered)");
  p.write32(Bar::kCsr, kEduIrqRaise, 0x1);
  const std::uint64_t t0 = p.now_ns();
  const auto got = p.wait_irq(0, 5000000);
  const std::uint32_t status = p.read32(Bar::kCsr, kEduIrqStatus);
  p.write32(Bar::kCsr, kEduIrqAck, status);
  check(got.ok() && status == 1,
        "edu MSI raised by a register write arrived after " + micros(p.now_ns() - t0));

  dma_round_trip(p, DmaMemory::kAuto, 1);
  if (!full) return;
  dma_round_trip(p, DmaMemory::kMemfd, 2);
  dma_round_trip(p, DmaMemory::kHugepage, 3);

  // DMA after unmap: our own memory, mapped with dma_map, must stay untouched.
  void* mem = ::mmap(nullptr, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  auto mapped = p.dma_map(mem, 8192);
  check(mapped.ok(), "dma_map of caller memory" + why(mapped.ok(), p));
  if (!mapped.ok()) return;
  auto* bytes = static_cast<std::uint8_t*>(mem);
  const bool reached = edu_dma(p, mapped->device, true) && bytes[0] == 3 && bytes[1] == 10;
  check(reached, "edu wrote into dma_map'd memory while mapped");
  const std::uint64_t old_iova = mapped->device;
  check(p.dma_unmap(*mapped).ok() && p.dma_mappings() == 0, "dma_unmap (VFIO_IOMMU_UNMAP_DMA)");
  std::memset(mem, 0xaa, 8192);
  const bool completed = edu_dma(p, old_iova, true);
  bool untouched = true;
  for (std::uint32_t i = 0; i < 8192; ++i) untouched = untouched && bytes[i] == 0xaa;
  check(completed && untouched,
        "edu DMA to the unmapped IOVA was blocked by the IOMMU (buffer untouched)");
  expect_problem("dma_unmap of a buffer no longer mapped", p, p.dma_unmap(*mapped),
                 Problem::kInvalidArgument, Error::kInvalidArgument, {"does not hold"});
  ::munmap(mem, 8192);

  // Teardown releases everything: the same device opens again at once.
  auto leak = p.dma_alloc(4096, 4096);
  check(leak.ok(), "a buffer left allocated for close() to clean up");
  p.close();
  check(!p.is_open() && p.dma_mappings() == 0, "close(): DMA unmapped, BARs and fds closed");
  Options slow = edu_options();
  slow.mmap_bars = false;
  Platform again(slow);
  const bool reopened = again.open(kEdu).ok();
  check(reopened,
        "edu opens again after close (group and container released)" + why(reopened, again));
  again.write32(Bar::kCsr, kEduLive, 0x0f0f0f0fu);
  check(!again.bar_mmapped(Bar::kCsr) && (again.read32(Bar::kCsr, kEduIdent) & 0xff) == 0xed &&
            again.read32(Bar::kCsr, kEduLive) == ~0x0f0f0f0fu,
        "BAR access through pread/pwrite on the device file (Options::mmap_bars = false)");
}

// ------------------------------------------------------------------ shared Containers

// One edu transfer in and out at `iova`: `bytes` (CPU view of iova) must come back in its
// second half.
bool edu_round_trip(Platform& p, std::uint8_t* bytes, std::uint64_t iova, std::uint8_t salt) {
  for (std::uint32_t i = 0; i < kDmaBytes; ++i) bytes[i] = static_cast<std::uint8_t>(i * 11 + salt);
  std::memset(bytes + 4096, 0, kDmaBytes);
  const bool in = edu_dma(p, iova, false);
  const bool out = edu_dma(p, iova + 4096, true);
  return in && out && std::memcmp(bytes, bytes + 4096, kDmaBytes) == 0;
}

std::uint64_t pagemap_address(const void* cpu) {
  const int fd = ::open("/proc/self/pagemap", O_RDONLY);
  std::uint64_t entry = 0;
  const auto at = static_cast<off_t>(reinterpret_cast<std::uintptr_t>(cpu) / 4096 * 8);
  const bool read = fd >= 0 && ::pread(fd, &entry, 8, at) == 8;
  if (fd >= 0) ::close(fd);
  return read ? (entry & ((std::uint64_t{1} << 55) - 1)) * 4096 : 0;
}

void phase_container() {
  auto iommu = std::make_shared<Container>(edu_options());
  Platform a(iommu, edu_options());
  Platform mate(iommu, edu_options());
  Platform other(iommu, edu_options());
  const Status sa = a.open(kEdu);
  const Status sm = sa.ok() ? mate.open(kEduMate) : sa;
  const Status so = sm.ok() ? other.open(kEduOther) : sm;
  check(so.ok() && iommu->devices() == 3,
        std::string("three edus in one Container: ") + kEdu + " and " + kEduMate +
            " (IOMMU group " + std::to_string(a.iommu_group()) + "), " + kEduOther + " (group " +
            std::to_string(other.iommu_group()) + ")" + why(sa.ok(), a) + why(sm.ok(), mate) +
            why(so.ok(), other));
  if (!so.ok()) return;
  for (Platform* p : {&a, &mate, &other}) {
    if (!p->enable_irqs(IrqType::kMsi, 1).ok()) check(false, "MSI on " + p->address());
  }
  auto buf = iommu->dma_alloc(8192, 4096);
  check(buf.ok() && a.dma_mappings() == 1 && other.dma_mappings() == 1,
        "one buffer mapped once in the Container, at " + hex(buf.ok() ? buf->device : 0));
  if (!buf.ok()) return;
  auto* bytes = static_cast<std::uint8_t*>(buf->cpu);
  check(edu_round_trip(a, bytes, buf->device, 1) && edu_round_trip(mate, bytes, buf->device, 2) &&
            edu_round_trip(other, bytes, buf->device, 3),
        "each of the three edus DMAs in and out of it at the same IOVA: bytes match");
  {
    Platform twice(iommu, edu_options());
    expect_problem("the same device twice in one Container", twice, twice.open(kEduMate),
                   Problem::kBusy, Error::kBusy, {"already open"});
  }

  // A device in another Container does not reach that mapping: the IOMMU blocks it.
  other.close();
  Platform alone(edu_options());
  const Status s = alone.open(kEduOther);
  check(s.ok() && alone.enable_irqs(IrqType::kMsi, 1).ok() && alone.dma_mappings() == 0,
        std::string(kEduOther) + " in a Container of its own" + why(s.ok(), alone));
  if (s.ok()) {
    std::memset(bytes, 0x5a, 8192);
    const bool done = edu_dma(alone, buf->device + 4096, true);
    bool untouched = true;
    for (std::uint32_t i = 0; i < 8192; ++i) untouched = untouched && bytes[i] == 0x5a;
    check(done && untouched, "its DMA to the other Container's IOVA " + hex(buf->device + 4096) +
                                 " was blocked by the IOMMU (buffer untouched)");
  }
  iommu->dma_free(*buf);
  a.close();
  mate.close();
  check(iommu->devices() == 0 && iommu->dma_mappings() == 0,
        "the last device's close() leaves the Container empty");
  alone.close();

  // IOVA = physical address through the IOMMU: mapped at the page's own address.
  Options physical = edu_options();
  physical.iova = IovaMode::kPhysical;
  Platform p(physical);
  const Status sp = p.open(kEdu);
  check(sp.ok() && p.iova_mode() == IovaMode::kPhysical,
        "edu with IovaMode::kPhysical through the IOMMU" + why(sp.ok(), p));
  if (sp.ok() && p.enable_irqs(IrqType::kMsi, 1).ok()) {
    auto pb = p.dma_alloc(8192, 4096);
    check(pb.ok() && p.dma_memory_of(*pb) == DmaMemory::kHugepage &&
              pb->device == pagemap_address(pb->cpu),
          "an 8 KiB buffer: a hugepage, device address " + hex(pb.ok() ? pb->device : 0) +
              " = its physical address" + why(pb.ok(), p));
    if (pb.ok()) {
      check(edu_round_trip(p, static_cast<std::uint8_t*>(pb->cpu), pb->device, 4),
            "edu DMA at IOVA = physical address, through the IOMMU: bytes match");
    }
  }
  p.close();

  // Without the right to read physical addresses, the open says so.
  std::fflush(stdout);
  Platform probe(edu_options());
  const int group = probe.open(kEdu).ok() ? probe.iommu_group() : -1;
  probe.close();
  const std::string group_node = "/dev/vfio/" + std::to_string(group);
  if (group < 0 || ::chown(group_node.c_str(), 65534, static_cast<gid_t>(-1)) != 0) {
    check(false, "hand " + group_node + " to uid 65534");
    return;
  }
  const pid_t child = ::fork();
  if (child == 0) {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(3);
    Platform user(physical);
    expect_problem("IovaMode::kPhysical as uid 65534", user, user.open(kEdu),
                   Problem::kNoPermission, Error::kPermissionDenied,
                   {"pagemap", "root", "IovaMode::kAllocated"});
    std::fflush(stdout);
    ::_exit(failures == 0 ? 0 : 1);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++failures;
  if (::chown(group_node.c_str(), 0, static_cast<gid_t>(-1)) != 0) ++failures;
}

// ------------------------------------------------------------------ other guests

void phase_noiommu() {
  Platform p(edu_options());
  expect_problem("no IOMMU in the guest", p, p.open(kEdu), Problem::kNoIommu, Error::kNotSupported,
                 {"no IOMMU group", "intel_iommu=on", "amd_iommu=on", "iommu=pt",
                  "vfio.enable_unsafe_noiommu_mode=1", "CONFIG_VFIO_NOIOMMU"});
}

// vfio rebuilt with CONFIG_VFIO_NOIOMMU and loaded with enable_unsafe_noiommu_mode=1.
void phase_noiommu_mode() {
  std::fflush(stdout);
  const pid_t child = ::fork();
  if (child == 0) {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(3);
    Platform p(edu_options());
    expect_problem("no-IOMMU group as uid 65534", p, p.open(kEdu), Problem::kNoPermission,
                   Error::kPermissionDenied, {"/dev/vfio/noiommu-", "CAP_SYS_RAWIO"});
    std::fflush(stdout);
    ::_exit(failures == 0 ? 0 : 1);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++failures;

  Platform p(edu_options());
  const Status s = p.open(kEdu);
  check(s.ok() && p.iommu_mode() == fbnic::vfio::IommuMode::kNoIommu,
        std::string("open edu in no-IOMMU mode (") + fbnic::vfio::iommu_mode_name(p.iommu_mode()) +
            ", group noiommu-" + std::to_string(p.iommu_group()) + ")" + why(s.ok(), p));
  if (!s.ok()) return;
  check(p.enable_irqs(IrqType::kMsi, 1).ok(), "MSI on an eventfd without an IOMMU");
  p.write32(Bar::kCsr, kEduIrqRaise, 0x1);
  const auto got = p.wait_irq(0, 5000000);
  p.write32(Bar::kCsr, kEduIrqAck, p.read32(Bar::kCsr, kEduIrqStatus));
  check(got.ok(), "edu MSI arrived");
  expect_problem("multi-page 4 KiB-page buffer refused (not contiguous)", p,
                 p.dma_alloc(8192, 4096, DmaMemory::kAnonymous).status(), Problem::kNoHugepages,
                 Error::kNoMemory, {"contiguous", "DmaMemory::kAuto or kHugepage"});
  // One page is contiguous by itself: DMA in from its first half, out to its second.
  auto page = p.dma_alloc(4096, 4096, DmaMemory::kAnonymous);
  check(page.ok(), "dma_alloc of one 4 KiB page (physical address " +
                       hex(page.ok() ? page->device : 0) + ", from /proc/self/pagemap)" +
                       why(page.ok(), p));
  if (page.ok()) {
    auto* bytes = static_cast<std::uint8_t*>(page->cpu);
    for (std::uint32_t i = 0; i < 1024; ++i) bytes[i] = static_cast<std::uint8_t>(i * 13 + 5);
    p.write32(Bar::kCsr, kEduDmaSrc, static_cast<std::uint32_t>(page->device));
    p.write32(Bar::kCsr, kEduDmaDst, kEduBuffer);
    p.write32(Bar::kCsr, kEduDmaCount, 1024);
    p.write32(Bar::kCsr, kEduDmaCmd, kEduDmaRun | kEduDmaIrq);
    const bool in = edu_wait_dma(p);
    p.write32(Bar::kCsr, kEduDmaSrc, kEduBuffer);
    p.write32(Bar::kCsr, kEduDmaDst, static_cast<std::uint32_t>(page->device + 2048));
    p.write32(Bar::kCsr, kEduDmaCount, 1024);
    p.write32(Bar::kCsr, kEduDmaCmd, kEduDmaRun | kEduDmaIrq | kEduDmaToRam);
    const bool out = edu_wait_dma(p);
    check(in && out && std::memcmp(bytes, bytes + 2048, 1024) == 0,
          "edu DMA at physical addresses, in and back: 1024 bytes match");
    p.dma_free(*page);
  }
  dma_round_trip(p, DmaMemory::kAuto, 9);  // two pages: kAuto must pick a hugepage
}

void phase_intremap() {
  Platform p(edu_options());
  expect_problem("IOMMU without interrupt remapping", p, p.open(kEdu),
                 Problem::kNoInterruptRemapping, Error::kNotSupported,
                 {"allow_unsafe_interrupts", "interrupt remapping"});
}

}  // namespace

int main(int argc, char** argv) {
  const std::string phase = argc > 1 ? argv[1] : "";
  if (phase == "errors") {
    phase_errors();
  } else if (phase == "main") {
    {
      Platform p(quiet());
      expect_problem("device bound to no driver", p, p.open(kEduMate), Problem::kNotBound,
                     Error::kFailedPrecondition, {"no driver", "driver_override", "drivers_probe"});
    }
    phase_ivshmem();
    phase_edu(true);
  } else if (phase == "container") {
    phase_container();
  } else if (phase == "noiommu") {
    phase_noiommu();
  } else if (phase == "intremap") {
    phase_intremap();
  } else if (phase == "noiommumode") {
    phase_noiommu_mode();
  } else if (phase == "unsafe") {
    phase_edu(false);
  } else {
    std::fprintf(stderr,
                 "usage: vfio_vm_test errors|main|container|noiommu|intremap|unsafe|noiommumode\n");
    return 2;
  }
  std::printf("VFIO-TEST %s phase=%s failures=%d\n", failures == 0 ? "PASS" : "FAIL", phase.c_str(),
              failures);
  return failures == 0 ? 0 : 1;
}
