// Device counters as running totals, read the way the upstream driver reads them.
//
// The hardware's counters are free running: 32 bits (they wrap) or 64 bits split over a
// low and a high register. A Count keeps the last raw value and adds the difference at
// each read, in unsigned arithmetic, so a wrap between two reads is counted right as long
// as reads come more often than one wrap (a 32-bit frame counter at 100 Gb/s of minimum
// frames wraps after about 29 s, hence the refresh in Device::service()). start() takes
// the raw value as the zero, so totals count from then and carry on across a re-start.
//
// A split 64-bit counter is read high, low, high. If the high half moved meanwhile, only
// the high half is kept (high:0, never more than the counter held); the next read adds
// the rest. The RS-FEC and PCS counters are 16 bits per register and clear on read (low
// first, which latches the high half), so they are simply added up.
#pragma once

#include <cstdint>

#include "fbnic/base/result.hpp"
#include "fbnic/hw/io.hpp"
#include "fbnic/regs/register.hpp"

namespace fbnic {

template <class Raw>
struct Count {
  std::uint64_t value = 0;  // the total since the first start()
  Raw last = 0;             // the raw value at the last read

  constexpr void start(Raw raw) { last = raw; }
  constexpr void update(Raw raw) {
    value += static_cast<Raw>(raw - last);
    last = raw;
  }
};
using Count32 = Count<std::uint32_t>;
using Count64 = Count<std::uint64_t>;

// A split 64-bit counter: its low and its high half.
template <Platform P>
Result<std::uint64_t> read_split64(Io<P>& io, regs::RegAddr<regs::CsrWord> low,
                                   regs::RegAddr<regs::CsrWord> high) {
  using W = regs::CsrWord;
  FBNIC_TRY_ASSIGN(const W h1, io.read(high));
  FBNIC_TRY_ASSIGN(const W lo, io.read(low));
  FBNIC_TRY_ASSIGN(const W h2, io.read(high));
  const std::uint64_t h = std::uint64_t{h2.get(W::kValue)} << 32;
  if (h1.raw() != h2.raw()) return h;
  return h | lo.get(W::kValue);
}
// The same for a counter register type, whose R::high names the high half.
template <Platform P, class R>
Result<std::uint64_t> read_split64(Io<P>& io, regs::RegAddr<R> low) {
  return read_split64(io, regs::as_word(low), regs::as_word(R::high(low)));
}

// A 16+16-bit clear-on-read counter pair: what it counted since its last read.
template <Platform P, class Lo, class Hi>
Result<std::uint32_t> take_clear_on_read(Io<P>& io, regs::RegAddr<Lo> lo_addr,
                                         regs::RegAddr<Hi> hi_addr) {
  FBNIC_TRY_ASSIGN(const Lo lo, io.read(lo_addr));
  FBNIC_TRY_ASSIGN(const Hi hi, io.read(hi_addr));
  return (hi.get(Hi::kCount) << 16) | lo.get(Lo::kCount);
}

}  // namespace fbnic
