#pragma once
// Payload patterns for --check: each message's bytes depend on its sender, iteration and
// size, so a byte from the wrong message, the wrong offset or the wrong peer is caught.

#include <cstddef>
#include <cstdint>

namespace rdzv::bench {

void fillPattern(std::uint8_t* data, std::size_t length, int sender, std::uint64_t iteration);
// Throws a Check error naming the size, iteration, offset, and the bytes found and expected.
void verifyPattern(const std::uint8_t* data, std::size_t length, int sender,
                   std::uint64_t iteration);

}  // namespace rdzv::bench
