#pragma once
// Message sizes as users write them on the command line and as tables print them.
// All suffixes are binary (K = 1024), whatever their spelling, as OSU users expect.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rdzv {

// Largest size parseSize accepts: leaves headroom for doubling and adding without overflow.
inline constexpr std::uint64_t kMaxSize = std::uint64_t{1} << 62;
// Most values a size list may expand to, so a typo cannot exhaust memory.
inline constexpr std::size_t kMaxSizeListValues = 100000;

// Parses "8", "4K", "4k", "4KB", "4KiB", "1M", "2G", ... into bytes (1 .. kMaxSize).
// Throws Usage naming `text` when it is not such a size.
std::uint64_t parseSize(std::string_view text);

// Like parseSize, but also accepts "0": for thresholds and counts where 0 means none.
std::uint64_t parseByteCount(std::string_view text);
// Parses a comma list whose items are a size, "A:B" (doubling from A up to B), "A:B:xF"
// (multiplying by F >= 2) or "A:B:+S" (adding S), or "around:X" (X and X±1, ±4, ±16, ±64). Returns
// the values sorted and deduplicated.
std::vector<std::uint64_t> parseSizeList(std::string_view text);

// "4K", "16M", "1G" when exact, else plain bytes ("193"); parseSize() reads it back unchanged.
std::string formatSize(std::uint64_t bytes);

}  // namespace rdzv
