// fbnic::bare without QEMU: the DMA pool's free list, MMIO register access, the whole Device
// over bare::Platform (callback registers into the device model, a pool in a static array),
// and the UEFI adapter against fake boot services and a fake EFI_PCI_IO_PROTOCOL whose BARs
// and DMA are the device model's: PCI discovery, the Simple Network Protocol's states and
// calls, recycled Tx buffers, WaitForPacket, TPL_CALLBACK, and ExitBootServices stopping DMA.
// tests/uefi/run.sh runs the same code inside real firmware.
#include <gtest/gtest.h>

#include <fbnic/bare/uefi/uefi.hpp>
#include <fbnic/fbnic.hpp>
#include <fbnic/mock/hosted.hpp>
#include <fbnic/mock/mock.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

namespace {

using namespace fbnic;
namespace uefi = fbnic::bare::uefi;

constexpr MacAddress kStation{{0x02, 0x1D, 0x9B, 0x00, 0x00, 0x01}};
constexpr std::uint64_t kIova = 0x0000'2000'0000'0000ull;

using Model = mock::Device<>;

bare::Clock model_clock(Model& model) {
  return {
      [](void* m) { return static_cast<Model*>(m)->now_ns(); },
      [](void* m, std::uint32_t us) { static_cast<Model*>(m)->advance(std::uint64_t{us} * 1000); },
      &model};
}

// --- DmaPool ---

TEST(DmaPool, ZeroedAlignedAndIdentityMapped) {
  mock::HostRam ram(std::size_t{64} * 1024);
  std::fill_n(ram.span().data(), ram.span().size(), std::byte{0xAA});
  bare::DmaPool<8> pool(ram.span());
  auto a = pool.dma_alloc(100, 8);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->size, 128u);  // whole cache lines
  EXPECT_EQ(a->device, reinterpret_cast<std::uintptr_t>(a->cpu));
  EXPECT_TRUE(
      std::all_of(a->bytes().begin(), a->bytes().end(), [](std::uint8_t b) { return b == 0; }));
  auto b = pool.dma_alloc(4096, 4096);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->device % 4096, 0u);
  EXPECT_EQ(pool.live_blocks(), 2u);
  pool.dma_free(*a);
  pool.dma_free(*b);
  EXPECT_EQ(pool.live_blocks(), 0u);
  EXPECT_EQ(pool.bytes_free(), ram.span().size());
  EXPECT_EQ(pool.bad_frees(), 0u);
}

TEST(DmaPool, FreedMemoryMergesAndIsReused) {
  mock::HostRam ram(std::size_t{16} * 1024);
  bare::DmaPool<8> pool(ram.span());
  auto a = pool.dma_alloc(4096, 64);
  auto b = pool.dma_alloc(4096, 64);
  auto c = pool.dma_alloc(4096, 64);
  auto d = pool.dma_alloc(4096, 64);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok() && d.ok());
  EXPECT_EQ(pool.dma_alloc(64, 64).status(), Error::kNoMemory);
  pool.dma_free(*b);
  pool.dma_free(*c);  // b and c merge: 8 KiB in one piece
  auto e = pool.dma_alloc(8192, 64);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->cpu, b->cpu);
  pool.dma_free(*a);
  pool.dma_free(*d);
  pool.dma_free(*e);
  EXPECT_EQ(pool.bytes_free(), ram.span().size());
  EXPECT_TRUE(pool.dma_alloc(std::size_t{16} * 1024, 4096).ok());
}

TEST(DmaPool, WrongFreesAreRefusedAndCounted) {
  mock::HostRam ram(std::size_t{16} * 1024);
  bare::DmaPool<8> pool(ram.span());
  auto a = pool.dma_alloc(256, 64);
  ASSERT_TRUE(a.ok());
  pool.dma_free(*a);
  pool.dma_free(*a);  // twice
  std::array<std::byte, 64> elsewhere{};
  pool.dma_free(DmaBuffer{elsewhere.data(), 0, 64, 0});  // not from this pool
  EXPECT_EQ(pool.bad_frees(), 2u);
  EXPECT_EQ(pool.live_blocks(), 0u);
  EXPECT_EQ(pool.bytes_free(), ram.span().size());

  // Part of a live block, or the block with the wrong size: refused, the block stays live
  // and nothing of it is handed out again.
  auto b = pool.dma_alloc(1024, 64);
  ASSERT_TRUE(b.ok());
  auto* cpu = static_cast<std::byte*>(b->cpu);
  pool.dma_free(DmaBuffer{cpu + 64, b->device + 64, 64, 0});
  pool.dma_free(DmaBuffer{cpu + 192, b->device + 192, 64, 0});
  pool.dma_free(DmaBuffer{cpu, b->device, 512, 0});
  EXPECT_EQ(pool.bad_frees(), 5u);
  EXPECT_EQ(pool.live_blocks(), 1u);
  EXPECT_EQ(pool.bytes_free(), ram.span().size() - 1024);
  auto c = pool.dma_alloc(4096, 64);
  ASSERT_TRUE(c.ok());
  const auto* c_cpu = static_cast<std::byte*>(c->cpu);
  EXPECT_TRUE(c_cpu >= cpu + 1024 || c_cpu + 4096 <= cpu) << "a live block was handed out again";
  pool.dma_free(*b);
  pool.dma_free(*c);
  EXPECT_EQ(pool.bad_frees(), 5u);
  EXPECT_EQ(pool.bytes_free(), ram.span().size());
}

TEST(DmaPool, BlockLimitAndBadArguments) {
  mock::HostRam ram(std::size_t{64} * 1024);
  bare::DmaPool<3> pool(ram.span());
  std::vector<DmaBuffer> live;
  for (int i = 0; i < 3; ++i) {
    auto r = pool.dma_alloc(64, 64);
    ASSERT_TRUE(r.ok());
    live.push_back(*r);
  }
  EXPECT_EQ(pool.dma_alloc(64, 64).status(), Error::kNoMemory);  // the table bound
  pool.dma_free(live[1]);
  EXPECT_TRUE(pool.dma_alloc(64, 64).ok());
  EXPECT_EQ(pool.dma_alloc(0, 64).status(), Error::kInvalidArgument);
  EXPECT_EQ(pool.dma_alloc(64, 48).status(), Error::kInvalidArgument);
  // Sizes whose rounding would wrap around.
  EXPECT_EQ(pool.dma_alloc(SIZE_MAX - 10, 64).status(), Error::kInvalidArgument);
  EXPECT_EQ(pool.dma_alloc(64, SIZE_MAX / 2 + 1).status(), Error::kInvalidArgument);  // top bit
}

TEST(DmaPool, TranslatedDeviceAddresses) {
  mock::HostRam ram(std::size_t{64} * 1024);
  struct Ctx {
    std::byte* base;
    std::uint64_t iova;
  } ctx{ram.span().data(), kIova};
  const bare::Translate to_iova{
      [](void* c, const void* cpu) {
        auto* x = static_cast<Ctx*>(c);
        return x->iova + static_cast<std::uint64_t>(static_cast<const std::byte*>(cpu) - x->base);
      },
      &ctx};
  bare::DmaPool<8> pool(ram.span(), to_iova);
  auto a = pool.dma_alloc(64, 64);
  auto b = pool.dma_alloc(4096, 4096);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->device, kIova);
  EXPECT_EQ(b->device, kIova + 4096);
  ctx.iova = kIova + 8;  // a translation that breaks alignment is refused
  EXPECT_EQ(pool.dma_alloc(64, 64).status(), Error::kInvalidArgument);
}

// Random allocations and frees: live blocks never overlap, stay inside the region, keep
// their alignment, and everything comes back.
TEST(DmaPool, RandomAllocateFreeKeepsTheInvariants) {
  mock::HostRam ram(std::size_t{256} * 1024);
  bare::DmaPool<32> pool(ram.span());
  std::mt19937 rng(7);
  std::vector<std::pair<DmaBuffer, std::size_t>> live;
  for (int step = 0; step < 20000; ++step) {
    if (live.size() < 32 && (rng() % 3 != 0 || live.empty())) {
      const std::size_t align = std::size_t{64} << (rng() % 7);
      auto r = pool.dma_alloc(1 + rng() % 20000, align);
      if (!r.ok()) continue;
      ASSERT_EQ(r->device % align, 0u);
      const auto lo = reinterpret_cast<std::uintptr_t>(r->cpu);
      ASSERT_GE(r->cpu, static_cast<void*>(ram.span().data()));
      ASSERT_LE(lo + r->size,
                reinterpret_cast<std::uintptr_t>(ram.span().data() + ram.span().size()));
      for (const auto& [other, _] : live) {
        const auto olo = reinterpret_cast<std::uintptr_t>(other.cpu);
        ASSERT_TRUE(lo + r->size <= olo || olo + other.size <= lo) << "overlap at step " << step;
      }
      live.emplace_back(*r, align);
    } else {
      const std::size_t i = rng() % live.size();
      pool.dma_free(live[i].first);
      live.erase(live.begin() + static_cast<std::ptrdiff_t>(i));
    }
    ASSERT_EQ(pool.live_blocks(), live.size());
  }
  for (const auto& [b, _] : live) pool.dma_free(b);
  EXPECT_EQ(pool.bytes_free(), ram.span().size());
  EXPECT_EQ(pool.bad_frees(), 0u);
}

// --- MMIO ---

// s390x has no memory-mapped PCI, so no MmioRegisters (fbnic/platform/mmio.hpp).
#if !defined(__s390x__)
TEST(MmioRegisters, ThirtyTwoBitAccessesAtEachBar) {
  // RAM stands in for the BARs; registers hold their bytes little-endian on any CPU.
  std::array<std::uint32_t, 16> bar0{};
  std::array<std::uint32_t, 16> bar4{};
  const bare::MmioRegisters regs(reinterpret_cast<std::uintptr_t>(bar0.data()),
                                 reinterpret_cast<std::uintptr_t>(bar4.data()));
  regs.write32(Bar::kCsr, 8, 0x1234'5678u);
  regs.write32(Bar::kIpc, 8, 0x9ABC'DEF0u);
  EXPECT_EQ(load_le32(&bar0[2]), 0x1234'5678u);
  EXPECT_EQ(load_le32(&bar4[2]), 0x9ABC'DEF0u);
  store_le32(&bar0[3], 42);
  EXPECT_EQ(regs.read32(Bar::kCsr, 12), 42u);
  // A BAR that is not mapped reads as a removed device and swallows writes.
  const bare::MmioRegisters half(reinterpret_cast<std::uintptr_t>(bar0.data()), 0);
  EXPECT_EQ(half.read32(Bar::kIpc, 0), 0xFFFF'FFFFu);
  half.write32(Bar::kIpc, 0, 1);
}
#endif

// --- the whole Device over bare::Platform ---

alignas(4096) std::byte g_static_pool[8u << 20];

TEST(BarePlatform, DeviceLoopbackOnTheModelFromAStaticPool) {
  Model model;
  struct PoolMap {
    std::byte* base;
  } map{g_static_pool};
  ASSERT_TRUE(model.dma_space().map(kIova, g_static_pool, sizeof g_static_pool));
  bare::DmaPool<64> pool(std::span<std::byte>(g_static_pool),
                         {[](void* c, const void* cpu) {
                            return kIova +
                                   static_cast<std::uint64_t>(static_cast<const std::byte*>(cpu) -
                                                              static_cast<PoolMap*>(c)->base);
                          },
                          &map});
  std::vector<std::string> lines;
  bare::Platform platform(bare::CallbackRegisters::to(model), pool, model_clock(model),
                          {[](void* c, LogLevel, const char* line) {
                             static_cast<std::vector<std::string>*>(c)->emplace_back(line);
                           },
                           &lines, LogLevel::kWarning});
  static_assert(fbnic::Platform<decltype(platform)>);
  {
    Device<decltype(platform)> nic(platform);
    DeviceConfig cfg;
    cfg.mac = kStation;
    cfg.link.training_ms = 0;
    ASSERT_TRUE(nic.open(cfg).ok());
    EXPECT_TRUE(model.firmware().host_owns_nic());
    ASSERT_TRUE(nic.link().set_mac_loopback(true).ok());
    ASSERT_TRUE(nic.wait_link_up(Deadline::after_us(platform.now_ns(), 1'000'000)).ok());

    auto mem = platform.dma_alloc(std::size_t{16} * 2048, 4096);
    ASSERT_TRUE(mem.ok());
    auto* cpu = static_cast<std::uint8_t*>(mem->cpu);
    std::uint32_t received = 0;
    for (std::uint32_t batch = 0; batch < 20; ++batch) {
      std::array<TxBuffer, 16> bufs{};
      std::array<TxPacket, 16> pkts{};
      for (std::uint32_t k = 0; k < 16; ++k) {
        std::uint8_t* f = cpu + std::size_t{k} * 2048;
        std::copy(kStation.bytes.begin(), kStation.bytes.end(), f);
        for (std::uint32_t b = 6; b < 1000; ++b)
          f[b] = static_cast<std::uint8_t>(batch * 16 + k + b);
        bufs[k] = {mem->device + std::uint64_t{k} * 2048, 1000};
        pkts[k] = {std::span(&bufs[k], 1), {}, k};
      }
      ASSERT_EQ(nic.tx(0).send(pkts).sent, 16u);
      model.run();
      std::array<Device<decltype(platform)>::Rx::Packet, 16> rx;
      const std::uint32_t n = nic.rx(0).poll(rx);
      ASSERT_EQ(n, 16u);
      for (std::uint32_t k = 0; k < n; ++k) {
        ASSERT_EQ(rx[k].len, 1000u);
        std::vector<std::uint8_t> got;
        for (const RxFragment& f : rx[k].fragments()) got.insert(got.end(), f.data, f.data + f.len);
        EXPECT_TRUE(std::equal(got.begin(), got.end(), cpu + std::size_t{k} * 2048))
            << "batch " << batch << " frame " << k;
      }
      nic.rx(0).release(std::span<const Device<decltype(platform)>::Rx::Packet>(rx.data(), n));
      EXPECT_EQ(nic.tx(0).reclaim([](std::uint64_t) {}), 16u);
      received += n;
    }
    EXPECT_EQ(received, 320u);
    platform.dma_free(*mem);
    ASSERT_TRUE(nic.close().ok());
    EXPECT_FALSE(model.firmware().host_owns_nic());
  }
  EXPECT_EQ(pool.live_blocks(), 0u);
  EXPECT_EQ(pool.bytes_free(), sizeof g_static_pool);
  EXPECT_EQ(model.faults().total(), 0u);
  EXPECT_TRUE(lines.empty()) << (lines.empty() ? "" : lines.front());
}

// --- fake UEFI: boot services and a PciIo whose BARs and DMA are the model's ---

struct FakeEvent {
  std::uint32_t type;
  uefi::Tpl tpl;
  uefi::EventNotify notify;
  void* ctx;
  bool signaled = false;
  bool closed = false;
};

struct FakeFirmware {
  uefi::BootServices bs{};
  uefi::Tpl tpl = uefi::kTplApplication;
  std::vector<std::unique_ptr<FakeEvent>> events;
  std::vector<uefi::Handle> handles;
  bool exited = false;
  std::uint64_t tpl_errors = 0;
};
FakeFirmware* g_fw = nullptr;  // the services have no context argument

void run_notify(FakeEvent& e) {
  const uefi::Tpl saved = g_fw->tpl;
  g_fw->tpl = e.tpl;
  e.notify(&e, e.ctx);
  g_fw->tpl = saved;
}

uefi::Tpl FBNIC_EFIAPI fake_raise_tpl(uefi::Tpl to) {
  if (to < g_fw->tpl) ++g_fw->tpl_errors;  // UEFI forbids lowering through RaiseTPL
  const uefi::Tpl old = g_fw->tpl;
  g_fw->tpl = to;
  return old;
}
void FBNIC_EFIAPI fake_restore_tpl(uefi::Tpl to) {
  if (to > g_fw->tpl) ++g_fw->tpl_errors;
  g_fw->tpl = to;
}
uefi::Status FBNIC_EFIAPI fake_create_event(std::uint32_t type, uefi::Tpl tpl, uefi::EventNotify fn,
                                            void* ctx, uefi::Event* out) {
  g_fw->events.push_back(std::make_unique<FakeEvent>(FakeEvent{type, tpl, fn, ctx}));
  *out = g_fw->events.back().get();
  return uefi::kSuccess;
}
uefi::Status FBNIC_EFIAPI fake_signal_event(uefi::Event e) {
  static_cast<FakeEvent*>(e)->signaled = true;
  return uefi::kSuccess;
}
uefi::Status FBNIC_EFIAPI fake_check_event(uefi::Event e) {
  auto& ev = *static_cast<FakeEvent*>(e);
  if (!ev.signaled && (ev.type & uefi::kEvtNotifyWait) != 0) run_notify(ev);
  if (!ev.signaled) return uefi::kNotReady;
  ev.signaled = false;
  return uefi::kSuccess;
}
uefi::Status FBNIC_EFIAPI fake_close_event(uefi::Event e) {
  static_cast<FakeEvent*>(e)->closed = true;
  return uefi::kSuccess;
}
uefi::Status FBNIC_EFIAPI fake_stall(std::uintptr_t) { return uefi::kSuccess; }
uefi::Status FBNIC_EFIAPI fake_exit_boot_services(uefi::Handle, std::uintptr_t) {
  for (auto& e : g_fw->events) {
    if (e->type == uefi::kEvtSignalExitBootServices && !e->closed) run_notify(*e);
  }
  g_fw->exited = true;
  // As EDK2 does: whoever calls a boot service from now on calls address 0.
  g_fw->bs = {};
  return uefi::kSuccess;
}
uefi::Status FBNIC_EFIAPI fake_locate_handle_buffer(uefi::LocateSearchType, const uefi::Guid*,
                                                    void*, std::uintptr_t* count,
                                                    uefi::Handle** buffer) {
  if (g_fw->handles.empty()) return uefi::kNotFound;
  *count = g_fw->handles.size();
  *buffer = static_cast<uefi::Handle*>(std::malloc(sizeof(uefi::Handle) * g_fw->handles.size()));
  std::copy(g_fw->handles.begin(), g_fw->handles.end(), *buffer);
  return uefi::kSuccess;
}
uefi::Status FBNIC_EFIAPI fake_handle_protocol(uefi::Handle h, const uefi::Guid*, void** out) {
  *out = h;  // each fake handle is its PciIo
  return uefi::kSuccess;
}
uefi::Status FBNIC_EFIAPI fake_free_pool(void* p) {
  std::free(p);
  return uefi::kSuccess;
}

// A PCI function: config space answers with an ID; BAR 0 and 4 and DMA are the model's.
struct FakePci {
  // The protocol and the way back from it (the pointer the adapter passes is &link.io).
  struct Link {
    uefi::PciIo io{};
    FakePci* self = nullptr;
  } link;
  uefi::PciIo& io = link.io;
  Model* model = nullptr;
  std::uint32_t id = 0;
  std::uint64_t attributes = 0;
  std::uint64_t next_iova = kIova;
  std::map<void*, std::uint64_t> buffers;  // host address -> pages
  // Map's handles are small numbers, not IOVAs: an IOVA does not fit a 32-bit host's pointer.
  std::map<std::uintptr_t, std::uint64_t> mappings;  // handle -> IOVA
  std::uintptr_t next_handle = 1;
  std::size_t mapped = 0;
  std::uint64_t bad_accesses = 0;

  static FakePci& of(uefi::PciIo* p) { return *reinterpret_cast<Link*>(p)->self; }

  static uefi::Status FBNIC_EFIAPI mem_read(uefi::PciIo* self, uefi::PciIoWidth w, std::uint8_t bar,
                                            std::uint64_t off, std::uintptr_t count, void* buf) {
    FakePci& f = of(self);
    if (w != uefi::PciIoWidth::kUint32 || count != 1 || (bar != 0 && bar != 4)) {
      ++f.bad_accesses;
      return uefi::kInvalidParameter;
    }
    const std::uint32_t v = f.model->read32(static_cast<Bar>(bar), static_cast<std::uint32_t>(off));
    std::memcpy(buf, &v, 4);
    return uefi::kSuccess;
  }
  static uefi::Status FBNIC_EFIAPI mem_write(uefi::PciIo* self, uefi::PciIoWidth w,
                                             std::uint8_t bar, std::uint64_t off,
                                             std::uintptr_t count, void* buf) {
    FakePci& f = of(self);
    if (w != uefi::PciIoWidth::kUint32 || count != 1 || (bar != 0 && bar != 4)) {
      ++f.bad_accesses;
      return uefi::kInvalidParameter;
    }
    std::uint32_t v;
    std::memcpy(&v, buf, 4);
    f.model->write32(static_cast<Bar>(bar), static_cast<std::uint32_t>(off), v);
    return uefi::kSuccess;
  }
  static uefi::Status FBNIC_EFIAPI config_read(uefi::PciIo* self, uefi::PciIoWidth,
                                               std::uint32_t off, std::uintptr_t, void* buf) {
    const std::uint32_t v = off == 0 ? of(self).id : 0;
    std::memcpy(buf, &v, 4);
    return uefi::kSuccess;
  }
  static uefi::Status FBNIC_EFIAPI allocate(uefi::PciIo* self, uefi::AllocateType, uefi::MemoryType,
                                            std::uintptr_t pages, void** host, std::uint64_t) {
    *host = std::aligned_alloc(4096, pages * 4096);
    of(self).buffers[*host] = pages;
    return uefi::kSuccess;
  }
  static uefi::Status FBNIC_EFIAPI free_buffer(uefi::PciIo* self, std::uintptr_t pages,
                                               void* host) {
    FakePci& f = of(self);
    auto it = f.buffers.find(host);
    if (it == f.buffers.end() || it->second != pages) return uefi::kInvalidParameter;
    f.buffers.erase(it);
    std::free(host);
    return uefi::kSuccess;
  }
  static uefi::Status FBNIC_EFIAPI map(uefi::PciIo* self, uefi::PciIoOperation op, void* host,
                                       std::uintptr_t* bytes, uefi::PhysicalAddress* device,
                                       void** mapping) {
    FakePci& f = of(self);
    if (op != uefi::PciIoOperation::kBusMasterCommonBuffer) return uefi::kUnsupported;
    if (!f.model->dma_space().map(f.next_iova, host, *bytes)) return uefi::kOutOfResources;
    *device = f.next_iova;
    f.mappings[f.next_handle] = f.next_iova;
    *mapping = reinterpret_cast<void*>(f.next_handle++);  // NOLINT(performance-no-int-to-ptr)
    f.next_iova += *bytes + 4096;  // a gap: an overrun is a fault, not someone else's buffer
    ++f.mapped;
    return uefi::kSuccess;
  }
  static uefi::Status FBNIC_EFIAPI unmap(uefi::PciIo* self, void* mapping) {
    FakePci& f = of(self);
    const auto it = f.mappings.find(reinterpret_cast<std::uintptr_t>(mapping));
    if (it == f.mappings.end() || !f.model->dma_space().unmap(it->second)) {
      return uefi::kInvalidParameter;
    }
    f.mappings.erase(it);
    --f.mapped;
    return uefi::kSuccess;
  }
  static uefi::Status FBNIC_EFIAPI get_location(uefi::PciIo*, std::uintptr_t* s, std::uintptr_t* b,
                                                std::uintptr_t* d, std::uintptr_t* fn) {
    *s = 0;
    *b = 3;
    *d = 0;
    *fn = 0;
    return uefi::kSuccess;
  }
  static uefi::Status FBNIC_EFIAPI attrs(uefi::PciIo* self, uefi::PciIoAttributeOperation op,
                                         std::uint64_t a, std::uint64_t* result) {
    FakePci& f = of(self);
    using Op = uefi::PciIoAttributeOperation;
    switch (op) {
      case Op::kGet: *result = f.attributes; break;
      case Op::kSupported:
        *result = uefi::kPciIoAttributeMemory | uefi::kPciIoAttributeBusMaster |
                  uefi::kPciIoAttributeDualAddressCycle;
        break;
      case Op::kEnable: f.attributes |= a; break;
      case Op::kDisable: f.attributes &= ~a; break;
      case Op::kSet: f.attributes = a; break;
    }
    return uefi::kSuccess;
  }

  FakePci(Model* m, std::uint32_t pci_id) : model(m), id(pci_id) {
    link.self = this;
    io.mem.read = &mem_read;
    io.mem.write = &mem_write;
    io.pci.read = &config_read;
    io.allocate_buffer = &allocate;
    io.free_buffer = &free_buffer;
    io.map = &map;
    io.unmap = &unmap;
    io.get_location = &get_location;
    io.attributes = &attrs;
  }
  FakePci(const FakePci&) = delete;
  FakePci& operator=(const FakePci&) = delete;
  ~FakePci() {
    for (auto& [host, pages] : buffers) std::free(host);
  }
};

// The composition a real UEFI driver uses: registers and DMA through PciIo.
using PciPlatform = bare::Platform<uefi::PciIoRegisters, uefi::PciIoDma>;
using Snp = uefi::SnpAdapter<PciPlatform>;

class Uefi : public ::testing::Test {
 protected:
  Uefi() {
    g_fw = &fw;
    fw.bs.raise_tpl = &fake_raise_tpl;
    fw.bs.restore_tpl = &fake_restore_tpl;
    fw.bs.create_event = &fake_create_event;
    fw.bs.signal_event = &fake_signal_event;
    fw.bs.check_event = &fake_check_event;
    fw.bs.close_event = &fake_close_event;
    fw.bs.stall = &fake_stall;
    fw.bs.exit_boot_services = &fake_exit_boot_services;
    fw.bs.locate_handle_buffer = &fake_locate_handle_buffer;
    fw.bs.handle_protocol = &fake_handle_protocol;
    fw.bs.free_pool = &fake_free_pool;
    fw.handles = {&other.io, &nic_pci.io, &another.io};
    model.set_tap(
        {[](void* c, std::span<const std::uint8_t>) { ++*static_cast<std::uint64_t*>(c); },
         &wire_frames});
  }
  ~Uefi() override {
    snp.reset();  // its destructor still calls the (fake) boot services
    g_fw = nullptr;
  }

  // Finds the function, enables it, and builds the adapter over it.
  void make_adapter() {
    ASSERT_EQ(uefi::PciDevice::find(&fw.bs, uefi::kMetaVendorId, uefi::kFbnicDeviceId, &pci),
              uefi::kSuccess);
    ASSERT_EQ(pci.enable(), uefi::kSuccess);
    uefi::SnpConfig cfg;
    cfg.device.mac = kStation;
    cfg.device.link.training_ms = 0;
    cfg.stop_bus_master = [](void* c) { static_cast<uefi::PciDevice*>(c)->disable_bus_master(); };
    cfg.stop_bus_master_ctx = &pci;
    snp = std::make_unique<Snp>(platform, &fw.bs, cfg);
    ASSERT_EQ(snp->attach(), uefi::kSuccess);
    net = snp->protocol();
  }

  // Start, Initialize, MAC loopback, and GetStatus until MediaPresent.
  void bring_up() {
    ASSERT_EQ(net->start(net), uefi::kSuccess);
    bring_up_started();
  }
  void bring_up_started() {
    ASSERT_EQ(net->initialize(net, 0, 0), uefi::kSuccess);
    ASSERT_TRUE(snp->device().link().set_mac_loopback(true).ok());
    for (int i = 0; i < 100 && net->mode->media_present == 0; ++i) {
      std::uint32_t irq = 0;
      ASSERT_EQ(net->get_status(net, &irq, nullptr), uefi::kSuccess);
      platform.delay_us(1000);
    }
    ASSERT_NE(net->mode->media_present, 0);
  }

  static std::vector<std::uint8_t> frame(std::uint32_t i, std::size_t len) {
    std::vector<std::uint8_t> f(len);
    for (std::size_t b = 14; b < len; ++b)
      f[b] = static_cast<std::uint8_t>(std::size_t{i} * 31 + b);
    return f;
  }
  uefi::Status send(std::vector<std::uint8_t>& f, const MacAddress& to = kStation) {
    uefi::MacAddr dest{};
    std::copy(to.bytes.begin(), to.bytes.end(), dest.addr);
    const std::uint16_t type = 0x88B5;
    return net->transmit(net, 14, f.size(), f.data(), nullptr, &dest, &type);
  }
  // Receive until EFI_NOT_READY.
  std::vector<std::vector<std::uint8_t>> receive_all() {
    std::vector<std::vector<std::uint8_t>> out;
    for (;;) {
      std::vector<std::uint8_t> buf(2048);
      std::uintptr_t size = buf.size();
      const uefi::Status st =
          net->receive(net, nullptr, &size, buf.data(), nullptr, nullptr, nullptr);
      if (st == uefi::kNotReady) return out;
      EXPECT_EQ(st, uefi::kSuccess);
      if (st != uefi::kSuccess) return out;
      buf.resize(size);
      out.push_back(std::move(buf));
    }
  }
  std::vector<void*> recycle_all() {
    std::vector<void*> out;
    for (;;) {
      void* buf = nullptr;
      EXPECT_EQ(net->get_status(net, nullptr, &buf), uefi::kSuccess);
      if (buf == nullptr) return out;
      out.push_back(buf);
    }
  }

  FakeFirmware fw;
  Model model;
  FakePci nic_pci{&model, 0x0013'1D9Bu};
  FakePci other{&model, 0x1000'8086u};
  FakePci another{&model, 0x0001'1AF4u};
  uefi::PciDevice pci;
  uefi::PciIoDma dma{&nic_pci.io};
  PciPlatform platform{uefi::PciIoRegisters(&nic_pci.io), dma, model_clock(model)};
  std::unique_ptr<Snp> snp;
  uefi::SimpleNetwork* net = nullptr;
  std::uint64_t wire_frames = 0;
};

TEST_F(Uefi, FindsTheDeviceByIdAndOwnsItsAttributes) {
  uefi::PciDevice found;
  std::uint32_t scanned = 0;
  ASSERT_EQ(
      uefi::PciDevice::find(&fw.bs, uefi::kMetaVendorId, uefi::kFbnicDeviceId, &found, &scanned),
      uefi::kSuccess);
  EXPECT_EQ(found.pci_io(), &nic_pci.io);
  EXPECT_EQ(found.location().bus, 3u);
  ASSERT_EQ(found.enable(), uefi::kSuccess);
  EXPECT_EQ(nic_pci.attributes, uefi::kPciIoAttributeMemory | uefi::kPciIoAttributeBusMaster |
                                    uefi::kPciIoAttributeDualAddressCycle);
  ASSERT_EQ(found.restore(), uefi::kSuccess);
  EXPECT_EQ(nic_pci.attributes, 0u);

  EXPECT_EQ(uefi::PciDevice::find(&fw.bs, uefi::kMetaVendorId, 0x0042, &found, &scanned),
            uefi::kNotFound);
  EXPECT_EQ(scanned, 3u);
  fw.handles.clear();
  EXPECT_EQ(uefi::PciDevice::find(&fw.bs, uefi::kMetaVendorId, uefi::kFbnicDeviceId, &found),
            uefi::kNotFound);
}

TEST_F(Uefi, StatesAndTheirTransitionsAsEdk2DriversUseThem) {
  make_adapter();
  std::uint32_t irq = 0;
  std::vector<std::uint8_t> f = frame(0, 60);
  EXPECT_EQ(net->mode->state, uefi::SnpState::kStopped);
  EXPECT_EQ(net->stop(net), uefi::kNotStarted);
  EXPECT_EQ(net->initialize(net, 0, 0), uefi::kNotStarted);
  EXPECT_EQ(net->shutdown(net), uefi::kNotStarted);
  EXPECT_EQ(net->get_status(net, &irq, nullptr), uefi::kNotStarted);
  EXPECT_EQ(send(f), uefi::kNotStarted);

  ASSERT_EQ(net->start(net), uefi::kSuccess);
  EXPECT_EQ(net->mode->state, uefi::SnpState::kStarted);
  EXPECT_EQ(net->start(net), uefi::kAlreadyStarted);
  EXPECT_EQ(net->shutdown(net), uefi::kDeviceError);
  EXPECT_EQ(send(f), uefi::kDeviceError);
  EXPECT_EQ(net->get_status(net, &irq, nullptr), uefi::kDeviceError);

  ASSERT_EQ(net->initialize(net, 0, 0), uefi::kSuccess);
  EXPECT_EQ(net->mode->state, uefi::SnpState::kInitialized);
  EXPECT_TRUE(model.firmware().host_owns_nic());
  EXPECT_EQ(net->mode->receive_filter_setting, uefi::kReceiveUnicast | uefi::kReceiveBroadcast);
  EXPECT_EQ(net->start(net), uefi::kAlreadyStarted);
  EXPECT_EQ(net->stop(net), uefi::kDeviceError);
  EXPECT_EQ(net->initialize(net, 0, 0), uefi::kDeviceError);

  ASSERT_EQ(net->shutdown(net), uefi::kSuccess);
  EXPECT_EQ(net->mode->state, uefi::SnpState::kStarted);
  EXPECT_FALSE(model.firmware().host_owns_nic());
  EXPECT_TRUE(nic_pci.buffers.empty());  // every PciIo buffer freed...
  EXPECT_EQ(nic_pci.mapped, 0u);         // ...and unmapped
  ASSERT_EQ(net->stop(net), uefi::kSuccess);
  EXPECT_EQ(net->mode->state, uefi::SnpState::kStopped);

  // And again: a driver may be started and stopped many times.
  ASSERT_EQ(net->start(net), uefi::kSuccess);
  ASSERT_EQ(net->initialize(net, 0, 0), uefi::kSuccess);
  ASSERT_EQ(net->reset(net, 0), uefi::kSuccess);
  EXPECT_EQ(net->mode->state, uefi::SnpState::kInitialized);
  snp->detach();  // a driver's Stop(): shuts down, closes the events
  EXPECT_EQ(net->mode->state, uefi::SnpState::kStopped);
  EXPECT_FALSE(model.firmware().host_owns_nic());
  EXPECT_TRUE(nic_pci.buffers.empty());
  EXPECT_TRUE(std::all_of(fw.events.begin(), fw.events.end(), [](auto& e) { return e->closed; }));

  EXPECT_EQ(fw.tpl, uefi::kTplApplication);
  EXPECT_EQ(fw.tpl_errors, 0u);
  EXPECT_EQ(nic_pci.bad_accesses, 0u);
  EXPECT_EQ(model.faults().total(), 0u);
}

TEST_F(Uefi, LoopbackThroughTransmitReceiveAndRecycledBuffers) {
  make_adapter();
  bring_up();
  uefi::BootServices& bs = fw.bs;
  std::uintptr_t size = 2048;
  std::vector<std::uint8_t> rx(2048);
  EXPECT_EQ(net->receive(net, nullptr, &size, rx.data(), nullptr, nullptr, nullptr),
            uefi::kNotReady);
  EXPECT_EQ(bs.check_event(net->wait_for_packet), uefi::kNotReady);

  std::vector<std::vector<std::uint8_t>> frames;
  for (std::uint32_t i = 0; i < 16; ++i) frames.push_back(frame(i, 60 + i * 90));
  for (auto& f : frames) ASSERT_EQ(send(f), uefi::kSuccess);
  // Transmit wrote the header into the caller's buffer: destination, source, type.
  EXPECT_TRUE(std::equal(kStation.bytes.begin(), kStation.bytes.end(), frames[3].begin()));
  EXPECT_TRUE(std::equal(kStation.bytes.begin(), kStation.bytes.end(), frames[3].begin() + 6));
  EXPECT_EQ(frames[3][12], 0x88);
  EXPECT_EQ(frames[3][13], 0xB5);

  model.run();
  EXPECT_EQ(bs.check_event(net->wait_for_packet), uefi::kSuccess);
  std::uint32_t irq = 0;
  ASSERT_EQ(net->get_status(net, &irq, nullptr), uefi::kSuccess);
  EXPECT_EQ(irq, uefi::kReceiveInterrupt | uefi::kTransmitInterrupt);

  // A buffer too small keeps the packet for the next call and says how much it needs.
  size = 10;
  EXPECT_EQ(net->receive(net, nullptr, &size, rx.data(), nullptr, nullptr, nullptr),
            uefi::kBufferTooSmall);
  EXPECT_EQ(size, frames[0].size());
  std::uintptr_t header = 0;
  uefi::MacAddr src{};
  uefi::MacAddr dst{};
  std::uint16_t proto = 0;
  size = rx.size();
  ASSERT_EQ(net->receive(net, &header, &size, rx.data(), &src, &dst, &proto), uefi::kSuccess);
  EXPECT_EQ(header, 14u);
  EXPECT_EQ(proto, 0x88B5);
  EXPECT_TRUE(std::equal(kStation.bytes.begin(), kStation.bytes.end(), src.addr));
  EXPECT_TRUE(std::equal(kStation.bytes.begin(), kStation.bytes.end(), dst.addr));
  rx.resize(size);
  EXPECT_EQ(rx, frames[0]);
  const auto rest = receive_all();
  ASSERT_EQ(rest.size(), 15u);
  for (std::size_t i = 0; i < rest.size(); ++i) EXPECT_EQ(rest[i], frames[i + 1]) << i;

  // Each caller buffer comes back once, in order.
  const auto recycled = recycle_all();
  ASSERT_EQ(recycled.size(), 16u);
  for (std::size_t i = 0; i < 16; ++i) EXPECT_EQ(recycled[i], frames[i].data());
  EXPECT_EQ(fw.tpl_errors, 0u);
  EXPECT_EQ(model.faults().total(), 0u);
}

TEST_F(Uefi, TransmitChecksItsArgumentsAndStopsWhenNothingIsRecycled) {
  make_adapter();
  bring_up();
  std::vector<std::uint8_t> f = frame(1, 100);
  uefi::MacAddr dest{};
  const std::uint16_t type = 0x0800;
  EXPECT_EQ(net->transmit(net, 14, 13, f.data(), nullptr, &dest, &type), uefi::kBufferTooSmall);
  EXPECT_EQ(net->transmit(net, 12, f.size(), f.data(), nullptr, &dest, &type),
            uefi::kInvalidParameter);
  EXPECT_EQ(net->transmit(net, 14, f.size(), f.data(), nullptr, nullptr, &type),
            uefi::kInvalidParameter);
  EXPECT_EQ(net->transmit(net, 14, 1515, f.data(), nullptr, &dest, &type), uefi::kInvalidParameter);
  EXPECT_EQ(net->transmit(net, 0, f.size(), nullptr, nullptr, nullptr, nullptr),
            uefi::kInvalidParameter);
  EXPECT_EQ(net->get_status(net, nullptr, nullptr), uefi::kInvalidParameter);

  // A caller that never calls GetStatus runs out of transmit slots.
  std::uint32_t accepted = 0;
  for (; accepted < 100; ++accepted) {
    model.run();
    if (net->transmit(net, 0, f.size(), f.data(), nullptr, nullptr, nullptr) != uefi::kSuccess)
      break;
  }
  EXPECT_EQ(accepted, Snp::kTxSlots);
  EXPECT_EQ(net->transmit(net, 0, f.size(), f.data(), nullptr, nullptr, nullptr), uefi::kNotReady);
  EXPECT_EQ(recycle_all().size(), Snp::kTxSlots);
  EXPECT_EQ(net->transmit(net, 0, f.size(), f.data(), nullptr, nullptr, nullptr), uefi::kSuccess);
}

TEST_F(Uefi, StationAddressAndReceiveFiltersReprogramTheClassifier) {
  make_adapter();
  bring_up();
  constexpr MacAddress kOther{{0x02, 0x11, 0x22, 0x33, 0x44, 0x55}};
  uefi::MacAddr other_mac{};
  std::copy(kOther.bytes.begin(), kOther.bytes.end(), other_mac.addr);
  ASSERT_EQ(net->station_address(net, 0, &other_mac), uefi::kSuccess);
  EXPECT_TRUE(
      std::equal(kOther.bytes.begin(), kOther.bytes.end(), net->mode->current_address.addr));
  EXPECT_TRUE(
      std::equal(kStation.bytes.begin(), kStation.bytes.end(), net->mode->permanent_address.addr));

  auto to_new = frame(1, 80);
  auto to_old = frame(2, 80);
  ASSERT_EQ(send(to_new, kOther), uefi::kSuccess);
  ASSERT_EQ(send(to_old, kStation), uefi::kSuccess);
  model.run();
  auto got = receive_all();
  ASSERT_EQ(got.size(), 1u);  // the old address no longer matches
  EXPECT_EQ(got[0], to_new);

  ASSERT_EQ(net->receive_filters(net, uefi::kReceivePromiscuous, 0, 0, 0, nullptr), uefi::kSuccess);
  ASSERT_EQ(send(to_old, kStation), uefi::kSuccess);
  model.run();
  EXPECT_EQ(receive_all().size(), 1u);  // promiscuous: everything
  ASSERT_EQ(net->receive_filters(net, 0, uefi::kReceivePromiscuous, 0, 0, nullptr), uefi::kSuccess);

  ASSERT_EQ(net->station_address(net, 1, nullptr), uefi::kSuccess);  // back to the permanent one
  ASSERT_EQ(send(to_old, kStation), uefi::kSuccess);
  model.run();
  EXPECT_EQ(receive_all().size(), 1u);

  uefi::MacAddr broadcast{};
  std::fill_n(broadcast.addr, 6, 0xFF);
  EXPECT_EQ(net->station_address(net, 0, &broadcast), uefi::kInvalidParameter);
  EXPECT_EQ(net->receive_filters(net, uefi::kReceiveMulticast, 0, 0, 1, &other_mac),
            uefi::kInvalidParameter);
  EXPECT_EQ(net->receive_filters(net, 0x20, 0, 0, 0, nullptr), uefi::kInvalidParameter);
  EXPECT_EQ(net->nv_data(net, 1, 0, 0, nullptr), uefi::kUnsupported);

  uefi::IpAddr ip{};
  uefi::MacAddr mac{};
  ip.v6[0] = 0xFF;
  ip.v6[1] = 0x02;
  ip.v6[15] = 0x01;
  ASSERT_EQ(net->mcast_ip_to_mac(net, 1, &ip, &mac), uefi::kSuccess);
  const std::array<std::uint8_t, 6> want6{0x33, 0x33, 0, 0, 0, 1};
  EXPECT_TRUE(std::equal(want6.begin(), want6.end(), mac.addr));
  ip = {};
  ip.v4[0] = 10;
  EXPECT_EQ(net->mcast_ip_to_mac(net, 0, &ip, &mac), uefi::kInvalidParameter);
  EXPECT_EQ(model.faults().total(), 0u);
}

// Statistics: the MAC's counters since Initialize (or the last reset), in the
// specification's table; what the device does not count reads all ones.
TEST_F(Uefi, StatisticsCountWhatTheMacCountedSinceInitialize) {
  make_adapter();
  ASSERT_EQ(net->start(net), uefi::kSuccess);
  std::uintptr_t size = 0;
  EXPECT_EQ(net->statistics(net, 0, &size, nullptr), uefi::kDeviceError);  // Started only
  bring_up_started();
  std::vector<std::vector<std::uint8_t>> frames;
  for (std::uint32_t i = 0; i < 5; ++i) frames.push_back(frame(i, 100));
  for (auto& f : frames) ASSERT_EQ(send(f), uefi::kSuccess);
  model.run();
  EXPECT_EQ(receive_all().size(), 5u);
  EXPECT_EQ(recycle_all().size(), 5u);

  using S = uefi::NetworkStatistics;
  EXPECT_EQ(net->statistics(net, 0, nullptr, nullptr), uefi::kSuccess);  // nothing asked
  size = 0;
  EXPECT_EQ(net->statistics(net, 0, &size, nullptr), uefi::kBufferTooSmall);
  EXPECT_EQ(size, sizeof(S));
  S table{};
  size = sizeof table;
  ASSERT_EQ(net->statistics(net, 0, &size, &table), uefi::kSuccess);
  EXPECT_EQ(table.counter[S::kTxGoodFrames], 5u);
  EXPECT_EQ(table.counter[S::kTxUnicastFrames], 5u);
  EXPECT_EQ(table.counter[S::kRxGoodFrames], 5u);  // MAC loopback: each frame came back
  EXPECT_EQ(table.counter[S::kRxUnicastFrames], 5u);
  EXPECT_EQ(table.counter[S::kRxBroadcastFrames], 0u);
  EXPECT_EQ(table.counter[S::kRxCrcErrorFrames], 0u);
  EXPECT_GE(table.counter[S::kTxTotalBytes], 5u * 100);
  EXPECT_EQ(table.counter[S::kCollisions], ~std::uint64_t{0});  // not counted
  EXPECT_EQ(table.counter[S::kTxRetryFrames], ~std::uint64_t{0});

  // A short table gets whole counters and the size it needs.
  S part{};
  size = 2 * sizeof(std::uint64_t) + 3;
  EXPECT_EQ(net->statistics(net, 0, &size, &part), uefi::kBufferTooSmall);
  EXPECT_EQ(size, sizeof(S));
  EXPECT_EQ(part.counter[S::kRxGoodFrames], 5u);
  EXPECT_EQ(part.counter[S::kRxUndersizeFrames], 0u);  // beyond the room: untouched

  // Reset only resets; counting starts again from there.
  EXPECT_EQ(net->statistics(net, 1, nullptr, nullptr), uefi::kSuccess);
  size = sizeof table;
  ASSERT_EQ(net->statistics(net, 0, &size, &table), uefi::kSuccess);
  EXPECT_EQ(table.counter[S::kTxGoodFrames], 0u);
  EXPECT_EQ(table.counter[S::kRxGoodFrames], 0u);
  EXPECT_EQ(model.faults().total(), 0u);
}

// Stop (a driver's detach) while frames wait to be sent: DMA stops, every buffer is
// unmapped and freed, and the device sends nothing afterwards nor reaches memory.
TEST_F(Uefi, StopWithTransmitsPendingLeavesNoDmaAndNoMemory) {
  make_adapter();
  bring_up();
  std::vector<std::vector<std::uint8_t>> frames;
  for (std::uint32_t i = 0; i < 6; ++i) frames.push_back(frame(i, 300));
  for (auto& f : frames) ASSERT_EQ(send(f), uefi::kSuccess);
  EXPECT_EQ(snp->tx_outstanding(), 6u);
  const std::uint64_t sent = wire_frames;
  snp->detach();
  EXPECT_EQ(net->mode->state, uefi::SnpState::kStopped);
  EXPECT_TRUE(nic_pci.buffers.empty());
  EXPECT_EQ(nic_pci.mapped, 0u);
  EXPECT_FALSE(model.firmware().host_owns_nic());
  const std::uint64_t attempted = model.dma_counters().reads + model.dma_counters().writes;
  model.advance(100'000'000);
  EXPECT_LE(wire_frames, sent + 6);  // what the device took before Stop, at most
  EXPECT_EQ(model.dma_counters().reads + model.dma_counters().writes, attempted);
  EXPECT_EQ(model.faults().total(), 0u);
}

// A device that vanishes while the protocol is up: the calls that need it fail, and the
// ones a network stack makes to tear down (ReceiveFilters, Shutdown, Stop) succeed once
// everything the adapter held is released, so that the stack above can let go.
TEST_F(Uefi, ARemovedDeviceFailsWhatNeedsItAndLetsTheStackGo) {
  make_adapter();
  bring_up();
  std::vector<std::uint8_t> f = frame(1, 200);
  ASSERT_EQ(send(f), uefi::kSuccess);
  model.set_removed(true);
  std::uintptr_t size = sizeof(uefi::NetworkStatistics);
  uefi::NetworkStatistics table{};
  EXPECT_EQ(net->statistics(net, 0, &size, &table), uefi::kDeviceError);
  std::uint32_t irq = 0;
  platform.delay_us(2'000'000);  // the heartbeat is due: GetStatus meets the removal
  EXPECT_EQ(net->get_status(net, &irq, nullptr), uefi::kSuccess);
  EXPECT_EQ(net->mode->media_present, 0);
  std::vector<std::uint8_t> g = frame(2, 200);
  EXPECT_EQ(send(g), uefi::kDeviceError);
  EXPECT_EQ(net->receive_filters(net, uefi::kReceiveMulticast, 0, 1, 0, nullptr), uefi::kSuccess);
  EXPECT_EQ(net->mode->receive_filter_setting & uefi::kReceiveMulticast, uefi::kReceiveMulticast);
  EXPECT_EQ(net->shutdown(net), uefi::kSuccess);
  EXPECT_TRUE(nic_pci.buffers.empty());
  EXPECT_EQ(nic_pci.mapped, 0u);
  EXPECT_EQ(net->stop(net), uefi::kSuccess);
  EXPECT_EQ(net->start(net), uefi::kSuccess);
  EXPECT_EQ(net->initialize(net, 0, 0), uefi::kDeviceError);  // nothing to bring up
  EXPECT_EQ(net->mode->state, uefi::SnpState::kStarted);
  EXPECT_TRUE(nic_pci.buffers.empty());
  // As EDK2's MNP does after a failed re-initialize: filters off, Shutdown, then Stop.
  EXPECT_EQ(net->receive_filters(net, 0, uefi::kReceiveMulticast, 1, 0, nullptr), uefi::kSuccess);
  EXPECT_EQ(net->shutdown(net), uefi::kSuccess);
  EXPECT_EQ(net->stop(net), uefi::kSuccess);
  EXPECT_EQ(fw.tpl_errors, 0u);
}

// Time passes on the platform's clock; GetStatus sends the heartbeat and reads its answer.
TEST_F(Uefi, GetStatusKeepsTheFirmwareHeartbeat) {
  make_adapter();
  bring_up();
  const std::uint64_t requests = model.firmware().stats().requests;
  const std::uint64_t beats = snp->device().firmware().stats().heartbeats;
  std::uint32_t irq = 0;
  for (int s = 0; s < 25; ++s) {
    platform.delay_us(1'000'000);
    ASSERT_EQ(net->get_status(net, &irq, nullptr), uefi::kSuccess);
  }
  EXPECT_EQ(model.firmware().stats().requests, requests + 2);  // at 10 s and 20 s
  EXPECT_EQ(snp->device().firmware().stats().heartbeats, beats + 2);
}

// A network stack calls GetStatus for every frame and every poll: it reads the link
// registers at most every 10 ms of the platform's clock, and no register in between.
TEST_F(Uefi, GetStatusReadsTheLinkAtMostEvery10Ms) {
  make_adapter();
  bring_up();
  std::uint32_t irq = 0;
  platform.delay_us(20'000);
  ASSERT_EQ(net->get_status(net, &irq, nullptr), uefi::kSuccess);  // the link polled now
  std::uint64_t reads = model.access_log().reads();
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(net->get_status(net, &irq, nullptr), uefi::kSuccess);
  EXPECT_EQ(model.access_log().reads(), reads);
  platform.delay_us(10'000);
  ASSERT_EQ(net->get_status(net, &irq, nullptr), uefi::kSuccess);
  EXPECT_GT(model.access_log().reads(), reads);
  EXPECT_NE(net->mode->media_present, 0);
}

// Frames queued before ExitBootServices would go out (the control) unless DMA stops; with
// the adapter's notification nothing more leaves, the device's bus mastering is off in both
// directions, and so is the PCI function's.
TEST_F(Uefi, ExitBootServicesStopsAllDma) {
  make_adapter();
  bring_up();
  std::vector<std::vector<std::uint8_t>> frames;
  for (std::uint32_t i = 0; i < 8; ++i) frames.push_back(frame(i, 200));
  for (std::uint32_t i = 0; i < 4; ++i) ASSERT_EQ(send(frames[i]), uefi::kSuccess);
  const std::uint64_t before = wire_frames;
  model.run();
  EXPECT_EQ(wire_frames, before + 4);  // the control: a running device sends what is queued

  for (std::uint32_t i = 4; i < 8; ++i) ASSERT_EQ(send(frames[i]), uefi::kSuccess);
  ASSERT_EQ(fw.bs.exit_boot_services(nullptr, 0), uefi::kSuccess);
  EXPECT_TRUE(snp->exited_boot_services());
  model.advance(100'000'000);
  EXPECT_EQ(wire_frames, before + 4);
  EXPECT_EQ(model.faults().total(), 0u);  // and it did not even try
  const auto ar =
      regs::PulObTlpHdrArCfg::from_raw(model.read32(Bar::kCsr, regs::PulObTlpHdrArCfg::kOffset));
  const auto aw =
      regs::PulObTlpHdrAwCfg::from_raw(model.read32(Bar::kCsr, regs::PulObTlpHdrAwCfg::kOffset));
  EXPECT_EQ(ar.get(regs::PulObTlpHdrArCfg::kBme), 0u);
  EXPECT_EQ(aw.get(regs::PulObTlpHdrAwCfg::kBme), 0u);
  EXPECT_EQ(nic_pci.attributes & uefi::kPciIoAttributeBusMaster, 0u);
  EXPECT_EQ(net->mode->state, uefi::SnpState::kStopped);
  // Boot services are gone (the fake zeroed them): calls fail on state without them.
  EXPECT_EQ(net->start(net), uefi::kDeviceError);
  EXPECT_EQ(net->shutdown(net), uefi::kNotStarted);
  std::uint32_t status = 0;
  EXPECT_EQ(net->get_status(net, &status, nullptr), uefi::kNotStarted);
  EXPECT_FALSE(nic_pci.buffers.empty());  // nothing may be freed at ExitBootServices
}

}  // namespace

// The driver's station address: upstream's from the serial number, or, when that gives no
// unicast address (or there is no serial number), one from the PCI location.
TEST(SnpDriver, StationAddressFromTheSerialNumberOrThePciLocation) {
  namespace u = fbnic::bare::uefi;
  const u::PciLocation at{0, 3, 4, 1};
  const fbnic::MacAddress from_dsn = u::station_address(0x0011'22ff'fe33'4455ull, at);
  EXPECT_EQ(from_dsn.bytes, (std::array<std::uint8_t, 6>{0x00, 0x11, 0x22, 0x33, 0x44, 0x55}));
  const std::array<std::uint8_t, 6> fallback{0x02, 0x1D, 0x9B, 0, 3, 0x21};
  EXPECT_EQ(u::station_address(std::nullopt, at).bytes, fallback);
  EXPECT_EQ(u::station_address(0x0111'22ff'fe33'4455ull, at).bytes, fallback) << "multicast";
  EXPECT_EQ(u::station_address(0, at).bytes, fallback) << "all zero";
}
