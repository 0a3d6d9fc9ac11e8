// pxe.efi: what the PXE boot test has OVMF download from dnsmasq's TFTP server and run
// (x86_64 only: it reads PCI configuration space through ports 0xCF8/0xCFC).
//
// Started by OVMF's own "UEFI PXEv4" boot option over fbnic.efi's Simple Network
// Protocol, it prints the handle it was loaded from (the MAC address from the SNP there,
// the PCI device from its device path), and calls ExitBootServices while the protocol is
// still initialized (PXE leaves it so): fbnic.efi's notification must stop the device's
// DMA and turn bus mastering off. Then it reads the NIC's PCI command register 2,000 times
// (each read a round trip to the emulator, about half a second in all) and checks that
// bus mastering stays off, prints one line on the serial port, `FBNIC-PXE: PASS mac=...
// ebs=ok bme=off` (or FAIL and why), and powers the machine off. The emulator's counters
// then show whether any DMA happened after bus mastering went off.
#include <fbnic/bare/uefi/console.hpp>
#include <fbnic/bare/uefi/device_path.hpp>
#include <fbnic/bare/uefi/driver_model.hpp>
#include <fbnic/bare/uefi/efi.hpp>
#include <fbnic/bare/uefi/simple_network.hpp>
#include <fbnic/base/log.hpp>

#include <cstddef>
#include <cstdint>

#if !defined(__x86_64__)
#error "pxe.efi is for x86_64 (port I/O for the serial port and PCI configuration space)"
#endif

namespace {

namespace uefi = fbnic::bare::uefi;

alignas(8) constinit std::byte g_memory_map[64 * 1024]{};

void print(uefi::SystemTable* st, const char* s) { uefi::print_line(st->con_out, s); }

std::uint8_t inb(std::uint16_t port) {
  std::uint8_t v;
  __asm__ __volatile__("inb %1, %0" : "=a"(v) : "Nd"(port));
  return v;
}
void outb(std::uint8_t v, std::uint16_t port) {
  __asm__ __volatile__("outb %0, %1" : : "a"(v), "Nd"(port));
}
std::uint32_t inl(std::uint16_t port) {
  std::uint32_t v;
  __asm__ __volatile__("inl %1, %0" : "=a"(v) : "Nd"(port));
  return v;
}
void outl(std::uint32_t v, std::uint16_t port) {
  __asm__ __volatile__("outl %0, %1" : : "a"(v), "Nd"(port));
}

// After ExitBootServices: straight to COM1, which OVMF's console used.
void serial_print(const char* s) {
  constexpr std::uint16_t kCom1 = 0x3F8;
  auto put = [](char c) {
    for (int i = 0; i < 100000 && (inb(kCom1 + 5) & 0x20u) == 0; ++i) {
    }
    outb(static_cast<std::uint8_t>(c), kCom1);
  };
  for (; *s != '\0'; ++s) put(*s);
  put('\r');
  put('\n');
}

// The command register of bus 0, device dev, function fn (configuration mechanism #1).
std::uint16_t pci_command(unsigned dev, unsigned fn) {
  outl(0x8000'0000u | (dev << 11) | (fn << 8) | 0x04u, 0xCF8);
  return static_cast<std::uint16_t>(inl(0xCFC) & 0xFFFFu);
}

void put_mac(fbnic::LogLine& l, const uefi::MacAddr& mac) {
  for (int i = 0; i < 6; ++i) {
    const unsigned b = mac.addr[i];
    const char hex[] = {"0123456789abcdef"[b >> 4], "0123456789abcdef"[b & 15], '\0'};
    l << (i == 0 ? "" : ":") << static_cast<const char*>(hex);
  }
}

// The first Pci(dev,fn) node of a device path (the test's NIC sits on the root bus);
// false if there is none within the path's bound.
bool pci_node(const uefi::DevicePath* path, unsigned& dev, unsigned& fn) {
  const auto* p = reinterpret_cast<const std::uint8_t*>(path);
  for (std::size_t at = 0; at + 4 <= uefi::kMaxDevicePathBytes;) {
    const std::size_t len = p[at + 2] | (std::size_t{p[at + 3]} << 8);
    if (p[at] == uefi::kEndDevicePath || len < 4) return false;
    if (p[at] == 0x01 && p[at + 1] == 0x01 && len >= 6) {  // hardware path, PCI
      fn = p[at + 4];
      dev = p[at + 5];
      return true;
    }
    at += len;
  }
  return false;
}

}  // namespace

extern "C" uefi::Status FBNIC_EFIAPI efi_main(uefi::Handle image, uefi::SystemTable* st) {
  uefi::BootServices* bs = st->boot_services;
  bs->set_watchdog_timer(0, 0, 0, nullptr);
  fbnic::LogLine result;
  bool ok = false;
  void* loaded = nullptr;
  void* snp = nullptr;
  void* path = nullptr;
  unsigned dev = 0;
  unsigned fn = 0;
  uefi::Handle device = nullptr;
  if (uefi::is_error(bs->handle_protocol(image, &uefi::kLoadedImageProtocolGuid, &loaded))) {
    result << "FBNIC-PXE: FAIL no LoadedImage";
  } else if (device = static_cast<uefi::LoadedImage*>(loaded)->device_handle;
             uefi::is_error(bs->handle_protocol(device, &uefi::kSimpleNetworkProtocolGuid, &snp))) {
    result << "FBNIC-PXE: FAIL not loaded from a network device";
  } else if (uefi::is_error(bs->handle_protocol(device, &uefi::kDevicePathProtocolGuid, &path)) ||
             !pci_node(static_cast<const uefi::DevicePath*>(path), dev, fn)) {
    result << "FBNIC-PXE: FAIL the network device has no PCI node in its path";
  } else {
    const uefi::SimpleNetworkMode& mode = *static_cast<uefi::SimpleNetwork*>(snp)->mode;
    fbnic::LogLine l;
    l << "FBNIC-PXE: loaded over SNP, MAC ";
    put_mac(l, mode.current_address);
    l << " at 00:" << static_cast<std::uint64_t>(dev) << "." << static_cast<std::uint64_t>(fn)
      << ", state " << static_cast<unsigned>(mode.state) << ", media "
      << static_cast<unsigned>(mode.media_present) << ", command register "
      << fbnic::Hex{pci_command(dev, fn)} << "; calling ExitBootServices";
    print(st, l.c_str());
    uefi::Status ebs = uefi::kInvalidParameter;
    for (int attempt = 0; attempt < 2 && ebs != uefi::kSuccess; ++attempt) {
      std::uintptr_t size = sizeof g_memory_map;
      std::uintptr_t key = 0;
      std::uintptr_t descriptor_size = 0;
      std::uint32_t version = 0;
      ebs = bs->get_memory_map(&size, reinterpret_cast<uefi::MemoryDescriptor*>(g_memory_map), &key,
                               &descriptor_size, &version);
      if (ebs == uefi::kSuccess) ebs = bs->exit_boot_services(image, key);
    }
    std::uint32_t master_on = 0;
    for (int i = 0; i < 2000 && ebs == uefi::kSuccess; ++i) {
      if ((pci_command(dev, fn) & 0x4u) != 0) ++master_on;
    }
    ok = ebs == uefi::kSuccess && master_on == 0;
    result << "FBNIC-PXE: " << (ok ? "PASS" : "FAIL") << " mac=";
    put_mac(result, mode.current_address);
    result << " ebs=" << (ebs == uefi::kSuccess ? "ok" : "failed")
           << " bme=" << (master_on == 0 ? "off" : "ON");
  }
  if (device != nullptr && snp != nullptr && path != nullptr) {
    serial_print(result.c_str());  // boot services may be gone
  } else {
    print(st, result.c_str());
  }
  st->runtime_services->reset_system(uefi::ResetType::kShutdown, uefi::kSuccess, 0, nullptr);
  return uefi::kSuccess;
}
