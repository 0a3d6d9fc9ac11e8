#include "fbnic/vfio/pci.hpp"

#include <cstdlib>

#include "sys.hpp"

namespace fbnic::vfio {
namespace {

constexpr const char* kPciDevices = "/sys/bus/pci/devices/";

bool all_hex(std::string_view s) {
  for (const char c : s) {
    const bool digit = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (!digit) return false;
  }
  return !s.empty();
}

std::optional<std::uint16_t> read_id(const std::string& path) {
  const auto text = detail::read_line(path);
  if (!text) return std::nullopt;
  char* end = nullptr;
  const unsigned long v = std::strtoul(text->c_str(), &end, 16);
  if (end == text->c_str() || v > 0xffff) return std::nullopt;
  return static_cast<std::uint16_t>(v);
}

}  // namespace

Result<std::string> normalize_pci_address(std::string_view text) {
  std::string_view domain = "0000";
  std::string_view rest = text;
  if (text.size() == 12 && text[4] == ':') {
    domain = text.substr(0, 4);
    rest = text.substr(5);
  }
  // BB:DD.F
  if (rest.size() != 7 || rest[2] != ':' || rest[5] != '.') return Error::kInvalidArgument;
  const std::string_view bus = rest.substr(0, 2);
  const std::string_view dev = rest.substr(3, 2);
  const std::string_view fn = rest.substr(6, 1);
  if (!all_hex(domain) || !all_hex(bus) || !all_hex(dev) || !all_hex(fn)) {
    return Error::kInvalidArgument;
  }
  // Device numbers stop at 0x1f, functions at 7.
  if (std::strtoul(std::string(dev).c_str(), nullptr, 16) > 0x1f || fn[0] > '7') {
    return Error::kInvalidArgument;
  }
  std::string out;
  for (const char c : std::string(domain) + ":" + std::string(rest)) {
    out.push_back(c >= 'A' && c <= 'F' ? static_cast<char>(c - 'A' + 'a') : c);
  }
  return out;
}

std::vector<std::string> find_pci_devices(PciId id) {
  std::vector<std::string> found;
  for (const std::string& address : detail::list_dir(kPciDevices)) {
    const auto r = pci_id(address);
    if (r.ok() && r->vendor == id.vendor && r->device == id.device) found.push_back(address);
  }
  return found;
}

Result<PciId> pci_id(const std::string& address) {
  const std::string dir = kPciDevices + address;
  const auto vendor = read_id(dir + "/vendor");
  const auto device = read_id(dir + "/device");
  if (!vendor || !device) return Error::kInvalidArgument;
  return PciId{*vendor, *device};
}

std::string pci_driver(const std::string& address) {
  return detail::link_name(kPciDevices + address + "/driver");
}

std::string vfio_bind_commands(const std::string& address) {
  const std::string dev = kPciDevices + address;
  std::string out;
  if (!detail::exists("/sys/bus/pci/drivers/vfio-pci")) out += "  modprobe vfio-pci\n";
  if (!pci_driver(address).empty()) out += "  echo " + address + " > " + dev + "/driver/unbind\n";
  out += "  echo vfio-pci > " + dev + "/driver_override\n";
  out += "  echo " + address + " > /sys/bus/pci/drivers_probe\n";
  return out;
}

}  // namespace fbnic::vfio
