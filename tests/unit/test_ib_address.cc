// The ibverbs address record: what each rank publishes (port address, PSN, a QPN per peer),
// its byte encoding, and the refusal of records that are malformed or of another version.

#ifdef RDZV_HAVE_IBVERBS

#include <gtest/gtest.h>

#include <fmt/format.h>

#include "lib/error.h"
#include "transport/ibverbs/address.h"

namespace rdzv::transport::ibverbs {
namespace {

RankAddress sample() {
  RankAddress a;
  a.device = "mlx5_0";
  a.port = 1;
  a.link = LinkLayer::Ethernet;
  a.lid = 0x1234;
  a.has_gid = true;
  a.gid = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 7};
  a.mtu = 5;
  a.rd_atomic = 16;
  a.psn = 0xabcdef;
  a.qpns = {0, 0x11, 0x222, 0xffffff};
  return a;
}

std::string runtimeMessage(const Bytes& bytes, int rank) {
  try {
    decodeAddress(bytes, rank);
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Runtime);
    return e.message();
  }
  return "";
}

TEST(IbAddress, RoundTrips) {
  auto a = sample();
  EXPECT_EQ(decodeAddress(encodeAddress(a), 3), a);
  RankAddress ib;  // InfiniBand, no GID, no peers
  ib.device = "hfi1_0";
  ib.lid = 7;
  EXPECT_EQ(decodeAddress(encodeAddress(ib), 0), ib);
}

TEST(IbAddress, EncodingIsLittleEndianAndLayoutIndependent) {
  auto bytes = encodeAddress(sample());
  // magic "RDIB", version, port, link layer, LID
  ASSERT_GE(bytes.size(), 10u);
  EXPECT_EQ(std::string(bytes.begin(), bytes.begin() + 4), "RDIB");
  EXPECT_EQ(bytes[4], kIbWireVersion & 0xff);
  EXPECT_EQ(bytes[6], 1);  // port
  EXPECT_EQ(bytes[7], 2);  // Ethernet
  EXPECT_EQ(bytes[8], 0x34);
  EXPECT_EQ(bytes[9], 0x12);
  // The fixed part, the name and 4 bytes per QPN.
  EXPECT_EQ(bytes.size(), 4 + 2 + 1 + 1 + 2 + 1 + 16 + 1 + 1 + 4 + 1 + 6 + 4 + 4 * 4u);
  // The last QPN, little endian.
  EXPECT_EQ(bytes[bytes.size() - 4], 0xff);
  EXPECT_EQ(bytes[bytes.size() - 1], 0x00);
}

TEST(IbAddress, TruncatedRecordNamesTheRank) {
  auto bytes = encodeAddress(sample());
  bytes.resize(bytes.size() - 2);
  auto msg = runtimeMessage(bytes, 5);
  EXPECT_NE(msg.find("rank 5"), std::string::npos) << msg;
  EXPECT_NE(msg.find("malformed ibverbs address"), std::string::npos) << msg;
  for (std::size_t cut : {0, 3, 12, 30}) {
    Bytes shorter(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(cut));
    EXPECT_NE(runtimeMessage(shorter, 1).find("rank 1"), std::string::npos) << cut;
  }
}

TEST(IbAddress, TrailingBytesAreRefused) {
  auto bytes = encodeAddress(sample());
  bytes.push_back(0);
  EXPECT_NE(runtimeMessage(bytes, 2).find("queue pair numbers"), std::string::npos);
}

TEST(IbAddress, AnotherTransportsAddressIsRefused) {
  auto msg = runtimeMessage(store::toBytes("127.0.0.1 4242"), 1);
  EXPECT_NE(msg.find("bad magic"), std::string::npos) << msg;
}

TEST(IbAddress, OtherWireVersionNamesBoth) {
  auto bytes = encodeAddress(sample());
  bytes[4] = static_cast<std::uint8_t>(kIbWireVersion + 1);
  auto msg = runtimeMessage(bytes, 1);
  EXPECT_NE(msg.find(fmt::format("wire version {}", kIbWireVersion + 1)), std::string::npos) << msg;
  EXPECT_NE(msg.find(fmt::format("speaks {}", kIbWireVersion)), std::string::npos) << msg;
}

TEST(IbAddress, UnknownLinkLayerIsRefused) {
  auto bytes = encodeAddress(sample());
  bytes[7] = 9;
  EXPECT_NE(runtimeMessage(bytes, 1).find("link layer 9"), std::string::npos);
}

TEST(IbAddress, GidText) {
  EXPECT_EQ(gidText(sample().gid), "0000:0000:0000:0000:0000:ffff:0a00:0007");
  EXPECT_STREQ(linkLayerName(LinkLayer::Ethernet), "Ethernet (RoCE)");
}

}  // namespace
}  // namespace rdzv::transport::ibverbs

#endif  // RDZV_HAVE_IBVERBS
