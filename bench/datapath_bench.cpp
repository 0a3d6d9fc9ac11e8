// The data path's driver-side cost per packet: Tx post + reclaim, Rx poll + refill +
// release, and forwarding (Rx to Tx, zero copy), at batch 1, 8, 32 and 64 and ring sizes
// 256 to 4096, each paired with a hand-written baseline (bench/paired.hpp: alternating
// timing windows, ratios per run, medians over runs, the noise).
//
// Only the driver's calls are timed. The device's part (completions, received frames) is
// done between windows by a minimal stand-in that writes the descriptors straight into
// ring memory, so the model's own work is excluded. Register writes go to a counting
// array: MMIO per packet is reported from those counts, and separately from the device
// model's access log (ModelMmio).
//
// The baseline does the same descriptor writes and reads in plain hand-written code with
// no abstraction and no checks: a floor for the library's cost.
#include <benchmark/benchmark.h>

#include <fbnic/fbnic.hpp>
#include <fbnic/mock/hosted.hpp>
#include <fbnic/mock/mock.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "paired.hpp"

namespace {
using namespace fbnic;

// --- a platform whose registers are an array: no device work behind an access ---
struct BenchPlatform {
  std::vector<std::uint32_t> bar0 = std::vector<std::uint32_t>(0x200000 / 4);
  std::uint64_t reads = 0;
  std::uint64_t writes = 0;

  std::uint32_t read32(Bar bar, std::uint32_t off) {
    ++reads;
    if (bar != Bar::kCsr) return 0;
    // Idle bitmaps read as idle; the master spare never reads all ones.
    return off >= regs::QmTwqIdle::at(0).offset && off <= regs::QmPpqIdle::at(3).offset
               ? 0xFFFF'FFFFu
               : bar0[off / 4];
  }
  void write32(Bar bar, std::uint32_t off, std::uint32_t v) {
    ++writes;
    if (bar == Bar::kCsr) bar0[off / 4] = v;
  }
  // Device addresses as an IOMMU gives them: from 4 GiB up, within the 46 bits a
  // descriptor carries (a process's own pointers may not be).
  struct Mapping {
    std::uint64_t device;
    std::uint8_t* cpu;
    std::size_t size;
  };
  std::vector<Mapping> mappings;
  std::uint64_t next_device = std::uint64_t{1} << 32;

  Result<DmaBuffer> dma_alloc(std::size_t size, std::size_t align) {
    const std::size_t rounded = (size + align - 1) / align * align;
    void* p = std::aligned_alloc(align < 64 ? 64 : align, rounded);
    if (p == nullptr) return Error::kNoMemory;
    std::memset(p, 0, size);
    next_device = (next_device + align - 1) / align * align;
    mappings.push_back({next_device, static_cast<std::uint8_t*>(p), rounded});
    next_device += rounded;
    return DmaBuffer{p, mappings.back().device, size};
  }
  void dma_free(const DmaBuffer& b) {
    std::erase_if(mappings, [&](const Mapping& m) { return m.cpu == b.cpu; });
    std::free(b.cpu);
  }
  // Where the device's address `device` is in this process.
  template <class T>
  T* cpu(std::uint64_t device) const {
    for (const Mapping& m : mappings) {
      if (device - m.device < m.size) return reinterpret_cast<T*>(m.cpu + (device - m.device));
    }
    std::abort();
  }
  std::uint64_t now_ns() {
    return static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  }
  void delay_us(std::uint32_t) {}
  void log(LogLevel, const char*) {}

  template <class R>
  std::uint32_t reg(regs::RegAddr<R> a) const {
    return bar0[a.offset / 4];
  }
  template <class Lo>
  std::uint64_t base(regs::RegAddr<Lo> lo) const {
    return (std::uint64_t{bar0[lo.offset / 4 + 1]} << 32) | bar0[lo.offset / 4];
  }
};
static_assert(Platform<BenchPlatform>);

// Every packet takes two Rx completions, so the RCQ is never below 256 entries.
constexpr std::uint32_t rcq_size(std::uint32_t ring) { return ring < 256 ? 256 : ring; }
constexpr std::uint32_t hpq_size(std::uint32_t ring) { return ring < 256 ? ring : 256; }

template <std::uint32_t Ring>
struct RingPolicy : DefaultPolicy {
  static constexpr std::uint32_t kTxRing = Ring;
  static constexpr std::uint32_t kTcqRing = Ring;
  static constexpr std::uint32_t kHpqRing = hpq_size(Ring);
  static constexpr std::uint32_t kPpqRing = 64;
  static constexpr std::uint32_t kRcqRing = rcq_size(Ring);
  static constexpr std::uint32_t kRxSparePages = 256;
};

constexpr std::uint32_t kFrame = 64;
constexpr std::uint32_t kFramesPerPage = 16;  // 64-byte frames packed on a 256-byte grid

// --- the device's side, written straight into ring memory ---
struct StandInDevice {
  BenchPlatform& p;
  std::uint32_t tcq_tail = 0;
  std::uint32_t rcq_tail = 0;
  std::uint32_t hpq_head = 0;
  std::uint32_t in_page = 0;

  // One completion covering everything up to the TWQ tail.
  void complete_tx(std::uint32_t tcq_size) {
    auto* tcq = p.cpu<std::uint64_t>(p.base(regs::TcqBal::at(0)));
    const std::uint32_t head = p.reg(regs::Twq0Tail::at(0));
    tcq[tcq_tail & (tcq_size - 1)] = desc::Tcd{}
                                         .set(desc::Tcd::kHead0, head)
                                         .set(desc::Tcd::kDone, (tcq_tail & tcq_size) == 0 ? 1 : 0)
                                         .raw();
    ++tcq_tail;
  }
  // n frames into header buffers in ring order, 16 to a buffer, HDR_AL + META each.
  void receive(std::uint32_t n, std::uint32_t rcq_size, std::uint32_t hpq_size) {
    auto* rcq = p.cpu<std::uint64_t>(p.base(regs::RcqBal::at(0)));
    const auto* hpq = p.cpu<const std::uint64_t>(p.base(regs::BdqHpqBal::at(0)));
    for (std::uint32_t i = 0; i < n; ++i) {
      const auto bd = desc::Bd::from_raw(hpq[hpq_head & (hpq_size - 1)]);
      const bool fin = ++in_page == kFramesPerPage;
      using R = desc::Rcd;
      const std::uint64_t done = (rcq_tail & rcq_size) == 0 ? 1 : 0;
      rcq[rcq_tail++ & (rcq_size - 1)] = R{}.set(R::kType, R::kTypeHdrAl)
                                             .set(R::kBuffId, bd.get(desc::Bd::kId))
                                             .set(R::kBuffLen, kFrame)
                                             .set(R::kBuffOff, 128 + 256 * (in_page - 1))
                                             .set(R::kPageFin, fin ? 1 : 0)
                                             .set(R::kDone, done)
                                             .raw();
      const std::uint64_t done2 = (rcq_tail & rcq_size) == 0 ? 1 : 0;
      rcq[rcq_tail++ & (rcq_size - 1)] = R{}.set(R::kType, R::kTypeMeta)
                                             .set(R::kRssHash, i)
                                             .set(R::kL4CsumOk, 1)
                                             .set(R::kDone, done2)
                                             .raw();
      if (fin) {
        in_page = 0;
        ++hpq_head;
      }
    }
  }
};

// --- the library's steps: each a separate, aligned function (bench/paired.hpp) ---

struct Sink {
  void operator()(std::uint64_t cookie) const { benchmark::DoNotOptimize(cookie); }
};

// Frames (TxFrame: one buffer, no offload) or general packets (TxPacket).
template <class Tx, class Item>
FBNIC_BENCH_STEP std::uint32_t lib_tx(Tx& txq, std::span<const Item> items) {
  txq.reclaim(Sink{});
  return txq.send(items).sent;
}

template <class Rx>
FBNIC_BENCH_STEP std::uint32_t lib_rx(Rx& rxq, std::span<typename Rx::Packet> out) {
  const std::uint32_t n = rxq.poll(out);
  rxq.release(std::span<const typename Rx::Packet>(out.data(), n));
  return n;
}

// The packets' page references travel with the Tx buffers (the cookie) and are dropped
// when the device has sent them.
template <class Rx, class Tx>
FBNIC_BENCH_STEP std::uint32_t lib_forward(Rx& rxq, Tx& txq, std::span<typename Rx::Packet> in,
                                           TxFrame* frames) {
  const std::uint32_t n = rxq.poll(in);
  for (std::uint32_t i = 0; i < n; ++i) {
    const RxFragment& f = in[i].frag[0];
    frames[i] = {{rxq.dma(f), f.len}, f.page};
  }
  std::array<std::uint16_t, 64> done;
  std::uint32_t k = 0;
  txq.reclaim([&](std::uint64_t page) { done[k++] = static_cast<std::uint16_t>(page); },
              done.size());
  rxq.release_pages(std::span(done.data(), k));
  return txq.send(std::span(frames, n)).sent;
}

template <std::uint32_t Ring>
struct LibRig {
  using Pol = RingPolicy<Ring>;
  using Rx = RxQueue<BenchPlatform, Pol>;
  using Tx = TxQueue<BenchPlatform, Pol>;
  BenchPlatform plat;
  Io<BenchPlatform> io{plat};
  Rx rxq{io, 0, 2};
  Tx txq{io, 0, 2};
  StandInDevice dev{plat};
  bool ready = rxq.allocate().ok() && rxq.enable().ok() && txq.allocate().ok() && txq.enable().ok();
};

// --- the hand-written baseline: the same descriptor traffic in plain code ---

template <std::uint32_t Ring>
struct PlainTx {
  std::uint64_t* twq;
  std::uint64_t* tcq;
  volatile std::uint32_t* doorbell;
  volatile std::uint32_t* tcq_doorbell;
  std::uint32_t tail = 0, clean = 0, tcq_head = 0;
  std::array<std::uint64_t, Ring> cookie{};
  std::array<std::uint8_t, Ring> ndesc{};

  void send(const TxBuffer* b, const std::uint64_t* cookies, std::uint32_t n) {
    std::uint32_t last = 0;
    for (std::uint32_t i = 0; i < n; ++i) {
      if (Ring - 1 - (tail - clean) < 2) break;
      cookie[tail & (Ring - 1)] = cookies[i];
      ndesc[tail & (Ring - 1)] = 2;
      last = tail;
      twq[tail++ & (Ring - 1)] = 1ull << 43;  // META: to the wire
      twq[tail++ & (Ring - 1)] =
          b[i].dma | (3ull << 46) | (std::uint64_t{b[i].len} << 48);  // LAST_AL
    }
    twq[last & (Ring - 1)] |= 1ull << 37;  // completion request on the last packet
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    *doorbell = tail & (Ring - 1);
  }
  template <class Fn>
  void reclaim(Fn&& done) {
    const std::uint32_t start = tcq_head;
    for (;;) {
      const std::uint64_t d = tcq[tcq_head & (Ring - 1)];
      if ((d >> 63) != (((tcq_head & Ring) == 0) ? 1u : 0u)) break;
      ++tcq_head;
      const std::uint32_t hw = static_cast<std::uint32_t>(d & 0xFFFF);
      while ((clean & (Ring - 1)) != hw) {
        done(cookie[clean & (Ring - 1)]);
        clean += ndesc[clean & (Ring - 1)];
      }
    }
    if (tcq_head != start) *tcq_doorbell = tcq_head & (Ring - 1);
  }
};

template <std::uint32_t Ring>
struct PlainRx {
  std::uint64_t* rcq;
  std::uint64_t* hpq;
  std::uint8_t* pages;
  std::uint64_t pages_dma;
  volatile std::uint32_t* rcq_doorbell;
  volatile std::uint32_t* hpq_doorbell;
  std::uint32_t head = 0, hpq_tail = 0, hpq_done = 0;
  static constexpr std::uint32_t kHpq = hpq_size(Ring);
  static constexpr std::uint32_t kRcq = rcq_size(Ring);

  struct Pkt {
    const std::uint8_t* data;
    std::uint32_t len;
    std::uint32_t hash;
  };
  void fill() {
    while (hpq_tail - hpq_done < kHpq - 1) {
      const std::uint32_t s = hpq_tail & (kHpq - 1);
      hpq[s] = (pages_dma + std::uint64_t{s} * 4096) | (std::uint64_t{s} << 48);
      ++hpq_tail;
    }
    *hpq_doorbell = hpq_tail & (kHpq - 1);
  }
  std::uint32_t poll(Pkt* out, std::uint32_t budget) {
    std::uint32_t n = 0;
    const std::uint32_t start = head;
    const std::uint8_t* data = nullptr;
    std::uint32_t len = 0;
    while (n < budget) {
      const std::uint64_t d = rcq[head & (kRcq - 1)];
      if ((d >> 63) != (((head & kRcq) == 0) ? 1u : 0u)) break;
      ++head;
      if (((d >> 61) & 3) == 0) {  // HDR_AL
        const std::uint32_t id = d & 0xFFFF;
        data = pages + std::size_t{id} * 4096 + ((d >> 32) & 0xFFF);
        len = (d >> 16) & 0x1FFF;
        hpq_done += (d >> 60) & 1;        // PAGE_FIN: the device is done with that buffer
      } else if (((d >> 61) & 3) == 3) {  // META
        out[n++] = {data, len, static_cast<std::uint32_t>(d)};
      }
    }
    if (head != start) {
      *rcq_doorbell = head & (kRcq - 1);
      fill();
    }
    return n;
  }
};

template <std::uint32_t Ring>
struct PlainRig {
  BenchPlatform plat;
  DmaBuffer twq, tcq, rcq, hpq, pages;
  PlainTx<Ring> tx;
  PlainRx<Ring> rx;
  StandInDevice dev{plat};
  PlainRig() {
    twq = plat.dma_alloc(Ring * 8, 4096).value();
    tcq = plat.dma_alloc(Ring * 8, 4096).value();
    rcq = plat.dma_alloc(PlainRx<Ring>::kRcq * 8, 4096).value();
    hpq = plat.dma_alloc(PlainRx<Ring>::kHpq * 8, 4096).value();
    pages = plat.dma_alloc(std::size_t{PlainRx<Ring>::kHpq} * 4096, 4096).value();
    auto reg = [&](auto addr) {
      return reinterpret_cast<volatile std::uint32_t*>(&plat.bar0[addr.offset / 4]);
    };
    tx = {static_cast<std::uint64_t*>(twq.cpu), static_cast<std::uint64_t*>(tcq.cpu),
          reg(regs::Twq0Tail::at(0)), reg(regs::TcqHead::at(0))};
    rx = {static_cast<std::uint64_t*>(rcq.cpu),
          static_cast<std::uint64_t*>(hpq.cpu),
          static_cast<std::uint8_t*>(pages.cpu),
          pages.device,
          reg(regs::RcqHead::at(0)),
          reg(regs::BdqHpqTail::at(0))};
    // Where the stand-in device finds the rings.
    auto set_base = [&](auto lo, std::uint64_t dma) {
      plat.bar0[lo.offset / 4] = static_cast<std::uint32_t>(dma);
      plat.bar0[lo.offset / 4 + 1] = static_cast<std::uint32_t>(dma >> 32);
    };
    set_base(regs::TcqBal::at(0), tcq.device);
    set_base(regs::RcqBal::at(0), rcq.device);
    set_base(regs::BdqHpqBal::at(0), hpq.device);
    rx.fill();
  }
  ~PlainRig() {
    for (auto* b : {&twq, &tcq, &rcq, &hpq, &pages}) plat.dma_free(*b);
  }
};

template <std::uint32_t Ring>
FBNIC_BENCH_STEP std::uint32_t base_tx(PlainTx<Ring>& tx, const TxBuffer* bufs,
                                       const std::uint64_t* cookies, std::uint32_t n) {
  tx.reclaim(Sink{});
  tx.send(bufs, cookies, n);
  return n;
}

template <std::uint32_t Ring>
FBNIC_BENCH_STEP std::uint32_t base_rx(PlainRx<Ring>& rx, typename PlainRx<Ring>::Pkt* out,
                                       std::uint32_t n) {
  return rx.poll(out, n);
}

template <std::uint32_t Ring>
FBNIC_BENCH_STEP std::uint32_t base_forward(PlainRig<Ring>& rig, typename PlainRx<Ring>::Pkt* in,
                                            TxBuffer* bufs, std::uint64_t* cookies,
                                            std::uint32_t batch) {
  const std::uint32_t n = rig.rx.poll(in, batch);
  for (std::uint32_t i = 0; i < n; ++i) {
    bufs[i] = {rig.pages.device + static_cast<std::uint64_t>(in[i].data - rig.rx.pages), in[i].len};
    cookies[i] = i;
  }
  rig.tx.reclaim(Sink{});
  rig.tx.send(bufs, cookies, n);
  return n;
}

// The targets issue 16 sets for batch 32 (library / baseline).
constexpr double kTargetTx = 1.3;
constexpr double kTargetRx = 1.5;
constexpr double kTargetForward = 1.3;

// Runs both sides alternately: each iteration times one library step and one baseline
// step, the first of the two alternating. Before the timed iterations, each side goes
// around its rings twice untimed.
template <class Lib, class Base>
void paired(benchmark::State& state, std::uint32_t untimed, Lib&& lib, Base&& base,
            bench::Windows& wl, bench::Windows& wb) {
  bench::Windows scratch;
  scratch.reserve(untimed);
  for (std::uint32_t i = 0; i < untimed && !state.error_occurred(); ++i) {
    lib(scratch);
    base(scratch);
  }
  wl.reserve(state.max_iterations);
  wb.reserve(state.max_iterations);
  bool lib_first = true;
  for (auto _ : state) {
    if (lib_first) {
      lib(wl);
      base(wb);
    } else {
      base(wb);
      lib(wl);
    }
    lib_first = !lib_first;
  }
}

// Steps before the timed ones: twice around the rings.
constexpr std::uint32_t warmup(std::uint32_t ring, std::uint32_t batch) {
  return batch == 0 ? 0 : 2 * ring / batch + 64;
}

std::string bench_name(const char* path, std::uint32_t ring, std::uint32_t batch) {
  return std::string(path) + "/ring:" + std::to_string(ring) + "/batch:" + std::to_string(batch);
}

void mmio_counts(bench::Runs& r, const BenchPlatform& plat, std::uint64_t reads0,
                 std::uint64_t writes0, double packets) {
  r.extra["mmio_rd/pkt"] = static_cast<double>(plat.reads - reads0) / packets;
  r.extra["mmio_wr/pkt"] = static_cast<double>(plat.writes - writes0) / packets;
}

// "tx" sends TxFrames; "tx-packets" the same frames as TxPackets.
template <std::uint32_t Ring, class Item = TxFrame>
void BM_Tx(benchmark::State& state, std::uint32_t batch) {
  auto lib = std::make_unique<LibRig<Ring>>();
  auto base = std::make_unique<PlainRig<Ring>>();
  if (!lib->ready) return state.SkipWithError("queue setup");
  std::vector<TxBuffer> bufs(batch, TxBuffer{0x1000, kFrame});
  std::vector<Item> items(batch);
  std::vector<std::uint64_t> cookies(batch, 1);
  for (std::uint32_t i = 0; i < batch; ++i) {
    if constexpr (std::is_same_v<Item, TxFrame>) {
      items[i] = {bufs[i], i};
    } else {
      items[i] = {std::span(&bufs[i], 1), {}, i};
    }
  }
  constexpr const char* kPath = std::is_same_v<Item, TxFrame> ? "tx" : "tx-packets";
  bool lib_sent = false;
  bool base_sent = false;
  bench::Windows wl, wb;
  const std::uint64_t reads0 = lib->plat.reads, writes0 = lib->plat.writes;
  const std::uint64_t doorbells0 = lib->txq.counters().doorbells;
  paired(
      state, warmup(Ring, batch),
      [&](bench::Windows& w) {
        if (lib_sent) lib->dev.complete_tx(Ring);  // the device, untimed
        std::uint32_t sent = 0;
        w.time([&] { sent = lib_tx(lib->txq, std::span<const Item>(items)); });
        if (sent != batch) state.SkipWithError("ring full");
        lib_sent = true;
      },
      [&](bench::Windows& w) {
        if (base_sent) base->dev.complete_tx(Ring);
        w.time([&] { base_tx<Ring>(base->tx, bufs.data(), cookies.data(), batch); });
        base_sent = true;
      },
      wl, wb);
  if (state.error_occurred()) return;
  const std::string name = bench_name(kPath, Ring, batch);
  // The target is for frames; general packets are reported beside them.
  const double target = batch == 32 && std::is_same_v<Item, TxFrame> ? kTargetTx : 0;
  bench::record(state, name, "ticks/pkt", target, wl, wb, batch, 1);
  bench::Runs& r = bench::results()[name];
  const double batches = static_cast<double>(lib->txq.counters().packets) / batch;
  mmio_counts(r, lib->plat, reads0, writes0, batches * batch);
  r.extra["doorbells/batch"] =
      static_cast<double>(lib->txq.counters().doorbells - doorbells0) / batches;
}

template <std::uint32_t Ring>
void BM_Rx(benchmark::State& state, std::uint32_t batch) {
  using Rx = typename LibRig<Ring>::Rx;
  auto lib = std::make_unique<LibRig<Ring>>();
  auto base = std::make_unique<PlainRig<Ring>>();
  if (!lib->ready) return state.SkipWithError("queue setup");
  std::vector<typename Rx::Packet> out(batch);
  std::vector<typename PlainRx<Ring>::Pkt> base_out(batch);
  bench::Windows wl, wb;
  const std::uint64_t reads0 = lib->plat.reads, writes0 = lib->plat.writes;
  std::uint64_t packets = 0;
  paired(
      state, warmup(Ring, batch),
      [&](bench::Windows& w) {
        lib->dev.receive(batch, Rx::kRcq, Rx::kHpq);  // the device, untimed
        std::uint32_t n = 0;
        w.time([&] { n = lib_rx(lib->rxq, std::span(out)); });
        if (n != batch) state.SkipWithError("lost packets");
        packets += n;
      },
      [&](bench::Windows& w) {
        base->dev.receive(batch, PlainRx<Ring>::kRcq, PlainRx<Ring>::kHpq);
        std::uint32_t n = 0;
        w.time([&] { n = base_rx<Ring>(base->rx, base_out.data(), batch); });
        if (n != batch) state.SkipWithError("lost packets");
      },
      wl, wb);
  if (state.error_occurred()) return;
  const std::string name = bench_name("rx", Ring, batch);
  bench::record(state, name, "ticks/pkt", batch == 32 ? kTargetRx : 0, wl, wb, batch, 1);
  mmio_counts(bench::results()[name], lib->plat, reads0, writes0, static_cast<double>(packets));
}

template <std::uint32_t Ring>
void BM_Forward(benchmark::State& state, std::uint32_t batch) {
  using Rx = typename LibRig<Ring>::Rx;
  auto lib = std::make_unique<LibRig<Ring>>();
  auto base = std::make_unique<PlainRig<Ring>>();
  if (!lib->ready) return state.SkipWithError("queue setup");
  std::vector<typename Rx::Packet> in(batch);
  std::vector<TxFrame> frames(batch);
  std::vector<typename PlainRx<Ring>::Pkt> base_in(batch);
  std::vector<TxBuffer> base_bufs(batch);
  std::vector<std::uint64_t> cookies(batch);
  bool lib_sent = false;
  bool base_sent = false;
  bench::Windows wl, wb;
  paired(
      state, warmup(Ring, batch),
      [&](bench::Windows& w) {
        if (lib_sent) lib->dev.complete_tx(Ring);  // the device, untimed
        lib->dev.receive(batch, Rx::kRcq, Rx::kHpq);
        std::uint32_t n = 0;
        w.time([&] { n = lib_forward(lib->rxq, lib->txq, std::span(in), frames.data()); });
        if (n != batch) state.SkipWithError("lost packets");
        lib_sent = true;
      },
      [&](bench::Windows& w) {
        if (base_sent) base->dev.complete_tx(Ring);
        base->dev.receive(batch, PlainRx<Ring>::kRcq, PlainRx<Ring>::kHpq);
        std::uint32_t n = 0;
        w.time([&] {
          n = base_forward<Ring>(*base, base_in.data(), base_bufs.data(), cookies.data(), batch);
        });
        if (n != batch) state.SkipWithError("lost packets");
        base_sent = true;
      },
      wl, wb);
  if (state.error_occurred()) return;
  bench::record(state, bench_name("forward", Ring, batch), "ticks/pkt",
                batch == 32 ? kTargetForward : 0, wl, wb, batch, 1);
}

// --- MMIO per packet on the device model itself (its access log), batch 32 ---
void BM_ModelMmio(benchmark::State& state) {
  mock::Device<> model;
  mock::HostRam ram(64u << 20);
  mock::Platform<mock::Device<>> plat(model, ram.span());
  fbnic::Device<mock::Platform<mock::Device<>>> nic(plat);
  DeviceConfig cfg;
  cfg.mac = MacAddress{{2, 0, 0, 0, 0, 1}};
  cfg.link.training_ms = 0;
  if (!nic.open(cfg).ok() || !nic.link().set_mac_loopback(true).ok()) state.SkipWithError("open");
  model.run();
  nic.link().poll().status().ignore();
  auto mem = plat.dma_alloc(32 * 128, 4096).value();
  auto* f = static_cast<std::uint8_t*>(mem.cpu);
  std::array<TxBuffer, 32> bufs{};
  std::array<TxPacket, 32> pkts{};
  for (std::uint32_t i = 0; i < 32; ++i) {
    std::memcpy(f + i * 128, cfg.mac.bytes.data(), 6);
    f[i * 128 + 12] = 0x88;
    f[i * 128 + 13] = 0xB5;
    bufs[i] = {mem.device + i * 128, 64};
    pkts[i] = {std::span(&bufs[i], 1), {}, i};
  }
  std::array<fbnic::Device<mock::Platform<mock::Device<>>>::Rx::Packet, 32> rx{};
  std::uint64_t packets = 0, reads = 0, writes = 0, driver_writes = 0;
  for (auto _ : state) {
    model.access_log().clear();
    const auto sent = nic.tx(0).send(pkts).sent;
    driver_writes += model.access_log().writes();
    model.run();
    std::uint32_t got = 0;
    while (got < sent) {
      const std::uint32_t n = nic.rx(0).poll(rx);
      nic.rx(0).release(std::span(rx.data(), n));
      got += n;
      if (n == 0) break;
    }
    nic.tx(0).reclaim([](std::uint64_t) {});
    reads += model.access_log().reads();
    writes += model.access_log().writes();
    packets += got;
  }
  state.counters["mmio_reads_per_pkt"] = static_cast<double>(reads) / static_cast<double>(packets);
  state.counters["mmio_writes_per_pkt"] =
      static_cast<double>(writes) / static_cast<double>(packets);
  state.counters["tx_doorbells_per_batch"] =
      static_cast<double>(driver_writes) / static_cast<double>(state.iterations());
  plat.dma_free(mem);
}

template <std::uint32_t Ring>
void register_ring(std::uint32_t samples) {
  const auto add = [&](const char* path, void (*fn)(benchmark::State&, std::uint32_t),
                       std::uint32_t batch) {
    const std::string name = bench_name(path, Ring, batch);
    bench::declare(name);
    bench::add(name, fn, batch)->Iterations(samples);
  };
  for (const std::uint32_t batch : {1u, 8u, 32u, 64u}) {
    add("tx", BM_Tx<Ring>, batch);
    add("rx", BM_Rx<Ring>, batch);
    add("forward", BM_Forward<Ring>, batch);
  }
}

void register_all(std::uint32_t samples) {
  register_ring<256>(samples);
  register_ring<512>(samples);
  register_ring<1024>(samples);
  const std::string packets = bench_name("tx-packets", 1024, 32);
  bench::declare(packets);
  bench::add(packets, BM_Tx<1024, TxPacket>, 32)->Iterations(samples);
  register_ring<2048>(samples);
  register_ring<4096>(samples);
  bench::add("ModelMmio", BM_ModelMmio)->Iterations(2000)->Repetitions(1);
}

}  // namespace

int main(int argc, char** argv) { return fbnic::bench::paired_main(argc, argv, register_all); }
