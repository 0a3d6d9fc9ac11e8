// PcapWriter: every frame that crosses the model's wires, in pcapng (what tshark and
// Wireshark read natively).
//
// One interface per NIC port ("nic0", "nic1", ...), nanosecond timestamps from
// CLOCK_REALTIME, and each frame's direction as seen from the port (outbound: the model
// put it on the wire; inbound: it arrived from the far end) in the packet's flags. A
// frame between two cabled ports is recorded twice, once per port. Frames are whole
// Ethernet frames without FCS, as the model moves them.
#pragma once

#include <time.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "fbnic/base/status.hpp"

namespace fbnic::emu {

class PcapWriter {
 public:
  enum class Direction : std::uint8_t { kInbound = 1, kOutbound = 2 };  // epb_flags bits 0-1

  PcapWriter() = default;
  PcapWriter(const PcapWriter&) = delete;
  PcapWriter& operator=(const PcapWriter&) = delete;
  ~PcapWriter() { close(); }

  // Creates (truncates) `path` and describes one interface per name.
  Status open(const std::string& path, const std::vector<std::string>& interfaces) {
    close();
    file_ = std::fopen(path.c_str(), "wbe");  // e: close on exec (QEMU inherits nothing)
    if (file_ == nullptr) return Error::kInvalidArgument;
    std::setvbuf(file_, nullptr, _IOFBF, 1 << 20);
    interfaces_ = static_cast<std::uint32_t>(interfaces.size());

    // Section header: byte-order magic, version 1.0, section length unknown.
    Block shb(kSectionHeader);
    shb.u32(0x1A2B3C4D).u16(1).u16(0).u64(~std::uint64_t{0}).end_options();
    shb.write(file_);
    for (const std::string& name : interfaces) {
      Block idb(kInterfaceDescription);
      idb.u16(kLinkTypeEthernet).u16(0).u32(0);  // snap length 0: frames are never cut
      idb.option(kIfName, name.data(), name.size());
      const std::uint8_t nanoseconds = 9;  // if_tsresol: 10^-9
      idb.option(kIfTsResol, &nanoseconds, 1);
      idb.end_options();
      idb.write(file_);
    }
    return std::ferror(file_) == 0 ? ok_status() : Status(Error::kInvalidArgument);
  }

  [[nodiscard]] bool is_open() const { return file_ != nullptr; }
  [[nodiscard]] std::uint64_t frames() const { return frames_; }

  void record(std::uint32_t interface, Direction dir, std::span<const std::uint8_t> frame) {
    if (file_ == nullptr || interface >= interfaces_) return;
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    const std::uint64_t ns = static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u +
                             static_cast<std::uint64_t>(ts.tv_nsec);
    const auto len = static_cast<std::uint32_t>(frame.size());
    const std::uint32_t pad = (4 - len % 4) % 4;
    // Enhanced packet block: fixed part, data, the flags option, end of options.
    const std::uint32_t total = 28 + len + pad + 8 + 4 + 4;
    const std::uint32_t head[7] = {kEnhancedPacket,
                                   total,
                                   interface,
                                   static_cast<std::uint32_t>(ns >> 32),
                                   static_cast<std::uint32_t>(ns),
                                   len,
                                   len};
    const std::uint32_t zero = 0;
    const std::uint16_t flags_option[2] = {kEpbFlags, 4};
    const std::uint32_t flags = static_cast<std::uint32_t>(dir);
    std::fwrite(head, sizeof(head), 1, file_);
    std::fwrite(frame.data(), 1, frame.size(), file_);
    std::fwrite(&zero, 1, pad, file_);
    std::fwrite(flags_option, sizeof(flags_option), 1, file_);
    std::fwrite(&flags, sizeof(flags), 1, file_);
    std::fwrite(&zero, sizeof(zero), 1, file_);  // opt_endofopt
    std::fwrite(&total, sizeof(total), 1, file_);
    ++frames_;
  }

  void flush() {
    if (file_ != nullptr) std::fflush(file_);
  }
  void close() {
    if (file_ != nullptr) std::fclose(file_);
    file_ = nullptr;
  }

 private:
  static constexpr std::uint32_t kSectionHeader = 0x0A0D0D0A;
  static constexpr std::uint32_t kInterfaceDescription = 1;
  static constexpr std::uint32_t kEnhancedPacket = 6;
  static constexpr std::uint16_t kLinkTypeEthernet = 1;
  static constexpr std::uint16_t kIfName = 2;
  static constexpr std::uint16_t kIfTsResol = 9;
  static constexpr std::uint16_t kEpbFlags = 2;

  // A block assembled in memory: type, length, body, length again.
  class Block {
   public:
    explicit Block(std::uint32_t type) { u32(type).u32(0); }
    Block& u16(std::uint16_t v) { return bytes(&v, 2); }
    Block& u32(std::uint32_t v) { return bytes(&v, 4); }
    Block& u64(std::uint64_t v) { return bytes(&v, 8); }
    Block& option(std::uint16_t code, const void* data, std::size_t len) {
      u16(code).u16(static_cast<std::uint16_t>(len));
      bytes(data, len);
      while (buf_.size() % 4 != 0) buf_.push_back(0);
      return *this;
    }
    Block& end_options() { return u32(0); }
    void write(std::FILE* f) {
      const auto total = static_cast<std::uint32_t>(buf_.size() + 4);
      std::memcpy(buf_.data() + 4, &total, 4);
      u32(total);
      std::fwrite(buf_.data(), 1, buf_.size(), f);
    }

   private:
    Block& bytes(const void* p, std::size_t n) {
      const auto* b = static_cast<const std::uint8_t*>(p);
      buf_.insert(buf_.end(), b, b + n);
      return *this;
    }
    std::vector<std::uint8_t> buf_;
  };

  std::FILE* file_ = nullptr;
  std::uint32_t interfaces_ = 0;
  std::uint64_t frames_ = 0;
};

}  // namespace fbnic::emu
