// The in-guest side of tests/qemu/run.sh: fbnic-emu's functions as a Linux guest sees them
// through vfio-pci, with the library's VFIO platform. Static (the guest has no libraries).
//
//   qemu_guest_probe bar BDF READS         config space as the QEMU route shows it, a write
//                                          and read back through BAR0, then READS timed
//                                          BAR0 reads: the cost of one on this route
//   qemu_guest_probe doorbell BDF IVSHMEM VECTORS
//                                          the model's MSI-X vectors 0-2, raised through the
//                                          INTR block, arrive as the ivshmem-doorbell's
//                                          vectors (v % VECTORS); none on the fbnic's own
//
// One line per check ("ok" or "FAIL"), then "QEMU-GUEST PASS|FAIL <what>".
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "fbnic/regs/intr.hpp"
#include "fbnic/vfio/platform.hpp"

namespace {

using fbnic::Bar;
using fbnic::vfio::IrqType;
using fbnic::vfio::Platform;

constexpr std::uint32_t kScratch = 0x20000;  // an RXB register the model stores as written
constexpr std::uint32_t kVsec = 0x40;        // the emulator's vendor-specific capability
constexpr std::uint32_t kVsecDsn = kVsec + 0x70;

int failures = 0;

void check(bool ok, const std::string& what) {
  std::printf("%s %s\n", ok ? "ok  " : "FAIL", what.c_str());
  std::fflush(stdout);
  if (!ok) ++failures;
}

std::string hex(std::uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof(b), "%#llx", static_cast<unsigned long long>(v));
  return b;
}

bool open(Platform& p, const char* bdf) {
  const fbnic::Status st = p.open(bdf);
  check(st.ok(), std::string("vfio open ") + bdf + (st.ok() ? "" : ": " + p.last_error()));
  return st.ok();
}

std::uint32_t cfg(Platform& p, std::uint32_t offset, std::uint32_t width = 4) {
  auto v = p.config_read(offset, width);
  return v.ok() ? *v : 0xFFFF'FFFFu;
}

void bar(const char* bdf, std::uint32_t reads) {
  Platform p;
  if (!open(p, bdf)) return;
  check(cfg(p, 0) == 0x0013'1D9Bu, "config space: " + hex(cfg(p, 0)) + " (1d9b:0013)");
  // The QEMU route's layout: the emulator's capability first, MSI-X, and nothing else.
  const std::uint32_t cap = cfg(p, 0x34, 1);
  const std::uint32_t vsec_sig = cfg(p, kVsec + 4);
  check(cap == kVsec && (cfg(p, kVsec) & 0xFF) == 0x09 && (vsec_sig & 0xFFFF) == 0xFB1C,
        "vendor-specific capability at " + hex(cap) + ", signature " + hex(vsec_sig));
  const std::uint64_t dsn = cfg(p, kVsecDsn) | (std::uint64_t{cfg(p, kVsecDsn + 4)} << 32);
  check(dsn != 0 && dsn != ~0ull, "serial number copy in the capability: " + hex(dsn));
  check(p.bar_size(Bar::kCsr) == (4u << 20) && p.bar_size(Bar::kIpc) == (128u << 10),
        "BAR0 " + std::to_string(p.bar_size(Bar::kCsr) >> 10) + " KiB, BAR4 " +
            std::to_string(p.bar_size(Bar::kIpc) >> 10) + " KiB, mmapped " +
            (p.bar_mmapped(Bar::kCsr) ? "yes" : "no"));
  p.write32(Bar::kCsr, kScratch, 0x1D9B'0013u);
  const std::uint32_t back = p.read32(Bar::kCsr, kScratch);
  check(back == 0x1D9B'0013u, "BAR0 write and read back: " + hex(back));
  const std::uint64_t t0 = p.now_ns();
  std::uint32_t wrong = 0;
  for (std::uint32_t i = 0; i < reads; ++i) wrong += p.read32(Bar::kCsr, kScratch) != back ? 1 : 0;
  const std::uint64_t ns = p.now_ns() - t0;
  check(wrong == 0, std::to_string(reads) + " BAR0 reads, " + std::to_string(wrong) + " wrong");
  std::printf("BAR-READ reads=%u total_ms=%.1f per_read_us=%.1f\n", reads,
              static_cast<double>(ns) / 1e6, static_cast<double>(ns) / 1e3 / reads);
}

void doorbell(const char* bdf, const char* ivshmem, std::uint32_t vectors) {
  Platform nic;
  fbnic::vfio::Options bell_options;
  bell_options.bars.ipc = fbnic::vfio::kNoRegion;  // ivshmem has no BAR4
  Platform bell(bell_options);
  if (!open(nic, bdf) || !open(bell, ivshmem)) return;
  // The fbnic's MSI-X as a driver sets it up (the guest programs and unmasks the table);
  // the ivshmem device's vectors are where the messages arrive.
  const fbnic::Status a = nic.enable_irqs(IrqType::kMsix, 3);
  const fbnic::Status b = bell.enable_irqs(IrqType::kMsix, vectors);
  check(a.ok() && b.ok(), "MSI-X on eventfds: fbnic 3 vectors" +
                              (a.ok() ? std::string() : " (" + nic.last_error() + ")") +
                              ", ivshmem-doorbell " + std::to_string(vectors) +
                              (b.ok() ? std::string() : " (" + bell.last_error() + ")"));
  if (!a.ok() || !b.ok()) return;
  for (std::uint32_t v = 0; v < 3; ++v) {
    const std::uint32_t bit = 1u << v;
    nic.write32(Bar::kCsr, fbnic::regs::IntrMaskClear::at(0).offset, bit);
    const std::uint64_t t0 = nic.now_ns();
    nic.write32(Bar::kCsr, fbnic::regs::IntrSet::at(0).offset, bit);
    const auto got = bell.wait_irq(v % vectors, 2'000'000);
    const std::uint64_t us = (nic.now_ns() - t0) / 1000;
    check(got.ok(), "model vector " + std::to_string(v) + " arrived on doorbell vector " +
                        std::to_string(v % vectors) + " after " + std::to_string(us) + " us");
  }
  const auto own = nic.wait_any_irq(100'000);
  check(!own.ok(), "nothing on the fbnic's own MSI-X eventfds (the proxy delivers none)");
}

}  // namespace

int main(int argc, char** argv) {
  const std::string what = argc > 1 ? argv[1] : "";
  if (what == "bar" && argc == 4) {
    bar(argv[2], static_cast<std::uint32_t>(std::strtoul(argv[3], nullptr, 10)));
  } else if (what == "doorbell" && argc == 5) {
    doorbell(argv[2], argv[3], static_cast<std::uint32_t>(std::strtoul(argv[4], nullptr, 10)));
  } else {
    std::fprintf(stderr, "usage: qemu_guest_probe bar BDF READS | doorbell BDF IVSHMEM VECTORS\n");
    return 2;
  }
  std::printf("QEMU-GUEST %s %s\n", failures == 0 ? "PASS" : "FAIL", what.c_str());
  return failures == 0 ? 0 : 1;
}
