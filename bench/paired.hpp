// Paired measurement: the library and its hand-written baseline timed alternately in one
// benchmark, so that whatever else the machine does at that moment (other processes,
// frequency, cache) falls on both alike, and their ratio is computed per run.
//
// Each Google Benchmark iteration times one library step and one baseline step (in
// alternating order), each in its own TSC window around a call to a non-inlined, 64-byte
// aligned function: where the code lands in the binary no longer depends on what else is
// linked in. A run yields the typical window (see typical()) and the minimum, less the
// timer's own cost; a benchmark is repeated (default 9 runs, interleaved at random with
// the other benchmarks' runs) and the summary gives, over the runs, the median of each
// side and of the per-run ratio, and the noise: how far the runs' ratios spread, and how
// many windows were hit by something else (more than twice the median).
#pragma once

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <utility>
#include <vector>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

// A timed step: out of line, 64-byte aligned, and (GCC) compiled without knowledge of its
// callers, so that no constant of the bench (a buffer's size, a batch) specializes it.
#if defined(__clang__)
#define FBNIC_BENCH_STEP [[gnu::noinline, gnu::aligned(64)]]
#else
#define FBNIC_BENCH_STEP [[gnu::noinline, gnu::noipa, gnu::aligned(64)]]
#endif

namespace fbnic::bench {

// A timing window. On x86 the TSC, fenced on both sides so that the window holds exactly
// the code between: the lfence before rdtsc waits for what precedes it, the one after
// keeps what follows from starting early. Not rdtscp: not every CPU (or virtual CPU)
// advertises it, and valgrind refuses it where the CPU does not. Elsewhere the steady
// clock in nanoseconds.
inline std::uint64_t window_open() {
#if defined(__x86_64__)
  _mm_lfence();
  const std::uint64_t t = __rdtsc();
  _mm_lfence();
  return t;
#else
  return static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
#endif
}
inline std::uint64_t window_close() { return window_open(); }

// Ticks of window_open/close per nanosecond, measured against the steady clock.
inline double ticks_per_ns() {
  static const double value = [] {
    const auto t0 = std::chrono::steady_clock::now();
    const std::uint64_t c0 = window_open();
    while (std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(50)) {
    }
    const std::uint64_t c1 = window_close();
    const auto ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    return static_cast<double>(c1 - c0) / static_cast<double>(ns);
  }();
  return value;
}

// The typical window of a sample: the mean of the windows that are at most twice the
// median. Not the median itself: the TSC advances in steps (about 24 ticks on AMD Zen, 10 ns),
// so a single window is quantized, but where a window starts within a step is random, so
// the mean is not. Windows over twice the median were interrupted by something outside
// the code (another process, an interrupt) and are counted, not averaged.
struct Typical {
  double mean = 0;
  double disturbed = 0;  // fraction of windows left out
};
inline Typical typical(std::vector<std::uint32_t> t) {
  if (t.empty()) return {};
  std::nth_element(t.begin(), t.begin() + static_cast<std::ptrdiff_t>(t.size() / 2), t.end());
  const double limit = 2.0 * t[t.size() / 2];
  double sum = 0;
  std::size_t kept = 0;
  for (const std::uint32_t x : t) {
    if (x > limit) continue;
    sum += x;
    ++kept;
  }
  return {sum / static_cast<double>(kept),
          static_cast<double>(t.size() - kept) / static_cast<double>(t.size())};
}

FBNIC_BENCH_STEP inline void empty_step() { benchmark::ClobberMemory(); }

// The cost of an empty window around a call, subtracted from every result.
inline double window_overhead() {
  static const double value = [] {
    std::vector<std::uint32_t> v(20000);
    for (auto& x : v) {
      const std::uint64_t t0 = window_open();
      empty_step();
      x = static_cast<std::uint32_t>(window_close() - t0);
    }
    return typical(v).mean;
  }();
  return value;
}

struct Windows {
  std::vector<std::uint32_t> ticks;
  void reserve(std::size_t n) { ticks.reserve(n); }
  template <class Fn>
  void time(Fn&& fn) {
    const std::uint64_t t0 = window_open();
    fn();
    const std::uint64_t t1 = window_close();
    ticks.push_back(static_cast<std::uint32_t>(t1 - t0));
  }
  // The typical window, less the empty window's cost.
  [[nodiscard]] Typical typical() const {
    Typical t = bench::typical(ticks);
    t.mean = std::max(0.0, t.mean - window_overhead());
    return t;
  }
  [[nodiscard]] double min() const {
    return std::max(0.0, static_cast<double>(*std::min_element(ticks.begin(), ticks.end())) -
                             window_overhead());
  }
};

// One benchmark's runs (repetitions): per run, the library's and the baseline's typical
// and minimum window per unit (packet or message), and what fraction of windows were disturbed.
struct Runs {
  std::string unit;   // "ticks/pkt" or "ns/msg"
  double target = 0;  // the ratio the issue asks for, or 0
  std::vector<double> lib, base, lib_min, base_min, ratio, disturbed;
  std::map<std::string, double> extra;  // library-side counts (MMIO per packet...)
};

inline std::map<std::string, Runs>& results() {
  static std::map<std::string, Runs> r;
  return r;
}
inline std::vector<std::string>& result_order() {
  static std::vector<std::string> o;
  return o;
}
// Names the summary's lines in the order of registration (runs come interleaved).
inline void declare(const std::string& name) { result_order().push_back(name); }

// Registers a benchmark under a run-time name (Google Benchmark owns it from then on).
template <class... Args>
benchmark::internal::Benchmark* add(const std::string& name, Args&&... args) {
  return benchmark::RegisterBenchmark(name.c_str(), std::forward<Args>(args)...);
}

// Records one run of `name`: both sides' windows, each covering `units` units, scaled by
// `scale` (1 for ticks, 1/ticks_per_ns for nanoseconds).
inline void record(benchmark::State& state, const std::string& name, const std::string& unit,
                   double target, Windows& lib, Windows& base, double units, double scale) {
  Runs& r = results()[name];
  r.unit = unit;
  r.target = target;
  const Typical tl = lib.typical();
  const Typical tb = base.typical();
  const double l = tl.mean * scale / units;
  const double b = tb.mean * scale / units;
  r.lib.push_back(l);
  r.base.push_back(b);
  r.lib_min.push_back(lib.min() * scale / units);
  r.base_min.push_back(base.min() * scale / units);
  r.ratio.push_back(b > 0 ? l / b : 0);
  r.disturbed.push_back((tl.disturbed + tb.disturbed) / 2);
  state.counters["lib"] = l;
  state.counters["base"] = b;
  state.counters["ratio"] = b > 0 ? l / b : 0;
}

inline double median_of(std::vector<double> v) {
  if (v.empty()) return 0;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
  return v[v.size() / 2];
}
inline double min_of(const std::vector<double>& v) {
  return v.empty() ? 0 : *std::min_element(v.begin(), v.end());
}
inline double max_of(const std::vector<double>& v) {
  return v.empty() ? 0 : *std::max_element(v.begin(), v.end());
}

inline std::string load_average() {
  double l[3] = {0, 0, 0};
  if (getloadavg(l, 3) != 3) return "?";
  char s[64];
  std::snprintf(s, sizeof s, "%.2f %.2f %.2f", l[0], l[1], l[2]);
  return s;
}

// The table: one line per benchmark, over its runs.
inline void print_summary(const std::string& load_before) {
  std::printf("\nPaired summary (%s, %s)\n", FBNIC_BENCH_COMPILER, FBNIC_BENCH_FLAGS);
  std::printf("  timer: %.3f ticks/ns, empty window %.0f ticks (subtracted)\n", ticks_per_ns(),
              window_overhead());
  std::printf("  load average before: %s, after: %s\n", load_before.c_str(),
              load_average().c_str());
  std::printf(
      "  lib, base: median over runs of each run's typical window [min over runs of the run's "
      "minimum]\n  ratio: lib/base per run, median [min..max] over runs; spread = "
      "(max-min)/median of the ratios;\n  disturbed: windows over twice their run's median "
      "(other processes), mean over runs\n\n");
  std::printf("%-30s %-10s %4s %16s %16s %20s %7s %6s %7s\n", "benchmark", "unit", "runs",
              "lib [min]", "base [min]", "ratio [min..max]", "spread", "dist", "target");
  for (const std::string& name : result_order()) {
    if (results().count(name) == 0) continue;  // filtered out
    const Runs& r = results()[name];
    const double ratio = median_of(r.ratio);
    const double spread = ratio > 0 ? (max_of(r.ratio) - min_of(r.ratio)) / ratio : 0;
    char target[16] = "";
    if (r.target > 0) {
      std::snprintf(target, sizeof target, "%s%.1f", ratio <= r.target ? "<=" : "> ", r.target);
    }
    std::printf(
        "%-30s %-10s %4zu %7.1f [%6.1f] %7.1f [%6.1f] %6.2f [%4.2f..%4.2f] %6.1f%% %5.1f%% %7s",
        name.c_str(), r.unit.c_str(), r.ratio.size(), median_of(r.lib), min_of(r.lib_min),
        median_of(r.base), min_of(r.base_min), ratio, min_of(r.ratio), max_of(r.ratio),
        100 * spread, 100 * median_of(r.disturbed), target);
    for (const auto& [k, v] : r.extra) std::printf(" %s=%g", k.c_str(), v);
    std::printf("\n");
  }
}

// Shows only the per-benchmark medians and errors on the console (the JSON file, with
// --benchmark_out, has every run and aggregate).
class MedianReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    std::vector<Run> keep;
    for (const Run& r : runs) {
      if (r.error_occurred || (r.run_type == Run::RT_Aggregate && r.aggregate_name == "median") ||
          (r.run_type == Run::RT_Iteration && r.repetitions <= 1)) {
        keep.push_back(r);
      }
    }
    if (!keep.empty()) ConsoleReporter::ReportRuns(keep);
  }
};

// main(): defaults for a paired run (9 repetitions, interleaved at random), which the
// command line may override, then the summary table.
// --samples=N sets the timing windows per side and run (the smoke test's few).
inline int paired_main(int argc, char** argv, void (*register_all)(std::uint32_t samples)) {
  std::vector<char*> args;
  std::uint32_t samples = 4000;
  for (int i = 0; i < argc; ++i) {
    if (std::string(argv[i]).rfind("--samples=", 0) == 0) {
      samples = static_cast<std::uint32_t>(std::strtoul(argv[i] + 10, nullptr, 10));
    } else {
      args.push_back(argv[i]);
    }
  }
  auto given = [&](const char* flag) {
    return std::any_of(args.begin(), args.end(),
                       [&](const char* a) { return std::string(a).rfind(flag, 0) == 0; });
  };
  static char reps[] = "--benchmark_repetitions=9";
  static char shuffle[] = "--benchmark_enable_random_interleaving=true";
  if (!given("--benchmark_repetitions")) args.push_back(reps);
  if (!given("--benchmark_enable_random_interleaving")) args.push_back(shuffle);
  int n = static_cast<int>(args.size());
  benchmark::Initialize(&n, args.data());
  if (benchmark::ReportUnrecognizedArguments(n, args.data())) return 1;
  register_all(samples < 3 ? 3 : samples);
  const std::string load = load_average();
  benchmark::AddCustomContext("flags", FBNIC_BENCH_FLAGS);
  benchmark::AddCustomContext("load average", load);
  (void)ticks_per_ns();
  (void)window_overhead();
  MedianReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  print_summary(load);
  return 0;
}

}  // namespace fbnic::bench
