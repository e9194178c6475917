// run --repeat: the rows of repeated trials of one size combine into medians plus the trials.

#include <gtest/gtest.h>

#include "bench/sweep.h"

namespace rdzv::bench {
namespace {

Row trialRow(double p50, double bandwidth, std::uint64_t iterations = 100) {
  Row r;
  r.size = 4096;
  r.iterations = iterations;
  r.latency_us = {p50 - 1, p50 + 0.5, p50, p50 + 1, p50 + 2, p50 + 10, iterations};
  r.bandwidth_mbps = bandwidth;
  r.message_rate = bandwidth / 4.096;
  r.pairs = 1;
  return r;
}

TEST(CombineTrials, OneTrialIsReturnedAsIsWithoutTrials) {
  const Row one = trialRow(5, 800);
  const Row combined = combineTrials({one});
  EXPECT_EQ(nlohmann::json(combined), nlohmann::json(one));
  EXPECT_TRUE(combined.trials.empty());
}

TEST(CombineTrials, HeadlineNumbersAreMediansAndTrialsKeepTheirOrder) {
  const Row combined = combineTrials({trialRow(7, 600), trialRow(5, 900), trialRow(6, 700)});
  EXPECT_EQ(combined.size, 4096u);
  EXPECT_DOUBLE_EQ(combined.latency_us.p50, 6);
  EXPECT_DOUBLE_EQ(combined.latency_us.min, 5);
  EXPECT_DOUBLE_EQ(combined.latency_us.max, 16);
  EXPECT_DOUBLE_EQ(combined.bandwidth_mbps, 700);
  EXPECT_DOUBLE_EQ(combined.message_rate, 700 / 4.096);
  ASSERT_EQ(combined.trials.size(), 3u);
  EXPECT_DOUBLE_EQ(combined.trials[0].latency_p50_us, 7);
  EXPECT_DOUBLE_EQ(combined.trials[1].bandwidth_mbps, 900);
  EXPECT_DOUBLE_EQ(combined.trials[2].latency_p50_us, 6);
}

TEST(CombineTrials, EvenCountsAverageTheMiddleAndIterationsTakeTheLargest) {
  // --min-time calibrates every trial on its own, so the counts may differ.
  const Row combined = combineTrials({trialRow(4, 100, 50), trialRow(6, 300, 80)});
  EXPECT_DOUBLE_EQ(combined.latency_us.p50, 5);
  EXPECT_DOUBLE_EQ(combined.bandwidth_mbps, 200);
  EXPECT_EQ(combined.iterations, 80u);
  EXPECT_EQ(combined.latency_us.count, 80u);
  EXPECT_EQ(combined.trials.size(), 2u);
}

}  // namespace
}  // namespace rdzv::bench
