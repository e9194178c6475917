// The survey's judging on synthetic surveys: a slow node, a slow link, pure noise, an outlier
// that vanishes when re-measured alone (contention), and re-tests judged by their ratio to a
// reference pair measured beside them.

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <set>

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

// Re-tests alone in 3 passes: each suspect at `alone(suspect)`, its reference beside it at
// `reference`, both x (1 +- 2%).
Verdicts judgeWithRetests(const Matrix& m, const std::function<double(const Suspect&)>& alone,
                          double reference = 10, const JudgeParams& params = {}) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> jitter(0.98, 1.02);
  auto baseline = baselineOf(m, params);
  auto suspects = findSuspects(m, baseline);
  std::vector<RetestPasses> retests;
  for (const auto& s : suspects) {
    RetestPasses r;
    for (int pass = 0; pass < 3; ++pass) {
      r.suspect.push_back(alone(s) * jitter(rng));
      r.reference.push_back(reference * jitter(rng));
    }
    retests.push_back(r);
  }
  return decide(static_cast<int>(m.size()), suspects, outlierNodes(m, baseline), retests, baseline,
                params);
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
      EXPECT_NEAR(f.retest_slowness, 3, 0.2);
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
  EXPECT_FALSE(suspects.back().outlier);
  EXPECT_TRUE(suspects.front().outlier);
}

TEST(SurveyJudge, ANodeSlowAloneWithEveryPartnerIsNamedThoughOnePairHidInTheSurvey) {
  Matrix m(6, std::vector<double>(6, 10));
  for (int b = 0; b < 6; ++b)
    if (b != 3) slowPair(m, 3, b, b == 0 ? 1.1 : 1.5);
  // Alone, node 3 is 1.5x with everyone, (0, 3) too: its median was an outlier, so it counts.
  auto v = judgeWithRetests(m, [](const Suspect&) { return 15.0; });
  EXPECT_EQ(v.slow_nodes, std::vector<int>{3});
  EXPECT_TRUE(v.slow_links.empty());
  for (const auto& f : v.findings) EXPECT_EQ(f.cause, "slow_node");
  EXPECT_FALSE(v.findings.back().confirmed);  // not an outlier itself: counted, not confirmed
}

TEST(SurveyJudge, APairThatWasNoOutlierInTheSurveyIsNeverConfirmed) {
  // Node 3's median is an outlier, so (0, 3) is re-tested though it was fine in the survey.
  // Alone only (0, 3) comes out slow: no verdict, since the survey did not see it slow.
  Matrix m(6, std::vector<double>(6, 10));
  for (int b = 0; b < 6; ++b)
    if (b != 3) slowPair(m, 3, b, b == 0 ? 1.0 : 1.5);
  auto v = judgeWithRetests(m, [](const Suspect& s) { return s.a == 0 ? 30.0 : 10.0; });
  EXPECT_TRUE(v.slow_nodes.empty());
  EXPECT_TRUE(v.slow_links.empty());
  ASSERT_EQ(v.findings.size(), 5u);
  const auto& hidden = v.findings.back();
  EXPECT_EQ(hidden.a, 0);
  EXPECT_FALSE(hidden.outlier);
  EXPECT_TRUE(hidden.slow_alone);
  EXPECT_FALSE(hidden.confirmed);
  EXPECT_EQ(hidden.cause, "none");
  for (const auto& f : v.findings) EXPECT_EQ(f.cause, f.outlier ? "contention" : "none");
  // Nor directly: a non-outlier suspect 3x slow alone beside its reference.
  auto baseline = baselineOf(noisy(6, 10, 0.05, 8), {});
  Suspect s{0, 1, 10, 1.0, false};
  auto direct =
      decide(6, {s}, std::vector<bool>(6, false), {{{30, 30, 30}, {10, 10, 10}}}, baseline, {});
  ASSERT_EQ(direct.findings.size(), 1u);
  EXPECT_FALSE(direct.findings[0].confirmed);
  EXPECT_TRUE(direct.slow_links.empty());
  EXPECT_TRUE(direct.slow_nodes.empty());
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

TEST(SurveyJudge, SuspectAndReferenceBothSlowAloneIsContentionNotAFault) {
  // The machine got 3x slower between the survey and the re-test: the suspect alone takes 30,
  // 3x the survey's healthy pairs, but so does the reference measured beside it.
  auto m = noisy(6, 10, 0.05, 9);
  slowPair(m, 1, 4, 2);
  auto v = judgeWithRetests(
      m, [](const Suspect&) { return 30.0; }, 30.0);
  ASSERT_EQ(v.findings.size(), 1u);
  EXPECT_TRUE(v.findings[0].outlier);
  EXPECT_NEAR(v.findings[0].retest_slowness, 1, 0.1);
  EXPECT_FALSE(v.findings[0].confirmed);
  EXPECT_EQ(v.findings[0].cause, "contention");
  EXPECT_TRUE(v.slow_links.empty());
  EXPECT_TRUE(v.slow_nodes.empty());
}

TEST(SurveyJudge, TheBestPassesSideBySideCount) {
  auto m = noisy(6, 10, 0.05, 10);
  slowPair(m, 1, 4, 2);
  auto baseline = baselineOf(m, {});
  auto suspects = findSuspects(m, baseline);
  ASSERT_EQ(suspects.size(), 1u);
  auto nodes = outlierNodes(m, baseline);
  auto run = [&](RetestPasses r) {
    return decide(6, suspects, nodes, {r}, baseline, {}).findings[0];
  };
  // Load rose pass by pass, on both alike: the absolute times mean nothing, the best passes
  // side by side say 2x.
  auto drifting = run({{20, 40, 60}, {10, 20, 30}});
  EXPECT_DOUBLE_EQ(drifting.retest_slowness, 2);
  EXPECT_TRUE(drifting.confirmed);
  EXPECT_DOUBLE_EQ(drifting.retest_cost, 20);
  EXPECT_DOUBLE_EQ(drifting.reference_cost, 10);
  EXPECT_EQ(drifting.ratios, (std::vector<double>{2, 2, 2}));
  // One slow pass of the suspect does not make a fault, nor does a slow majority: noise only
  // adds time, so one fast pass shows what the pair can do ...
  EXPECT_FALSE(run({{30, 10, 10}, {10, 10, 10}}).confirmed);
  EXPECT_FALSE(run({{25, 7, 25}, {7, 25, 7}}).confirmed);  // 3x wake-ups, bimodal
  // ... and slow passes of the reference do not hide one.
  EXPECT_TRUE(run({{20, 20, 20}, {10, 30, 30}}).confirmed);
  // A pass whose suspect could not be measured is left out; none at all proves nothing.
  EXPECT_TRUE(run({{NAN, 20, 20}, {10, 10, 10}}).confirmed);
  EXPECT_FALSE(run({{NAN, NAN, NAN}, {10, 10, 10}}).confirmed);
  // Without a reference pair the survey's healthy median is the yardstick.
  EXPECT_TRUE(run({{25, 25, 25}, {NAN, NAN, NAN}}).confirmed);
  EXPECT_FALSE(run({{10, 10, 10}, {}}).confirmed);
}

TEST(SurveyJudge, TheReferenceSharesNoNodeWithItsSuspect) {
  auto m = noisy(6, 10, 0.05, 6);
  for (int b = 0; b < 6; ++b)
    if (b != 4) slowPair(m, 4, b, 3);
  auto baseline = baselineOf(m, {});
  std::set<Pair> suspects;
  for (const auto& s : findSuspects(m, baseline)) suspects.insert({s.a, s.b});
  ASSERT_EQ(suspects.size(), 5u);
  auto far = deviation(m, baseline);
  for (const auto& p : suspects) {
    auto ref = referenceFor(p, suspects, far);
    ASSERT_TRUE(ref.has_value());
    EXPECT_FALSE(suspects.count(*ref));
    for (int n : {ref->first, ref->second}) {
      EXPECT_NE(n, p.first);
      EXPECT_NE(n, p.second);
    }
  }
}

TEST(SurveyJudge, TheReferenceAvoidsEverySuspectsNodesWhenItCanAndIsTheHealthiest) {
  Matrix m(8, std::vector<double>(8, 10));
  slowPair(m, 0, 1, 3);
  slowPair(m, 2, 3, 3);
  m[5][7] = m[7][5] = 10.01;
  m[5][6] = m[6][5] = 9.5;
  m[4][7] = m[7][4] = 10.5;
  m[4][5] = m[5][4] = 10.2;
  m[6][7] = m[7][6] = 9.7;
  m[4][6] = m[6][4] = 10.3;
  auto baseline = baselineOf(m, {});
  std::set<Pair> suspects{{0, 1}, {2, 3}};
  auto ref = referenceFor({0, 1}, suspects, deviation(m, baseline));
  ASSERT_TRUE(ref.has_value());
  EXPECT_EQ(*ref, (Pair{5, 7}));
  // Every pair a suspect: none.
  Matrix three(3, std::vector<double>(3, 10));
  EXPECT_FALSE(referenceFor({0, 1}, {{0, 1}, {0, 2}, {1, 2}}, deviation(three, baseline)));
}

TEST(SurveyJudge, ANodeSlowInOneMetricOwnsItsConfirmedPairsInTheOther) {
  Verdicts latency, bandwidth;
  bandwidth.slow_nodes = {4};
  Finding f;
  f.a = 4;
  f.b = 5;
  f.slow_alone = true;
  f.confirmed = true;
  f.cause = "slow_link";
  latency.findings = {f};
  latency.slow_links = {{4, 5}};
  f.a = 1;
  f.b = 2;
  latency.findings.push_back(f);
  latency.slow_links.push_back({1, 2});
  // Slow alone but no outlier in the survey: never a link, but its slow node's.
  f.a = 3;
  f.outlier = f.confirmed = false;
  f.cause = "none";
  latency.findings.push_back(f);
  f.b = 4;
  latency.findings.push_back(f);
  attributeToSlowNodes({&latency, &bandwidth});
  EXPECT_EQ(latency.findings[0].cause, "slow_node");
  EXPECT_EQ(latency.findings[1].cause, "slow_link");
  EXPECT_EQ(latency.findings[2].cause, "none");
  EXPECT_EQ(latency.findings[3].cause, "slow_node");
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
