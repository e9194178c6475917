// Choosing point-to-point pairs by node (--pairs, --pairs intra, --pairs inter) on synthetic
// placements, and the sweep's time estimate.

#include <gtest/gtest.h>

#include "bench/p2p.h"
#include "bench/sweep.h"
#include "lib/error.h"
#include "lib/size.h"

namespace rdzv::bench {
namespace {

using Pairs = std::vector<std::array<int, 2>>;

Pairs pairsOf(PairMode mode, const std::vector<std::string>& nodes) {
  auto partners = choosePairs(mode, nodes);
  // Both sides agree: a's partner is b and b's is a, exactly one initiator.
  for (int r = 0; r < static_cast<int>(partners.size()); ++r) {
    if (!partners[r]) continue;
    const auto& other = partners[partners[r]->peer];
    EXPECT_TRUE(other && other->peer == r) << "rank " << r;
    EXPECT_NE(other->initiator, partners[r]->initiator) << "rank " << r;
    EXPECT_EQ(partners[r]->initiator, r < partners[r]->peer) << "the lower rank initiates";
  }
  return pairList(partners);
}

std::string usageError(PairMode mode, const std::vector<std::string>& nodes) {
  try {
    choosePairs(mode, nodes);
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Usage);
    return e.message();
  }
  ADD_FAILURE() << "no error";
  return {};
}

TEST(Pairs, WithoutPairsRankZeroMeasuresWithOne) {
  EXPECT_EQ(pairsOf(PairMode::First, {"a", "a", "a", "a"}), (Pairs{{0, 1}}));
  EXPECT_EQ(pairsOf(PairMode::First, {"a", "b"}), (Pairs{{0, 1}}));
}

TEST(Pairs, OnOneNodeRankIPairsWithIPlusHalf) {
  EXPECT_EQ(pairsOf(PairMode::Auto, {"a", "a", "a", "a"}), (Pairs{{0, 2}, {1, 3}}));
  EXPECT_EQ(pairsOf(PairMode::Auto, {"a", "a", "a", "a", "a"}), (Pairs{{0, 2}, {1, 3}}));
  // The old interface says the same.
  EXPECT_EQ(partnerOf(1, 4, true)->peer, 3);
  EXPECT_FALSE(partnerOf(4, 5, true));
  EXPECT_EQ(partnerOf(1, 4, false)->peer, 0);
  EXPECT_FALSE(partnerOf(2, 4, false));
}

TEST(Pairs, AcrossNodesByDefaultWhenThereAreSeveral) {
  // 4 ranks on 2 nodes, block (srun's default) and cyclic.
  EXPECT_EQ(pairsOf(PairMode::Auto, {"a", "a", "b", "b"}), (Pairs{{0, 2}, {1, 3}}));
  auto cyclic = std::vector<std::string>{"a", "b", "a", "b"};
  EXPECT_EQ(pairsOf(PairMode::Auto, cyclic), (Pairs{{0, 1}, {2, 3}}));
  EXPECT_EQ(pairLocality(pairsOf(PairMode::Auto, cyclic), cyclic), "inter");
  // i + n/2 would have kept both cyclic pairs on one node.
  EXPECT_EQ(pairLocality({{0, 2}, {1, 3}}, cyclic), "intra");
}

TEST(Pairs, InterPairsEveryRankAcrossNodesWhenItCan) {
  std::vector<std::string> nodes{"a", "a", "a", "b", "b", "c"};
  auto pairs = pairsOf(PairMode::Inter, nodes);
  EXPECT_EQ(pairs.size(), 3u);
  EXPECT_EQ(pairLocality(pairs, nodes), "inter");
  // One node holding most ranks: each other rank pairs with one of it, the rest sit out.
  nodes = {"a", "a", "a", "a", "b"};
  EXPECT_EQ(pairsOf(PairMode::Inter, nodes), (Pairs{{0, 4}}));
  nodes = {"b", "a", "a", "a", "c"};
  EXPECT_EQ(pairsOf(PairMode::Inter, nodes), (Pairs{{0, 1}, {2, 4}}));
}

TEST(Pairs, InterOnOneNodeIsRefused) {
  auto msg = usageError(PairMode::Inter, {"vm", "vm", "vm", "vm"});
  EXPECT_NE(msg.find("--pairs inter needs ranks on 2 or more nodes"), std::string::npos) << msg;
  EXPECT_NE(msg.find("all 4 ranks run on vm"), std::string::npos) << msg;
}

TEST(Pairs, IntraPairsWithinEachNode) {
  std::vector<std::string> nodes{"a", "b", "a", "b"};
  EXPECT_EQ(pairsOf(PairMode::Intra, nodes), (Pairs{{0, 2}, {1, 3}}));
  EXPECT_EQ(pairLocality(pairsOf(PairMode::Intra, nodes), nodes), "intra");
  nodes = {"a", "a", "a", "b", "b", "c"};  // c's one rank sits out, a's third too
  EXPECT_EQ(pairsOf(PairMode::Intra, nodes), (Pairs{{0, 1}, {3, 4}}));
  nodes = {"a", "a", "a", "a"};
  EXPECT_EQ(pairsOf(PairMode::Intra, nodes), (Pairs{{0, 2}, {1, 3}}));
}

TEST(Pairs, IntraWithOneRankPerNodeIsRefused) {
  auto msg = usageError(PairMode::Intra, {"a", "b", "c"});
  EXPECT_NE(msg.find("--pairs intra found no node with two ranks"), std::string::npos) << msg;
}

TEST(Pairs, LocalityOfMixedPairs) {
  std::vector<std::string> nodes{"a", "a", "b", "b"};
  EXPECT_EQ(pairLocality({{0, 1}, {2, 3}}, nodes), "intra");
  EXPECT_EQ(pairLocality({{0, 2}}, nodes), "inter");
  EXPECT_EQ(pairLocality({{0, 1}, {2, 0}}, nodes), "mixed");
  EXPECT_EQ(pairLocality({}, nodes), "");
}

TEST(Estimate, GrowsWithTheSweepAndHonoursMinTime) {
  BenchConfig config;
  config.transports = {"tcp"};
  config.benchmarks = {"latency"};
  config.sizes = {8};
  double small = estimateSweepSeconds(config, 2);
  EXPECT_GT(small, 0);
  EXPECT_LT(small, 1);  // 1100 round trips of 8 bytes
  config.sizes = parseSizeList("1:4M");
  config.benchmarks = {"latency", "bw"};
  double full = estimateSweepSeconds(config, 2);
  EXPECT_GT(full, small * 10);
  config.min_time = 5;
  EXPECT_GE(estimateSweepSeconds(config, 2), 5.0 * 2 * 23);
  config.repeat = 3;
  EXPECT_GE(estimateSweepSeconds(config, 2), 5.0 * 2 * 23 * 3);
}

}  // namespace
}  // namespace rdzv::bench
