// The register map against the hardware reference: byte offsets (word index x 4) and
// field positions, one line per fact, with the reference's value written out by hand.
#include <gtest/gtest.h>

#include <fbnic/fbnic.hpp>
#include <fbnic/mock/mock.hpp>

#include <array>
#include <cstddef>
#include <vector>

namespace {
using namespace fbnic;
using namespace fbnic::regs;

template <unsigned Hi, unsigned Lo>
constexpr std::uint32_t mask(Field<Hi, Lo>) {
  return Field<Hi, Lo>::kMask;
}

TEST(RegisterMap, GlobalBlocksMatchReferenceOffsets) {
  EXPECT_EQ(IntrStatus::at(0).offset, 0x000u);
  EXPECT_EQ(IntrMask::at(1).offset, 0x024u);
  EXPECT_EQ(IntrSet::at(0).offset, 0x040u);
  EXPECT_EQ(IntrClear::at(0).offset, 0x060u);
  EXPECT_EQ(IntrSwAcMode::at(0).offset, 0x0A0u);
  EXPECT_EQ(IntrMaskSet::at(0).offset, 0x0C0u);
  EXPECT_EQ(IntrMaskClear::at(7).offset, 0x0FCu);
  EXPECT_EQ(IntrMsixCtrl::at(kCausePcs).offset, 0x188u);  // word 0x062
  EXPECT_EQ(IntrCqRearm::at(2).offset, 0x1020u);
  EXPECT_EQ(IntrTcqTimeout::at(1).offset, 0x1018u);
  EXPECT_EQ(QmTwqIdle::at(0).offset, 0x2000u);
  EXPECT_EQ(QmTwqDefaultMetaL::kOffset, 0x2060u);
  EXPECT_EQ(QmTqsCtl0::kOffset, 0x206Cu);
  EXPECT_EQ(QmTcqIdle::at(3).offset, 0x2090u);
  EXPECT_EQ(QmTcqCtl0::kOffset, 0x20B4u);
  EXPECT_EQ(QmTqsEdtTsRange::kOffset, 0x2124u);
  EXPECT_EQ(QmTdeIdle::at(0).offset, 0x214Cu);
  EXPECT_EQ(QmTniTdeCtl::kOffset, 0x21B4u);
  EXPECT_EQ(QmRcqIdle::at(0).offset, 0x3000u);
  EXPECT_EQ(QmRcqCtl0::kOffset, 0x3030u);
  EXPECT_EQ(QmHpqIdle::at(0).offset, 0x303Cu);
  EXPECT_EQ(QmPpqIdle::at(0).offset, 0x304Cu);
  EXPECT_EQ(QmRniRcmCtl::kOffset, 0x30BCu);
  EXPECT_EQ(TceLsoCtrl::kOffset, 0x10000u);
  EXPECT_EQ(TceTxbCtrl::kOffset, 0x10008u);
  EXPECT_EQ(TceTxbCldrSlotCfg::at(15).offset, 0x1006Cu);
  EXPECT_EQ(TceBmcMaxPktsz::kOffset, 0x100E8u);
  EXPECT_EQ(TceTcamIdx2DestMap::kOffset, 0x10128u);
  EXPECT_EQ(TceTxbTxBmcQCtrl::kOffset, 0x1012Cu);
  EXPECT_EQ(TceRamTcam::at(0, 2).offset, 0x10840u);
  EXPECT_EQ(TceRamTcam3::at(7).offset, 0x1087Cu);
  EXPECT_EQ(TmiDropCtrl::kOffset, 0x11004u);
  EXPECT_EQ(TmiDropPkts::kOffset, 0x11008u);
  EXPECT_EQ(RxbCtSize::at(0).offset, 0x20000u);
  EXPECT_EQ(RxbPauseDropCtrl::kOffset, 0x20020u);
  EXPECT_EQ(RxbPbufCfg::at(4).offset, 0x200ACu);
  EXPECT_EQ(RxbEndianFcs::kOffset, 0x20110u);
  EXPECT_EQ(RxbPbufCredit::at(0).offset, 0x2011Cu);
  EXPECT_EQ(RxbIntfCredit::kOffset, 0x2013Cu);
  EXPECT_EQ(RxbDwrrRdeWeight0Ext::kOffset, 0x2050Cu);
  EXPECT_EQ(RpcRmiConfig::kOffset, 0x21000u);
  EXPECT_EQ(RpcActTbl0Default::at(0).offset, 0x21028u);
  EXPECT_EQ(RpcRssKey::at(13).offset, 0x21064u);
  EXPECT_EQ(RpcTcamMacdaValidate::kOffset, 0x214B4u);
  EXPECT_EQ(RpcActTbl0::at(63).offset, 0x220FCu);
  EXPECT_EQ(RpcActTbl1::at(0).offset, 0x22100u);
  EXPECT_EQ(RpcTcamAct::at(5, 11).offset, 0x22200u + 0x100u * 11 + 4 * 5);
  EXPECT_EQ(RpcTcamMacda::at(4, 3).offset, 0x22E00u + 0x80u * 3 + 4 * 4);
  EXPECT_EQ(RpcTcamOuterIpDst::at(0, 0).offset, 0x23120u);
  EXPECT_EQ(RpcTcamIpSrc::at(2, 8).offset, 0x23240u + 32u * 8 + 4 * 2);
  EXPECT_EQ(RpcTcamIpDst::at(0, 0).offset, 0x23360u);
  EXPECT_EQ(RpcRssTbl::at(255, 1).offset, 0x23480u + 0x400u + 4 * 255);
  EXPECT_EQ(FabAxi4ArSpacer2Cfg::kOffset, 0x30014u);
  EXPECT_EQ(MasterSpare0::kOffset, 0x3106Cu);
  EXPECT_EQ(PcsControl1::at(1).offset, 0x41000u);
  EXPECT_EQ(RsfecCcwLo::at(0).offset, 0x42008u);
  EXPECT_EQ(RsfecNccwHi::at(1).offset, 0x42034u);
  EXPECT_EQ(PcsSymblErrLo::at(3).offset, 0x42218u);
  EXPECT_EQ(MacCommandConfig::kOffset, 0x44008u);
  EXPECT_EQ(SigMacIn0::kOffset, 0x46000u);
  EXPECT_EQ(SigPcsOut0::kOffset, 0x46020u);
  EXPECT_EQ(SigPcsOut1::kOffset, 0x46024u);
  EXPECT_EQ(SigPcsIntrSts::kOffset, 0x46050u);
  EXPECT_EQ(SigPcsIntrMask::kOffset, 0x46058u);
  EXPECT_EQ(MacStatRxByteCount::kOffset, 0x46820u);
  EXPECT_EQ(MacStatRxByteCount::kHighOffset, 0x46824u);
  EXPECT_EQ(MacStatTxControlFrames::kOffset, 0x46978u);
  EXPECT_EQ(PulObTlpHdrAwCfg::kOffset, 0xC40F4u);
  EXPECT_EQ(PulObTlpHdrArCfg::kOffset, 0xC40F8u);
}

TEST(RegisterMap, QueueBlockMatchesReferenceOffsets) {
  constexpr std::uint32_t q5 = 0x100000u + 0x1000u * 5;
  EXPECT_EQ(Twq0Ctl::at(5).offset, q5 + 0x000);
  EXPECT_EQ(Twq1Tail::at(5).offset, q5 + 0x00C);
  EXPECT_EQ(Twq0Ptrs::at(5).offset, q5 + 0x010);
  EXPECT_EQ(Twq1Size::at(5).offset, q5 + 0x02C);
  EXPECT_EQ(Twq0Bal::at(5).offset, q5 + 0x080);
  EXPECT_EQ(Twq1Bah::at(5).offset, q5 + 0x08C);
  EXPECT_EQ(Twq0PktCnt::at(5).offset, q5 + 0x188);
  EXPECT_EQ(Twq1ErrCnt::at(5).offset, q5 + 0x1CC);
  EXPECT_EQ(TcqCtl::at(5).offset, q5 + 0x200);
  EXPECT_EQ(TcqHead::at(5).offset, q5 + 0x204);
  EXPECT_EQ(TcqSize::at(5).offset, q5 + 0x210);
  EXPECT_EQ(TcqBal::at(5).offset, q5 + 0x280);
  EXPECT_EQ(TimCtl::at(5).offset, q5 + 0x300);
  EXPECT_EQ(TimMask::at(5).offset, q5 + 0x310);
  EXPECT_EQ(RcqCtl::at(5).offset, q5 + 0x800);
  EXPECT_EQ(RcqHead::at(5).offset, q5 + 0x804);
  EXPECT_EQ(RcqPtrs::at(5).offset, q5 + 0x808);
  EXPECT_EQ(RcqBah::at(5).offset, q5 + 0x884);
  EXPECT_EQ(BdqCtl::at(5).offset, q5 + 0x900);
  EXPECT_EQ(BdqHpqTail::at(5).offset, q5 + 0x904);
  EXPECT_EQ(BdqPpqTail::at(5).offset, q5 + 0x908);
  EXPECT_EQ(BdqHpqSize::at(5).offset, q5 + 0x91C);
  EXPECT_EQ(BdqPpqBal::at(5).offset, q5 + 0x988);
  EXPECT_EQ(RdeCtl0::at(5).offset, q5 + 0xA80);
  EXPECT_EQ(RdeCtl1::at(5).offset, q5 + 0xA84);
  EXPECT_EQ(RdeBdqDropCnt::at(5).offset, q5 + 0xA94);
  EXPECT_EQ(RimCtl::at(5).offset, q5 + 0xB00);
  EXPECT_EQ(RimMask::at(5).offset, q5 + 0xB10);
  EXPECT_EQ(Twq0Ctl::at(127).offset, 0x100000u + 0x1000u * 127);
}

TEST(RegisterMap, MailboxInBar4) {
  EXPECT_EQ(MbxDescLo::kBar, Bar::kIpc);
  EXPECT_EQ(MbxDescLo::at(0, kMailboxRx).offset, 0x18000u);
  EXPECT_EQ(MbxDescHi::at(0, kMailboxRx).offset, 0x18004u);
  EXPECT_EQ(MbxDescLo::at(15, kMailboxRx).offset, 0x18078u);
  EXPECT_EQ(MbxDescLo::at(0, kMailboxTx).offset, 0x18080u);
  EXPECT_EQ(MbxDescHi::at(15, kMailboxTx).offset, 0x180FCu);
  EXPECT_EQ(NsOtpStatus::kOffset, 0x0874u);
  EXPECT_EQ(NsOtpWriteStatus::kOffset, 0x0878u);
}

TEST(RegisterMap, FieldPositionsMatchReference) {
  EXPECT_EQ(mask(IntrMsixCtrl::kVector), 0x0000'00FFu);
  EXPECT_EQ(mask(IntrMsixCtrl::kEnable), 0x8000'0000u);
  EXPECT_EQ(mask(IntrCqRearm::kRcqTimeout), 0x0000'3FFFu);
  EXPECT_EQ(mask(IntrCqRearm::kTcqTimeout), 0x1FFF'8000u);
  EXPECT_EQ(mask(IntrCqRearm::kIntrUnmask), 0x8000'0000u);
  EXPECT_EQ(mask(QmTqsCtl0::kPrefetchThresh), 0x0000'00FEu);
  EXPECT_EQ(mask(QmTcqCtl0::kTickCycles), 0x07FF'0000u);
  EXPECT_EQ(mask(QmTniTdeCtl::kMaxOb), 0x01FF'F000u);
  EXPECT_EQ(mask(QmTniTdeCtl::kMrrs1k), 0x0200'0000u);
  EXPECT_EQ(mask(TceLsoCtrl::kTcpfClrMid), 0x0003'FE00u);
  EXPECT_EQ(mask(TceTxbTeiQ0Ctrl::kSize), 0x007F'F800u);
  EXPECT_EQ(mask(TceRamTcam::kValue), 0xFFFF'0000u);  // reversed vs Rx TCAMs
  EXPECT_EQ(mask(TceRamTcam3::kDestMask), 0x0000'0038u);
  EXPECT_EQ(mask(RxbPauseDropCtrl::kPsEnable), 0x0F00'0000u);
  EXPECT_EQ(mask(RxbPauseThld::kOff), 0x03FF'E000u);
  EXPECT_EQ(mask(RxbPbufCfg::kSize), 0x003F'E000u);
  EXPECT_EQ(mask(Twq1Ctl::kEnable), 0x2u);
  EXPECT_EQ(mask(Twq0Ptrs::kHead), 0xFFFF'0000u);
  EXPECT_EQ(mask(RcqPtrs::kHead), 0x0000'FFFFu);
  EXPECT_EQ(mask(BdqCtl::kPpqEnable), 0x4000'0000u);
  EXPECT_EQ(mask(RdeCtl0::kMinHroom), 0x1FF0'0000u);
  EXPECT_EQ(mask(RdeCtl0::kMinTroom), 0x000F'F800u);
  EXPECT_EQ(mask(RdeCtl0::kDropMode), 0x6000'0000u);
  EXPECT_EQ(mask(RdeCtl1::kMaxHdr), 0x01FF'F000u);
  EXPECT_EQ(mask(RdeCtl1::kPayldPgCl), 0x0000'01C0u);
  EXPECT_EQ(mask(RpcRmiConfig::kMtu), 0xFFFF'0000u);
  EXPECT_EQ(mask(RpcRmiConfig::kEnable), 0x0000'1000u);
  EXPECT_EQ(mask(RpcActTbl0::kQId), 0x0000'FF00u);
  EXPECT_EQ(mask(RpcActTbl0::kDmaHint), 0x01FF'0000u);
  EXPECT_EQ(mask(RpcActTbl0::kRssCtxtId), 0x4000'0000u);
  EXPECT_EQ(mask(RpcTcamAct::kMacdaIndex), 0x0000'03E0u);
  EXPECT_EQ(mask(RpcTcamAct::kL4Valid), 0x0000'8000u);
  EXPECT_EQ(mask(RpcTcamMacda::kMask), 0xFFFF'0000u);
  EXPECT_EQ(mask(MacCommandConfig::kLoopbackEn), 0x0000'0400u);
  EXPECT_EQ(mask(MacCommandConfig::kRxPauseDis), 0x2000'0000u);
  EXPECT_EQ(mask(SigMacIn0::kResetFfTxClk), 0x0000'4000u);
  EXPECT_EQ(mask(SigPcsOut0::kBlockLock), 0x01FF'FFE0u);
  EXPECT_EQ(mask(SigPcsOut0::kAmpsLock), 0x0000'001Eu);
  EXPECT_EQ(mask(SigPcsOut0::kLink), 0x0800'0000u);
  EXPECT_EQ(mask(SigPcsOut1::kFcfecLock), 0x0000'0F00u);
  EXPECT_EQ(mask(PulObTlpHdrAwCfg::kBme), 0x0004'0000u);
  EXPECT_EQ(mask(PulObTlpHdrArCfg::kTdeAttr), 0x0003'8000u);
}

TEST(RegisterValue, SetKeepsOtherFieldsAndFlagsValuesThatDoNotFit) {
  auto v = RdeCtl0{}.set(RdeCtl0::kMinHroom, 192).set(RdeCtl0::kDropMode, RdeCtl0::kDropNever);
  EXPECT_TRUE(v.fits());
  EXPECT_EQ(v.get(RdeCtl0::kMinHroom), 192u);
  EXPECT_EQ(v.get(RdeCtl0::kDropMode), 2u);
  EXPECT_EQ(v.raw(), (192u << 20) | (2u << 29));

  volatile std::uint32_t too_big = 512;  // 9-bit field
  v.set(RdeCtl0::kMinHroom, too_big);
  EXPECT_FALSE(v.fits());
}

TEST(RegisterValue, ConstantValuesAreCheckedAtCompileTime) {
  // Out-of-range constants do not compile: see tests/compile_fail/.
  constexpr auto v =
      IntrCqRearm{}.set(IntrCqRearm::kTcqTimeout, 0x3FFF).set_all(IntrCqRearm::kIntrUnmask);
  static_assert(v.raw() == 0x9FFF'8000u);
  static_assert(v.fits());
  EXPECT_EQ(v.raw(), 0x9FFF'8000u);
}

TEST(RegisterIndex, OutOfRangeIndexIsAnErrorNeverAStrayWrite) {
  using Model = mock::Device<>;
  Model dev;
  std::vector<std::byte> ram(1 << 16);
  mock::Platform plat(dev, ram);
  Io io(plat);

  volatile std::uint32_t queue = kMaxQueues;  // one past the end, only known at run time
  EXPECT_FALSE(TimCtl::at(queue).valid);
  const auto writes_before = dev.access_log().writes();
  EXPECT_EQ(io.write(TimCtl::at(queue), TimCtl{}), Error::kOutOfRange);
  EXPECT_EQ(io.read(RpcTcamMacda::at(32, 0)).status(), Error::kOutOfRange);
  EXPECT_EQ(dev.access_log().writes(), writes_before);

  auto bad = TimCtl{};
  volatile std::uint32_t vector = 300;
  bad.set(TimCtl::kVector, vector);
  EXPECT_EQ(io.write(TimCtl::at(0), bad), Error::kInvalidArgument);
  EXPECT_EQ(dev.access_log().writes(), writes_before);
}

TEST(RegisterIo, ModifyKeepsUndeclaredBits) {
  mock::Device<> dev;
  std::vector<std::byte> ram(1 << 16);
  mock::Platform plat(dev, ram);
  Io io(plat);
  // Bits 31:2 of TWQ0_CTL are not declared; a read-modify-write must keep them.
  dev.write32(Bar::kCsr, Twq0Ctl::at(0).offset, 0xF0F0'0000u | 0x1u);
  ASSERT_TRUE(io.modify(Twq0Ctl::at(0), [](Twq0Ctl& r) {
                  r.set(Twq0Ctl::kReset, 0).set(Twq0Ctl::kEnable, 1);
                }).ok());
  EXPECT_EQ(dev.read32(Bar::kCsr, Twq0Ctl::at(0).offset), 0xF0F0'0002u);
}

}  // namespace

// Numbers are formatted without a 64-bit division (a libgcc call on 32-bit CPUs).
TEST(LogLine, FormatsTheWholeRangeOfNumbers) {
  constexpr auto line = [](auto v) {
    fbnic::LogLine l;
    l << v;
    return l;
  };
  EXPECT_STREQ(line(std::uint64_t{0}).c_str(), "0");
  EXPECT_STREQ(line(std::uint64_t{10}).c_str(), "10");
  EXPECT_STREQ(line(std::uint64_t{9'999'999'999}).c_str(), "9999999999");
  EXPECT_STREQ(line(~std::uint64_t{0}).c_str(), "18446744073709551615");
  EXPECT_STREQ(line(std::int64_t{-9'223'372'036'854'775'807 - 1}).c_str(), "-9223372036854775808");
  EXPECT_STREQ(line(fbnic::Hex{0}).c_str(), "0x0");
  EXPECT_STREQ(line(fbnic::Hex{0xfedcba9876543210}).c_str(), "0xfedcba9876543210");
}

TEST(PollUntil, LastSleepEndsAtTheDeadline) {
  EXPECT_EQ(fbnic::last_sleep_us(0, 10), 0u);
  EXPECT_EQ(fbnic::last_sleep_us(1, 10), 1u);
  EXPECT_EQ(fbnic::last_sleep_us(1'000, 10), 1u);
  EXPECT_EQ(fbnic::last_sleep_us(1'001, 10), 2u);
  EXPECT_EQ(fbnic::last_sleep_us(50'000, 10), 10u);
  EXPECT_EQ(fbnic::last_sleep_us(4'294'966'000, 0xffff'ffffu), 4'294'966u);
  EXPECT_EQ(fbnic::last_sleep_us(~std::uint64_t{0}, 0xffff'ffffu), 4'294'966u);
  EXPECT_EQ(fbnic::last_sleep_us(~std::uint64_t{0}, 7), 7u);
}
