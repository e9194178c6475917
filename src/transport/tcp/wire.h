#pragma once
// The tcp transport's wire format. Bump kWireVersion on any change: peers with another
// version are refused at connection time with a message naming both versions.

#include <cstdint>
#include <string_view>

namespace rdzv::transport::tcp {

inline constexpr std::uint32_t kWireMagic = 0x565a4452;  // "RDZV" little endian
inline constexpr std::uint16_t kWireVersion = 1;

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

// Precedes every message's payload.
struct MessageHeader {
  std::uint32_t kind;  // 0: data message
  std::uint32_t reserved;
  std::uint64_t tag;
  std::uint64_t length;
};
static_assert(sizeof(MessageHeader) == 24);

inline std::uint64_t fnv1a(std::string_view text) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace rdzv::transport::tcp
