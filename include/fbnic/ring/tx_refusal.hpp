// Why TxQueue::send() refused a packet, in words: the field at fault, its value, what the
// device takes, and what to do instead. Cold code, run only after send()'s cheap checks
// failed; it checks again, in the same order, to find which one.
#pragma once

#include <cstdint>

#include "fbnic/base/log.hpp"
#include "fbnic/desc/twd.hpp"
#include "fbnic/platform/platform.hpp"

namespace fbnic {

struct TxProblem {
  const char* field = nullptr;  // what was wrong, as the caller named it
  std::uint64_t value = 0;
  const char* rule = "";  // what the device takes, and what to do instead
  std::uint64_t limit = 0;
  const char* tail = "";
  bool frame_limit = false;  // the frame limit and where it comes from follow
  bool hex = false;
};

// The first thing in pkt (a TxPacket) the device cannot carry; `buffer` is the buffer at
// fault, or the buffer count when the fault is not one buffer's.
template <class Packet>
TxProblem tx_problem(const Packet& pkt, std::uint32_t max_frame, std::uint32_t max_buffers,
                     std::uint32_t& buffer) {
  using T = desc::Twd;
  using L3 = decltype(pkt.offload.l3);
  using L4 = decltype(pkt.offload.l4);
  const auto n = static_cast<std::uint32_t>(pkt.buffers.size());
  buffer = n;
  if (n == 0) return {"TxPacket::buffers.size()", 0, ": no buffers; a packet needs one"};
  if (n > max_buffers) {
    return {"TxPacket::buffers.size()", n, " buffers; Policy::kMaxTxBuffers = ", max_buffers,
            ": coalesce them, or raise it"};
  }
  const auto& o = pkt.offload;
  if (o.checksum || o.mss != 0) {
    const auto units2 = [](const char* f, std::uint32_t v, std::uint64_t max) -> TxProblem {
      if ((v & 1u) != 0) return {f, v, " is odd: the device takes 2-byte units"};
      if (v / 2u > max) return {f, v, "; the device takes at most ", 2 * max, " bytes"};
      return {};
    };
    if (TxProblem p = units2("TxOffload::l2_len", o.l2_len, T::kL2Hlen.kMax); p.field) return p;
    if (TxProblem p = units2("TxOffload::l3_len", o.l3_len, T::kL3Ihlen.kMax); p.field) return p;
    if (TxProblem p = units2("TxOffload::csum_field", o.csum_field, T::kCsumOffset.kMax); p.field) {
      return p;
    }
    if (o.mss != 0) {
      if (o.l3 == L3::kNone || o.l4 == L4::kNone) {
        return {"TxOffload::l3 and ::l4 must name the protocols for TSO; mss", o.mss};
      }
      if ((o.l4_header_len & 3u) != 0 || o.l4_header_len / 4u > T::kL4Hlen.kMax) {
        return {"TxOffload::l4_header_len", o.l4_header_len,
                ": the device takes 4-byte units, at most ", 4 * T::kL4Hlen.kMax, " bytes"};
      }
      if (o.mss > T::kMss.kMax) return {"TxOffload::mss", o.mss, "; at most ", T::kMss.kMax};
      const std::uint32_t segment = std::uint32_t{o.l2_len} + o.l3_len + o.l4_header_len + o.mss;
      if (segment > max_frame) {
        return {"TxOffload::mss", o.mss,    ": headers + mss make a segment of ",
                segment,          " bytes", true};
      }
    }
  }
  std::uint64_t frame = 0;
  for (buffer = 0; buffer < n; ++buffer) {
    const auto& b = pkt.buffers[buffer];
    if (b.len == 0) return {"TxBuffer::len", 0, ": an empty buffer; leave it out"};
    if (b.len > desc::kMaxTxBufferBytes) {
      return {"TxBuffer::len", b.len, "; a buffer holds at most ", desc::kMaxTxBufferBytes,
              " bytes (TWD LEN is 16 bits): split it over several"};
    }
    if (b.dma > desc::kMaxTxBufferAddress) {
      return {"TxBuffer::dma", b.dma, ": beyond the 46 bits the device addresses", 0, "",
              false,           true};
    }
    frame += b.len;
  }
  buffer = n;
  if (o.mss != 0) {
    return {"the TSO packet's length", frame, " bytes; the device segments at most ",
            desc::kMaxTsoBytes, ": send less per packet"};
  }
  return {"the frame's length", frame, " bytes", 0, "", true};
}

// Logs why send() refused packet `index` of a batch on Tx queue `queue`.
template <Platform P, class Packet>
void log_tx_refusal(P& platform, std::uint32_t queue, std::uint32_t index, const Packet& pkt,
                    std::uint32_t max_frame, std::uint32_t max_buffers) {
  if constexpr (log_text<P>() == LogText::kFull) {
    std::uint32_t buffer = 0;
    const TxProblem p = tx_problem(pkt, max_frame, max_buffers, buffer);
    LogLine line;
    line << "fbnic: tx queue " << queue << ": packet " << index << " of the batch refused: ";
    if (buffer < pkt.buffers.size()) line << "buffer " << buffer << ": ";
    line << p.field << " = ";
    if (p.hex) {
      line << Hex{p.value};
    } else {
      line << p.value;
    }
    line << p.rule;
    if (p.limit != 0) line << p.limit;
    line << p.tail;
    if (p.frame_limit) {
      line << ", over the frame limit of " << max_frame;
      if (max_frame < desc::kMaxFrameBytes) {
        line << " (DeviceConfig::mtu + 18 for the Ethernet header and a VLAN tag)";
        line << (pkt.offload.mss != 0 ? ": lower the mss or raise the MTU" : ": raise the MTU");
      } else {
        line << " (the device's largest frame, whatever DeviceConfig::mtu says)";
      }
    }
    platform.log(LogLevel::kError, line.c_str());
  } else {
    log(platform, LogLevel::kError, "fbnic: tx packet refused (queue, index in the batch):", queue,
        index);
  }
}

}  // namespace fbnic
