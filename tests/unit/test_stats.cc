#include <vector>

#include <gtest/gtest.h>

#include "lib/stats.h"

namespace rdzv {
namespace {

TEST(Summarize, KnownPercentilesOfOneToHundred) {
  std::vector<double> samples;
  for (int i = 100; i >= 1; --i) samples.push_back(i);  // unsorted on purpose
  const Summary s = summarize(samples);
  EXPECT_EQ(s.count, 100u);
  EXPECT_DOUBLE_EQ(s.min, 1);
  EXPECT_DOUBLE_EQ(s.max, 100);
  EXPECT_DOUBLE_EQ(s.mean, 50.5);
  EXPECT_DOUBLE_EQ(s.p50, 50);
  EXPECT_DOUBLE_EQ(s.p90, 90);
  EXPECT_DOUBLE_EQ(s.p99, 99);
}

TEST(Summarize, NearestRankOnFewSamples) {
  // Nearest rank: ceil(p/100 * n)-th smallest; no interpolation.
  const Summary s = summarize({15, 20, 35, 40, 50});
  EXPECT_DOUBLE_EQ(s.p50, 35);
  EXPECT_DOUBLE_EQ(s.p90, 50);
  EXPECT_DOUBLE_EQ(s.p99, 50);
  EXPECT_DOUBLE_EQ(s.mean, 32);
  const Summary ten = summarize({1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
  EXPECT_DOUBLE_EQ(ten.p50, 5);
  EXPECT_DOUBLE_EQ(ten.p90, 9);
  EXPECT_DOUBLE_EQ(ten.p99, 10);
}

TEST(Summarize, SingleSample) {
  const Summary s = summarize({3.25});
  EXPECT_EQ(s.count, 1u);
  for (double v : {s.min, s.mean, s.p50, s.p90, s.p99, s.max}) EXPECT_DOUBLE_EQ(v, 3.25);
}

TEST(Summarize, EmptyIsAllZero) {
  const Summary s = summarize({});
  EXPECT_EQ(s.count, 0u);
  for (double v : {s.min, s.mean, s.p50, s.p90, s.p99, s.max}) EXPECT_EQ(v, 0);
}

TEST(Percentile, EdgesAndClamping) {
  const std::vector<double> sorted = {1, 2, 3, 4};
  EXPECT_DOUBLE_EQ(percentile(sorted, 0), 1);
  EXPECT_DOUBLE_EQ(percentile(sorted, 25), 1);
  EXPECT_DOUBLE_EQ(percentile(sorted, 25.1), 2);
  EXPECT_DOUBLE_EQ(percentile(sorted, 75), 3);
  EXPECT_DOUBLE_EQ(percentile(sorted, 100), 4);
  EXPECT_DOUBLE_EQ(percentile(sorted, -5), 1);
  EXPECT_DOUBLE_EQ(percentile(sorted, 250), 4);
  EXPECT_EQ(percentile({}, 50), 0);
}

TEST(Percentile, FractionalPercentDoesNotRoundUpAPlace) {
  std::vector<double> sorted;
  for (int i = 1; i <= 1000; ++i) sorted.push_back(i);
  EXPECT_DOUBLE_EQ(percentile(sorted, 99.9), 999);
  EXPECT_DOUBLE_EQ(percentile(sorted, 0.1), 1);
  EXPECT_DOUBLE_EQ(percentile(sorted, 29), 290);
}

TEST(Median, OddEvenEmpty) {
  EXPECT_DOUBLE_EQ(median({5, 1, 3}), 3);
  EXPECT_DOUBLE_EQ(median({4, 1, 3, 2}), 2.5);
  EXPECT_DOUBLE_EQ(median({7}), 7);
  EXPECT_EQ(median({}), 0);
}

TEST(SummaryJson, RoundTripsWithAllFields) {
  const Summary s = summarize({0.1, 0.2, 0.7, 1e-3, 12345.678});
  const nlohmann::json j = s;
  for (const char* key : {"min", "mean", "p50", "p90", "p99", "max", "count"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_EQ(j.size(), 7u);
  const Summary back = nlohmann::json::parse(j.dump()).get<Summary>();
  EXPECT_EQ(back.min, s.min);
  EXPECT_EQ(back.mean, s.mean);
  EXPECT_EQ(back.p50, s.p50);
  EXPECT_EQ(back.p90, s.p90);
  EXPECT_EQ(back.p99, s.p99);
  EXPECT_EQ(back.max, s.max);
  EXPECT_EQ(back.count, s.count);
}

}  // namespace
}  // namespace rdzv
