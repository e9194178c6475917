#include "lib/size.h"

#include <algorithm>
#include <cctype>

#include "lib/error.h"

namespace rdzv {
namespace {

constexpr const char* kSizeHint =
    "use a number with an optional K, M or G suffix (e.g. 8, 4K, 1MiB)";
constexpr const char* kRangeHint =
    "use A:B (doubling), A:B:xF (times F) or A:B:+S (plus S), e.g. 8:1M, 1:1K:x4, 1K:8K:+1K";

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

// An empty bound would otherwise be reported as `invalid size ""`, which hides the item.
std::uint64_t parseBound(std::string_view part, std::string_view item) {
  if (trim(part).empty()) throwUsage("invalid size range " + quoted(item), kRangeHint);
  return parseSize(part);
}

// Parses the leading decimal digits of `s`; returns false on overflow past kMaxSize.
bool parseDigits(std::string_view s, std::size_t& pos, std::uint64_t& value) {
  value = 0;
  while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) {
    value = value * 10 + static_cast<std::uint64_t>(s[pos] - '0');
    if (value > kMaxSize) return false;
    ++pos;
  }
  return true;
}

}  // namespace

std::uint64_t parseSize(std::string_view text) {
  const std::string_view s = trim(text);
  std::size_t pos = 0;
  std::uint64_t value = 0;
  if (!parseDigits(s, pos, value)) {
    throwUsage("size " + quoted(text) + " is too large",
               "the largest accepted size is 4294967296G (2^62 bytes)");
  }
  if (pos == 0) throwUsage("invalid size " + quoted(text), kSizeHint);

  int shift = 0;
  const std::string_view suffix = s.substr(pos);
  if (!suffix.empty()) {
    switch (std::toupper(static_cast<unsigned char>(suffix[0]))) {
      case 'K':
        shift = 10;
        break;
      case 'M':
        shift = 20;
        break;
      case 'G':
        shift = 30;
        break;
      default:
        throwUsage("invalid size " + quoted(text), kSizeHint);
    }
    const std::string_view unit = suffix.substr(1);
    if (!unit.empty() && !equalsIgnoreCase(unit, "B") && !equalsIgnoreCase(unit, "iB")) {
      throwUsage("invalid size " + quoted(text), kSizeHint);
    }
  }

  if (value == 0) throwUsage("invalid size " + quoted(text), "a size must be at least 1 byte");
  if (value > (kMaxSize >> shift)) {
    throwUsage("size " + quoted(text) + " is too large",
               "the largest accepted size is 4294967296G (2^62 bytes)");
  }
  return value << shift;
}

std::uint64_t parseByteCount(std::string_view text) {
  if (trim(text) == "0") return 0;
  return parseSize(text);
}

std::vector<std::uint64_t> parseSizeList(std::string_view text) {
  std::vector<std::uint64_t> out;
  auto add = [&](std::uint64_t v) {
    if (out.size() >= kMaxSizeListValues) {
      throwUsage("size list " + quoted(text) + " expands to more than " +
                     std::to_string(kMaxSizeListValues) + " sizes",
                 "use a larger step or factor, or a narrower range");
    }
    out.push_back(v);
  };

  std::size_t start = 0;
  while (true) {
    const std::size_t comma = text.find(',', start);
    const std::string_view item =
        trim(text.substr(start, comma == std::string_view::npos ? text.npos : comma - start));
    if (item.empty()) {
      throwUsage("empty item in size list " + quoted(text),
                 "separate sizes with single commas, e.g. 8,64,1K:1M");
    }

    const std::size_t c1 = item.find(':');
    if (equalsIgnoreCase(item.substr(0, c1 == item.npos ? 0 : c1), "around")) {
      // Dense sampling around a switch point: where latency jumps, the exact byte matters.
      const std::uint64_t center = parseBound(item.substr(c1 + 1), item);
      for (std::uint64_t d : {64, 16, 4, 1})
        if (center > d) add(center - d);
      add(center);
      for (std::uint64_t d : {1, 4, 16, 64}) add(center + d);
    } else if (c1 == std::string_view::npos) {
      add(parseSize(item));
    } else {
      const std::size_t c2 = item.find(':', c1 + 1);
      const std::string_view step = c2 == item.npos ? std::string_view() : item.substr(c2 + 1);
      if (c2 != item.npos && (step.empty() || step.find(':') != step.npos)) {
        throwUsage("invalid size range " + quoted(item), kRangeHint);
      }
      const std::uint64_t lo = parseBound(item.substr(0, c1), item);
      const std::uint64_t hi =
          parseBound(item.substr(c1 + 1, c2 == item.npos ? item.npos : c2 - c1 - 1), item);
      if (lo > hi) {
        throwUsage("invalid size range " + quoted(item),
                   "the start must not exceed the end, e.g. 8:1M");
      }

      if (!step.empty() && step[0] == '+') {
        const std::uint64_t inc = parseBound(step.substr(1), item);
        // lo, hi and inc are all <= 2^62, so v + inc cannot overflow.
        for (std::uint64_t v = lo; v <= hi; v += inc) add(v);
      } else {
        std::uint64_t factor = 2;
        if (!step.empty()) {
          const std::string_view digits = step.substr(1);
          std::size_t pos = 0;
          const bool ok = (step[0] == 'x' || step[0] == 'X') && !digits.empty() &&
                          parseDigits(digits, pos, factor) && pos == digits.size();
          if (!ok) throwUsage("invalid size range " + quoted(item), kRangeHint);
          if (factor < 2) {
            throwUsage("invalid factor in size range " + quoted(item),
                       "the factor after x must be an integer of at least 2, e.g. 1:1M:x4");
          }
        }
        for (std::uint64_t v = lo;; v *= factor) {
          add(v);
          if (v > hi / factor) break;  // the next value would pass hi (or overflow)
        }
      }
    }

    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }

  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::string formatSize(std::uint64_t bytes) {
  if (bytes == 0) return "0";
  static constexpr struct {
    int shift;
    char suffix;
  } kUnits[] = {{30, 'G'}, {20, 'M'}, {10, 'K'}};
  for (const auto& unit : kUnits) {
    const std::uint64_t mask = (std::uint64_t{1} << unit.shift) - 1;
    if ((bytes & mask) == 0) return std::to_string(bytes >> unit.shift) + unit.suffix;
  }
  return std::to_string(bytes);
}

}  // namespace rdzv
