// The doctor across ranks (bench/doctor_ranks.h): rank 0's comparison of what every rank found.

#include <gtest/gtest.h>

#include "bench/doctor_ranks.h"
#include "lib/error.h"

namespace rdzv::bench {
namespace {

RankDoctor rankOn(int rank, const std::string& host, std::map<std::string, std::string> settings,
                  std::vector<DoctorCheck> problems = {}) {
  RankDoctor r;
  r.rank = rank;
  r.host = host;
  r.settings = std::move(settings);
  r.problems = std::move(problems);
  return r;
}

const std::map<std::string, std::string> kSame = {{"libfabric", "2.3.1"},
                                                  {"FI_CXI_RDZV_THRESHOLD", "16384"}};

TEST(DoctorRanks, DescribeRanksCompressesRunsAndNamesHosts) {
  std::vector<RankDoctor> all;
  for (int r = 0; r < 10; ++r) all.push_back(rankOn(r, "nid" + std::to_string(r / 2), {}));
  EXPECT_EQ(describeRanks({3}, all), "rank 3 (nid1)");
  EXPECT_EQ(describeRanks({1, 2, 3, 5}, all), "ranks 1-3, 5 (nid0, nid1, nid2)");
  EXPECT_EQ(describeRanks({0, 2, 4, 6, 8, 9}, all),
            "ranks 0, 2, 4, 6, 8-9 (nid0, nid1, nid2 and 2 more)");
}

TEST(DoctorRanks, AgreeingRanksGiveOneOkLine) {
  auto across = compareRanks({rankOn(0, "a", kSame), rankOn(1, "b", kSame), rankOn(2, "b", kSame)});
  EXPECT_EQ(across.size, 3);
  EXPECT_EQ(across.nodes, 2);
  ASSERT_EQ(across.checks.size(), 1u);
  EXPECT_EQ(across.checks[0].check.id, "E15");
  EXPECT_EQ(across.checks[0].check.status, CheckStatus::Ok);
  EXPECT_NE(across.checks[0].check.message.find("3 ranks on 2 nodes agree on 2 settings"),
            std::string::npos)
      << across.checks[0].check.message;
  EXPECT_EQ(across.exitCode(), 0);
}

TEST(DoctorRanks, ASettingThatDiffersNamesItsRanksAgainstRankZero) {
  auto other = kSame;
  other["FI_CXI_RDZV_THRESHOLD"] = "2048";
  auto missing = kSame;
  missing.erase("libfabric");
  auto across = compareRanks({rankOn(0, "a", kSame), rankOn(1, "a", other), rankOn(2, "b", other),
                              rankOn(3, "b", missing)});
  ASSERT_EQ(across.checks.size(), 2u);
  const auto& threshold = across.checks[0];
  EXPECT_EQ(threshold.check.subject, "FI_CXI_RDZV_THRESHOLD");
  EXPECT_EQ(threshold.check.status, CheckStatus::Error);
  EXPECT_EQ(threshold.ranks, (std::vector<int>{1, 2}));
  EXPECT_EQ(threshold.check.message.substr(0, 47),
            "ranks 1-2 (a, b) have 2048; rank 0 (a) has 1638");
  const auto& libfabric = across.checks[1];
  EXPECT_EQ(libfabric.check.subject, "libfabric");
  EXPECT_EQ(libfabric.ranks, (std::vector<int>{3}));
  EXPECT_EQ(libfabric.check.message.substr(0, 42), "rank 3 (b) has (unset); rank 0 (a) has 2.3");
  EXPECT_EQ(across.exitCode(), 1);
}

TEST(DoctorRanks, OtherRanksProblemsAreListedOnceWithoutRankZerosOwn) {
  const DoctorCheck shared{"N11", "memlock", CheckStatus::Warning, "memlock limit 8 MiB"};
  const DoctorCheck link{"N2", "cxi1 link", CheckStatus::Error, "cxi1 link down"};
  const DoctorCheck huge{"N10", "hugepages", CheckStatus::Warning, "no huge pages"};
  auto across = compareRanks({rankOn(0, "a", kSame, {shared}), rankOn(1, "a", kSame, {shared}),
                              rankOn(2, "b", kSame, {huge, link}), rankOn(3, "b", kSame, {link})});
  ASSERT_EQ(across.checks.size(), 3u);  // E15 ok, then the error before the warning
  EXPECT_EQ(across.checks[0].check.id, "E15");
  EXPECT_EQ(across.checks[1].check.message, "cxi1 link down");
  EXPECT_EQ(across.checks[1].ranks, (std::vector<int>{2, 3}));
  EXPECT_EQ(across.checks[2].check.id, "N10");
  EXPECT_EQ(across.checks[2].ranks, (std::vector<int>{2}));
  EXPECT_EQ(across.exitCode(), 1);
}

TEST(DoctorRanks, WhatARankSendsSurvivesTheTrip) {
  auto sent = rankOn(4, "nid7", kSame, {{"N2", "cxi0 link", CheckStatus::Error, "down"}});
  sent.exit_code = 1;
  auto got = rankDoctorFrom(nlohmann::json(sent));
  EXPECT_EQ(got.rank, 4);
  EXPECT_EQ(got.host, "nid7");
  EXPECT_EQ(got.settings, kSame);
  ASSERT_EQ(got.problems.size(), 1u);
  EXPECT_EQ(got.problems[0].status, CheckStatus::Error);
  EXPECT_EQ(got.problems[0].message, "down");
  EXPECT_EQ(got.exit_code, 1);
  EXPECT_THROW(rankDoctorFrom(nlohmann::json{{"rank", 1}}), Error);
}

}  // namespace
}  // namespace rdzv::bench
