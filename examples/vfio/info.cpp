// fbnic-info: opens fbnic devices through VFIO and prints what it finds.
//
//   fbnic-info [--iommu auto|type1|iommufd|noiommu] [--verbose] [DDDD:BB:DD.F ...]
//
// Without an address it opens every 1d9b:0013 function in sysfs. Exit status: 0 when
// every device opened, 1 otherwise (the error and its fix are printed), 2 on bad usage.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "fbnic/vfio/pci.hpp"
#include "fbnic/vfio/platform.hpp"
#include "tool.hpp"

namespace {

using fbnic::vfio::Platform;

void usage(FILE* out) {
  std::fprintf(out,
               "usage: fbnic-info [--iommu auto|type1|iommufd|noiommu] [--verbose] "
               "[DDDD:BB:DD.F ...]\n"
               "Opens each fbnic (PCI 1d9b:0013) function through VFIO, or the ones named, and "
               "prints what it can read.\n");
}

void print_vfio_facts(Platform& p) {
  const auto vendor = p.config_read(fbnic::vfio::kPciVendorId, 2);
  const auto device = p.config_read(fbnic::vfio::kPciDeviceId, 2);
  const auto revision = p.config_read(fbnic::vfio::kPciRevision, 1);
  const auto command = p.config_read(fbnic::vfio::kPciCommand, 2);
  std::printf("%s  PCI %04x:%04x rev %02x (from configuration space), command %#06x\n",
              p.address().c_str(), vendor.value_or(0xffff), device.value_or(0xffff),
              revision.value_or(0xff), command.value_or(0));
  std::printf("  vfio: %s, IOMMU group %d, reset %s\n",
              fbnic::vfio::iommu_mode_name(p.iommu_mode()), p.iommu_group(),
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

// ---------------------------------------------------------------------------------------
// Device summary: firmware versions, MAC addresses, link state and counters (what
// `devlink dev info` and `ethtool -S` show). These come from the core's device API
// (dev/, fw/, mac/), which does not exist yet; it is wired here once it does.
// ---------------------------------------------------------------------------------------
void print_device_summary(Platform& p) {
  (void)p;
  std::printf(
      "  device summary: not read (firmware versions, MACs, link and counters need the "
      "core's device API, which this build does not have yet)\n");
}

}  // namespace

int main(int argc, char** argv) {
  fbnic::vfio::Options options;
  bool verbose = false;
  std::vector<std::string> addresses;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      usage(stdout);
      return 0;
    }
    if (arg == "--verbose" || arg == "-v") {
      verbose = true;
    } else if (arg == "--iommu" && i + 1 < argc) {
      if (!fbnic::tool::parse_iommu_mode(argv[++i], options.iommu)) {
        std::fprintf(stderr, "fbnic-info: unknown IOMMU mode '%s'\n", argv[i]);
        usage(stderr);
        return 2;
      }
    } else if (!arg.empty() && arg[0] == '-') {
      std::fprintf(stderr, "fbnic-info: unknown option '%s'\n", arg.c_str());
      usage(stderr);
      return 2;
    } else {
      addresses.push_back(arg);
    }
  }
  if (addresses.empty()) addresses = fbnic::tool::find_fbnic_devices("fbnic-info");
  if (addresses.empty()) return 1;
  options.log = fbnic::tool::warnings_to_stderr(verbose);

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
    if (is_fbnic) print_device_summary(platform);
  }
  return failures == 0 ? 0 : 1;
}
