#include "bench/survey/placement.h"

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "lib/error.h"

namespace rdzv::bench::survey {

Placement placeRanks(const std::vector<RankInfo>& ranks, const std::string& grouping,
                     int ranks_per_node) {
  auto sorted = ranks;
  std::sort(sorted.begin(), sorted.end(),
            [](const RankInfo& a, const RankInfo& b) { return a.rank < b.rank; });
  Placement p;
  p.grouping = grouping;
  if (grouping == "auto") {
    bool one_host = std::all_of(sorted.begin(), sorted.end(),
                                [&](const RankInfo& r) { return r.host == sorted.front().host; });
    p.grouping = one_host ? "rank" : "host";
  }
  std::map<std::string, std::size_t> index;
  for (const auto& r : sorted) {
    auto key = p.grouping == "rank" ? fmt::format("{}/r{}", r.host, r.rank) : r.host;
    auto [it, added] = index.emplace(key, p.nodes.size());
    if (added) p.nodes.push_back({key, {}, {}});
    p.nodes[it->second].ranks.push_back(r.rank);
  }
  for (std::size_t n = 0; n < p.nodes.size(); ++n) {
    auto& node = p.nodes[n];
    auto take =
        ranks_per_node <= 0
            ? node.ranks.size()
            : std::min<std::size_t>(node.ranks.size(), static_cast<std::size_t>(ranks_per_node));
    node.surveyed.assign(node.ranks.begin(), node.ranks.begin() + static_cast<long>(take));
    for (int r : node.surveyed) {
      p.participants.push_back(r);
      p.node_of.push_back(static_cast<int>(n));
    }
  }
  if (p.participants.size() < 2)
    throwUsage(
        fmt::format("the survey would measure {} rank(s): {} node(s) by {}, {} rank(s) each",
                    p.participants.size(), p.nodes.size(), p.grouping,
                    ranks_per_node <= 0 ? std::string("all") : std::to_string(ranks_per_node)),
        "start ranks on 2 or more nodes, or pass --ranks-per-node all or --group-by rank");
  return p;
}

}  // namespace rdzv::bench::survey
