#include "lib/hostlist.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdint>

#include "lib/error.h"

namespace rdzv {
namespace {

// One run of numbers inside brackets: lo..hi, each printed at least `width` digits wide.
struct Range {
  std::uint64_t lo = 0;
  std::uint64_t hi = 0;
  std::size_t width = 0;
};

// An item is literal text and bracket groups in turn: parts[0] groups[0] parts[1] groups[1] ...
struct Item {
  std::vector<std::string> parts;
  std::vector<std::vector<Range>> groups;
};

class Parser {
 public:
  Parser(std::string_view list, std::string_view what, std::size_t max_hosts)
      : list_(list), what_(what), max_(max_hosts) {}

  std::vector<std::string> expand() {
    if (list_.empty()) fail("it is empty");
    for (char c : list_)
      if (std::isspace(static_cast<unsigned char>(c)) != 0) fail("it contains whitespace");
    std::vector<Item> items;
    std::size_t total = 0;
    for (const auto& text : splitTopLevel()) {
      items.push_back(parseItem(text));
      total = addCapped(total, count(items.back()));
    }
    std::vector<std::string> hosts;
    hosts.reserve(total);
    for (const auto& item : items) emit(item, 0, item.parts[0], hosts);
    return hosts;
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    throwUsage(fmt::format("{} \"{}\" is not a Slurm host list: {}", what_, list_, why),
               "give host names or Slurm's compressed form, e.g. nid[001-004,010],login2");
  }

  // The items between top-level commas; commas inside brackets separate ranges instead.
  std::vector<std::string> splitTopLevel() const {
    std::vector<std::string> out;
    std::string current;
    int depth = 0;
    for (char c : list_) {
      if (c == '[') {
        if (depth > 0) fail("nested [");
        ++depth;
      } else if (c == ']') {
        if (depth == 0) fail("] without [");
        --depth;
      } else if (c == ',' && depth == 0) {
        if (current.empty()) fail("an empty item between commas");
        out.push_back(std::move(current));
        current.clear();
        continue;
      }
      current += c;
    }
    if (depth != 0) fail("[ without ]");
    if (current.empty()) fail("an empty item after the last comma");
    out.push_back(std::move(current));
    return out;
  }

  Item parseItem(const std::string& text) const {
    Item item;
    item.parts.emplace_back();
    std::size_t i = 0;
    while (i < text.size()) {
      if (text[i] != '[') {
        item.parts.back() += text[i++];
        continue;
      }
      auto close = text.find(']', i);  // balanced: checked by splitTopLevel
      item.groups.push_back(parseGroup(text.substr(i + 1, close - i - 1)));
      item.parts.emplace_back();
      i = close + 1;
    }
    if (item.groups.empty() && item.parts[0].empty()) fail("an empty item");
    return item;
  }

  std::vector<Range> parseGroup(const std::string& body) const {
    if (body.empty()) fail("empty brackets []");
    std::vector<Range> ranges;
    std::size_t start = 0;
    while (true) {
      auto comma = body.find(',', start);
      auto piece =
          body.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      if (piece.empty()) fail(fmt::format("an empty range in [{}]", body));
      auto dash = piece.find('-');
      Range r;
      std::string lo = piece.substr(0, dash);
      std::string hi = dash == std::string::npos ? lo : piece.substr(dash + 1);
      r.lo = number(lo, body);
      r.hi = number(hi, body);
      r.width = lo.size();
      if (r.hi < r.lo) fail(fmt::format("range {} is reversed (write {}-{})", piece, hi, lo));
      ranges.push_back(r);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    return ranges;
  }

  std::uint64_t number(const std::string& digits, const std::string& body) const {
    bool ok = !digits.empty() && std::all_of(digits.begin(), digits.end(),
                                             [](unsigned char c) { return std::isdigit(c) != 0; });
    if (!ok) fail(fmt::format("\"{}\" in [{}] is not a number or a range N-M", digits, body));
    // More digits than any real node index, and past what uint64 holds.
    if (digits.size() > 18) fail(fmt::format("\"{}\" in [{}] has too many digits", digits, body));
    return std::stoull(digits);
  }

  std::size_t addCapped(std::size_t a, std::size_t b) const {
    if (b > max_ || a > max_ - b) fail(fmt::format("it expands to more than {} hosts", max_));
    return a + b;
  }

  std::size_t mulCapped(std::size_t a, std::size_t b) const {
    if (a != 0 && b > max_ / a) fail(fmt::format("it expands to more than {} hosts", max_));
    return a * b;
  }

  std::size_t count(const Item& item) const {
    std::size_t n = 1;
    for (const auto& group : item.groups) {
      std::size_t in_group = 0;
      for (const auto& r : group) {
        // hi - lo + 1 may exceed size_t's range only past max_, which the cap catches first.
        auto span = r.hi - r.lo;
        if (span >= max_) fail(fmt::format("it expands to more than {} hosts", max_));
        in_group = addCapped(in_group, static_cast<std::size_t>(span) + 1);
      }
      n = mulCapped(n, in_group);
    }
    return n;
  }

  // Appends every name of `item` from bracket group `g` on, after the text `prefix`.
  void emit(const Item& item, std::size_t g, const std::string& prefix,
            std::vector<std::string>& out) const {
    if (g == item.groups.size()) {
      out.push_back(prefix);
      return;
    }
    for (const auto& r : item.groups[g])
      for (auto v = r.lo;; ++v) {
        emit(item, g + 1, fmt::format("{}{:0{}}{}", prefix, v, r.width, item.parts[g + 1]), out);
        if (v == r.hi) break;
      }
  }

  std::string_view list_;
  std::string_view what_;
  std::size_t max_;
};

}  // namespace

std::vector<std::string> expandHostlist(std::string_view list, std::string_view what,
                                        std::size_t max_hosts) {
  return Parser(list, what, max_hosts).expand();
}

}  // namespace rdzv
