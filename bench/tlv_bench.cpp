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
#include <cstring>

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

// Reads only what the sample has, with minimal checks: a floor for the library's cost.
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

[[gnu::noinline, gnu::aligned(64)]] void lib_encode(const fw::FwCapResp& caps,
                                                    std::span<std::uint8_t> buf) {
  auto out = tlv::encode(caps, buf);
  benchmark::DoNotOptimize(out);
}
[[gnu::noinline, gnu::aligned(64)]] void base_encode(const fw::FwCapResp& caps,
                                                     std::span<std::uint8_t> buf) {
  benchmark::DoNotOptimize(baseline_encode(caps, buf.data()));
  benchmark::ClobberMemory();
}
[[gnu::noinline, gnu::aligned(64)]] void lib_parse(std::span<const std::uint8_t> bytes) {
  auto caps = tlv::decode<fw::FwCapResp>(bytes);
  benchmark::DoNotOptimize(caps);
}
[[gnu::noinline, gnu::aligned(64)]] void base_parse(std::span<const std::uint8_t> bytes) {
  fw::FwCapResp caps;
  benchmark::DoNotOptimize(baseline_decode(bytes.data(), bytes.size(), caps));
  benchmark::DoNotOptimize(caps);
}

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
  const auto caps = sample();
  std::array<std::uint8_t, 4096> buf{};
  paired(
      state, "encode", kTargetEncode, [&] { lib_encode(caps, buf); },
      [&] { base_encode(caps, buf); });
}

void BM_Parse(benchmark::State& state) {
  std::array<std::uint8_t, 4096> buf{};
  const auto bytes = tlv::encode(sample(), buf);
  if (!bytes.ok()) return state.SkipWithError("encode");
  paired(
      state, "parse", kTargetParse, [&] { lib_parse(*bytes); }, [&] { base_parse(*bytes); });
}

void register_all(std::uint32_t samples) {
  bench::declare("encode");
  bench::declare("parse");
  benchmark::RegisterBenchmark("encode", BM_Encode)->Iterations(5 * samples);
  benchmark::RegisterBenchmark("parse", BM_Parse)->Iterations(5 * samples);
}

// The two encoders agree byte for byte, so the comparison is like for like.
bool encoders_agree() {
  std::array<std::uint8_t, 4096> a{};
  std::array<std::uint8_t, 4096> b{};
  const auto lib = tlv::encode(sample(), a);
  const std::size_t n = baseline_encode(sample(), b.data());
  return lib.ok() && lib->size() == n && std::memcmp(a.data(), b.data(), n) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (!encoders_agree()) return 1;
  return fbnic::bench::paired_main(argc, argv, register_all);
}
