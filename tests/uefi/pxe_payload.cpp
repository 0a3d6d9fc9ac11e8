// pxe.efi: what the PXE boot test has OVMF download from dnsmasq's TFTP server and run.
//
// Started by OVMF's own "UEFI PXEv4" boot option over fbnic.efi's Simple Network
// Protocol, it prints the handle it was loaded from (its MAC address, from the SNP there),
// calls ExitBootServices (fbnic.efi's notification stops the device's DMA and turns bus
// mastering off), prints one line on the serial port, `FBNIC-PXE: PASS mac=... ebs=ok`
// (or FAIL and why), and powers the machine off. The emulator's counters then show
// whether any DMA happened after bus mastering went off.
#include <fbnic/bare/uefi/driver_model.hpp>
#include <fbnic/bare/uefi/efi.hpp>
#include <fbnic/bare/uefi/simple_network.hpp>
#include <fbnic/base/log.hpp>

#include <cstddef>
#include <cstdint>

namespace {

namespace uefi = fbnic::bare::uefi;

alignas(8) constinit std::byte g_memory_map[64 * 1024]{};

void print(uefi::SystemTable* st, const char* s) {
  char16_t buf[fbnic::LogLine::kCapacity + 3];
  std::size_t n = 0;
  for (; *s != '\0' && n < fbnic::LogLine::kCapacity; ++s)
    buf[n++] = static_cast<char16_t>(static_cast<unsigned char>(*s));
  buf[n++] = u'\r';
  buf[n++] = u'\n';
  buf[n] = 0;
  st->con_out->output_string(st->con_out, buf);
}

// After ExitBootServices: straight to COM1, which OVMF's console used.
void serial_print(const char* s) {
  auto put = [](char c) {
#if defined(__x86_64__)
    constexpr std::uint16_t kCom1 = 0x3F8;
    for (int i = 0; i < 100000; ++i) {
      std::uint8_t lsr;
      __asm__ __volatile__("inb %1, %0" : "=a"(lsr) : "Nd"(std::uint16_t{kCom1 + 5}));
      if ((lsr & 0x20u) != 0) break;  // transmit holding register empty
    }
    __asm__ __volatile__("outb %0, %1" : : "a"(c), "Nd"(kCom1));
#else
    (void)c;
#endif
  };
  for (; *s != '\0'; ++s) put(*s);
  put('\r');
  put('\n');
}

void put_mac(fbnic::LogLine& l, const uefi::MacAddr& mac) {
  for (int i = 0; i < 6; ++i) {
    const unsigned b = mac.addr[i];
    const char hex[] = {"0123456789abcdef"[b >> 4], "0123456789abcdef"[b & 15], '\0'};
    l << (i == 0 ? "" : ":") << static_cast<const char*>(hex);
  }
}

}  // namespace

extern "C" uefi::Status FBNIC_EFIAPI efi_main(uefi::Handle image, uefi::SystemTable* st) {
  uefi::BootServices* bs = st->boot_services;
  bs->set_watchdog_timer(0, 0, 0, nullptr);
  fbnic::LogLine result;
  bool ok = false;
  void* loaded = nullptr;
  void* snp = nullptr;
  if (uefi::is_error(bs->handle_protocol(image, &uefi::kLoadedImageProtocolGuid, &loaded))) {
    result << "FBNIC-PXE: FAIL no LoadedImage";
  } else if (uefi::is_error(bs->handle_protocol(static_cast<uefi::LoadedImage*>(loaded)->device_handle,
                                                &uefi::kSimpleNetworkProtocolGuid, &snp))) {
    result << "FBNIC-PXE: FAIL not loaded from a network device";
  } else {
    const uefi::SimpleNetworkMode& mode = *static_cast<uefi::SimpleNetwork*>(snp)->mode;
    fbnic::LogLine l;
    l << "FBNIC-PXE: loaded over SNP, MAC ";
    put_mac(l, mode.current_address);
    l << ", state " << static_cast<unsigned>(mode.state) << ", media "
      << static_cast<unsigned>(mode.media_present) << "; calling ExitBootServices";
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
    ok = ebs == uefi::kSuccess;
    result << "FBNIC-PXE: " << (ok ? "PASS" : "FAIL") << " mac=";
    put_mac(result, mode.current_address);
    result << " ebs=" << (ok ? "ok" : "failed");
  }
  if (ok) {
    serial_print(result.c_str());
  } else {
    print(st, result.c_str());
  }
  st->runtime_services->reset_system(uefi::ResetType::kShutdown, uefi::kSuccess, 0, nullptr);
  return uefi::kSuccess;
}
