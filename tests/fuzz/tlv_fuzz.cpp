// libFuzzer target: any bytes, as any firmware message the host decodes.
//
// Properties checked beyond "no crash, no out-of-bounds read" (ASan/UBSan catch those):
// a message that decodes re-encodes, and the re-encoding decodes to the same thing.
#include <fbnic/fw/messages.hpp>
#include <fbnic/tlv/codec.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

namespace {
using namespace fbnic;

template <class T>
void round_trip(std::span<const std::uint8_t> in) {
  tlv::Diagnostic diag;
  const auto first = tlv::decode<T>(in, &diag);
  if (!first.ok()) {
    if (diag.problem == tlv::Problem::kNone) std::abort();  // every refusal names a reason
    return;
  }
  std::array<std::uint8_t, tlv::kMaxMessageBytes> buf{};
  const auto again = tlv::encode(*first, buf);
  if (!again.ok()) return;  // a decoded message can exceed a page once padded: fine to refuse
  const auto second = tlv::decode<T>(*again);
  if (!second.ok()) std::abort();
  std::array<std::uint8_t, tlv::kMaxMessageBytes> buf2{};
  const auto third = tlv::encode(*second, buf2);
  if (!third.ok() || third->size() != again->size()) std::abort();
  for (std::size_t i = 0; i < again->size(); ++i) {
    if ((*third)[i] != (*again)[i]) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> in(data, size);
  const auto id = tlv::message_id(in);
  if (!id.ok()) return 0;
  // Decode as the message the ID names and also as a few that it does not, so that the
  // attribute walker sees every schema.
  switch (*id) {
    case fw::msg_id::kFwCapResp: round_trip<fw::FwCapResp>(in); break;
    case fw::msg_id::kLogMsgReq: round_trip<fw::LogMsgReq>(in); break;
    case fw::msg_id::kTest: round_trip<fw::TestMsg>(in); break;
    case fw::msg_id::kQsfpReadResp: round_trip<fw::QsfpReadResp>(in); break;
    case fw::msg_id::kCoredumpReadResp: round_trip<fw::CoredumpReadResp>(in); break;
    case fw::msg_id::kRpcMacSyncReq: round_trip<fw::RpcMacSyncReq>(in); break;
    case fw::msg_id::kHeartbeatResp: round_trip<fw::HeartbeatResp>(in); break;
    case fw::msg_id::kUpgradeChunkReq: round_trip<fw::UpgradeChunkReq>(in); break;
    case fw::msg_id::kTseneReadResp: round_trip<fw::TseneReadResp>(in); break;
    default: break;
  }
  (void)tlv::decode<fw::FwCapResp>(in);
  (void)tlv::decode<fw::TestMsg>(in);
  return 0;
}
