// TLV encoding and parsing: byte-exact against the upstream encoder's layout, round trips
// of every message, and refusal of malformed input.
#include <gtest/gtest.h>

#include <fbnic/fw/messages.hpp>
#include <fbnic/tlv/codec.hpp>

#include <array>
#include <cstdint>
#include <vector>

namespace {
using namespace fbnic;
using namespace fbnic::fw;

std::vector<std::uint8_t> bytes_of(std::span<const std::uint8_t> s) { return {s.begin(), s.end()}; }

TestMsg sample_test_message() {
  TestAttrs a;
  a.u64 = 0x0123456789ABCDEFull;
  a.s64 = -2;
  a.u32 = 0xDEADBEEF;
  a.s32 = -3;
  a.u16 = 0xBEEF;
  a.s16 = -4;
  a.mac = MacAddress{{0x02, 0, 0, 0, 0, 0x01}};
  for (std::uint8_t i = 0; i < 4; ++i)
    (void)a.macs.push(MacAddress{{0x02, 0, 0, 0, 0, static_cast<std::uint8_t>(0x10 + i)}});
  a.flag_true = true;
  a.string = tlv::String<32>::from("ABCDEFGHIJKLMNOPQRSTUVWXYZ@[\\]^");
  TestMsg m;
  static_cast<TestAttrs&>(m) = a;
  m.nested = a;
  return m;
}

// The expected bytes, written out from a reading of the upstream encoder (fbnic_tlv.c):
// message header (type 0, is_msg, 82 dwords), the attribute block, then NESTED holding the
// same block. Integers narrower than 32 bits travel as 4 bytes, sign- or zero-extended; the
// string's length counts its NUL; nested and array lengths are 4 x (1 + children's dwords).
const std::uint8_t kBlock[160] = {
    0x00, 0x00, 0x0c, 0x00, 0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01,  // 0 U64
    0x01, 0x00, 0x0c, 0x00, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,  // 1 S64 = -2
    0x02, 0x00, 0x08, 0x00, 0xef, 0xbe, 0xad, 0xde,                          // 2 U32
    0x03, 0x00, 0x08, 0x00, 0xfd, 0xff, 0xff, 0xff,                          // 3 S32 = -3
    0x04, 0x00, 0x08, 0x00, 0xef, 0xbe, 0x00, 0x00,                          // 4 U16 as 4 bytes
    0x05, 0x00, 0x08, 0x00, 0xfc, 0xff, 0xff, 0xff,                          // 5 S16 = -4
    0x06, 0x00, 0x0a, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,  // 6 MAC + pad
    0x0b, 0x00, 0x34, 0x00,                                                  // 11 ARRAY, 52
    0x06, 0x00, 0x0a, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x06,
    0x00, 0x0a, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x11, 0x00, 0x00, 0x06, 0x00,
    0x0a, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x12, 0x00, 0x00, 0x06, 0x00, 0x0a,
    0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x13, 0x00, 0x00, 0x07, 0x00, 0x04, 0x00,  // 7 FLAG_TRUE
    0x09, 0x00, 0x24, 0x00, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48,        // 9 STRING, 36
    0x49, 0x4a, 0x4b, 0x4c, 0x4d, 0x4e, 0x4f, 0x50, 0x51, 0x52, 0x53, 0x54, 0x55,
    0x56, 0x57, 0x58, 0x59, 0x5a, 0x40, 0x5b, 0x5c, 0x5d, 0x5e, 0x00,
};

TEST(Tlv, TestMessageMatchesUpstreamEncoderLayout) {
  std::vector<std::uint8_t> expected = {0x00, 0x80, 0x52, 0x00};  // type 0, is_msg, 82 dwords
  expected.insert(expected.end(), std::begin(kBlock), std::end(kBlock));
  expected.insert(expected.end(), {0x0a, 0x00, 0xa4, 0x00});  // 10 NESTED, 164 bytes
  expected.insert(expected.end(), std::begin(kBlock), std::end(kBlock));
  ASSERT_EQ(expected.size(), 328u);

  std::array<std::uint8_t, 4096> buf{};
  auto out = tlv::encode(sample_test_message(), buf);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(bytes_of(*out), expected);
}

TEST(Tlv, TestMessageRoundTrips) {
  std::array<std::uint8_t, 4096> buf{};
  const TestMsg in = sample_test_message();
  auto out = tlv::encode(in, buf);
  ASSERT_TRUE(out.ok());
  auto back = tlv::decode<TestMsg>(*out);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->u64, in.u64);
  EXPECT_EQ(back->s64, -2);
  EXPECT_EQ(back->s16, -4);
  EXPECT_EQ(back->u16, 0xBEEF);
  EXPECT_EQ(back->macs, in.macs);
  EXPECT_TRUE(back->flag_true);
  EXPECT_FALSE(back->flag_false);
  EXPECT_EQ(back->string, in.string);
  EXPECT_EQ(back->nested.mac, in.mac);
  EXPECT_EQ(back->nested.s32, -3);
}

// A hand-built message: header then raw attribute words, for malformed-input tests.
struct RawMessage {
  std::vector<std::uint8_t> bytes;
  explicit RawMessage(std::uint16_t id) { word(0x8000u | id); }
  RawMessage& word(std::uint32_t w) {
    for (int i = 0; i < 4; ++i) bytes.push_back(static_cast<std::uint8_t>(w >> (8 * i)));
    return *this;
  }
  RawMessage& attr(std::uint16_t id, std::uint16_t len, bool cannot_ignore = false) {
    return word((std::uint32_t{len} << 16) | (cannot_ignore ? 0x4000u : 0u) | id);
  }
  std::span<const std::uint8_t> finish() {
    bytes[2] = static_cast<std::uint8_t>(bytes.size() / 4);
    bytes[3] = static_cast<std::uint8_t>((bytes.size() / 4) >> 8);
    return bytes;
  }
};

tlv::Problem problem_of(std::span<const std::uint8_t> msg) {
  tlv::Diagnostic d;
  auto r = tlv::decode<HeartbeatResp>(msg, &d);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status(), Error::kBadMessage);
  return d.problem;
}

TEST(TlvParse, UnknownIgnorableAttributesAreSkipped) {
  RawMessage m(msg_id::kHeartbeatResp);
  m.attr(0x7, 8).word(0x11111111);     // unknown, ignorable
  m.attr(0x0, 12).word(1234).word(0);  // uptime_ms = 1234
  m.attr(0x9, 6).word(0xAAAA0000);     // unknown again, repeated unknowns are fine
  m.attr(0x9, 6).word(0xAAAA0000);
  auto r = tlv::decode<HeartbeatResp>(m.finish());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->uptime_ms, 1234u);
}

TEST(TlvParse, UnknownAttributeMarkedCannotIgnoreFails) {
  RawMessage m(msg_id::kHeartbeatResp);
  m.attr(0x7, 4, /*cannot_ignore=*/true);
  tlv::Diagnostic d;
  auto r = tlv::decode<HeartbeatResp>(m.finish(), &d);
  EXPECT_EQ(r.status(), Error::kBadMessage);
  EXPECT_EQ(d.problem, tlv::Problem::kUnknownRequired);
  EXPECT_EQ(d.attribute, 0x7);
  EXPECT_EQ(d.message, msg_id::kHeartbeatResp);
}

TEST(TlvParse, MalformedInputIsRefusedWithItsReason) {
  {  // a known attribute twice
    RawMessage m(msg_id::kHeartbeatResp);
    m.attr(0, 12).word(1).word(0).attr(0, 12).word(2).word(0);
    EXPECT_EQ(problem_of(m.finish()), tlv::Problem::kDuplicate);
  }
  {  // attribute ID 32
    RawMessage m(msg_id::kHeartbeatResp);
    m.attr(32, 4);
    EXPECT_EQ(problem_of(m.finish()), tlv::Problem::kAttrIdTooLarge);
  }
  {  // attribute running past the message
    RawMessage m(msg_id::kHeartbeatResp);
    m.attr(0, 40).word(1);
    EXPECT_EQ(problem_of(m.finish()), tlv::Problem::kTruncated);
  }
  {  // attribute length below its own header
    RawMessage m(msg_id::kHeartbeatResp);
    m.attr(0, 0);
    EXPECT_EQ(problem_of(m.finish()), tlv::Problem::kBadLength);
  }
  {  // an attribute header with is_msg
    RawMessage m(msg_id::kHeartbeatResp);
    m.word(0x0004'8000u);
    EXPECT_EQ(problem_of(m.finish()), tlv::Problem::kAttrIsMessage);
  }
  {  // a 12-byte integer in an 8-byte field
    RawMessage m(msg_id::kHeartbeatResp);
    m.attr(0, 16).word(1).word(2).word(3);
    EXPECT_EQ(problem_of(m.finish()), tlv::Problem::kBadLength);
  }
  {  // 0x1_0000_0000 in a 32-bit field (the coredump size, which upstream indexes as U32)
    RawMessage m(msg_id::kCoredumpInfoResp);
    m.attr(1, 12).word(0).word(1);
    tlv::Diagnostic d;
    EXPECT_FALSE(tlv::decode<CoredumpInfoResp>(m.finish(), &d).ok());
    EXPECT_EQ(d.problem, tlv::Problem::kBadLength);
  }
  {  // a first header that is not a message
    std::vector<std::uint8_t> b = {0x15, 0x00, 0x01, 0x00};
    EXPECT_EQ(problem_of(b), tlv::Problem::kNotAMessage);
  }
  {  // a header claiming more words than arrived
    RawMessage m(msg_id::kHeartbeatResp);
    auto b = m.finish();
    std::vector<std::uint8_t> v(b.begin(), b.end());
    v[2] = 9;
    EXPECT_EQ(problem_of(v), tlv::Problem::kTruncated);
  }
  {  // longer than a page
    std::vector<std::uint8_t> v(8192, 0);
    v[0] = 0x15;
    v[1] = 0x80;
    v[2] = 0x01;
    v[3] = 0x04;  // 1025 words
    EXPECT_EQ(problem_of(v), tlv::Problem::kTooLong);
  }
  {  // another message than expected
    RawMessage m(msg_id::kOwnershipResp);
    EXPECT_EQ(problem_of(m.finish()), tlv::Problem::kWrongMessage);
  }
}

TEST(TlvParse, StringsArraysAndValueRanges) {
  std::array<std::uint8_t, 4096> buf{};
  {  // a string without its NUL
    RawMessage m(msg_id::kFwCapResp);
    m.attr(0x6, 8).word(0x41414141);
    tlv::Diagnostic d;
    EXPECT_FALSE(tlv::decode<FwCapResp>(m.finish(), &d).ok());
    EXPECT_EQ(d.problem, tlv::Problem::kBadString);
    EXPECT_EQ(d.attribute, 0x6);
  }
  {  // a string ends at its first NUL wherever that is (in or across 8-byte words), and no
     // byte after it is kept
    for (std::size_t wire = 1; wire <= CommitString::kMaxWire; ++wire) {
      for (std::size_t nul = 0; nul < wire; ++nul) {
        std::array<std::uint8_t, 20> text{};  // the payload and its padding
        for (std::size_t i = 0; i + 1 < wire; ++i) text[i] = static_cast<std::uint8_t>('a' + i);
        text[nul] = 0;
        RawMessage m(msg_id::kFwCapResp);
        m.attr(0x6, static_cast<std::uint16_t>(4 + wire));
        for (std::size_t i = 0; i < wire; i += 4) m.word(load_le32(&text[i]));
        const auto r = tlv::decode<FwCapResp>(m.finish());
        ASSERT_TRUE(r.ok()) << wire << " " << nul;
        EXPECT_EQ(r->version_commit.size, nul) << wire;
        for (std::size_t i = 0; i < CommitString::kMaxWire; ++i) {
          EXPECT_EQ(r->version_commit.chars[i], i < nul ? 'a' + static_cast<int>(i) : 0)
              << wire << " " << nul << " " << i;
        }
      }
    }
  }
  {  // a commit string longer than 19 bytes
    RawMessage m(msg_id::kFwCapResp);
    m.attr(0x6, 4 + 20);
    for (int i = 0; i < 5; ++i) m.word(0x41414141u >> (i == 4 ? 24 : 0));
    tlv::Diagnostic d;
    EXPECT_FALSE(tlv::decode<FwCapResp>(m.finish(), &d).ok());
    EXPECT_EQ(d.problem, tlv::Problem::kBadLength);
  }
  {  // five BMC MACs where four fit, and an element with a foreign ID
    FwCapResp caps;
    caps.bmc_present = true;
    for (std::uint8_t i = 0; i < 4; ++i) (void)caps.bmc_macs.push(MacAddress{{2, 0, 0, 0, 0, i}});
    auto enc = tlv::encode(caps, buf);
    ASSERT_TRUE(enc.ok());
    ASSERT_TRUE(tlv::decode<FwCapResp>(*enc).ok());

    RawMessage m(msg_id::kFwCapResp);
    m.attr(0x3, 4 + 5 * 12);
    for (int i = 0; i < 5; ++i) m.attr(0x2, 10).word(2).word(static_cast<std::uint32_t>(i));
    tlv::Diagnostic d;
    EXPECT_FALSE(tlv::decode<FwCapResp>(m.finish(), &d).ok());
    EXPECT_EQ(d.problem, tlv::Problem::kTooManyElements);

    RawMessage n(msg_id::kFwCapResp);
    n.attr(0x3, 16).attr(0x4, 10).word(2).word(0);
    EXPECT_FALSE(tlv::decode<FwCapResp>(n.finish(), &d).ok());
    EXPECT_EQ(d.problem, tlv::Problem::kBadArrayElement);
  }
  {  // a 16-bit field given 0x12345
    RawMessage m(msg_id::kTest);
    m.attr(4, 8).word(0x12345);
    tlv::Diagnostic d;
    EXPECT_FALSE(tlv::decode<TestMsg>(m.finish(), &d).ok());
    EXPECT_EQ(d.problem, tlv::Problem::kValueTooLarge);
  }
  {  // a signed value sent in fewer bytes is sign-extended
    RawMessage m(msg_id::kTseneReadResp);
    m.attr(0, 5).word(0x000000FE);  // one byte: -2
    auto r = tlv::decode<TseneReadResp>(m.finish());
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->therm_mc, -2);
  }
}

TEST(TlvEncode, RunsOutOfRoomCleanlyAndDropsEmptyNests) {
  std::array<std::uint8_t, 16> small{};
  FwCapResp caps;
  caps.version = 1;
  EXPECT_EQ(tlv::encode(caps, small).status(), Error::kNoMemory);

  std::array<std::uint8_t, 64> buf{};
  RpcMacSyncReq sync;  // both arrays empty: neither is sent
  sync.rx_flags = kMacSyncBroadcast;
  auto enc = tlv::encode(sync, buf);
  ASSERT_TRUE(enc.ok());
  EXPECT_EQ(enc->size(), 4u + 8u);
}

}  // namespace
