// What fbnic-info and fbnic-pktgen share: choosing devices, opening them with a clear
// error, and the IOMMU mode flag.
#pragma once

#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "fbnic/vfio/pci.hpp"
#include "fbnic/vfio/platform.hpp"

namespace fbnic::tool {

inline bool parse_iommu_mode(std::string_view text, vfio::IommuMode& mode) {
  for (const auto m : {vfio::IommuMode::kAuto, vfio::IommuMode::kType1, vfio::IommuMode::kIommufd,
                       vfio::IommuMode::kNoIommu}) {
    if (text == vfio::iommu_mode_name(m)) {
      mode = m;
      return true;
    }
  }
  return false;
}

// The fbnic functions in sysfs, or an explanation on stderr and an empty list.
inline std::vector<std::string> find_fbnic_devices(const char* tool) {
  auto found = vfio::find_pci_devices(vfio::kFbnicPciId);
  if (found.empty()) {
    std::fprintf(stderr,
                 "%s: no fbnic device found (no PCI device with ID 1d9b:0013 in "
                 "/sys/bus/pci/devices)\n"
                 "fix: check that the card is seated and powered and that `lspci -nn -d 1d9b:` "
                 "lists it; to open another device, name it: %s DDDD:BB:DD.F\n",
                 tool, tool);
  }
  return found;
}

// Prints the backend's explanation (what happened, then the fix) for a failed call.
inline void print_failure(const char* tool, const vfio::Platform& platform, Status status) {
  std::fprintf(stderr, "%s: error (%s; %s): %s\n", tool, problem_name(platform.last_problem()),
               status.name(), platform.last_error().c_str());
}

// The tools print errors themselves (with the fix), so the log shows warnings only.
inline vfio::LogSink warnings_to_stderr(bool verbose) {
  return [verbose](LogLevel level, const char* line) {
    if (level == LogLevel::kWarning || (verbose && level >= LogLevel::kInfo)) {
      std::fprintf(stderr, "[%s] %s\n", level_name(level), line);
    }
  };
}

}  // namespace fbnic::tool
