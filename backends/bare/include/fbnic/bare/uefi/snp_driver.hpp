// SnpDriver: fbnic as a UEFI Driver Model driver that publishes the Simple Network
// Protocol, so that the firmware's own network stack (MNP, IP, DHCP, PXE, HTTP boot) runs
// over it. It is what drivers/uefi/fbnic_driver.cpp installs; tests/uefi/driver.sh runs it
// in OVMF (tests/bare_test.cpp covers the SnpAdapter under it).
//
//   Supported(controller)  PciIo opened BY_DRIVER (so a managed or a foreign controller is
//                          refused by the firmware), vendor and device ID 1d9b:0013
//   Start(controller)      PciIo BY_DRIVER; memory decoding and bus mastering through
//                          PciIo Attributes (the original ones are kept); the station
//                          address from the PCIe Device Serial Number; one bring-up and
//                          teardown of the device (SnpAdapter::probe), so that a device
//                          that reads all ones or whose firmware stays silent is refused
//                          within the firmware timeout and nothing is published; then a
//                          child handle with the parent's device path plus a MAC node, SNP
//                          (Stopped, no DMA until Initialize), PciIo opened
//                          BY_CHILD_CONTROLLER, and the adapter's events (WaitForPacket,
//                          the heartbeat and link timer, ExitBootServices)
//   Stop(controller, child) the child: PciIo BY_CHILD_CONTROLLER closed, SNP and its device
//                          path uninstalled (if anyone still holds SNP, that fails and
//                          everything is put back), the device shut down if it was up
//                          (every DMA buffer unmapped and freed), the events closed
//   Stop(controller)       the child if it is still there, the original PCI attributes
//                          back (bus mastering off if it was), PciIo closed, memory freed
//   Unload                 DisconnectController on every managed controller; if one cannot
//                          be stopped, Unload fails with its status and the driver stays
//                          (still managing it); otherwise Driver Binding and Component
//                          Name 2 are uninstalled and the image may go
//
// Every controller's state lives in one pool allocation; the driver itself keeps only a
// list of them, so any number of NICs is managed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <optional>

#include "fbnic/bare/clock.hpp"
#include "fbnic/bare/log_sink.hpp"
#include "fbnic/bare/platform.hpp"
#include "fbnic/bare/uefi/device_path.hpp"
#include "fbnic/bare/uefi/driver_model.hpp"
#include "fbnic/bare/uefi/efi.hpp"
#include "fbnic/bare/uefi/pci_device.hpp"
#include "fbnic/bare/uefi/pci_io.hpp"
#include "fbnic/bare/uefi/pci_io_dma.hpp"
#include "fbnic/bare/uefi/pci_io_registers.hpp"
#include "fbnic/bare/uefi/simple_network.hpp"
#include "fbnic/bare/uefi/snp_adapter.hpp"
#include "fbnic/base/bytes.hpp"
#include "fbnic/base/mac_address.hpp"
#include "fbnic/mac/address.hpp"

namespace fbnic::bare::uefi {

struct DriverConfig {
  Clock clock;                                 // the platform's clock (CpuClock in firmware)
  LogSink log;                                 // where the core's error lines go
  std::uint32_t firmware_timeout_ms = 10'000;  // each firmware exchange, as upstream waits
  std::uint32_t service_period_ms = 1'000;     // heartbeat and link timer
  // Initialize's wait for the link: its training time (mac::LinkOptions, 4 s) and some.
  std::uint32_t link_wait_ms = 7'000;
  std::uint32_t binding_version = 0x10;
};

// The Device Serial Number from the PCI Express extended capability list, or nothing when
// the function has no extended configuration space (a conventional PCI function, as
// QEMU's proxy presents one) or no DSN capability.
inline std::optional<std::uint64_t> read_dsn(PciIo* io) {
  constexpr std::uint32_t kFirstExtended = 0x100;
  constexpr std::uint32_t kDsnCapabilityId = 0x0003;
  std::uint32_t at = kFirstExtended;
  // Each header: ID [15:0], version [19:16], next [31:20]. At most one capability per
  // dword of extended space, so a list that loops ends.
  for (std::uint32_t seen = 0; seen < 960 && at >= kFirstExtended && at <= 0xFF4; ++seen) {
    std::uint32_t header = 0;
    if (is_error(io->pci.read(io, PciIoWidth::kUint32, at, 1, &header)) || header == 0 ||
        header == 0xFFFF'FFFFu) {
      return std::nullopt;
    }
    if ((header & 0xFFFFu) == kDsnCapabilityId) {
      std::uint32_t dsn[2] = {};
      if (is_error(io->pci.read(io, PciIoWidth::kUint32, at + 4, 2, dsn))) return std::nullopt;
      return (std::uint64_t{dsn[1]} << 32) | dsn[0];
    }
    at = (header >> 20) & 0xFFCu;
  }
  return std::nullopt;
}

// The station address as upstream makes it from the serial number (mac::mac_from_dsn).
// Without a serial number, or with one that gives no unicast address, a locally
// administered address from the PCI location, unique in this machine:
// 02:1d:9b:segment:bus:device.function.
inline MacAddress station_address(std::optional<std::uint64_t> dsn, const PciLocation& at) {
  if (dsn) {
    if (const Result<MacAddress> m = mac::mac_from_dsn(*dsn); m.ok()) return *m;
  }
  MacAddress mac;
  mac.bytes = {0x02,
               0x1D,
               0x9B,
               static_cast<std::uint8_t>(at.segment),
               static_cast<std::uint8_t>(at.bus),
               static_cast<std::uint8_t>((at.device << 3) | (at.function & 7u))};
  return mac;
}

class SnpDriver {
 public:
  // The core's log lines short (fbnic::log_text): in full they do not fit the driver's
  // 48 KiB. Its own lines (a controller refused, a failed bring-up with the Status's name)
  // stay whole.
  using Plat = bare::Platform<PciIoRegisters, PciIoDma, LogText::kShort>;
  using Snp = SnpAdapter<Plat>;

  constexpr SnpDriver() = default;
  SnpDriver(const SnpDriver&) = delete;
  SnpDriver& operator=(const SnpDriver&) = delete;

  // Installs Driver Binding and Component Name 2 on the image's handle.
  Status install(Handle image, BootServices* bs, const DriverConfig& config) {
    if (bs_ != nullptr) return kAlreadyStarted;
    bs_ = bs;
    config_ = config;
    image_ = image;
    binding_.protocol = {&supported_entry,       &start_entry, &stop_entry,
                         config.binding_version, image,        image};
    binding_.self = this;
    names_.protocol = {&driver_name_entry, &controller_name_entry, "en"};
    names_.self = this;
    Handle handle = image;
    Status st =
        bs->install_protocol_interface(&handle, &kDriverBindingProtocolGuid, 0, &binding_.protocol);
    if (is_error(st)) return st;
    st = bs->install_protocol_interface(&handle, &kComponentName2ProtocolGuid, 0, &names_.protocol);
    if (is_error(st)) {
      bs->uninstall_protocol_interface(image, &kDriverBindingProtocolGuid, &binding_.protocol);
    }
    return st;
  }

  // Stops every controller (DisconnectController) and then uninstalls the driver. A
  // controller that cannot be stopped stops the unload: the driver stays, managing it.
  Status unload() {
    while (controllers_ != nullptr) {
      const Controller* first = controllers_;
      const Status st = bs_->disconnect_controller(first->handle, image_, nullptr);
      if (is_error(st)) return st;
      if (controllers_ == first) return kDeviceError;  // "stopped" but still here
    }
    Status st =
        bs_->uninstall_protocol_interface(image_, &kComponentName2ProtocolGuid, &names_.protocol);
    if (is_error(st)) return st;
    st = bs_->uninstall_protocol_interface(image_, &kDriverBindingProtocolGuid, &binding_.protocol);
    if (is_error(st)) {
      bs_->install_protocol_interface(&image_, &kComponentName2ProtocolGuid, 0, &names_.protocol);
    }
    return st;
  }

  [[nodiscard]] DriverBinding* binding() { return &binding_.protocol; }
  [[nodiscard]] ComponentName2* names() { return &names_.protocol; }
  [[nodiscard]] std::size_t controllers() const {
    std::size_t n = 0;
    for (const Controller* c = controllers_; c != nullptr; c = c->next) ++n;
    return n;
  }
  // The adapter of a managed controller (tests and diagnostics); nullptr if not managed.
  [[nodiscard]] Snp* adapter(Handle controller) {
    Controller* c = find(controller);
    return c == nullptr ? nullptr : &c->snp;
  }
  [[nodiscard]] Handle child(Handle controller) {
    Controller* c = find(controller);
    return c == nullptr ? nullptr : c->child;
  }

  // The shell's `drivers` shows 35 characters of it.
  static constexpr const char16_t* kDriverName = u"Meta fbnic SNP Driver";
  static constexpr const char16_t* kControllerName = u"Meta fbnic Ethernet Controller";
  static constexpr const char16_t* kChildName = u"fbnic Simple Network Protocol";

 private:
  struct Controller {
    Controller(SnpDriver& d, Handle h, PciIo* io)
        : handle(h),
          pci(h, io),
          dma(io),
          platform(PciIoRegisters(io), dma, d.config_.clock, d.config_.log),
          snp(platform, d.bs_, snp_config(d.config_, pci)) {}

    static SnpConfig snp_config(const DriverConfig& dc, PciDevice& pci) {
      SnpConfig c;
      c.device.mac = station_address(read_dsn(pci.pci_io()), pci.location());
      c.device.firmware_timeout_ms = dc.firmware_timeout_ms;
      c.service_period_ms = dc.service_period_ms;
      c.link_wait_ms = dc.link_wait_ms;
      c.stop_bus_master = [](void* p) { static_cast<PciDevice*>(p)->disable_bus_master(); };
      c.stop_bus_master_ctx = &pci;
      return c;
    }

    Controller* next = nullptr;
    Handle handle;
    PciDevice pci;
    PciIoDma dma;
    Plat platform;
    Snp snp;
    Handle child = nullptr;
    DevicePath* path = nullptr;
  };

  // The protocol tables, each followed by the way back to the driver.
  struct BindingInstance {
    DriverBinding protocol{};
    SnpDriver* self = nullptr;
  };
  struct NamesInstance {
    ComponentName2 protocol{};
    SnpDriver* self = nullptr;
  };

  static SnpDriver& of(DriverBinding* p) { return *reinterpret_cast<BindingInstance*>(p)->self; }
  static SnpDriver& of(ComponentName2* p) { return *reinterpret_cast<NamesInstance*>(p)->self; }

  static Status FBNIC_EFIAPI supported_entry(DriverBinding* self, Handle controller,
                                             DevicePath* /*remaining*/) {
    return of(self).supported(controller);
  }
  static Status FBNIC_EFIAPI start_entry(DriverBinding* self, Handle controller,
                                         DevicePath* /*remaining*/) {
    return of(self).start(controller);
  }
  static Status FBNIC_EFIAPI stop_entry(DriverBinding* self, Handle controller,
                                        std::uintptr_t children, Handle* child_handles) {
    return of(self).stop(controller, children, child_handles);
  }
  static Status FBNIC_EFIAPI driver_name_entry(ComponentName2* self, const char* language,
                                               const char16_t** name) {
    (void)self;
    if (language == nullptr || name == nullptr) return kInvalidParameter;
    if (!english(language)) return kUnsupported;
    *name = kDriverName;
    return kSuccess;
  }
  static Status FBNIC_EFIAPI controller_name_entry(ComponentName2* self, Handle controller,
                                                   Handle child, const char* language,
                                                   const char16_t** name) {
    if (controller == nullptr || language == nullptr || name == nullptr) return kInvalidParameter;
    const Controller* c = of(self).find(controller);
    if (c == nullptr || (child != nullptr && child != c->child)) return kUnsupported;
    if (!english(language)) return kUnsupported;
    *name = child == nullptr ? kControllerName : kChildName;
    return kSuccess;
  }

  // "en", or a tag that starts with it ("en-US").
  static bool english(const char* language) {
    return language[0] == 'e' && language[1] == 'n' && (language[2] == '\0' || language[2] == '-');
  }

  Controller* find(Handle controller) {
    for (Controller* c = controllers_; c != nullptr; c = c->next) {
      if (c->handle == controller) return c;
    }
    return nullptr;
  }

  // Called often and must not change anything: open, read the ID, close.
  Status supported(Handle controller) {
    void* io = nullptr;
    Status st =
        bs_->open_protocol(controller, &kPciIoProtocolGuid, &io, image_, controller, kOpenByDriver);
    if (is_error(st)) return st;  // kAlreadyStarted when it is ours, kAccessDenied when taken
    st = is_fbnic(static_cast<PciIo*>(io)) ? kSuccess : kUnsupported;
    bs_->close_protocol(controller, &kPciIoProtocolGuid, image_, controller);
    return st;
  }

  static bool is_fbnic(PciIo* io) {
    std::uint32_t id = 0;
    if (is_error(io->pci.read(io, PciIoWidth::kUint32, 0, 1, &id))) return false;
    return (id & 0xFFFFu) == kMetaVendorId && (id >> 16) == kFbnicDeviceId;
  }

  Status start(Handle controller) {
    if (find(controller) != nullptr) return kAlreadyStarted;
    void* io = nullptr;
    Status st =
        bs_->open_protocol(controller, &kPciIoProtocolGuid, &io, image_, controller, kOpenByDriver);
    if (is_error(st)) return st;
    void* memory = nullptr;
    void* parent = nullptr;
    if (!is_fbnic(static_cast<PciIo*>(io))) {
      st = kUnsupported;
    } else {
      st = bs_->open_protocol(controller, &kDevicePathProtocolGuid, &parent, image_, controller,
                              kOpenGetProtocol);
    }
    if (!is_error(st))
      st = bs_->allocate_pool(MemoryType::kBootServicesData, sizeof(Controller), &memory);
    if (is_error(st)) {
      bs_->close_protocol(controller, &kPciIoProtocolGuid, image_, controller);
      return st;
    }
    auto* c = ::new (memory) Controller(*this, controller, static_cast<PciIo*>(io));
    const std::uint64_t t0 = c->platform.now_ns();
    st = c->pci.enable();
    if (!is_error(st)) {
      st = c->snp.probe();
      if (is_error(st)) {
        log_always(c->platform, LogLevel::kError, "fbnic: controller not started after ",
                   (c->platform.now_ns() - t0) / 1'000'000,
                   " ms: the device did not come up (EFI status ", Hex{st}, ")");
        st = kDeviceError;
      }
    }
    if (!is_error(st)) st = add_child(*c, static_cast<DevicePath*>(parent));
    if (is_error(st)) {
      c->pci.restore();
      c->~Controller();
      bs_->free_pool(memory);
      bs_->close_protocol(controller, &kPciIoProtocolGuid, image_, controller);
      return st;
    }
    c->next = controllers_;
    controllers_ = c;
    return kSuccess;
  }

  // The child: its device path (the controller's plus a MAC node), SNP, and PciIo opened
  // on its behalf, so that the firmware knows whose child it is.
  Status add_child(Controller& c, const DevicePath* parent) {
    const std::size_t parent_bytes = device_path_bytes(parent);
    if (parent_bytes == kBrokenDevicePath) return kInvalidParameter;
    const std::size_t bytes = parent_bytes + sizeof(MacAddressNode) + sizeof(DevicePath);
    void* memory = nullptr;
    Status st = bs_->allocate_pool(MemoryType::kBootServicesData, bytes, &memory);
    if (is_error(st)) return st;
    auto* path = static_cast<std::uint8_t*>(memory);
    copy_bytes(path, parent, parent_bytes);
    MacAddressNode mac{};
    mac.header = {kMessagingDevicePath, kMacAddressSubtype, {}};
    set_node_length(mac.header, sizeof mac);
    copy_bytes(mac.mac, c.snp.mode().permanent_address.addr, 6);
    mac.if_type = c.snp.mode().if_type;
    copy_bytes(path + parent_bytes, &mac, sizeof mac);
    DevicePath end{kEndDevicePath, kEndEntireSubtype, {}};
    set_node_length(end, sizeof end);
    copy_bytes(path + parent_bytes + sizeof mac, &end, sizeof end);
    c.path = reinterpret_cast<DevicePath*>(path);

    st = c.snp.attach();
    Handle child = nullptr;
    if (!is_error(st)) {
      st = bs_->install_protocol_interface(&child, &kDevicePathProtocolGuid, 0, c.path);
      if (is_error(st)) c.snp.detach();
    }
    if (!is_error(st)) {
      st =
          bs_->install_protocol_interface(&child, &kSimpleNetworkProtocolGuid, 0, c.snp.protocol());
      if (is_error(st)) {
        bs_->uninstall_protocol_interface(child, &kDevicePathProtocolGuid, c.path);
        c.snp.detach();
      }
    }
    if (!is_error(st)) {
      void* io = nullptr;
      st = bs_->open_protocol(c.handle, &kPciIoProtocolGuid, &io, image_, child,
                              kOpenByChildController);
      if (is_error(st)) {
        bs_->uninstall_protocol_interface(child, &kSimpleNetworkProtocolGuid, c.snp.protocol());
        bs_->uninstall_protocol_interface(child, &kDevicePathProtocolGuid, c.path);
        c.snp.detach();
      }
    }
    if (is_error(st)) {
      bs_->free_pool(c.path);
      c.path = nullptr;
      return st;
    }
    c.child = child;
    return kSuccess;
  }

  Status stop(Handle controller, std::uintptr_t children, const Handle* child_handles) {
    Controller* c = find(controller);
    if (c == nullptr) return kDeviceError;
    if (children != 0) {
      for (std::uintptr_t i = 0; i < children; ++i) {
        if (child_handles == nullptr || child_handles[i] != c->child) return kInvalidParameter;
      }
      return remove_child(*c);
    }
    if (c->child != nullptr) {
      if (const Status st = remove_child(*c); is_error(st)) return st;
    }
    c->pci.restore();
    bs_->close_protocol(controller, &kPciIoProtocolGuid, image_, controller);
    for (Controller** p = &controllers_; *p != nullptr; p = &(*p)->next) {
      if (*p == c) {
        *p = c->next;
        break;
      }
    }
    c->~Controller();
    bs_->free_pool(c);
    return kSuccess;
  }

  // The child's PciIo open goes first (a closed handle cannot be named afterwards), then
  // its protocols. Uninstalling SNP makes the firmware stop whoever opened it (MNP); if one
  // refuses, everything is put back as it was and its status is returned.
  Status remove_child(Controller& c) {
    bs_->close_protocol(c.handle, &kPciIoProtocolGuid, image_, c.child);
    Status st =
        bs_->uninstall_protocol_interface(c.child, &kSimpleNetworkProtocolGuid, c.snp.protocol());
    if (!is_error(st)) {
      st = bs_->uninstall_protocol_interface(c.child, &kDevicePathProtocolGuid, c.path);
      if (is_error(st)) {
        bs_->install_protocol_interface(&c.child, &kSimpleNetworkProtocolGuid, 0, c.snp.protocol());
      }
    }
    if (is_error(st)) {
      void* io = nullptr;
      bs_->open_protocol(c.handle, &kPciIoProtocolGuid, &io, image_, c.child,
                         kOpenByChildController);
      return st;
    }
    c.snp.detach();  // the device down if it was up: DMA stopped, memory unmapped and freed
    bs_->free_pool(c.path);
    c.path = nullptr;
    c.child = nullptr;
    return kSuccess;
  }

  BindingInstance binding_{};
  NamesInstance names_{};
  BootServices* bs_ = nullptr;
  Handle image_ = nullptr;
  DriverConfig config_{};
  Controller* controllers_ = nullptr;
};

}  // namespace fbnic::bare::uefi
