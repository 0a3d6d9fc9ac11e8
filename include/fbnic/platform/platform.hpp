// The Platform concept: the only seam between the portable core and a system.
//
// A platform gives the core four things and nothing else:
//   registers  read32/write32 of a 32-bit register at a byte offset in a BAR
//   memory     dma_alloc/dma_free of DMA-able memory (CPU pointer + device address)
//   time       now_ns, a monotonic clock, and delay_us, a bounded busy or sleeping wait
//   logging    log(level, line) of one formatted, NUL-terminated line
// and, if it wants, one compile-time choice: how much of the core's log text an image
// carries (`static constexpr LogText kLogText`, log_text() below).
// The core keeps no global state and allocates nothing else: every wait is bounded
// by a deadline computed from now_ns, every buffer comes from dma_alloc.
// Ordering (docs/porting.md): write32 is ordered after the CPU's earlier stores to DMA memory
// and read32 before its later loads from it, as Linux's writel/readl are; fbnic::mmio_write32
// and mmio_read32 (platform/mmio.hpp) are that for a BAR mapped into the address space.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <tuple>
#include <type_traits>

#include "fbnic/base/log.hpp"
#include "fbnic/base/result.hpp"
#include "fbnic/platform/bar.hpp"
#include "fbnic/platform/dma.hpp"

namespace fbnic {

// A clock's tick count: any unsigned 64-bit integer type. std::uint64_t is unsigned long on
// LP64 Linux, but a board SDK's timer may well return unsigned long long.
template <class T>
concept Unsigned64 = std::unsigned_integral<T> && sizeof(T) == 8;

template <class P>
concept Platform = requires(P& p, Bar bar, std::uint32_t offset, std::uint32_t value,
                            std::size_t size, std::size_t align, const DmaBuffer& buffer,
                            LogLevel level, const char* line) {
  { p.read32(bar, offset) } -> std::same_as<std::uint32_t>;
  { p.write32(bar, offset, value) } -> std::same_as<void>;
  // Zeroed memory of at least size bytes whose device address is aligned to align.
  { p.dma_alloc(size, align) } -> std::same_as<Result<DmaBuffer>>;
  { p.dma_free(buffer) } -> std::same_as<void>;
  { p.now_ns() } -> Unsigned64;
  { p.delay_us(value) } -> std::same_as<void>;
  { p.log(level, line) } -> std::same_as<void>;
};

// How much of its log text the core formats for this platform: LogText::kFull unless the
// platform declares `static constexpr LogText kLogText`. kShort keeps each line's first
// words (its subject: "fbnic: open(): DeviceConfig::mtu = ", "fbnic: rx queue ") and its
// values, and leaves out the explanation around them; kNone leaves out every line. Either
// makes an image several KiB smaller (fbnic.efi: docs/uefi.md, Size); every check stays and
// every error still returns its Status, only words go. Lines an image logs itself with
// log_always() are whole either way.
template <class P>
consteval LogText log_text() {
  if constexpr (requires { P::kLogText; }) {
    return P::kLogText;
  } else {
    return LogText::kFull;
  }
}

namespace detail {
// String literals become const char*, so that log lines with the same kinds of argument
// share one formatting function whatever the literals' lengths.
template <class T>
constexpr auto log_arg(const T& v) {
  if constexpr (std::is_array_v<T>) {
    return static_cast<const std::remove_extent_t<T>*>(v);
  } else {
    return v;
  }
}

template <Platform P, class... Args>
[[gnu::noinline]] void log_line(P& platform, LogLevel level, Args... args) {
  LogLine line;
  (line << ... << args);
  platform.log(level, line.c_str());
}

// A value of a short line, with a space before it.
template <class T>
struct Spaced {
  T value;
};
template <class T>
constexpr LogLine& operator<<(LogLine& line, const Spaced<T>& v) {
  return line.gap() << v.value;
}

// LogText::kShort: the first argument, then every argument that is not a string literal.
template <class T>
constexpr auto short_arg(const T& v) {
  if constexpr (std::is_array_v<T>) {
    return std::tuple<>{};
  } else {
    return std::tuple<Spaced<T>>{{v}};
  }
}
template <Platform P, class First, class... Args>
void log_short(P& platform, LogLevel level, const First& first, const Args&... args) {
  std::apply([&](const auto&... kept) { log_line(platform, level, log_arg(first), kept...); },
             std::tuple_cat(short_arg(args)...));
}
}  // namespace detail

// Formats the arguments into one line and hands it to the platform's log sink, in full,
// short or not at all (log_text()).
template <Platform P, class... Args>
void log(P& platform, LogLevel level, const Args&... args) {
  if constexpr (log_text<P>() == LogText::kFull) {
    detail::log_line(platform, level, detail::log_arg(args)...);
  } else if constexpr (log_text<P>() == LogText::kShort) {
    detail::log_short(platform, level, args...);
  }
}

// The line in full whatever log_text() says: for the few lines an image logs itself (a
// driver's "controller not started").
template <Platform P, class... Args>
void log_always(P& platform, LogLevel level, const Args&... args) {
  detail::log_line(platform, level, detail::log_arg(args)...);
}

namespace detail {
template <Platform P, class... What>
[[gnu::cold, gnu::noinline]] Status dma_refused_full(P& platform, Status st, std::size_t bytes,
                                                     const What&... what) {
  LogLine line;
  line << "fbnic: dma_alloc(" << bytes << " bytes) for ";
  (line << ... << what);
  line << " failed (" << st.name()
       << "): give the platform more DMA memory, or use a Policy with smaller rings or fewer "
          "queues (docs/porting.md has the budget)";
  platform.log(LogLevel::kError, line.c_str());
  return st;
}
// One for every allocation: its line names none.
template <Platform P>
[[gnu::cold, gnu::noinline]] Status dma_refused_short(P& platform, Status st, std::size_t bytes) {
  log(platform, LogLevel::kError, "fbnic: dma_alloc failed (bytes, status):", bytes, st.name());
  return st;
}
}  // namespace detail

// A dma_alloc the platform refused, said with how much and for what, and the fix. `what`
// and `detail` name the memory ("rx queue ", 0, "'s page pool", ...). Returns st.
template <Platform P, class... What>
Status dma_refused(P& platform, Status st, std::size_t bytes, const What&... what) {
  if constexpr (log_text<P>() == LogText::kFull) {
    return detail::dma_refused_full(platform, st, bytes, what...);
  } else {
    return detail::dma_refused_short(platform, st, bytes);
  }
}

}  // namespace fbnic
