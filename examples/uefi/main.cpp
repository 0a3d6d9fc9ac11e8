// fbnic-uefi: the library inside real UEFI firmware (OVMF, AAVMF, or U-Boot on riscv64,
// under QEMU).
//
// A freestanding UEFI application (no EDK2, no C library) that
//   1. looks for a real fbnic (1d9b:0013) through EFI_PCI_IO_PROTOCOL and says what it found;
//   2. runs the whole library against the device model compiled into it: registers through
//      bare::CallbackRegisters, DMA memory from AllocatePages carved by bare::DmaPool and
//      mapped into the model's DMA space, the model's virtual clock (delays advance it);
//   3. drives it through the Simple Network Protocol adapter: Start, Initialize (datapath,
//      firmware handshake with capabilities, ownership, heartbeat, queues, classifier, link),
//      MAC loopback, kPackets frames out and back checked byte for byte, recycled Tx buffers,
//      a heartbeat, receive filters, Shutdown (ownership given back, every buffer freed), Stop;
//   4. brings the device up again, leaves frames queued, and calls ExitBootServices: the
//      adapter's notification must stop all DMA (nothing may reach the wire afterwards);
//   5. prints one result line, `FBNIC-UEFI: PASS ...` or `FBNIC-UEFI: FAIL <reason>`, and
//      powers the machine off (ResetSystem, or the SBI where the firmware's
//      EFI_RT_PROPERTIES_TABLE says ResetSystem is gone with the boot services). After
//      ExitBootServices the console belongs to no one, so the line goes straight to the
//      serial port the firmware used.
//
// No constructor runs before efi_main: everything global is zero-initialized, and the big
// objects (the model, the adapter) are built in static storage once efi_main runs.
#include <fbnic/bare/uefi/uefi.hpp>
#include <fbnic/fbnic.hpp>
#include <fbnic/mock/mock.hpp>

#include <cstddef>
#include <cstdint>
#include <new>
#include <span>

namespace {

using namespace fbnic;
namespace uefi = fbnic::bare::uefi;

using Model = mock::Device<mock::SmallConfig>;
using Pool = bare::DmaPool<64>;
using Plat = bare::Platform<bare::CallbackRegisters, Pool>;
using Snp = uefi::SnpAdapter<Plat>;

#ifndef FBNIC_UEFI_PACKETS
#define FBNIC_UEFI_PACKETS 1000
#endif
constexpr std::uint32_t kPackets = FBNIC_UEFI_PACKETS;
// As many frames as the SNP adapter has Tx slots: 32 frames of up to 1514 bytes (48 KiB)
// pass through the model's 32 KiB Rx FIFO because its Rx engine drains while they arrive.
constexpr std::uint32_t kBatch = 32;
constexpr std::uint32_t kMaxFrame = Snp::kMediaHeader + Snp::kMaxPacket;
constexpr std::uint64_t kIova = 0x0000'2000'0000'0000ull;  // where the model sees the pool
constexpr std::uintptr_t kPoolPages = 512;                 // 2 MiB
constexpr std::size_t kPoolBytes = kPoolPages * 4096;
constexpr MacAddress kStation{{0x02, 0x1D, 0x9B, 0x00, 0x00, 0x01}};
constexpr std::uint16_t kEtherType = 0x88B5;  // IEEE local experimental

template <class T>
struct Storage {
  alignas(T) std::byte bytes[sizeof(T)];
  template <class... A>
  T* make(A&&... args) {
    return new (bytes) T(static_cast<A&&>(args)...);
  }
};

constinit uefi::SystemTable* g_st = nullptr;
constinit Storage<Model> g_model_storage{};
constinit Storage<Pool> g_pool_storage{};
constinit Storage<Plat> g_platform_storage{};
constinit Storage<Snp> g_snp_storage{};
constinit Model* g_model = nullptr;
constinit Plat* g_platform = nullptr;
constinit Snp* g_snp = nullptr;
constinit Pool* g_pool = nullptr;
constinit std::uint8_t g_tx_frames[kBatch][kMaxFrame]{};
constinit std::uint8_t g_rx_frame[kMaxFrame]{};
constinit std::uint8_t g_want[kMaxFrame]{};
alignas(8) constinit std::byte g_memory_map[64 * 1024]{};
constinit LogLine g_reason{};
// The lowest and highest TPL the core's delays ran at: all of them are driver code (the
// application's own waits advance the model directly).
constinit uefi::Tpl g_tpl_min = ~uefi::Tpl{0};
constinit uefi::Tpl g_tpl_max = 0;
constinit std::uint64_t g_tap_frames = 0;
// An address stored in data: the loader must have relocated it (it is a base relocation in
// every image; on riscv64 one tools/elf2pe.py made). volatile, so that it is read from the
// image and not folded into the code's own PC-relative address of the same object.
constexpr char kRelocationProbe[] = "relocated";
constinit const char* volatile g_relocation_probe = kRelocationProbe;

// --- output ---

void print(const char* s) { uefi::print(g_st->con_out, s); }
void print(const LogLine& line) { uefi::print_line(g_st->con_out, line.c_str()); }

// After ExitBootServices: the 16550 (x86 COM1; QEMU riscv64 virt at 0x1000'0000) or the PL011
// (QEMU aarch64 virt) the firmware printed to.
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
#elif defined(__aarch64__)
    volatile auto* uart = reinterpret_cast<volatile std::uint32_t*>(0x0900'0000);
    for (int i = 0; i < 100000 && (uart[0x18 / 4] & 0x20u) != 0; ++i) {
    }  // transmit FIFO full
    uart[0] = static_cast<std::uint8_t>(c);
#elif defined(__riscv)
    volatile auto* uart = reinterpret_cast<volatile std::uint8_t*>(0x1000'0000);
    for (int i = 0; i < 100000 && (uart[5] & 0x20u) == 0; ++i) {
    }  // until the transmit holding register is empty
    uart[0] = static_cast<std::uint8_t>(c);
#else
    (void)c;
#endif
  };
  for (; *s != '\0'; ++s) {
    if (*s == '\n') put('\r');
    put(*s);
  }
}

// --- power-off ---

// EFI_RT_PROPERTIES_TABLE (UEFI 2.8, a configuration table): which runtime services still
// work after ExitBootServices. Without it, all of them do.
constexpr uefi::Guid kRtPropertiesTableGuid{
    0xEB66'918A, 0x7EEF, 0x402A, {0x84, 0x2E, 0x93, 0x1D, 0x21, 0xC3, 0x8A, 0xE9}};
constexpr std::uint32_t kRtSupportedResetSystem = 0x0400;
struct RtPropertiesTable {
  std::uint16_t version;
  std::uint16_t length;
  std::uint32_t runtime_services_supported;
};

// The runtime services the firmware keeps after ExitBootServices (all of them if it does not
// say), read while the configuration table is still the firmware's.
std::uint32_t runtime_services_supported(const uefi::SystemTable* st) {
  for (std::uintptr_t i = 0; i < st->number_of_table_entries; ++i) {
    const uefi::ConfigurationTable& entry = st->configuration_table[i];
    if (equal_bytes(&entry.vendor_guid, &kRtPropertiesTableGuid, sizeof(uefi::Guid))) {
      const auto* table = static_cast<const RtPropertiesTable*>(entry.vendor_table);
      if (table->length >= sizeof(RtPropertiesTable)) return table->runtime_services_supported;
    }
  }
  return ~std::uint32_t{0};
}

// The platform's own power-off, for a firmware whose ResetSystem is gone after
// ExitBootServices (U-Boot's on RISC-V): the SBI System Reset extension ("SRST", function 0,
// type 0 = shutdown, reason 0), as an operating system would. Returns only if it failed.
void platform_power_off() {
#if defined(__riscv)
  register long a0 __asm__("a0") = 0;           // reset type: shutdown
  register long a1 __asm__("a1") = 0;           // reason: none
  register long a6 __asm__("a6") = 0;           // function: system_reset
  register long a7 __asm__("a7") = 0x53525354;  // extension: "SRST"
  __asm__ __volatile__("ecall" : "+r"(a0), "+r"(a1) : "r"(a6), "r"(a7) : "memory");
#endif
}

bool fail(const char* what, int line, std::uint64_t detail = 0) {
  g_reason << what << " (line " << line << ", " << Hex{detail} << ")";
  return false;
}
#define EXPECT(cond, what)                    \
  do {                                        \
    if (!(cond)) return fail(what, __LINE__); \
  } while (0)
#define EXPECT_EFI(call, want, what)                                                      \
  do {                                                                                    \
    if (const uefi::Status st_ = (call); st_ != (want)) return fail(what, __LINE__, st_); \
  } while (0)

// --- the platform's parts, over the model ---

std::uint64_t translate(void* /*ctx*/, const void* cpu) {
  return kIova +
         static_cast<std::uint64_t>(static_cast<const std::byte*>(cpu) - g_pool->memory().data());
}
std::uint64_t model_now(void* ctx) { return static_cast<Model*>(ctx)->now_ns(); }
void model_delay(void* ctx, std::uint32_t us) {
  const uefi::Tpl tpl = uefi::current_tpl(g_st->boot_services);
  g_tpl_min = tpl < g_tpl_min ? tpl : g_tpl_min;
  g_tpl_max = tpl > g_tpl_max ? tpl : g_tpl_max;
  static_cast<Model*>(ctx)->advance(std::uint64_t{us} * 1000);
}
void console_log(void* /*ctx*/, LogLevel level, const char* line) {
  LogLine l;
  l << "  [" << level_name(level) << "] " << line;
  print(l);
}

// --- the steps ---

bool relocated() {
  const char* const stored = g_relocation_probe;
  if (stored != kRelocationProbe) {
    return fail("the loader applied the base relocations", __LINE__,
                reinterpret_cast<std::uintptr_t>(stored));
  }
  return true;
}

bool find_real_device() {
  uefi::PciDevice dev;
  std::uint32_t scanned = 0;
  const uefi::Status st = uefi::PciDevice::find(g_st->boot_services, uefi::kMetaVendorId,
                                                uefi::kFbnicDeviceId, &dev, &scanned);
  LogLine l;
  if (st == uefi::kSuccess) {
    const uefi::PciLocation at = dev.location();
    l << "FBNIC-UEFI: found fbnic 1d9b:0013 at " << at.segment << ":" << at.bus << ":" << at.device
      << "." << at.function << " (this test drives the model only)";
  } else if (st == uefi::kNotFound) {
    l << "FBNIC-UEFI: no fbnic (1d9b:0013) among " << scanned
      << " PCI functions; running on the device model";
  } else {
    l << "FBNIC-UEFI: PCI scan failed: " << Hex{st};
  }
  print(l);
  return true;
}

bool set_up() {
  uefi::BootServices* bs = g_st->boot_services;
  uefi::PhysicalAddress pool = 0;
  EXPECT_EFI(bs->allocate_pages(uefi::AllocateType::kAnyPages, uefi::MemoryType::kLoaderData,
                                kPoolPages, &pool),
             uefi::kSuccess, "AllocatePages for the DMA pool");
  // UEFI maps memory one to one: the physical address is the pointer.
  // NOLINTNEXTLINE(performance-no-int-to-ptr)
  auto* memory = reinterpret_cast<std::byte*>(static_cast<std::uintptr_t>(pool));
  g_model = g_model_storage.make();
  EXPECT(g_model->dma_space().map(kIova, memory, kPoolBytes), "map the pool into the model");
  g_model->set_tap({[](void*, std::span<const std::uint8_t>) { ++g_tap_frames; }, nullptr});
  g_pool = g_pool_storage.make(std::span(memory, kPoolBytes), bare::Translate{&translate, nullptr});
  g_platform = g_platform_storage.make(bare::CallbackRegisters::to(*g_model), *g_pool,
                                       bare::Clock{&model_now, &model_delay, g_model},
                                       bare::LogSink{&console_log, nullptr, LogLevel::kWarning});
  uefi::SnpConfig cfg;
  cfg.device.mac = kStation;
  cfg.device.link.training_ms = 0;
  g_snp = g_snp_storage.make(*g_platform, bs, cfg);
  EXPECT_EFI(g_snp->attach(), uefi::kSuccess, "attach (WaitForPacket, ExitBootServices events)");
  return true;
}

// Start and Initialize, then MAC loopback and a wait (on the model's clock) for the link.
bool bring_up() {
  uefi::SimpleNetwork* net = g_snp->protocol();
  EXPECT_EFI(net->start(net), uefi::kSuccess, "Start");
  EXPECT_EFI(net->start(net), uefi::kAlreadyStarted, "Start when started");
  EXPECT_EFI(net->transmit(net, 0, 60, g_tx_frames[0], nullptr, nullptr, nullptr),
             uefi::kDeviceError, "Transmit when started");
  EXPECT_EFI(net->initialize(net, 0, 0), uefi::kSuccess, "Initialize");
  EXPECT(g_tpl_min == uefi::kTplCallback && g_tpl_max == uefi::kTplCallback,
         "driver code ran at TPL_CALLBACK");
  EXPECT(net->mode->state == uefi::SnpState::kInitialized, "state Initialized");
  EXPECT(g_model->firmware().host_owns_nic(), "ownership taken");
  EXPECT(g_snp->device().firmware().capabilities().version != 0, "capabilities received");
  EXPECT_EFI(net->stop(net), uefi::kDeviceError, "Stop when initialized");
  EXPECT(g_snp->device().link().set_mac_loopback(true).ok(), "MAC loopback");
  for (int i = 0; i < 1000 && net->mode->media_present == 0; ++i) {
    std::uint32_t irq = 0;
    EXPECT_EFI(net->get_status(net, &irq, nullptr), uefi::kSuccess, "GetStatus");
    g_model->advance(1'000'000);  // a millisecond passes
  }
  EXPECT(net->mode->media_present != 0, "link up (MediaPresent)");
  return true;
}

// Frame i: a length from 60 to 1514 and a payload that depends on i. The SNP fills the
// Ethernet header (destination, source = the station address, type).
std::uint32_t frame_len(std::uint32_t i) { return 60 + (i * 97) % (kMaxFrame - 60 + 1); }
void make_frame(std::uint8_t* f, std::uint32_t i) {
  const std::uint32_t len = frame_len(i);
  for (std::size_t b = 0; b < 6; ++b) f[b] = f[6 + b] = kStation.bytes[b];
  f[12] = kEtherType >> 8;
  f[13] = kEtherType & 0xFF;
  for (std::uint32_t b = 14; b < len; ++b)
    f[b] = static_cast<std::uint8_t>(i * 7 + b * 13 + (b >> 8));
  store_le32(f + 14, i);
}

struct Totals {
  std::uint64_t bytes = 0;
  std::uint64_t loop_ns = 0;
};

bool loopback(Totals& t, const uefi::CpuClock& clock) {
  uefi::SimpleNetwork* net = g_snp->protocol();
  uefi::BootServices* bs = g_st->boot_services;
  std::uintptr_t size = kMaxFrame;
  EXPECT_EFI(net->receive(net, nullptr, &size, g_rx_frame, nullptr, nullptr, nullptr),
             uefi::kNotReady, "Receive with nothing there");
  const std::uint64_t start = clock.now_ns();
  for (std::uint32_t sent = 0; sent < kPackets;) {
    const std::uint32_t n = kPackets - sent < kBatch ? kPackets - sent : kBatch;
    const uefi::MacAddr dest = [] {
      uefi::MacAddr m{};
      for (std::size_t b = 0; b < 6; ++b) m.addr[b] = kStation.bytes[b];
      return m;
    }();
    const std::uint16_t type = kEtherType;
    for (std::uint32_t k = 0; k < n; ++k) {
      make_frame(g_tx_frames[k], sent + k);
      fill_bytes(g_tx_frames[k], 0, 14);  // the header is the SNP's to write
      EXPECT_EFI(net->transmit(net, Snp::kMediaHeader, frame_len(sent + k), g_tx_frames[k], nullptr,
                               &dest, &type),
                 uefi::kSuccess, "Transmit");
    }
    if (sent == 0) {
      EXPECT_EFI(bs->check_event(net->wait_for_packet), uefi::kNotReady,
                 "WaitForPacket before the device ran");
    }
    g_model->run();  // the device does its part: fetch, loop back, place, complete
    if (sent == 0) {
      EXPECT_EFI(bs->check_event(net->wait_for_packet), uefi::kSuccess, "WaitForPacket signalled");
    }
    for (std::uint32_t k = 0; k < n; ++k) {
      const std::uint32_t i = sent + k;
      const std::uint32_t len = frame_len(i);
      std::uintptr_t header = 0;
      uefi::MacAddr src{};
      uefi::MacAddr dst{};
      std::uint16_t proto = 0;
      if (i == 0) {
        size = 10;
        EXPECT_EFI(net->receive(net, &header, &size, g_rx_frame, &src, &dst, &proto),
                   uefi::kBufferTooSmall, "Receive into a small buffer");
        EXPECT(size == len, "Receive reports the size it needs");
      }
      size = kMaxFrame;
      EXPECT_EFI(net->receive(net, &header, &size, g_rx_frame, &src, &dst, &proto), uefi::kSuccess,
                 "Receive");
      make_frame(g_want, i);
#ifdef FBNIC_UEFI_INJECT_MISMATCH  // tests/uefi/run.sh's own check: one wrong byte must fail
      if (i == kPackets / 2) g_want[20] ^= 1u;
#endif
      if (size != len || !equal_bytes(g_rx_frame, g_want, len))
        return fail("frame mismatch", __LINE__, i);
      EXPECT(header == Snp::kMediaHeader && proto == kEtherType &&
                 equal_bytes(src.addr, kStation.bytes.data(), 6) &&
                 equal_bytes(dst.addr, kStation.bytes.data(), 6),
             "Receive header fields");
      t.bytes += len;
    }
    // Every Tx buffer comes back through GetStatus, in the order it was sent.
    for (std::uint32_t k = 0; k < n; ++k) {
      std::uint32_t irq = 0;
      void* buf = nullptr;
      EXPECT_EFI(net->get_status(net, &irq, &buf), uefi::kSuccess, "GetStatus");
      if (k == 0) EXPECT((irq & uefi::kTransmitInterrupt) != 0, "transmit interrupt bit");
      if (buf != g_tx_frames[k]) return fail("recycled Tx buffer", __LINE__, sent + k);
    }
    void* none = nullptr;
    EXPECT_EFI(net->get_status(net, nullptr, &none), uefi::kSuccess, "GetStatus");
    EXPECT(none == nullptr, "no more recycled buffers");
    sent += n;
  }
  t.loop_ns = clock.now_ns() - start;
  EXPECT(g_model->faults().total() == 0, "the model saw no driver mistake");
  return true;
}

// Eleven seconds later (on the model's clock) GetStatus sends a heartbeat; a second later
// it has the answer.
bool heartbeat(std::uint64_t& heartbeats) {
  uefi::SimpleNetwork* net = g_snp->protocol();
  const std::uint64_t before = g_snp->device().firmware().stats().heartbeats;
  std::uint32_t irq = 0;
  g_model->advance(11'000'000'000);
  EXPECT_EFI(net->get_status(net, &irq, nullptr), uefi::kSuccess, "GetStatus (heartbeat sent)");
  g_model->advance(1'100'000'000);
  EXPECT_EFI(net->get_status(net, &irq, nullptr), uefi::kSuccess, "GetStatus (heartbeat answered)");
  heartbeats = g_snp->device().firmware().stats().heartbeats;
  EXPECT(heartbeats > before, "heartbeat answered");
  EXPECT(g_tpl_min == uefi::kTplCallback && g_tpl_max == uefi::kTplCallback,
         "driver code ran at TPL_CALLBACK");
  EXPECT(net->mode->media_present != 0, "link still up");
  return true;
}

bool filters() {
  uefi::SimpleNetwork* net = g_snp->protocol();
  EXPECT_EFI(net->receive_filters(net, uefi::kReceivePromiscuous, 0, 0, 0, nullptr), uefi::kSuccess,
             "ReceiveFilters promiscuous on");
  EXPECT((net->mode->receive_filter_setting & uefi::kReceivePromiscuous) != 0, "promiscuous set");
  EXPECT_EFI(net->receive_filters(net, 0, uefi::kReceivePromiscuous, 1, 0, nullptr), uefi::kSuccess,
             "ReceiveFilters promiscuous off");
  EXPECT_EFI(net->receive_filters(net, 0x80, 0, 0, 0, nullptr), uefi::kInvalidParameter,
             "ReceiveFilters with an unknown bit");
  uefi::IpAddr ip{};
  ip.v4[0] = 224;
  ip.v4[1] = 129;
  ip.v4[2] = 2;
  ip.v4[3] = 3;
  uefi::MacAddr mac{};
  EXPECT_EFI(net->mcast_ip_to_mac(net, 0, &ip, &mac), uefi::kSuccess, "MCastIpToMac");
  const std::uint8_t want[6] = {0x01, 0x00, 0x5E, 0x01, 0x02, 0x03};
  EXPECT(equal_bytes(mac.addr, want, 6), "MCastIpToMac result");
  EXPECT_EFI(net->receive_filters(net, uefi::kReceiveMulticast, 0, 0, 1, &mac), uefi::kSuccess,
             "ReceiveFilters with a multicast list");
  EXPECT(net->mode->mcast_filter_count == 1, "multicast list kept");
  return true;
}

bool shut_down() {
  uefi::SimpleNetwork* net = g_snp->protocol();
  EXPECT_EFI(net->shutdown(net), uefi::kSuccess, "Shutdown");
  EXPECT(net->mode->state == uefi::SnpState::kStarted, "state Started");
  EXPECT(!g_model->firmware().host_owns_nic(), "ownership released");
  EXPECT(g_pool->live_blocks() == 0 && g_pool->bad_frees() == 0, "every DMA buffer freed");
  EXPECT(g_pool->bytes_free() == kPoolBytes, "the pool whole again");
  EXPECT_EFI(net->shutdown(net), uefi::kDeviceError, "Shutdown when started");
  EXPECT_EFI(net->stop(net), uefi::kSuccess, "Stop");
  std::uint32_t irq = 0;
  EXPECT_EFI(net->get_status(net, &irq, nullptr), uefi::kNotStarted, "GetStatus when stopped");
  EXPECT(g_model->faults().total() == 0, "the model saw no driver mistake");
  return true;
}

// Up again with frames queued for the device, then ExitBootServices. Returns with boot
// services gone (exited == true) or, if ExitBootServices failed, still there.
bool exit_boot_services(uefi::Handle image, bool& exited, std::uint64_t& queued) {
  uefi::SimpleNetwork* net = g_snp->protocol();
  uefi::BootServices* bs = g_st->boot_services;
  EXPECT(bring_up(), "bring-up again");
  for (std::uint32_t k = 0; k < 4; ++k) {
    make_frame(g_tx_frames[k], k);
    EXPECT_EFI(net->transmit(net, 0, frame_len(k), g_tx_frames[k], nullptr, nullptr, nullptr),
               uefi::kSuccess, "Transmit before ExitBootServices");
  }
  queued = 4;
  const std::uint64_t tapped = g_tap_frames;
  print("FBNIC-UEFI: 4 frames queued, calling ExitBootServices");
  print("\n");
  uefi::Status st = uefi::kInvalidParameter;
  for (int attempt = 0; attempt < 2 && st != uefi::kSuccess; ++attempt) {
    std::uintptr_t size = sizeof g_memory_map;
    std::uintptr_t key = 0;
    std::uintptr_t descriptor_size = 0;
    std::uint32_t version = 0;
    st = bs->get_memory_map(&size, reinterpret_cast<uefi::MemoryDescriptor*>(g_memory_map), &key,
                            &descriptor_size, &version);
    if (st == uefi::kSuccess) st = bs->exit_boot_services(image, key);
  }
  EXPECT_EFI(st, uefi::kSuccess, "ExitBootServices");
  exited = true;
  // From here: no boot services. The device model runs on; the stopped device must not.
  g_model->advance(10'000'000);
  EXPECT(g_snp->exited_boot_services(), "ExitBootServices notification ran");
  EXPECT(g_tap_frames == tapped, "no frame left after ExitBootServices");
  EXPECT(g_model->faults().total() == 0, "no DMA attempted after ExitBootServices");
  const auto ar =
      regs::PulObTlpHdrArCfg::from_raw(g_model->read32(Bar::kCsr, regs::PulObTlpHdrArCfg::kOffset));
  const auto aw =
      regs::PulObTlpHdrAwCfg::from_raw(g_model->read32(Bar::kCsr, regs::PulObTlpHdrAwCfg::kOffset));
  EXPECT(ar.get(regs::PulObTlpHdrArCfg::kBme) == 0 && aw.get(regs::PulObTlpHdrAwCfg::kBme) == 0,
         "bus mastering off");
  EXPECT(net->mode->state == uefi::SnpState::kStopped, "state Stopped");
  return true;
}

}  // namespace

extern "C" uefi::Status FBNIC_EFIAPI efi_main(uefi::Handle image, uefi::SystemTable* st) {
  g_st = st;
  uefi::BootServices* bs = st->boot_services;
  bs->set_watchdog_timer(0, 0, 0, nullptr);
  {
    LogLine l;
    l << "FBNIC-UEFI: start, UEFI " << (st->hdr.revision >> 16) << "."
      << ((st->hdr.revision & 0xFFFF) / 10) << ", firmware rev " << Hex{st->firmware_revision};
    print(l);
  }
  uefi::CpuClock clock;
  clock.calibrate(bs);
  const std::uint32_t runtime_services = runtime_services_supported(st);
  const bool reset_after_ebs = (runtime_services & kRtSupportedResetSystem) != 0;
  if (!reset_after_ebs) {
    LogLine l;
    l << "FBNIC-UEFI: no ResetSystem after ExitBootServices (EFI_RT_PROPERTIES_TABLE "
      << Hex{runtime_services} << ")";
    print(l);
  }

  Totals totals;
  std::uint64_t heartbeats = 0;
  std::uint64_t queued = 0;
  bool exited = false;
  bool ok = relocated() && find_real_device() && set_up() && bring_up() &&
            loopback(totals, clock) && heartbeat(heartbeats) && filters() && shut_down() &&
            exit_boot_services(image, exited, queued);

  LogLine result;
  if (ok) {
    result << "FBNIC-UEFI: PASS packets=" << kPackets << " bytes=" << totals.bytes
           << " heartbeats=" << heartbeats << " tpl=" << g_tpl_min
           << " ebs=dma-stopped queued=" << queued << " loop_ms=" << totals.loop_ns / 1'000'000
           << " model_ms=" << g_model->now_ns() / 1'000'000;
  } else {
    result << "FBNIC-UEFI: FAIL " << g_reason.c_str();
  }
  if (exited) {
    serial_print(result.c_str());
    serial_print("\n");
  } else {
    print(result);
  }
  if (!exited || reset_after_ebs) {
    st->runtime_services->reset_system(uefi::ResetType::kShutdown,
                                       ok ? uefi::kSuccess : uefi::kAborted, 0, nullptr);
  }
  // Boot services are gone, so returning to the firmware is no way out either.
  if (exited) platform_power_off();
  return uefi::kSuccess;
}
