#pragma once
// The tcp transport's wire format. Bump kWireVersion on any change: peers with another
// version are refused at connection time with a message naming both versions.

#include <cstdint>
#include <string_view>

namespace rdzv::transport::tcp {

inline constexpr std::uint32_t kWireMagic = 0x565a4452;  // "RDZV" little endian
inline constexpr std::uint16_t kWireVersion = 2;

// First bytes each side of a new connection sends.
struct Hello {
  std::uint32_t magic;
  std::uint16_t version;
  std::uint16_t reserved;
  std::uint32_t rank;
  std::uint32_t size;
  std::uint64_t run_hash;  // FNV-1a of the run id: refuses peers of another run
};
static_assert(sizeof(Hello) == 24);

// The frames of the protocol engine on a byte stream.
enum FrameKind : std::uint16_t {
  kMessage = 0,     // inline or eager: `length` payload bytes follow
  kRendezvous = 1,  // first frame of a rendezvous: `length` is the whole message, `eager`
                    // bytes follow, the rest is pulled from exposure `id`
  kGet = 2,         // pull `length` bytes at offset `tag` of exposure `id`
  kGetReply = 3,    // the pulled bytes: `length` bytes for offset `tag` of exposure `id`
  kDone = 4,        // alt_read: the receiver has pulled exposure `id`
};

inline constexpr std::uint16_t kFlagAltRead = 1;  // on kRendezvous: answer with kDone

struct FrameHeader {
  std::uint16_t kind;
  std::uint16_t flags;
  std::uint32_t eager;
  std::uint64_t tag;  // the message tag; the byte offset for kGet and kGetReply
  std::uint64_t length;
  std::uint64_t id;
};
static_assert(sizeof(FrameHeader) == 32);

inline std::uint64_t fnv1a(std::string_view text) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace rdzv::transport::tcp
