// Environment sweeps: values as libfabric will parse them, combinations, merging.

#include <gtest/gtest.h>

#include "bench/env_sweep.h"
#include "lib/error.h"

namespace rdzv::bench {
namespace {

using nlohmann::json;

TEST(EnvSweep, SizesBecomeDecimalBecauseLibfabricUsesStrtol) {
  EXPECT_EQ(environmentValue("16K", "FI_CXI_RDZV_THRESHOLD"), "16384");
  EXPECT_EQ(environmentValue("12M", "FI_CXI_OFLOW_BUF_SIZE"), "12582912");
  EXPECT_EQ(environmentValue("2KiB", "X"), "2048");
  EXPECT_EQ(environmentValue(2049, "FI_CXI_RDZV_GET_MIN"), "2049");
  EXPECT_EQ(environmentValue("0", "FI_CXI_RDZV_THRESHOLD"), "0");
  EXPECT_EQ(environmentValue("alt_read", "FI_CXI_RDZV_PROTO"), "alt_read");
  EXPECT_EQ(environmentValue("0x4000", "X"), "0x4000");  // strtol reads hex itself
  EXPECT_EQ(environmentValue(true, "X"), "1");
  EXPECT_THROW(environmentValue(json::array(), "X"), Error);
  EXPECT_THROW(environmentValue(1.5, "X"), Error);
}

TEST(EnvSweep, AxesExpandToTheirProductFirstAxisSlowest) {
  auto axes =
      parseEnvAxes(json::parse(R"({"A": ["1", "2"], "B": ["x", "y", "z"], "C": "k"})"), "f.json");
  auto all = expandAxes(axes);
  ASSERT_EQ(all.size(), 6u);
  EXPECT_EQ(all[0], (EnvCombination{{"A", "1"}, {"B", "x"}, {"C", "k"}}));
  EXPECT_EQ(all[1], (EnvCombination{{"A", "1"}, {"B", "y"}, {"C", "k"}}));
  EXPECT_EQ(all[5], (EnvCombination{{"A", "2"}, {"B", "z"}, {"C", "k"}}));
  EXPECT_EQ(expandAxes({}).size(), 1u);
}

TEST(EnvSweep, BadAxesNameTheFile) {
  try {
    parseEnvAxes(json::parse(R"({"not a name": 1})"), "sweep.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(e.message().find("sweep.json"), std::string::npos);
    EXPECT_EQ(e.kind(), ErrorKind::Usage);
  }
  EXPECT_THROW(parseEnvAxes(json::parse(R"({"A": []})"), "f"), Error);
  EXPECT_THROW(parseEnvAxes(json::parse(R"(["A"])"), "f"), Error);
}

TEST(EnvSweep, CombinationKeysAreStableAndDistinct) {
  EnvCombination a{{"A", "1"}}, b{{"A", "2"}};
  EXPECT_EQ(combinationKey(a), combinationKey(EnvCombination{{"A", "1"}}));
  EXPECT_NE(combinationKey(a), combinationKey(b));
  EXPECT_EQ(combinationKey(a).size(), 16u);
}

TEST(EnvSweep, MergeTagsSeriesWithTheirCombination) {
  Report merged;
  merged.command_line = {"rdzvbench", "sweep"};
  Report part;
  part.tool_version = "0.1.0";
  part.size = 2;
  part.command_line = {"rdzvbench", "run"};
  Series s;
  s.transport = "ofi";
  s.benchmark = "latency";
  part.series = {s};
  mergePart(merged, part, {{"FI_X", "1"}});
  mergePart(merged, part, {{"FI_X", "2"}});
  ASSERT_EQ(merged.series.size(), 2u);
  EXPECT_EQ(merged.series[0].env.at("FI_X"), "1");
  EXPECT_EQ(merged.series[1].env.at("FI_X"), "2");
  EXPECT_EQ(merged.size, 2);
  EXPECT_EQ(merged.command_line[1], "sweep");  // the merged report is the sweep's
}

}  // namespace
}  // namespace rdzv::bench
