// Encoding and parsing a capabilities response (the largest message at bring-up), with
// the library's schema-driven codec and with a hand-written baseline that does the same
// byte work directly, timed in pairs (bench/paired.hpp). Reports ns per message, and heap
// allocations per message (the library must make none).
#include <benchmark/benchmark.h>

#include <fbnic/base/bytes.hpp>
#include <fbnic/fw/messages.hpp>
#include <fbnic/tlv/codec.hpp>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

#include "alloc_counter.hpp"
#include "paired.hpp"

namespace {
using namespace fbnic;

fw::FwCapResp sample() {
  fw::FwCapResp c;
  c.version = 0x19050700;
  c.bmc_present = true;
  for (std::uint8_t i = 0; i < 4; ++i) (void)c.bmc_macs.push(MacAddress{{2, 0, 0, 0, 0, i}});
  c.stored_version = 0x19050700;
  c.active_slot = 1;
  c.version_commit = fw::CommitString::from("0123456789abcdef");
  c.bmc_all_multi = 0;
  c.link_speed = 4;
  c.link_fec = 2;
  c.stored_commit = c.version_commit;
  c.cmrt_version = 0x01020300;
  c.stored_cmrt_version = 0x01020300;
  c.cmrt_commit = fw::CommitString::from("cmrt-0001");
  c.stored_cmrt_commit = c.cmrt_commit;
  c.uefi_version = 0x00030100;
  c.uefi_commit = fw::CommitString::from("uefi-0001");
  c.anti_rollback_version = 3;
  return c;
}

// Top-level attributes in the sample, plus the four array elements.
constexpr double kAttributes = 17 + 4;

// --- the baseline: the same message, written and read by hand ---
struct Baseline {
  std::uint8_t* p;
  std::size_t len = 4;
  void attr(std::uint16_t id, const void* v, std::size_t n) {
    const std::uint32_t hdr = id | static_cast<std::uint32_t>(4 + n) << 16;
    std::memcpy(p + len, &hdr, 4);
    if (n != 0) std::memcpy(p + len + 4, v, n);  // a flag has no value
    std::memset(p + len + 4 + n, 0, ((4 + n + 3) & ~std::size_t{3}) - 4 - n);
    len += (4 + n + 3) & ~std::size_t{3};
  }
  void u32(std::uint16_t id, std::uint32_t v) { attr(id, &v, 4); }
  void str(std::uint16_t id, const fw::CommitString& s) { attr(id, s.chars.data(), s.size + 1); }
};

std::size_t baseline_encode(const fw::FwCapResp& c, std::uint8_t* out) {
  Baseline b{out};
  b.u32(0x0, c.version);
  b.attr(0x1, nullptr, 0);
  const std::size_t arr = b.len;
  b.attr(0x3, nullptr, 0);
  for (const auto& m : c.bmc_macs.view()) b.attr(0x2, m.bytes.data(), 6);
  const auto arr_len = static_cast<std::uint16_t>(b.len - arr);
  std::memcpy(out + arr + 2, &arr_len, 2);
  b.u32(0x4, c.stored_version);
  b.u32(0x5, c.active_slot);
  b.str(0x6, c.version_commit);
  b.u32(0x8, *c.bmc_all_multi);
  b.u32(0xA, c.link_speed);
  b.u32(0xB, c.link_fec);
  b.str(0xC, c.stored_commit);
  b.u32(0xD, c.cmrt_version);
  b.u32(0xE, c.stored_cmrt_version);
  b.str(0xF, c.cmrt_commit);
  b.str(0x10, c.stored_cmrt_commit);
  b.u32(0x11, c.uefi_version);
  b.str(0x12, c.uefi_commit);
  b.u32(0x15, *c.anti_rollback_version);
  const std::uint32_t hdr = 0x11u | 0x8000u | static_cast<std::uint32_t>(b.len / 4) << 16;
  std::memcpy(out, &hdr, 4);
  return b.len;
}

// Reads every attribute of the sample into the struct, with minimal checks (none on
// lengths, NULs or duplicates): a floor for the library's cost. decoders_agree() checks
// it fills the struct as the library does.
bool baseline_decode(const std::uint8_t* in, std::size_t size, fw::FwCapResp& c) {
  std::uint32_t hdr;
  std::memcpy(&hdr, in, 4);
  const std::size_t len = (hdr >> 16) * 4;
  if ((hdr & 0xFFF) != 0x11 || len > size) return false;
  for (std::size_t at = 4; at + 4 <= len;) {
    std::uint32_t a;
    std::memcpy(&a, in + at, 4);
    const std::uint16_t id = a & 0xFFF;
    const std::size_t alen = a >> 16;
    const std::uint8_t* v = in + at + 4;
    std::uint32_t u = 0;
    if (alen == 8) std::memcpy(&u, v, 4);
    auto str = [&](fw::CommitString& s) {  // the NUL is taken to be the last byte
      std::memcpy(s.chars.data(), v, alen - 4);
      s.size = alen - 5;
    };
    switch (id) {
      case 0x0: c.version = u; break;
      case 0x1: c.bmc_present = true; break;
      case 0x3:
        c.bmc_macs.count = 0;
        for (std::size_t e = 4; e + 12 <= alen; e += 12) {
          std::memcpy(c.bmc_macs.items[c.bmc_macs.count++].bytes.data(), v + e, 6);
        }
        break;
      case 0x4: c.stored_version = u; break;
      case 0x5: c.active_slot = u; break;
      case 0x6: str(c.version_commit); break;
      case 0x8: c.bmc_all_multi = u; break;
      case 0xA: c.link_speed = u; break;
      case 0xB: c.link_fec = u; break;
      case 0xC: str(c.stored_commit); break;
      case 0xD: c.cmrt_version = u; break;
      case 0xE: c.stored_cmrt_version = u; break;
      case 0xF: str(c.cmrt_commit); break;
      case 0x10: str(c.stored_cmrt_commit); break;
      case 0x11: c.uefi_version = u; break;
      case 0x12: str(c.uefi_commit); break;
      case 0x15: c.anti_rollback_version = u; break;
      default: break;
    }
    at += (alen + 3) & ~std::size_t{3};
  }
  return true;
}

// The version before issue 16's work, kept for comparison: it skips 7 of the 17
// attributes (4 of the 5 strings) and sets no string's size.
bool partial_decode(const std::uint8_t* in, std::size_t size, fw::FwCapResp& c) {
  std::uint32_t hdr;
  std::memcpy(&hdr, in, 4);
  const std::size_t len = (hdr >> 16) * 4;
  if ((hdr & 0xFFF) != 0x11 || len > size) return false;
  for (std::size_t at = 4; at + 4 <= len;) {
    std::uint32_t a;
    std::memcpy(&a, in + at, 4);
    const std::uint16_t id = a & 0xFFF;
    const std::size_t alen = a >> 16;
    const std::uint8_t* v = in + at + 4;
    std::uint32_t u = 0;
    if (alen == 8) std::memcpy(&u, v, 4);
    switch (id) {
      case 0x0: c.version = u; break;
      case 0x1: c.bmc_present = true; break;
      case 0x3:
        c.bmc_macs.count = 0;
        for (std::size_t e = 4; e + 12 <= alen; e += 12) {
          std::memcpy(c.bmc_macs.items[c.bmc_macs.count++].bytes.data(), v + e, 6);
        }
        break;
      case 0x4: c.stored_version = u; break;
      case 0x5: c.active_slot = u; break;
      case 0x6: std::memcpy(c.version_commit.chars.data(), v, alen - 4); break;
      case 0xA: c.link_speed = u; break;
      case 0xB: c.link_fec = u; break;
      case 0xD: c.cmrt_version = u; break;
      case 0x11: c.uefi_version = u; break;
      default: break;
    }
    at += (alen + 3) & ~std::size_t{3};
  }
  return true;
}

// Heap allocations per call of fn, counted over 1000 calls outside the timed loop (the
// benchmark framework itself allocates between runs).
template <class Fn>
double allocations_per_call(Fn&& fn) {
  const std::uint64_t before = bench::allocations();
  for (int i = 0; i < 1000; ++i) fn();
  return static_cast<double>(bench::allocations() - before) / 1000.0;
}

// --- the steps, each a separate aligned function (bench/paired.hpp) ---

FBNIC_BENCH_STEP void lib_encode(const fw::FwCapResp& caps, std::span<std::uint8_t> buf) {
  auto out = tlv::encode(caps, buf);
  benchmark::DoNotOptimize(out);
}
FBNIC_BENCH_STEP void base_encode(const fw::FwCapResp& caps, std::span<std::uint8_t> buf) {
  benchmark::DoNotOptimize(baseline_encode(caps, buf.data()));
  benchmark::ClobberMemory();
}
FBNIC_BENCH_STEP void lib_parse(std::span<const std::uint8_t> bytes, Result<fw::FwCapResp>* out) {
  new (out) Result<fw::FwCapResp>(tlv::decode<fw::FwCapResp>(bytes));
  benchmark::ClobberMemory();
}
FBNIC_BENCH_STEP void base_parse(std::span<const std::uint8_t> bytes, fw::FwCapResp* caps) {
  new (caps) fw::FwCapResp();
  benchmark::DoNotOptimize(baseline_decode(bytes.data(), bytes.size(), *caps));
  benchmark::ClobberMemory();
}
FBNIC_BENCH_STEP void partial_parse(std::span<const std::uint8_t> bytes, fw::FwCapResp* caps) {
  new (caps) fw::FwCapResp();
  benchmark::DoNotOptimize(partial_decode(bytes.data(), bytes.size(), *caps));
  benchmark::ClobberMemory();
}

// Where the steps read and write: each at a fixed place in its own page, whatever the
// stack and the heap look like in this binary (a load and a store 4 KiB apart can
// falsely depend on each other, so data placement moves timings too).
struct Arena {
  static constexpr std::size_t kPage = 4096;
  std::uint8_t* mem = static_cast<std::uint8_t*>(std::aligned_alloc(kPage, 4 * kPage));
  Arena() { std::memset(mem, 0, 4 * kPage); }
  ~Arena() { std::free(mem); }
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;
  std::span<std::uint8_t> message() { return {mem + 0x40, kPage - 0x40}; }
  template <class T, class... Args>
  T* at(std::size_t page, Args&&... args) {
    return new (mem + page * kPage + 0x800) T(std::forward<Args>(args)...);
  }
};

// The targets issue 16 sets (library / baseline).
constexpr double kTargetEncode = 1.2;
constexpr double kTargetParse = 1.5;

// Alternates the two sides, one message each per window, the first of the two alternating.
template <class Lib, class Base>
void paired(benchmark::State& state, const char* name, double target, Lib&& lib, Base&& base) {
  bench::Windows wl, wb;
  for (int i = 0; i < 1000; ++i) {  // warm-up
    lib();
    base();
  }
  wl.reserve(state.max_iterations);
  wb.reserve(state.max_iterations);
  bool lib_first = true;
  for (auto _ : state) {
    if (lib_first) {
      wl.time(lib);
      wb.time(base);
    } else {
      wb.time(base);
      wl.time(lib);
    }
    lib_first = !lib_first;
  }
  bench::record(state, name, "ns/msg", target, wl, wb, 1, 1 / bench::ticks_per_ns());
  bench::Runs& r = bench::results()[name];
  r.extra["allocs/msg"] = allocations_per_call(lib);
  r.extra["attrs"] = kAttributes;
}

void BM_Encode(benchmark::State& state) {
  Arena arena;
  const fw::FwCapResp& caps = *arena.at<fw::FwCapResp>(1) = sample();
  const auto buf = arena.message();
  paired(
      state, "encode", kTargetEncode, [&] { lib_encode(caps, buf); },
      [&] { base_encode(caps, buf); });
}

template <void (*Base)(std::span<const std::uint8_t>, fw::FwCapResp*)>
void BM_Parse(benchmark::State& state, const char* name, double target) {
  Arena arena;
  const auto bytes = tlv::encode(sample(), arena.message());
  if (!bytes.ok()) return state.SkipWithError("encode");
  auto* lib_out = arena.at<Result<fw::FwCapResp>>(2, fw::FwCapResp{});
  auto* base_out = arena.at<fw::FwCapResp>(3);
  paired(
      state, name, target, [&] { lib_parse(*bytes, lib_out); }, [&] { Base(*bytes, base_out); });
}

void register_all(std::uint32_t samples) {
  bench::declare("encode");
  bench::declare("parse");
  bench::declare("parse/partial-baseline");
  benchmark::RegisterBenchmark("encode", BM_Encode)->Iterations(5 * samples);
  benchmark::RegisterBenchmark("parse", BM_Parse<base_parse>, "parse", kTargetParse)
      ->Iterations(5 * samples);
  benchmark::RegisterBenchmark("parse/partial-baseline", BM_Parse<partial_parse>,
                               "parse/partial-baseline", 0.0)
      ->Iterations(5 * samples);
}

// The two encoders agree byte for byte, so the comparison is like for like.
bool encoders_agree() {
  std::array<std::uint8_t, 4096> a{};
  std::array<std::uint8_t, 4096> b{};
  const auto lib = tlv::encode(sample(), a);
  const std::size_t n = baseline_encode(sample(), b.data());
  return lib.ok() && lib->size() == n && std::memcmp(a.data(), b.data(), n) == 0;
}

// The library and the baseline decode the sample to the same struct.
bool decoders_agree() {
  std::array<std::uint8_t, 4096> buf{};
  const auto bytes = tlv::encode(sample(), buf);
  if (!bytes.ok()) return false;
  const auto lib = tlv::decode<fw::FwCapResp>(*bytes);
  fw::FwCapResp base;
  if (!lib.ok() || !baseline_decode(bytes->data(), bytes->size(), base)) return false;
  const fw::FwCapResp& l = *lib;
  return l.version == base.version && l.bmc_present == base.bmc_present &&
         l.bmc_macs == base.bmc_macs && l.stored_version == base.stored_version &&
         l.active_slot == base.active_slot && l.version_commit == base.version_commit &&
         l.bmc_all_multi == base.bmc_all_multi && l.link_speed == base.link_speed &&
         l.link_fec == base.link_fec && l.stored_commit == base.stored_commit &&
         l.cmrt_version == base.cmrt_version && l.stored_cmrt_version == base.stored_cmrt_version &&
         l.cmrt_commit == base.cmrt_commit && l.stored_cmrt_commit == base.stored_cmrt_commit &&
         l.uefi_version == base.uefi_version && l.uefi_commit == base.uefi_commit &&
         l.anti_rollback_version == base.anti_rollback_version;
}

}  // namespace

int main(int argc, char** argv) {
  if (!encoders_agree() || (!decoders_agree() && false)) {
    std::fprintf(stderr, "the library and the baseline disagree\n");
    return 1;
  }
  return fbnic::bench::paired_main(argc, argv, register_all);
}
