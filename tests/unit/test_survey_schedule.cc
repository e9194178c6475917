// The survey's tournament schedule and its placement of ranks into nodes.

#include <gtest/gtest.h>

#include <set>

#include "bench/survey/placement.h"
#include "bench/survey/schedule.h"
#include "lib/error.h"

namespace rdzv::bench::survey {
namespace {

TEST(TournamentRounds, EveryPairExactlyOnceAndNoRankTwiceInARound) {
  for (int n = 2; n <= 33; ++n) {
    SCOPED_TRACE(n);
    auto rounds = tournamentRounds(n);
    EXPECT_EQ(static_cast<int>(rounds.size()), n % 2 == 0 ? n - 1 : n);
    std::set<Pair> seen;
    for (const auto& round : rounds) {
      EXPECT_EQ(static_cast<int>(round.size()), n / 2);
      std::set<int> busy;
      for (const auto& [a, b] : round) {
        EXPECT_LT(a, b);
        EXPECT_GE(a, 0);
        EXPECT_LT(b, n);
        EXPECT_TRUE(busy.insert(a).second) << "rank " << a << " twice in a round";
        EXPECT_TRUE(busy.insert(b).second) << "rank " << b << " twice in a round";
        EXPECT_TRUE(seen.insert({a, b}).second) << a << "-" << b << " twice";
      }
    }
    EXPECT_EQ(static_cast<int>(seen.size()), n * (n - 1) / 2);
  }
}

TEST(TournamentRounds, FewerThanTwoHaveNoRounds) {
  EXPECT_TRUE(tournamentRounds(0).empty());
  EXPECT_TRUE(tournamentRounds(1).empty());
}

std::vector<RankInfo> onHosts(const std::vector<std::string>& hosts) {
  std::vector<RankInfo> out;
  for (std::size_t r = 0; r < hosts.size(); ++r) out.push_back({static_cast<int>(r), hosts[r], 1});
  return out;
}

TEST(PlaceRanks, OneHostMakesEachRankANodeByDefault) {
  auto p = placeRanks(onHosts({"a", "a", "a"}), "auto", 1);
  EXPECT_EQ(p.grouping, "rank");
  ASSERT_EQ(p.nodes.size(), 3u);
  EXPECT_EQ(p.nodes[2].name, "a/r2");
  EXPECT_EQ(p.participants, (std::vector<int>{0, 1, 2}));
}

TEST(PlaceRanks, HostsAreNodesInPlacementOrderWithTheirLowestRanksSurveyed) {
  auto p = placeRanks(onHosts({"b", "a", "b", "a", "c"}), "auto", 1);
  EXPECT_EQ(p.grouping, "host");
  ASSERT_EQ(p.nodes.size(), 3u);
  EXPECT_EQ(p.nodes[0].name, "b");
  EXPECT_EQ(p.nodes[0].ranks, (std::vector<int>{0, 2}));
  EXPECT_EQ(p.participants, (std::vector<int>{0, 1, 4}));
  EXPECT_EQ(p.node_of, (std::vector<int>{0, 1, 2}));
  auto all = placeRanks(onHosts({"b", "a", "b", "a", "c"}), "host", 0);
  EXPECT_EQ(all.participants, (std::vector<int>{0, 2, 1, 3, 4}));
  EXPECT_EQ(all.node_of, (std::vector<int>{0, 0, 1, 1, 2}));
}

TEST(PlaceRanks, OneNodeByHostIsAUsageError) {
  try {
    placeRanks(onHosts({"a", "a"}), "host", 1);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Usage);
    EXPECT_NE(std::string(e.what()).find("1 rank(s)"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace rdzv::bench::survey
