// The queue pair state machine's parameters, built from this rank's port and a peer's
// published address: the attribute values and exactly the masks INIT, RTR and RTS need, on
// InfiniBand (LID routed) and RoCE (GID routed), and the refusals of ports that cannot talk.

#ifdef RDZV_HAVE_IBVERBS

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>

#include "lib/error.h"
#include "transport/ibverbs/qp_params.h"

namespace rdzv::transport::ibverbs {
namespace {

LocalPort ibPort() {
  LocalPort p;
  p.device = "mlx5_0";
  p.port = 1;
  p.link = LinkLayer::InfiniBand;
  p.lid = 3;
  p.mtu = IBV_MTU_4096;
  p.rd_atomic_init = 16;
  p.rd_atomic_dest = 16;
  p.psn = 0x123456;
  return p;
}

LocalPort rocePort() {
  auto p = ibPort();
  p.link = LinkLayer::Ethernet;
  p.lid = 0;
  p.gid_index = 3;
  p.gid = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1};
  p.mtu = IBV_MTU_1024;
  return p;
}

// What rank `rank` of a 3-rank run publishes, its QP for rank r numbered 100·rank + r.
RankAddress peerOf(const LocalPort& port, int rank) {
  auto a = publishedAddress(port, port.device);
  a.qpns = {0, 0, 0};
  for (int r = 0; r < 3; ++r)
    if (r != rank) a.qpns[r] = static_cast<std::uint32_t>(100 * rank + r);
  return a;
}

std::string runtimeMessage(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Runtime);
    return e.message();
  }
  return "";
}

TEST(IbQp, InitAllowsRemoteReadsOnThePort) {
  auto t = initTransition(ibPort());
  EXPECT_EQ(t.attr.qp_state, IBV_QPS_INIT);
  EXPECT_EQ(t.attr.port_num, 1);
  EXPECT_EQ(t.attr.pkey_index, 0);
  EXPECT_EQ(t.attr.qp_access_flags, static_cast<unsigned>(IBV_ACCESS_REMOTE_READ));
  EXPECT_EQ(t.mask, IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_ACCESS_FLAGS);
}

TEST(IbQp, RtrOnInfiniBandRoutesByLidWithoutGrh) {
  auto local = ibPort();
  auto remote_port = ibPort();
  remote_port.lid = 9;
  remote_port.psn = 0xfedcba;
  auto remote = peerOf(remote_port, 2);
  QpSettings settings;
  auto t = rtrTransition(local, remote, 0, 2, settings);
  EXPECT_EQ(t.attr.qp_state, IBV_QPS_RTR);
  EXPECT_EQ(t.attr.dest_qp_num, 200u);  // rank 2's queue pair for rank 0
  EXPECT_EQ(t.attr.rq_psn, 0xfedcbau);
  EXPECT_EQ(t.attr.path_mtu, IBV_MTU_4096);
  EXPECT_EQ(t.attr.ah_attr.dlid, 9);
  EXPECT_EQ(t.attr.ah_attr.is_global, 0);
  EXPECT_EQ(t.attr.ah_attr.port_num, 1);
  EXPECT_EQ(t.attr.max_dest_rd_atomic, 16);
  EXPECT_EQ(t.attr.min_rnr_timer, settings.min_rnr_timer);
  EXPECT_EQ(t.mask, IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU | IBV_QP_DEST_QPN | IBV_QP_RQ_PSN |
                        IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER);
}

TEST(IbQp, RtrOnRoceRoutesByGid) {
  auto local = rocePort();
  auto remote_port = rocePort();
  remote_port.gid[15] = 2;
  remote_port.gid_index = 1;  // the peer's own index does not matter here
  auto t = rtrTransition(local, peerOf(remote_port, 1), 2, 1, QpSettings{});
  EXPECT_EQ(t.attr.dest_qp_num, 102u);
  EXPECT_EQ(t.attr.ah_attr.is_global, 1);
  EXPECT_EQ(t.attr.ah_attr.grh.sgid_index, 3);  // ours
  EXPECT_EQ(t.attr.ah_attr.grh.dgid.raw[15], 2);
  EXPECT_EQ(t.attr.ah_attr.grh.dgid.raw[10], 0xff);
  EXPECT_EQ(t.attr.ah_attr.grh.hop_limit, 64);
  EXPECT_EQ(t.attr.ah_attr.dlid, 0);
}

TEST(IbQp, InfiniBandWithGidIndexUsesGrh) {
  auto local = ibPort();
  local.gid_index = 0;
  local.gid[0] = 0xfe;
  auto t = rtrTransition(local, peerOf(local, 1), 0, 1, QpSettings{});
  EXPECT_EQ(t.attr.ah_attr.is_global, 1);
  EXPECT_EQ(t.attr.ah_attr.grh.dgid.raw[0], 0xfe);
  EXPECT_EQ(t.attr.ah_attr.dlid, 3);  // and the LID still
}

TEST(IbQp, PathMtuIsTheSmallerOfBoth) {
  auto local = ibPort();
  auto remote_port = ibPort();
  remote_port.mtu = IBV_MTU_2048;
  EXPECT_EQ(rtrTransition(local, peerOf(remote_port, 1), 0, 1, {}).attr.path_mtu, IBV_MTU_2048);
  EXPECT_EQ(rtrTransition(remote_port, peerOf(local, 1), 0, 1, {}).attr.path_mtu, IBV_MTU_2048);
}

TEST(IbQp, RtsSetsOurPsnRetriesAndReadDepthBoundedByThePeer) {
  auto local = ibPort();
  auto remote_port = ibPort();
  remote_port.rd_atomic_dest = 4;  // it serves only 4 READs at once
  QpSettings settings;
  auto t = rtsTransition(local, peerOf(remote_port, 1), settings);
  EXPECT_EQ(t.attr.qp_state, IBV_QPS_RTS);
  EXPECT_EQ(t.attr.sq_psn, 0x123456u);
  EXPECT_EQ(t.attr.timeout, 14);
  EXPECT_EQ(t.attr.retry_cnt, 7);
  EXPECT_EQ(t.attr.rnr_retry, 7);
  EXPECT_EQ(t.attr.max_rd_atomic, 4);
  EXPECT_EQ(t.mask, IBV_QP_STATE | IBV_QP_SQ_PSN | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT |
                        IBV_QP_RNR_RETRY | IBV_QP_MAX_QP_RD_ATOMIC);
  local.rd_atomic_init = 2;
  EXPECT_EQ(rtsTransition(local, peerOf(remote_port, 1), settings).attr.max_rd_atomic, 2);
}

TEST(IbQp, PsnsAre24Bits) {
  auto local = ibPort();
  local.psn = 0xff123456;
  EXPECT_EQ(publishedAddress(local, "x").psn, 0x123456u);
  EXPECT_EQ(rtsTransition(local, peerOf(ibPort(), 1), {}).attr.sq_psn, 0x123456u);
  auto remote = peerOf(ibPort(), 1);
  remote.psn = 0xffffffff;
  EXPECT_EQ(rtrTransition(ibPort(), remote, 0, 1, {}).attr.rq_psn, 0xffffffu);
}

TEST(IbQp, PublishedAddressCarriesWhatPeersNeed) {
  auto a = publishedAddress(rocePort(), "mlx5_1");
  EXPECT_EQ(a.device, "mlx5_1");
  EXPECT_TRUE(a.has_gid);
  EXPECT_EQ(a.gid, rocePort().gid);
  EXPECT_EQ(a.link, LinkLayer::Ethernet);
  EXPECT_EQ(a.mtu, IBV_MTU_1024);
  EXPECT_EQ(a.rd_atomic, 16);
  EXPECT_FALSE(publishedAddress(ibPort(), "mlx5_0").has_gid);
}

TEST(IbQp, DifferentLinkLayersAreRefusedNamingBoth) {
  auto msg =
      runtimeMessage([] { rtrTransition(ibPort(), peerOf(rocePort(), 1), 0, 1, QpSettings{}); });
  EXPECT_NE(msg.find("rank 1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("Ethernet (RoCE)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("InfiniBand"), std::string::npos) << msg;
}

TEST(IbQp, MissingQueuePairForThisRankIsRefused) {
  auto remote = peerOf(ibPort(), 1);
  remote.qpns.resize(2);  // the peer thinks the run has 2 ranks
  auto msg = runtimeMessage([&] { rtrTransition(ibPort(), remote, 2, 1, QpSettings{}); });
  EXPECT_NE(msg.find("no queue pair for rank 2"), std::string::npos) << msg;
  EXPECT_NE(msg.find("--size"), std::string::npos) << msg;
}

TEST(IbQp, GidOnOneSideOnlyIsRefused) {
  auto local = ibPort();
  local.gid_index = 0;  // --gid-index here, not on the peer
  auto msg = runtimeMessage([&] { rtrTransition(local, peerOf(ibPort(), 1), 0, 1, {}); });
  EXPECT_NE(msg.find("published no GID"), std::string::npos) << msg;
  auto remote_port = ibPort();
  remote_port.gid_index = 0;
  msg = runtimeMessage([&] { rtrTransition(ibPort(), peerOf(remote_port, 1), 0, 1, {}); });
  EXPECT_EQ(msg, "");  // the peer's GID is simply not used without ours
}

GidEntry gid(std::uint32_t index, std::uint32_t type, bool ipv4) {
  GidEntry e;
  e.index = index;
  e.type = type;
  e.gid[0] = 0xfe;
  e.gid[1] = 0x80;
  if (ipv4) {
    e.gid = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, static_cast<std::uint8_t>(index)};
  }
  return e;
}

TEST(IbGid, InfiniBandNeedsNoneUnlessAsked) {
  std::vector<GidEntry> table{gid(0, IBV_GID_TYPE_IB, false)};
  EXPECT_EQ(chooseGidIndex(LinkLayer::InfiniBand, -1, table, "mlx5_0 port 1"), -1);
  EXPECT_EQ(chooseGidIndex(LinkLayer::InfiniBand, 0, table, "mlx5_0 port 1"), 0);
}

TEST(IbGid, RocePrefersV2WithIpv4) {
  // The usual mlx5 table: v1 and v2 link-local, then v1 and v2 of the IPv4 address.
  std::vector<GidEntry> table{
      gid(0, IBV_GID_TYPE_ROCE_V1, false), gid(1, IBV_GID_TYPE_ROCE_V2, false),
      gid(2, IBV_GID_TYPE_ROCE_V1, true), gid(3, IBV_GID_TYPE_ROCE_V2, true)};
  EXPECT_EQ(chooseGidIndex(LinkLayer::Ethernet, -1, table, "mlx5_0 port 1"), 3);
  table.pop_back();
  EXPECT_EQ(chooseGidIndex(LinkLayer::Ethernet, -1, table, "mlx5_0 port 1"), 1);
  table.erase(table.begin() + 1);
  EXPECT_EQ(chooseGidIndex(LinkLayer::Ethernet, -1, table, "mlx5_0 port 1"), 0);
  EXPECT_EQ(chooseGidIndex(LinkLayer::Ethernet, 2, table, "mlx5_0 port 1"), 2);
}

TEST(IbGid, InvalidOrMissingGidsAreRefusedWithTheTable) {
  std::vector<GidEntry> table{gid(0, IBV_GID_TYPE_ROCE_V1, false),
                              gid(3, IBV_GID_TYPE_ROCE_V2, true)};
  auto msg =
      runtimeMessage([&] { chooseGidIndex(LinkLayer::Ethernet, 5, table, "mlx5_2 port 1"); });
  EXPECT_NE(msg.find("--gid-index 5"), std::string::npos) << msg;
  EXPECT_NE(msg.find("mlx5_2 port 1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("3 RoCE v2 0000:0000:0000:0000:0000:ffff:0a00:0003"), std::string::npos)
      << msg;
  msg = runtimeMessage([] { chooseGidIndex(LinkLayer::Ethernet, -1, {}, "mlx5_2 port 1"); });
  EXPECT_NE(msg.find("no RoCE GID"), std::string::npos) << msg;
}

TEST(IbGid, MtuBytes) {
  EXPECT_EQ(mtuBytes(IBV_MTU_256), 256);
  EXPECT_EQ(mtuBytes(IBV_MTU_4096), 4096);
  EXPECT_EQ(mtuBytes(0), 0);
  EXPECT_STREQ(gidTypeName(IBV_GID_TYPE_ROCE_V2), "RoCE v2");
}

}  // namespace
}  // namespace rdzv::transport::ibverbs

#endif  // RDZV_HAVE_IBVERBS
