#include "bench/pattern.h"

#include <fmt/format.h>

#include "lib/error.h"

namespace rdzv::bench {
namespace {

std::uint8_t patternByte(std::uint64_t seed, std::size_t offset) {
  std::uint64_t x = seed + offset * 0x9e3779b97f4a7c15ull;
  x ^= x >> 29;
  return static_cast<std::uint8_t>(x ^ (x >> 8));
}

std::uint64_t seedOf(int sender, std::uint64_t iteration, std::size_t length) {
  return (static_cast<std::uint64_t>(sender) << 48) ^ (iteration << 20) ^ length;
}

}  // namespace

void fillPattern(std::uint8_t* data, std::size_t length, int sender, std::uint64_t iteration) {
  auto seed = seedOf(sender, iteration, length);
  for (std::size_t i = 0; i < length; ++i) data[i] = patternByte(seed, i);
}

void verifyPattern(const std::uint8_t* data, std::size_t length, int sender,
                   std::uint64_t iteration) {
  auto seed = seedOf(sender, iteration, length);
  for (std::size_t i = 0; i < length; ++i) {
    auto expected = patternByte(seed, i);
    if (data[i] != expected)
      throw Error(ErrorKind::Check,
                  fmt::format("--check failed: message of {} bytes from rank {}, iteration {}: "
                              "byte {} is 0x{:02x}, expected 0x{:02x}",
                              length, sender, iteration, i, data[i], expected),
                  "the transport delivered corrupt or misplaced data");
  }
}

}  // namespace rdzv::bench
