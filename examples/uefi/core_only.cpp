// core_only: the size of the library itself in a UEFI image, without the device model.
//
// fbnic::Device over bare::Platform<MmioRegisters, DmaPool> (real hardware at given BAR
// addresses), with every entry point a driver uses kept alive: open (datapath, firmware
// handshake, queues, classifier, link), the link wait, a Tx batch, an Rx poll and release,
// Tx reclaim, service (heartbeat, link) and close. tests/uefi/run.sh links it into an .efi
// and reports its .text. Run, it looks for fbnic through PciIo and, finding none (as under
// QEMU), says so and returns; it never touches hardware it did not find.
#include <fbnic/bare/uefi/uefi.hpp>
#include <fbnic/fbnic.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <new>
#include <span>

namespace {

using namespace fbnic;
namespace uefi = fbnic::bare::uefi;

using Pool = bare::DmaPool<64>;
using Plat = bare::Platform<bare::MmioRegisters, Pool>;
using Nic = Device<Plat>;

// Static storage, built in efi_main: no constructor runs before it.
alignas(Nic) constinit std::byte g_nic_storage[sizeof(Nic)]{};
alignas(Plat) constinit std::byte g_platform_storage[sizeof(Plat)]{};
constinit Pool g_pool{};
constinit uefi::CpuClock g_clock{};

// The whole driver-facing surface of the core, as a driver would call it.
Status run(Plat& platform, std::uint64_t frame_dma, std::uint32_t frame_len) {
  Nic* nic = new (g_nic_storage) Nic(platform);
  DeviceConfig cfg;
  cfg.mac = MacAddress{{0x02, 0x1D, 0x9B, 0, 0, 1}};
  FBNIC_TRY(nic->open(cfg));
  FBNIC_TRY(nic->wait_link_up(Deadline::after_us(platform.now_ns(), 5'000'000)));
  const TxBuffer buf{frame_dma, frame_len};
  const TxPacket pkt{std::span(&buf, 1), {}, 1};
  FBNIC_TRY(nic->tx(0).send(std::span(&pkt, 1)).status);
  std::array<Nic::Rx::Packet, 8> rx;
  const std::uint32_t n = nic->rx(0).poll(rx);
  nic->rx(0).release(std::span<const Nic::Rx::Packet>(rx.data(), n));
  nic->tx(0).reclaim([](std::uint64_t) {});
  FBNIC_TRY(nic->service());
  return nic->close();
}

}  // namespace

extern "C" uefi::Status FBNIC_EFIAPI efi_main(uefi::Handle /*image*/, uefi::SystemTable* st) {
  uefi::PciDevice dev;
  if (uefi::PciDevice::find(st->boot_services, uefi::kMetaVendorId, uefi::kFbnicDeviceId, &dev) !=
      uefi::kSuccess) {
    st->con_out->output_string(st->con_out, u"core_only: no fbnic\r\n");
    return uefi::kNotFound;
  }
  // Never reached under QEMU: real BAR addresses would come from PciIo GetBarAttributes.
  g_clock.calibrate(st->boot_services);
  Plat* platform =
      new (g_platform_storage) Plat(bare::MmioRegisters(0, 0), g_pool, bare::Clock::to(g_clock));
  return uefi::efi_status(run(*platform, 0, 60));
}
