#pragma once
// The queue pair state machine's parameters, as pure functions of this rank's port and the
// address a peer published: which ibv_qp_attr fields and which mask each of the transitions
// RESET → INIT → RTR → RTS needs. Kept apart from the calls so that they are tested without
// a device; the device only passes the result to ibv_modify_qp.

#include <infiniband/verbs.h>

#include <cstdint>
#include <string>
#include <vector>

#include "transport/ibverbs/address.h"

namespace rdzv::transport::ibverbs {

// This rank's side of every queue pair (what it also publishes, plus its GID index).
struct LocalPort {
  std::uint8_t port = 1;
  LinkLayer link = LinkLayer::InfiniBand;
  std::uint16_t lid = 0;
  int gid_index = -1;  // -1: no GRH (InfiniBand within one subnet)
  Gid gid{};
  std::uint8_t mtu = IBV_MTU_1024;  // active MTU
  std::uint8_t rd_atomic_init = 1;  // RDMA READs it may have outstanding per queue pair
  std::uint8_t rd_atomic_dest = 1;  // RDMA READs it serves at once per queue pair
  std::uint32_t psn = 0;
  std::string device;  // for messages
};

// Choices that are the same on every rank.
struct QpSettings {
  // Local ACK timeout 4.096 µs · 2^14 ≈ 67 ms, 7 retries: a dead peer shows within half a
  // second as a retry-exceeded completion, well inside any --timeout.
  std::uint8_t timeout = 14;
  std::uint8_t retry_cnt = 7;
  // 7 means retry for ever: a receiver whose shared receive queue ran dry stalls its senders
  // until it reposts, instead of failing them; --timeout still ends a real hang.
  std::uint8_t rnr_retry = 7;
  std::uint8_t min_rnr_timer = 12;  // 0.64 ms before a refused send is retried
  std::uint8_t hop_limit = 64;      // GRH hop limit (RoCE v2 TTL)
};

struct QpTransition {
  ibv_qp_attr attr{};
  int mask = 0;
};

// The address this rank publishes (without the QPNs, which the device adds).
RankAddress publishedAddress(const LocalPort& local, const std::string& device);

// RESET → INIT: the port, and remote READs allowed (the receiver pulls rendezvous data).
QpTransition initTransition(const LocalPort& local);
// INIT → RTR towards `remote` (rank `remote_rank`), which created queue pair
// remote.qpns[self_rank] for this rank. Runtime error when the two ports cannot talk (link
// layers differ, RoCE without a GID) or the record has no queue pair for this rank.
QpTransition rtrTransition(const LocalPort& local, const RankAddress& remote, int self_rank,
                           int remote_rank, const QpSettings& settings);
// RTR → RTS: this rank's PSN, retry policy and READ depth (no more than the peer serves).
QpTransition rtsTransition(const LocalPort& local, const RankAddress& remote,
                           const QpSettings& settings);

// One valid entry of a port's GID table (from ibv_query_gid_table).
struct GidEntry {
  std::uint32_t index = 0;
  Gid gid{};
  std::uint32_t type = IBV_GID_TYPE_IB;  // enum ibv_gid_type
};
// The GID index to use: `requested` (>= 0, from --gid-index) must be in the table; otherwise
// none on InfiniBand, and on RoCE the first RoCE v2 GID holding an IPv4 address, else the
// first RoCE v2 one, else the first RoCE v1 one. Runtime error (naming `where` and listing
// the table) when nothing fits.
int chooseGidIndex(LinkLayer link, int requested, const std::vector<GidEntry>& table,
                   const std::string& where);
// "RoCE v2", "RoCE v1" or "IB".
const char* gidTypeName(std::uint32_t type);
// 256 for IBV_MTU_256 … 4096 for IBV_MTU_4096; 0 for anything else.
int mtuBytes(std::uint8_t mtu);

}  // namespace rdzv::transport::ibverbs
