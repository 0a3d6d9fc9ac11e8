// Writes the seed corpus: one well-formed example of each message the fuzzer decodes.
//   make_corpus <dir>
#include <fbnic/fw/messages.hpp>
#include <fbnic/tlv/codec.hpp>

#include <array>
#include <cstdio>
#include <string>

namespace {
using namespace fbnic;

template <class T>
bool write(const std::string& dir, const char* name, const T& msg) {
  std::array<std::uint8_t, tlv::kMaxMessageBytes> buf{};
  const auto bytes = tlv::encode(msg, buf);
  if (!bytes.ok()) return false;
  std::FILE* f = std::fopen((dir + "/" + name).c_str(), "wb");
  if (f == nullptr) return false;
  const bool ok = std::fwrite(bytes->data(), 1, bytes->size(), f) == bytes->size();
  return std::fclose(f) == 0 && ok;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  const std::string dir = argv[1];
  fw::FwCapResp caps;
  caps.version = 0x19050700;
  caps.bmc_present = true;
  (void)caps.bmc_macs.push(MacAddress{{2, 0, 0, 0, 0, 1}});
  (void)caps.bmc_macs.push(MacAddress{{2, 0, 0, 0, 0, 2}});
  caps.version_commit = fw::CommitString::from("0123456789abcdef");
  caps.link_speed = 4;
  caps.link_fec = 2;
  caps.anti_rollback_version = 7;
  fw::LogMsgReq log;
  log.msec = 10;
  log.index = 1;
  log.text = fw::LogText::from("link up 100G");
  log.extra = 1;
  (void)log.msec_array.push(11);
  (void)log.index_array.push(2);
  (void)log.text_array.push(fw::LogText::from("pcs lock"));
  fw::TestMsg test;
  test.u64 = 1;
  test.s16 = -2;
  test.flag_true = true;
  test.string = tlv::String<32>::from("@ABC");
  (void)test.macs.push(MacAddress{{1, 2, 3, 4, 5, 6}});
  test.nested = test;
  static const std::uint8_t kData[16] = {0x11, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
  fw::QsfpReadResp qsfp;
  qsfp.bank = 0;
  qsfp.page = 3;
  qsfp.offset = 128;
  qsfp.length = 16;
  qsfp.data.data = kData;
  fw::RpcMacSyncReq sync;
  (void)sync.unicast.push(MacAddress{{2, 1, 1, 1, 1, 1}});
  sync.rx_flags = 4;
  fw::HeartbeatResp hb;
  hb.uptime_ms = 123456;
  const bool ok = write(dir, "fw_cap_resp.bin", caps) && write(dir, "log_msg.bin", log) &&
                  write(dir, "test_msg.bin", test) && write(dir, "qsfp_resp.bin", qsfp) &&
                  write(dir, "mac_sync.bin", sync) && write(dir, "heartbeat_resp.bin", hb);
  return ok ? 0 : 1;
}
