// The survey's judging on synthetic surveys: a slow node, a slow link, pure noise, and an
// outlier that vanishes when re-measured alone (contention).

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "bench/survey/judge.h"
#include "bench/survey/runner.h"

namespace rdzv::bench::survey {
namespace {

// n nodes, every pair `base` x (1 +- noise), symmetric.
Matrix noisy(int n, double base, double noise, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> jitter(1 - noise, 1 + noise);
  Matrix m(n, std::vector<double>(n, NAN));
  for (int a = 0; a < n; ++a)
    for (int b = a + 1; b < n; ++b) m[a][b] = m[b][a] = base * jitter(rng);
  return m;
}

void slowPair(Matrix& m, int a, int b, double factor) {
  m[a][b] *= factor;
  m[b][a] *= factor;
}

// Re-tests alone: each suspect at `alone(suspect)`, references at 10 x (1 +- 2%).
Verdicts judgeWithRetests(const Matrix& m, const std::function<double(const Suspect&)>& alone,
                          const JudgeParams& params = {}) {
  auto baseline = baselineOf(m, params);
  auto suspects = findSuspects(m, baseline);
  auto references = referencePairs(m, suspects, baseline, 3);
  std::vector<double> retests;
  for (const auto& s : suspects) retests.push_back(alone(s));
  return decide(static_cast<int>(m.size()), suspects, retests, references.empty() ? NAN : 10.0,
                baseline, params);
}

TEST(SurveyJudge, ASlowNodeIsNamedAndNoLink) {
  for (int n : {4, 6, 16}) {
    SCOPED_TRACE(n);
    auto m = noisy(n, 10, 0.05, 1);
    for (int b = 0; b < n; ++b)
      if (b != 2) slowPair(m, 2, b, 3);
    auto v = judgeWithRetests(m, [](const Suspect&) { return 30.0; });
    EXPECT_EQ(v.slow_nodes, std::vector<int>{2});
    EXPECT_TRUE(v.slow_links.empty());
    ASSERT_EQ(static_cast<int>(v.findings.size()), n - 1);
    for (const auto& f : v.findings) {
      EXPECT_TRUE(f.a == 2 || f.b == 2);
      EXPECT_EQ(f.cause, "slow_node");
      EXPECT_NEAR(f.retest_slowness, 3, 1e-9);
    }
  }
}

TEST(SurveyJudge, ANodeSlowWithNearlyEveryPartnerIsStillASlowNode) {
  auto m = noisy(9, 10, 0.05, 2);
  for (int b = 1; b < 9; ++b) slowPair(m, 0, b, 2);
  // One of its re-tests came out fine: 7 of 8 partners (>= 75%) still make a slow node.
  auto v = judgeWithRetests(m, [](const Suspect& s) { return s.b == 5 ? 10.0 : 20.0; });
  EXPECT_EQ(v.slow_nodes, std::vector<int>{0});
  EXPECT_TRUE(v.slow_links.empty());
}

TEST(SurveyJudge, EveryPairOfANodeWhoseMedianIsAnOutlierIsReTested) {
  Matrix m(6, std::vector<double>(6, 10));
  for (int b = 0; b < 6; ++b)
    if (b != 3) slowPair(m, 3, b, b == 0 ? 1.1 : 1.5);  // one pair hid under the limit
  auto suspects = findSuspects(m, baselineOf(m, {}));
  EXPECT_EQ(suspects.size(), 5u);
  EXPECT_DOUBLE_EQ(suspects.back().slowness, 1.1);
}

TEST(SurveyJudge, ASlowLinkIsNamedAndNotItsNodes) {
  auto m = noisy(6, 10, 0.05, 3);
  slowPair(m, 1, 4, 2);
  auto v = judgeWithRetests(m, [](const Suspect&) { return 20.0; });
  EXPECT_TRUE(v.slow_nodes.empty());
  ASSERT_EQ(v.slow_links.size(), 1u);
  EXPECT_EQ(v.slow_links[0], (Pair{1, 4}));
  ASSERT_EQ(v.findings.size(), 1u);
  EXPECT_TRUE(v.findings[0].confirmed);
  EXPECT_EQ(v.findings[0].cause, "slow_link");
}

TEST(SurveyJudge, PureNoiseNamesNothing) {
  for (unsigned seed = 0; seed < 200; ++seed) {
    SCOPED_TRACE(seed);
    auto m = noisy(16, 10, 0.08, seed);
    auto baseline = baselineOf(m, {});
    EXPECT_TRUE(findSuspects(m, baseline).empty());
  }
}

TEST(SurveyJudge, NoiseBelowTheFloorIsNotAnOutlierEvenWithNoSpread) {
  // Every pair identical but one 15% worse: beyond any number of zero MADs, under the 20% floor.
  Matrix m(5, std::vector<double>(5, 10));
  slowPair(m, 0, 1, 1.15);
  EXPECT_TRUE(findSuspects(m, baselineOf(m, {})).empty());
  slowPair(m, 0, 1, 1.1);  // now 26.5% worse
  EXPECT_EQ(findSuspects(m, baselineOf(m, {})).size(), 1u);
}

TEST(SurveyJudge, ContentionVanishesWhenReTestedAlone) {
  auto m = noisy(8, 10, 0.05, 4);
  slowPair(m, 2, 5, 2.5);
  auto v = judgeWithRetests(m, [](const Suspect&) { return 10.3; });
  ASSERT_EQ(v.findings.size(), 1u);
  EXPECT_FALSE(v.findings[0].confirmed);
  EXPECT_EQ(v.findings[0].cause, "contention");
  EXPECT_TRUE(v.slow_nodes.empty());
  EXPECT_TRUE(v.slow_links.empty());
}

TEST(SurveyJudge, ReTestsAreJudgedAgainstReferencesMeasuredAloneNotTheSurveyMedian) {
  // Under load every pair took 30; alone the references take 10 and the suspect 25: 2.5x.
  auto m = noisy(6, 30, 0.05, 5);
  slowPair(m, 0, 3, 2.5);
  auto v = judgeWithRetests(m, [](const Suspect&) { return 25.0; });
  ASSERT_EQ(v.findings.size(), 1u);
  EXPECT_TRUE(v.findings[0].confirmed);
  EXPECT_EQ(v.slow_links.size(), 1u);
}

TEST(SurveyJudge, ReferencePairsAvoidTheSuspectsNodes) {
  auto m = noisy(6, 10, 0.05, 6);
  for (int b = 0; b < 6; ++b)
    if (b != 4) slowPair(m, 4, b, 3);
  auto baseline = baselineOf(m, {});
  auto refs = referencePairs(m, findSuspects(m, baseline), baseline, 3);
  ASSERT_EQ(refs.size(), 3u);
  for (const auto& [a, b] : refs) {
    EXPECT_NE(a, 4);
    EXPECT_NE(b, 4);
  }
}

TEST(SurveyJudge, ANodeSlowInOneMetricOwnsItsConfirmedPairsInTheOther) {
  Verdicts latency, bandwidth;
  bandwidth.slow_nodes = {4};
  Finding f;
  f.a = 4;
  f.b = 5;
  f.confirmed = true;
  f.cause = "slow_link";
  latency.findings = {f};
  latency.slow_links = {{4, 5}};
  f.a = 1;
  f.b = 2;
  latency.findings.push_back(f);
  latency.slow_links.push_back({1, 2});
  attributeToSlowNodes({&latency, &bandwidth});
  EXPECT_EQ(latency.findings[0].cause, "slow_node");
  EXPECT_EQ(latency.findings[1].cause, "slow_link");
  ASSERT_EQ(latency.slow_links.size(), 1u);
  EXPECT_EQ(latency.slow_links[0], (Pair{1, 2}));
}

TEST(SurveyJudge, BandwidthIsJudgedOnTheSlowerDirection) {
  Placement p;
  p.nodes = {{"a", {0}, {0}}, {"b", {1}, {1}}};
  p.participants = {0, 1};
  p.node_of = {0, 1};
  MeasuredMatrix bw(2, std::vector<Measured>(2));
  bw[0][1].median = 1000;
  bw[1][0].median = 250;
  auto cost = bandwidthCost(p, bw);
  EXPECT_DOUBLE_EQ(cost[0][1], 1.0 / 250);
  EXPECT_DOUBLE_EQ(cost[1][0], 1.0 / 250);
  EXPECT_TRUE(std::isnan(cost[0][0]));
}

}  // namespace
}  // namespace rdzv::bench::survey
