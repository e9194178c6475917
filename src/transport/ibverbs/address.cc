#include "transport/ibverbs/address.h"

#include <fmt/format.h>

#include "lib/error.h"

namespace rdzv::transport::ibverbs {
namespace {

// Appends integers little-endian, whatever the host's byte order.
class Writer {
 public:
  explicit Writer(Bytes& out) : out_(out) {}
  void u8(std::uint8_t v) { out_.push_back(v); }
  void u16(std::uint16_t v) { le(v, 2); }
  void u32(std::uint32_t v) { le(v, 4); }
  void raw(const std::uint8_t* p, std::size_t n) { out_.insert(out_.end(), p, p + n); }

 private:
  void le(std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  Bytes& out_;
};

// Reads what Writer wrote; a record too short for what it claims is a Runtime error naming
// the rank that published it.
class Reader {
 public:
  Reader(const Bytes& in, int rank) : in_(in), rank_(rank) {}
  std::uint8_t u8() { return static_cast<std::uint8_t>(le(1)); }
  std::uint16_t u16() { return static_cast<std::uint16_t>(le(2)); }
  std::uint32_t u32() { return static_cast<std::uint32_t>(le(4)); }
  void raw(std::uint8_t* p, std::size_t n) {
    need(n);
    std::copy(in_.begin() + static_cast<std::ptrdiff_t>(pos_),
              in_.begin() + static_cast<std::ptrdiff_t>(pos_ + n), p);
    pos_ += n;
  }
  std::size_t left() const { return in_.size() - pos_; }
  [[noreturn]] void malformed(const std::string& why) const {
    throwRuntime(fmt::format("malformed ibverbs address published by rank {}: {}", rank_, why),
                 "every rank must run the same rdzvbench build");
  }

 private:
  std::uint64_t le(int n) {
    need(static_cast<std::size_t>(n));
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i) v |= static_cast<std::uint64_t>(in_[pos_ + i]) << (8 * i);
    pos_ += static_cast<std::size_t>(n);
    return v;
  }
  void need(std::size_t n) const {
    if (left() < n) malformed(fmt::format("{} bytes long, truncated at byte {}", in_.size(), pos_));
  }
  const Bytes& in_;
  int rank_;
  std::size_t pos_ = 0;
};

}  // namespace

const char* linkLayerName(LinkLayer link) {
  return link == LinkLayer::Ethernet ? "Ethernet (RoCE)" : "InfiniBand";
}

Bytes encodeAddress(const RankAddress& a) {
  if (a.device.size() > 255) throwRuntime("RDMA device name longer than 255 characters");
  Bytes out;
  out.reserve(48 + a.device.size() + 4 * a.qpns.size());
  Writer w(out);
  w.u32(kAddressMagic);
  w.u16(kIbWireVersion);
  w.u8(a.port);
  w.u8(static_cast<std::uint8_t>(a.link));
  w.u16(a.lid);
  w.u8(a.has_gid ? 1 : 0);
  w.raw(a.gid.data(), a.gid.size());
  w.u8(a.mtu);
  w.u8(a.rd_atomic);
  w.u32(a.psn);
  w.u8(static_cast<std::uint8_t>(a.device.size()));
  w.raw(reinterpret_cast<const std::uint8_t*>(a.device.data()), a.device.size());
  w.u32(static_cast<std::uint32_t>(a.qpns.size()));
  for (auto qpn : a.qpns) w.u32(qpn);
  return out;
}

RankAddress decodeAddress(const Bytes& bytes, int rank) {
  Reader r(bytes, rank);
  RankAddress a;
  if (bytes.size() < 6 || r.u32() != kAddressMagic)
    r.malformed("not an ibverbs address (bad magic)");
  if (auto version = r.u16(); version != kIbWireVersion)
    throwRuntime(fmt::format("rank {} speaks ibverbs wire version {}, this rank speaks {}", rank,
                             version, kIbWireVersion),
                 "run the same rdzvbench build on every rank");
  a.port = r.u8();
  auto link = r.u8();
  if (link != static_cast<std::uint8_t>(LinkLayer::InfiniBand) &&
      link != static_cast<std::uint8_t>(LinkLayer::Ethernet))
    r.malformed(fmt::format("unknown link layer {}", link));
  a.link = static_cast<LinkLayer>(link);
  a.lid = r.u16();
  a.has_gid = r.u8() != 0;
  r.raw(a.gid.data(), a.gid.size());
  a.mtu = r.u8();
  a.rd_atomic = r.u8();
  a.psn = r.u32();
  auto name_length = r.u8();
  a.device.resize(name_length);
  r.raw(reinterpret_cast<std::uint8_t*>(a.device.data()), name_length);
  auto count = r.u32();
  if (r.left() != 4ull * count)
    r.malformed(fmt::format("{} queue pair numbers announced, {} bytes follow", count, r.left()));
  a.qpns.resize(count);
  for (auto& qpn : a.qpns) qpn = r.u32();
  return a;
}

std::string gidText(const Gid& gid) {
  std::string out;
  for (std::size_t i = 0; i < gid.size(); i += 2)
    out += fmt::format("{}{:02x}{:02x}", i ? ":" : "", gid[i], gid[i + 1]);
  return out;
}

}  // namespace rdzv::transport::ibverbs
