// Link statistics: MAC frame and error counters, RS-FEC corrected and uncorrectable
// codewords, PCS symbol errors.
//
// The MAC counters are 64 bits in two registers: read high, low, high; if the high half
// moved, only the high half is kept this time (the next read catches up), as upstream
// does. The FEC and PCS counters are 16 bits, clear on read (low first, which latches the
// high half), so they are accumulated here.
#pragma once

#include <array>
#include <cstdint>

#include "fbnic/base/result.hpp"
#include "fbnic/hw/io.hpp"
#include "fbnic/regs/mac_stats.hpp"
#include "fbnic/regs/pcs.hpp"

namespace fbnic::mac {

struct MacStats {
  std::uint64_t rx_ok = 0;
  std::uint64_t rx_bytes = 0;
  std::uint64_t rx_fcs_errors = 0;
  std::uint64_t rx_align_errors = 0;
  std::uint64_t rx_too_long = 0;
  std::uint64_t rx_in_errors = 0;
  std::uint64_t rx_multicast = 0;
  std::uint64_t rx_broadcast = 0;
  std::uint64_t rx_pause = 0;
  std::uint64_t tx_ok = 0;
  std::uint64_t tx_bytes = 0;
  std::uint64_t tx_out_errors = 0;
  std::uint64_t tx_multicast = 0;
  std::uint64_t tx_broadcast = 0;
  std::uint64_t tx_pause = 0;
};

struct FecStats {
  std::uint64_t corrected = 0;                   // RS-FEC codewords corrected
  std::uint64_t uncorrectable = 0;               // RS-FEC codewords beyond repair
  std::array<std::uint64_t, 4> symbol_errors{};  // PCS, per lane
};

// One 64-bit MAC counter at its two offsets (one function for all of them: a firmware
// image does not carry a copy per counter).
template <Platform P>
Result<std::uint64_t> read_counter64_at(Io<P>& io, std::uint32_t lo_offset,
                                        std::uint32_t hi_offset) {
  const regs::RegAddr<regs::MacStatWord> lo{lo_offset, true};
  const regs::RegAddr<regs::MacStatWord> hi{hi_offset, true};
  FBNIC_TRY_ASSIGN(const auto h1, io.read(hi));
  FBNIC_TRY_ASSIGN(const auto l, io.read(lo));
  FBNIC_TRY_ASSIGN(const auto h2, io.read(hi));
  if (h1.raw() != h2.raw()) return std::uint64_t{h2.raw()} << 32;
  return (std::uint64_t{h2.raw()} << 32) | l.raw();
}

template <Platform P, class R>
Result<std::uint64_t> read_counter64(Io<P>& io) {
  return read_counter64_at(io, R::kOffset, R::kHighOffset);
}

template <Platform P>
Result<MacStats> read_mac_stats(Io<P>& io) {
  using namespace regs;
  struct Source {
    std::uint64_t MacStats::*field;
    std::uint32_t lo;
    std::uint32_t hi;
  };
  auto from = [](std::uint64_t MacStats::*field, auto reg) {
    return Source{field, decltype(reg)::kOffset, decltype(reg)::kHighOffset};
  };
  const Source sources[] = {
      from(&MacStats::rx_ok, MacStatRxReceivedOk{}),
      from(&MacStats::rx_bytes, MacStatRxByteCount{}),
      from(&MacStats::rx_fcs_errors, MacStatRxPacketBadFcs{}),
      from(&MacStats::rx_align_errors, MacStatRxAlignError{}),
      from(&MacStats::rx_too_long, MacStatRxToolong{}),
      from(&MacStats::rx_in_errors, MacStatRxIfInErrors{}),
      from(&MacStats::rx_multicast, MacStatRxMulticast{}),
      from(&MacStats::rx_broadcast, MacStatRxBroadcast{}),
      from(&MacStats::rx_pause, MacStatRxXoffStb{}),
      from(&MacStats::tx_ok, MacStatTxTransmittedOk{}),
      from(&MacStats::tx_bytes, MacStatTxByteCount{}),
      from(&MacStats::tx_out_errors, MacStatTxIfOutErrors{}),
      from(&MacStats::tx_multicast, MacStatTxMulticast{}),
      from(&MacStats::tx_broadcast, MacStatTxBroadcast{}),
      from(&MacStats::tx_pause, MacStatTxXoffStb{}),
  };
  MacStats s;
  for (const Source& c : sources) {
    FBNIC_TRY_ASSIGN(s.*c.field, read_counter64_at(io, c.lo, c.hi));
  }
  return s;
}

// Adds what the FEC and PCS counters collected since the last call (they clear on read).
template <Platform P>
Status accumulate_fec_stats(Io<P>& io, FecStats& total) {
  using namespace regs;
  auto take = [&](auto lo_addr, auto hi_addr, std::uint64_t& into) -> Status {
    FBNIC_TRY_ASSIGN(const auto lo, io.read(lo_addr));
    FBNIC_TRY_ASSIGN(const auto hi, io.read(hi_addr));
    into += (std::uint64_t{hi.raw() & 0xFFFF} << 16) | (lo.raw() & 0xFFFF);
    return ok_status();
  };
  FBNIC_TRY(take(RsfecCcwLo::at(0), RsfecCcwHi::at(0), total.corrected));
  FBNIC_TRY(take(RsfecNccwLo::at(0), RsfecNccwHi::at(0), total.uncorrectable));
  for (std::uint32_t lane = 0; lane < 4; ++lane) {
    FBNIC_TRY(take(PcsSymblErrLo::at(lane), PcsSymblErrHi::at(lane), total.symbol_errors[lane]));
  }
  return ok_status();
}

}  // namespace fbnic::mac
