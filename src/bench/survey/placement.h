#pragma once
// Which ranks form a node, and which of them the survey measures with.
//
// Nodes are the ranks' host names (RankInfo::host), in placement order (the order of their
// lowest rank). When every rank is on one host (local mode, or network namespaces that share
// a host name) a survey of that one node would judge nothing, so by default each rank is then
// its own node, named "HOST/rN"; `grouping` "host" or "rank" forces either.

#include <string>
#include <vector>

#include "lib/report.h"

namespace rdzv::bench::survey {

struct Node {
  std::string name;
  std::vector<int> ranks;     // every rank on it, ascending
  std::vector<int> surveyed;  // the first ranks_per_node of them
};

struct Placement {
  std::string grouping;  // "host" or "rank", as resolved
  std::vector<Node> nodes;
  // The surveyed ranks, node by node: the rows of the survey's matrices.
  std::vector<int> participants;
  std::vector<int> node_of;  // node index of each participant
};

// `grouping`: auto, host or rank. `ranks_per_node`: ranks of each node that take part, 0 for
// all. Throws Usage when fewer than two ranks would take part.
Placement placeRanks(const std::vector<RankInfo>& ranks, const std::string& grouping,
                     int ranks_per_node);

}  // namespace rdzv::bench::survey
