// fbnic-info: opens fbnic devices through VFIO and prints what it finds.
//
//   fbnic-info [--iommu MODE] [--iova MODE] [--verbose] [DDDD:BB:DD.F ...]
//
// Without an address it opens every 1d9b:0013 function in sysfs, and for each prints the
// VFIO facts, then what devlink info and ethtool -S would: serial number and permanent
// MAC, firmware versions, BMC, sensors, link and counters. It asks the firmware over the
// mailbox without taking ownership; VFIO gives a device to one process at a time, so a
// device that another process has open is refused with the error that says so. Exit
// status: 0 when every device was read, 1 otherwise (the error and its fix are printed),
// 2 on bad usage.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "fbnic/fbnic.hpp"
#include "fbnic/vfio/pci.hpp"
#include "fbnic/vfio/platform.hpp"
#include "tool.hpp"

namespace {

using fbnic::vfio::Platform;

constexpr const char* kUsage =
    "usage: fbnic-info [--iommu auto|type1|iommufd|noiommu] [--iova auto|allocated|physical]\n"
    "                  [--verbose] [DDDD:BB:DD.F ...]\n"
    "Opens each fbnic (PCI 1d9b:0013) function through VFIO, or the ones named, and prints "
    "what it can read.\n";

void print_vfio_facts(Platform& p) {
  const auto vendor = p.config_read(fbnic::vfio::kPciVendorId, 2);
  const auto device = p.config_read(fbnic::vfio::kPciDeviceId, 2);
  const auto revision = p.config_read(fbnic::vfio::kPciRevision, 1);
  const auto command = p.config_read(fbnic::vfio::kPciCommand, 2);
  std::printf("%s  PCI %04x:%04x rev %02x (from configuration space), command %#06x\n",
              p.address().c_str(), vendor.value_or(0xffff), device.value_or(0xffff),
              revision.value_or(0xff), command.value_or(0));
  std::printf("  vfio: %s, IOVA %s%s, IOMMU group %d, reset %s\n",
              fbnic::vfio::iommu_mode_name(p.iommu_mode()),
              fbnic::vfio::iova_mode_name(p.iova_mode()),
              p.dma_bypasses_iommu() ? " (its DMA bypasses the IOMMU)" : "", p.iommu_group(),
              p.reset_supported() ? "available (VFIO_DEVICE_RESET)" : "not offered");
  for (std::uint32_t i = 0; i < p.region_count() && i < 6; ++i) {
    const auto r = p.region_info(i);
    if (!r.ok() || r->size == 0) continue;
    const char* role = "";
    if (static_cast<int>(i) == p.options().bars.csr) role = " = Bar::kCsr";
    if (static_cast<int>(i) == p.options().bars.ipc) role = " = Bar::kIpc";
    std::printf("  BAR%u: %#llx bytes%s%s%s\n", i, static_cast<unsigned long long>(r->size),
                r->mmappable() ? ", mmappable" : "", r->mmapped ? ", mapped" : "", role);
  }
  std::printf("  interrupts:");
  for (const auto t :
       {fbnic::vfio::IrqType::kIntx, fbnic::vfio::IrqType::kMsi, fbnic::vfio::IrqType::kMsix}) {
    const auto info = p.irq_info(t);
    std::printf(" %s %u", fbnic::vfio::irq_type_name(t), info.ok() ? info->count : 0);
  }
  std::printf("\n");
  for (const auto& w : p.iova_windows()) {
    std::printf("  IOVA window: %#llx-%#llx\n", static_cast<unsigned long long>(w.first),
                static_cast<unsigned long long>(w.last));
  }
}

void print_version(const char* what, std::uint32_t v, const fbnic::fw::CommitString& commit) {
  const fbnic::fw::Version ver{v};
  std::printf("    %-20s %u.%u.%u-%u%s%s\n", what, ver.major(), ver.minor(), ver.patch(),
              ver.build(), commit.empty() ? "" : "_", commit.c_str());
}

// What `devlink dev info` and `ethtool -S` would show: read through the core, from the
// firmware (over the mailbox, without taking ownership) and from the MAC/PCS registers.
int print_device_summary(Platform& p) {
  fbnic::Io<Platform> io(p);
  if (const auto dsn = p.serial_number(); dsn.ok()) {
    const auto mac = fbnic::mac::mac_from_dsn(*dsn);
    std::printf("  serial (DSN): %016llx", static_cast<unsigned long long>(*dsn));
    if (mac.ok()) fbnic::tool::print_mac(", permanent MAC ", *mac);
    std::printf("\n");
  } else {
    std::printf("  serial (DSN): none in configuration space\n");
    p.clear_error();
  }

  fbnic::fw::Mailbox<Platform> mailbox(io);
  fbnic::fw::Client<Platform> firmware(mailbox);
  const auto deadline = fbnic::Deadline::after_us(p.now_ns(), 10'000'000);
  if (const auto st = mailbox.open(deadline); !st.ok()) {
    std::fprintf(stderr, "fbnic-info: the firmware mailbox did not answer (%s)\n", st.name());
    return 1;
  }
  const auto caps = firmware.request_capabilities(deadline);
  if (!caps.ok() && caps.status() != fbnic::Error::kTooOld) {
    std::fprintf(stderr, "fbnic-info: no capabilities from the firmware (%s)\n",
                 caps.status().name());
    mailbox.close(deadline).ignore();
    return 1;
  }
  const auto& c = firmware.capabilities();
  std::printf("  firmware%s:\n", caps.ok() ? "" : " (older than this library supports)");
  print_version("running", c.version, c.version_commit);
  print_version("stored", c.stored_version, c.stored_commit);
  print_version("boot1 (cmrt)", c.cmrt_version, c.cmrt_commit);
  print_version("boot1 stored", c.stored_cmrt_version, c.stored_cmrt_commit);
  print_version("option rom (uefi)", c.uefi_version, c.uefi_commit);
  std::printf("    %-20s %u\n", "active slot", c.active_slot);
  std::printf("  BMC: %s", c.bmc_present ? "present" : "absent");
  for (const auto& m : c.bmc_macs.view()) fbnic::tool::print_mac(" ", m);
  std::printf("\n");
  if (caps.ok()) {
    if (const auto s = firmware.read_sensors(deadline); s.ok()) {
      std::printf("  sensors: %d.%03d C, %d mV\n", s->temperature_mc / 1000,
                  s->temperature_mc % 1000, s->voltage_mv);
    }
  }
  mailbox.close(deadline).ignore();

  const auto mode = fbnic::mac::LinkConfig::from_firmware(c.link_speed, c.link_fec);
  const char* fec = mode.fec == fbnic::fw::LinkFec::kNone
                        ? "off"
                        : (mode.fec == fbnic::fw::LinkFec::kRs ? "RS" : "BASE-R");
  const auto signal = fbnic::mac::pcs_signal(io, mode);
  std::printf("  link: %u Gb/s, FEC %s, PCS %s\n", mode.gbps(), fec,
              signal.ok() ? (*signal ? "up" : "down") : signal.status().name());
  // The device's counters as it holds them (no start(): counted since its reset; the FEC
  // and PCS ones since their last read), named as ethtool -S names them; zeros left out.
  fbnic::HwCounters<Platform, 1> counters(io);
  fbnic::Stats<0, 1> stats;
  if (const fbnic::Status st = counters.read(stats); st.ok()) {
    std::printf("  counters (non-zero):\n");
    fbnic::for_each_stat(stats, [](const char* name, std::uint64_t value) {
      if (value != 0) std::printf("    %s: %llu\n", name, static_cast<unsigned long long>(value));
    });
  } else {
    std::printf("  counters: %s\n", st.name());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  fbnic::tool::Args args("fbnic-info", argc, argv, kUsage);
  const fbnic::vfio::Options options = fbnic::tool::parse_vfio_options(args);
  std::vector<std::string> addresses = args.rest();
  if (addresses.empty()) addresses = fbnic::tool::find_fbnic_devices("fbnic-info");
  if (addresses.empty()) return 1;

  int failures = 0;
  for (const std::string& address : addresses) {
    fbnic::vfio::Options per_device = options;
    const auto normalized = fbnic::vfio::normalize_pci_address(address);
    const auto id = fbnic::vfio::pci_id(normalized.value_or(address));
    const bool is_fbnic = id.ok() && id->vendor == fbnic::vfio::kFbnicPciId.vendor &&
                          id->device == fbnic::vfio::kFbnicPciId.device;
    if (id.ok() && !is_fbnic) {
      // Another device: show what VFIO offers without assuming fbnic's BAR layout.
      std::printf("%s: PCI %04x:%04x is not an fbnic (1d9b:0013); VFIO facts only\n",
                  normalized.value_or(address).c_str(), id->vendor, id->device);
      per_device.bars = {fbnic::vfio::kNoRegion, fbnic::vfio::kNoRegion};
    }
    Platform platform(per_device);
    if (const auto s = platform.open(address); !s.ok()) {
      fbnic::tool::print_failure("fbnic-info", platform, s);
      ++failures;
      continue;
    }
    print_vfio_facts(platform);
    if (is_fbnic) failures += print_device_summary(platform);
  }
  return failures == 0 ? 0 : 1;
}
