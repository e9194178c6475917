#include "transport/ibverbs/qp_params.h"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "lib/error.h"

namespace rdzv::transport::ibverbs {
namespace {

constexpr std::uint32_t kPsnMask = 0xffffff;  // PSNs are 24 bits

bool ipv4Mapped(const Gid& gid) {
  // ::ffff:a.b.c.d, the form RoCE v2 GIDs of IPv4 addresses take.
  return std::all_of(gid.begin(), gid.begin() + 10, [](std::uint8_t b) { return b == 0; }) &&
         gid[10] == 0xff && gid[11] == 0xff;
}

}  // namespace

RankAddress publishedAddress(const LocalPort& local, const std::string& device) {
  RankAddress a;
  a.device = device;
  a.port = local.port;
  a.link = local.link;
  a.lid = local.lid;
  a.has_gid = local.gid_index >= 0;
  if (a.has_gid) a.gid = local.gid;
  a.mtu = local.mtu;
  a.rd_atomic = local.rd_atomic_dest;
  a.psn = local.psn & kPsnMask;
  return a;
}

QpTransition initTransition(const LocalPort& local) {
  QpTransition t;
  t.attr.qp_state = IBV_QPS_INIT;
  t.attr.pkey_index = 0;
  t.attr.port_num = local.port;
  t.attr.qp_access_flags = IBV_ACCESS_REMOTE_READ;
  t.mask = IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_ACCESS_FLAGS;
  return t;
}

QpTransition rtrTransition(const LocalPort& local, const RankAddress& remote, int self_rank,
                           int remote_rank, const QpSettings& settings) {
  auto peer = fmt::format("rank {} ({} port {})", remote_rank, remote.device, remote.port);
  if (remote.link != local.link)
    throwRuntime(fmt::format("{} is on {}, this rank's {} port {} on {}: they cannot reach each "
                             "other",
                             peer, linkLayerName(remote.link), local.device, local.port,
                             linkLayerName(local.link)),
                 "choose devices of the same fabric on every rank with --ib-device/--ib-port");
  if (self_rank < 0 || static_cast<std::size_t>(self_rank) >= remote.qpns.size() ||
      remote.qpns[self_rank] == 0)
    throwRuntime(fmt::format("{} published no queue pair for rank {} ({} queue pair numbers)", peer,
                             self_rank, remote.qpns.size()),
                 "every rank must be started with the same --size");
  bool grh = local.link == LinkLayer::Ethernet || local.gid_index >= 0;
  if (grh && !remote.has_gid)
    throwRuntime(fmt::format("{} published no GID, which {} needs", peer,
                             local.link == LinkLayer::Ethernet ? "RoCE" : "--gid-index"),
                 "give --gid-index to every rank or to none");
  if (grh && local.gid_index < 0)
    throwRuntime(fmt::format("this rank has no GID to reach {}", peer),
                 "give --gid-index to every rank or to none");
  QpTransition t;
  t.attr.qp_state = IBV_QPS_RTR;
  // Both ends must agree on the path MTU: the smaller of the two active MTUs.
  t.attr.path_mtu = static_cast<ibv_mtu>(std::min(local.mtu, remote.mtu));
  t.attr.dest_qp_num = remote.qpns[self_rank];
  t.attr.rq_psn = remote.psn & kPsnMask;
  t.attr.max_dest_rd_atomic = local.rd_atomic_dest;
  t.attr.min_rnr_timer = settings.min_rnr_timer;
  t.attr.ah_attr.port_num = local.port;
  t.attr.ah_attr.sl = 0;
  t.attr.ah_attr.src_path_bits = 0;
  if (grh) {
    t.attr.ah_attr.is_global = 1;
    std::copy(remote.gid.begin(), remote.gid.end(), t.attr.ah_attr.grh.dgid.raw);
    t.attr.ah_attr.grh.sgid_index = static_cast<std::uint8_t>(local.gid_index);
    t.attr.ah_attr.grh.hop_limit = settings.hop_limit;
    t.attr.ah_attr.grh.flow_label = 0;
    t.attr.ah_attr.grh.traffic_class = 0;
  }
  // RoCE routes by GID; the LID is meaningless there.
  if (local.link == LinkLayer::InfiniBand) t.attr.ah_attr.dlid = remote.lid;
  t.mask = IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU | IBV_QP_DEST_QPN | IBV_QP_RQ_PSN |
           IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER;
  return t;
}

QpTransition rtsTransition(const LocalPort& local, const RankAddress& remote,
                           const QpSettings& settings) {
  QpTransition t;
  t.attr.qp_state = IBV_QPS_RTS;
  t.attr.sq_psn = local.psn & kPsnMask;
  t.attr.timeout = settings.timeout;
  t.attr.retry_cnt = settings.retry_cnt;
  t.attr.rnr_retry = settings.rnr_retry;
  // More outstanding READs than the responder serves would be refused by it.
  t.attr.max_rd_atomic =
      std::max<std::uint8_t>(1, std::min(local.rd_atomic_init, remote.rd_atomic));
  t.mask = IBV_QP_STATE | IBV_QP_SQ_PSN | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY |
           IBV_QP_MAX_QP_RD_ATOMIC;
  return t;
}

const char* gidTypeName(std::uint32_t type) {
  switch (type) {
    case IBV_GID_TYPE_ROCE_V2:
      return "RoCE v2";
    case IBV_GID_TYPE_ROCE_V1:
      return "RoCE v1";
    default:
      return "IB";
  }
}

int mtuBytes(std::uint8_t mtu) {
  return mtu >= IBV_MTU_256 && mtu <= IBV_MTU_4096 ? 128 << mtu : 0;
}

int chooseGidIndex(LinkLayer link, int requested, const std::vector<GidEntry>& table,
                   const std::string& where) {
  auto listing = [&] {
    std::vector<std::string> items;
    for (const auto& e : table)
      items.push_back(fmt::format("{} {} {}", e.index, gidTypeName(e.type), gidText(e.gid)));
    return items.empty() ? std::string("none") : fmt::format("{}", fmt::join(items, "; "));
  };
  if (requested >= 0) {
    for (const auto& e : table)
      if (static_cast<int>(e.index) == requested) return requested;
    throwRuntime(fmt::format("--gid-index {} is not a valid GID of {} (valid: {})", requested,
                             where, listing()),
                 "`show_gids` or `ibv_devinfo -v` lists them; choose one of the valid indices");
  }
  if (link == LinkLayer::InfiniBand) return -1;
  auto first = [&](auto&& pred) -> int {
    for (const auto& e : table)
      if (pred(e)) return static_cast<int>(e.index);
    return -1;
  };
  int index =
      first([](const GidEntry& e) { return e.type == IBV_GID_TYPE_ROCE_V2 && ipv4Mapped(e.gid); });
  if (index < 0) index = first([](const GidEntry& e) { return e.type == IBV_GID_TYPE_ROCE_V2; });
  if (index < 0) index = first([](const GidEntry& e) { return e.type == IBV_GID_TYPE_ROCE_V1; });
  if (index < 0)
    throwRuntime(fmt::format("{} is RoCE but has no RoCE GID (table: {})", where, listing()),
                 "give the interface an IP address, or choose one with --gid-index");
  return index;
}

}  // namespace rdzv::transport::ibverbs
