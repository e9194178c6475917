#pragma once
// What one rank publishes for the ibverbs transport, and its encoding in the store.
//
// An RC queue pair talks to exactly one remote queue pair, so a rank needs one per peer and
// each peer must learn the number of the queue pair meant for it. Every rank therefore
// creates all its queue pairs before the exchange (Device::prepare) and publishes one record
// holding its port address (LID, GID, MTU), its starting PSN and a QPN per peer. One record
// keeps the mesh at a single store round trip, as for every other transport; its cost is
// 4 bytes per peer, so each rank reads 4·N² bytes in all (4 MiB at 1024 ranks) — acceptable
// at the scale a full mesh of RC queue pairs is itself acceptable.

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "store/store.h"

namespace rdzv::transport::ibverbs {

using store::Bytes;

inline constexpr std::uint32_t kAddressMagic = 0x42494452;  // "RDIB" little endian
// Bump on any change to the record or to the frames peers exchange (frames.h): ranks of
// other versions are refused with both versions named.
inline constexpr std::uint16_t kIbWireVersion = 1;

enum class LinkLayer : std::uint8_t { InfiniBand = 1, Ethernet = 2 };

// "InfiniBand" or "Ethernet (RoCE)", for messages and reports.
const char* linkLayerName(LinkLayer link);

using Gid = std::array<std::uint8_t, 16>;

struct RankAddress {
  std::string device;  // "mlx5_0": names the peer's device in messages
  std::uint8_t port = 1;
  LinkLayer link = LinkLayer::InfiniBand;
  std::uint16_t lid = 0;
  bool has_gid = false;  // a GID was chosen (always on RoCE; on InfiniBand with --gid-index)
  Gid gid{};
  std::uint8_t mtu = 0;             // enum ibv_mtu of the port's active MTU
  std::uint8_t rd_atomic = 0;       // RDMA READs this rank serves at once per queue pair
  std::uint32_t psn = 0;            // first packet sequence number of every queue pair it sends on
  std::vector<std::uint32_t> qpns;  // qpns[r]: its queue pair for rank r (0 for itself)

  bool operator==(const RankAddress&) const = default;
};

// Little-endian, independent of the struct's layout: ranks may run different compilers.
Bytes encodeAddress(const RankAddress& address);
// Runtime error naming `rank` for a record that is malformed or of another wire version.
RankAddress decodeAddress(const Bytes& bytes, int rank);

// "fe80::0202:c9ff:fe01:2345" style text of a GID, for messages and reports.
std::string gidText(const Gid& gid);

}  // namespace rdzv::transport::ibverbs
