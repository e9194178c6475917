// rdzvbench compare: tolerances, judging one metric, matching series and sizes, choosing a
// baseline in a directory, and the JUnit/Markdown/JSON forms.

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "lib/compare.h"
#include "lib/compare_format.h"
#include "lib/error.h"

namespace rdzv {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const MetricInfo& metric(const std::string& name) {
  for (const auto& m : comparedMetrics())
    if (m.name == name) return m;
  throw std::logic_error("no metric " + name);
}

Row row(std::uint64_t size, double p50, double bandwidth, std::vector<Trial> trials = {}) {
  Row r;
  r.size = size;
  r.iterations = 100;
  r.latency_us = {p50, p50, p50, p50, p50, p50, 100};
  r.bandwidth_mbps = bandwidth;
  r.message_rate = 1;
  r.trials = std::move(trials);
  return r;
}

Series series(const std::string& benchmark, std::vector<Row> rows,
              std::map<std::string, std::string> env = {}) {
  Series s;
  s.transport = "tcp";
  s.benchmark = benchmark;
  s.params = {{"pairs", "0-1"}};
  s.env = std::move(env);
  s.rows = std::move(rows);
  return s;
}

Report report(std::vector<Series> all, const std::string& start = "2026-01-01T00:00:00.000Z") {
  Report r;
  r.start_time = start;
  r.git_revision = "abc";
  r.series = std::move(all);
  return r;
}

// The Usage message of `f`, failing the test when it throws nothing or something else.
template <typename F>
std::string usageError(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Usage) << e.message();
    return e.message();
  }
  ADD_FAILURE() << "no Usage error";
  return {};
}

TEST(Tolerances, DefaultIsFivePercentForEveryMetric) {
  const Tolerances t;
  for (const char* key : {"latency", "bw", "algbw", "busbw"}) EXPECT_DOUBLE_EQ(t.of(key), 0.05);
}

TEST(Tolerances, ParsesOneValueAndPerMetricValues) {
  EXPECT_DOUBLE_EQ(parseTolerances("10%").of("latency"), 0.10);
  EXPECT_DOUBLE_EQ(parseTolerances("10%").of("busbw"), 0.10);
  EXPECT_DOUBLE_EQ(parseTolerances("2.5").of("bw"), 0.025);
  const Tolerances t = parseTolerances("latency=10%,bw=3%");
  EXPECT_DOUBLE_EQ(t.of("latency"), 0.10);
  EXPECT_DOUBLE_EQ(t.of("bw"), 0.03);
  // algbw and busbw follow bw unless given.
  EXPECT_DOUBLE_EQ(t.of("algbw"), 0.03);
  EXPECT_DOUBLE_EQ(parseTolerances("bw=3%,busbw=8%").of("busbw"), 0.08);
  EXPECT_DOUBLE_EQ(parseTolerances("20%,latency=1%").of("bw"), 0.20);
  EXPECT_DOUBLE_EQ(parseTolerances("0%").of("latency"), 0);
}

TEST(Tolerances, RejectsBadItemsByName) {
  for (const char* bad : {"", "x%", "-5%", "5%%", "latency=", "latency=abc", "5,", "2000%"})
    EXPECT_NE(usageError([&] { parseTolerances(bad); }).find("--tolerance"), std::string::npos)
        << bad;
  const std::string msg = usageError([] { parseTolerances("jitter=5%"); });
  EXPECT_NE(msg.find("jitter"), std::string::npos) << msg;
  EXPECT_NE(msg.find("latency, bw"), std::string::npos) << msg;
}

TEST(JudgeMetric, LatencyUpIsARegressionAndDownAnImprovement) {
  const auto& lat = metric("latency_p50_us");
  auto up = judgeMetric(lat, 10, 11, {}, {}, 0.05);
  EXPECT_EQ(up.verdict, Verdict::Regressed);
  EXPECT_NEAR(up.change, 0.10, 1e-12);
  EXPECT_EQ(up.noise, 0);
  EXPECT_EQ(judgeMetric(lat, 10, 9, {}, {}, 0.05).verdict, Verdict::Improved);
  EXPECT_EQ(judgeMetric(lat, 10, 10.4, {}, {}, 0.05).verdict, Verdict::Same);
  // Exactly at the tolerance is within it, despite 1.05 - 1 being a hair above 0.05.
  EXPECT_EQ(judgeMetric(lat, 1, 1.05, {}, {}, 0.05).verdict, Verdict::Same);
}

TEST(JudgeMetric, BandwidthDownIsARegression) {
  const auto& bw = metric("bandwidth_mbps");
  EXPECT_EQ(judgeMetric(bw, 1000, 900, {}, {}, 0.05).verdict, Verdict::Regressed);
  EXPECT_EQ(judgeMetric(bw, 1000, 1100, {}, {}, 0.05).verdict, Verdict::Improved);
  EXPECT_EQ(judgeMetric(bw, 1000, 960, {}, {}, 0.05).verdict, Verdict::Same);
  EXPECT_EQ(judgeMetric(bw, 1000, 960, {}, {}, 0.03).verdict, Verdict::Regressed);
}

TEST(JudgeMetric, AChangeWithinTheTrialsSpreadIsNoise) {
  const auto& lat = metric("latency_p50_us");
  // BASE trials vary by 10-20%: a 20% rise is no evidence. The spread is 3 median absolute
  // deviations of the logarithms: here 3 * ln(10/9).
  auto c = judgeMetric(lat, 10, 12, {9, 10, 12}, {12, 12.1, 11.9}, 0.05);
  EXPECT_EQ(c.verdict, Verdict::Noise);
  EXPECT_NEAR(c.noise, std::pow(10.0 / 9, 3) - 1, 1e-12);
  EXPECT_EQ(c.base_trials, 3);
  EXPECT_EQ(c.new_trials, 3);
  // The NEW side's spread counts as well.
  EXPECT_EQ(judgeMetric(lat, 10, 12, {}, {10, 12, 14}, 0.05).verdict, Verdict::Noise);
  // Tight trials: the same change is a regression.
  EXPECT_EQ(judgeMetric(lat, 10, 12, {9.9, 10, 10.1}, {11.9, 12, 12.1}, 0.05).verdict,
            Verdict::Regressed);
  // One stalled trial does not make the spread: the median deviation ignores it.
  EXPECT_EQ(judgeMetric(lat, 10, 12.1, {10, 10.1, 9.9}, {12, 12.1, 50}, 0.05).verdict,
            Verdict::Regressed);
  // Bandwidth noise is judged on the same ratio scale: a 1000x drop stays a regression.
  EXPECT_EQ(
      judgeMetric(metric("bandwidth_mbps"), 1e6, 1e3, {9e5, 1e6, 1.1e6}, {1e2, 1e3, 5e3}, 0.05)
          .verdict,
      Verdict::Regressed);
  // Within the tolerance stays "same" however noisy.
  EXPECT_EQ(judgeMetric(lat, 10, 10.2, {5, 15}, {}, 0.05).verdict, Verdict::Same);
}

TEST(CompareRows, ComparesOnlyMetricsBothRowsCarry) {
  json base = row(8, 10, 100);
  json now = row(8, 11, 100);
  auto r = compareRows(base, now, Tolerances{});
  ASSERT_EQ(r.metrics.size(), 2u);
  EXPECT_EQ(r.metrics[0].metric, "latency_p50_us");
  EXPECT_EQ(r.metrics[1].metric, "bandwidth_mbps");
  EXPECT_EQ(r.verdict(), Verdict::Regressed);
  EXPECT_EQ(r.size, 8u);

  // Collective rows of a newer rdzvbench carry algbw/busbw; compared when both have them.
  base["algbw_gbps"] = 10.0;
  base["busbw_gbps"] = 15.0;
  now["busbw_gbps"] = 12.0;
  r = compareRows(base, now, parseTolerances("latency=50%,bw=1%,busbw=30%"));
  ASSERT_EQ(r.metrics.size(), 3u);
  EXPECT_EQ(r.metrics[2].metric, "busbw_gbps");
  EXPECT_EQ(r.metrics[2].verdict, Verdict::Same);  // -20% within busbw's 30%
  EXPECT_NEAR(r.metrics[2].tolerance, 0.30, 1e-12);
  EXPECT_EQ(r.verdict(), Verdict::Same);

  // A zero (nothing measured) or a non-number is not comparable.
  now["bandwidth_mbps"] = 0.0;
  now["latency_us"]["p50"] = "fast";
  EXPECT_EQ(compareRows(base, now, Tolerances{}).metrics.size(), 1u);
}

TEST(CompareRows, ReadsTrialsByMetricName) {
  json base = row(8, 10, 100, {{9, 90}, {10, 100}, {13, 110}});
  json now = row(8, 12, 100, {{12, 99}, {12, 100}});
  const auto r = compareRows(base, now, Tolerances{});
  ASSERT_EQ(r.metrics.size(), 2u);
  EXPECT_EQ(r.metrics[0].verdict, Verdict::Noise);
  EXPECT_NEAR(r.metrics[0].noise, std::pow(10.0 / 9, 3) - 1, 1e-12);
  EXPECT_NEAR(r.metrics[1].noise, std::pow(1.1, 3) - 1, 1e-12);
  EXPECT_EQ(r.metrics[1].base_trials, 3);
  EXPECT_EQ(r.metrics[1].new_trials, 2);
}

TEST(CompareReports, MatchesSeriesByEverythingAndSizesBySize) {
  const Report base =
      report({series("latency", {row(8, 10, 1), row(64, 12, 5), row(1024, 20, 50)}),
              series("bw", {row(8, 1, 10)}), series("latency", {row(8, 10, 1)}, {{"FI_X", "1"}})});
  const Report now =
      report({series("bw", {row(8, 1, 8)}),
              series("latency", {row(8, 9, 1.1), row(64, 12, 5), row(4096, 30, 100)}),
              series("latency", {row(8, 10, 1)}, {{"FI_X", "2"}})});
  const Comparison c = compareReports(base, "base.json", now, "new.json", Tolerances{});
  ASSERT_EQ(c.series.size(), 2u);
  EXPECT_EQ(describe(c.series[0].key), "tcp bw pairs=0-1");  // NEW's order
  EXPECT_EQ(c.series[0].rows.at(0).metrics.at(1).verdict, Verdict::Regressed);
  const auto& lat = c.series[1];
  ASSERT_EQ(lat.rows.size(), 2u);
  EXPECT_EQ(lat.rows[0].size, 8u);
  EXPECT_EQ(lat.rows[0].verdict(), Verdict::Improved);
  EXPECT_EQ(lat.rows[1].verdict(), Verdict::Same);
  EXPECT_EQ(lat.only_in_base, std::vector<std::uint64_t>{1024});
  EXPECT_EQ(lat.only_in_new, std::vector<std::uint64_t>{4096});
  // The environment is part of a series' identity.
  ASSERT_EQ(c.only_in_base.size(), 1u);
  EXPECT_EQ(describe(c.only_in_base[0]), "tcp latency pairs=0-1 FI_X=1");
  ASSERT_EQ(c.only_in_new.size(), 1u);
  EXPECT_EQ(c.unmatched_sizes.at(c.only_in_new[0]), std::vector<std::uint64_t>{8});
  EXPECT_EQ(c.compared(), 6);
  EXPECT_EQ(c.count(Verdict::Regressed), 1);
  EXPECT_EQ(c.count(Verdict::Improved), 2);
  EXPECT_TRUE(c.regressed());
  EXPECT_EQ(c.base.path, "base.json");
  EXPECT_EQ(c.now.git_revision, "abc");
}

TEST(CompareReports, AReportAgainstItselfIsAllSame) {
  const Report r = report({series("latency", {row(8, 10, 1), row(64, 12, 5)})});
  const Comparison c = compareReports(r, "a", r, "a", Tolerances{});
  EXPECT_EQ(c.compared(), 4);
  EXPECT_EQ(c.count(Verdict::Same), 4);
  EXPECT_FALSE(c.regressed());
}

TEST(CompareReports, NothingInCommonSaysWhatEachHolds) {
  const Report base = report({series("latency", {row(8, 10, 1)})});
  const Report other = report({series("bw", {row(8, 1, 10)})});
  std::string msg = usageError([&] { compareReports(base, "b.json", other, "n.json", {}); });
  EXPECT_NE(msg.find("no series in common"), std::string::npos) << msg;
  EXPECT_NE(msg.find("b.json"), std::string::npos) << msg;
  EXPECT_NE(msg.find("BASE has tcp latency pairs=0-1 (8)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("NEW has tcp bw pairs=0-1 (8)"), std::string::npos) << msg;

  const Report big = report({series("latency", {row(1 << 20, 10, 1)})});
  msg = usageError([&] { compareReports(base, "b.json", big, "n.json", {}); });
  EXPECT_NE(msg.find("no size"), std::string::npos) << msg;
  EXPECT_NE(msg.find("sizes 8 in BASE and 1M in NEW"), std::string::npos) << msg;

  msg = usageError([&] { compareReports(base, "b.json", report({}), "n.json", {}); });
  EXPECT_NE(msg.find("NEW has no series"), std::string::npos) << msg;
}

TEST(CompareReports, ASeriesOrSizeTwiceIsAmbiguous) {
  const Report twice = report({series("latency", {row(8, 10, 1)}), series("latency", {})});
  const Report ok = report({series("latency", {row(8, 10, 1)})});
  std::string msg = usageError([&] { compareReports(twice, "t.json", ok, "n.json", {}); });
  EXPECT_NE(msg.find("t.json"), std::string::npos) << msg;
  EXPECT_NE(msg.find("twice"), std::string::npos) << msg;
  const Report size_twice = report({series("latency", {row(8, 10, 1), row(8, 11, 1)})});
  msg = usageError([&] { compareReports(ok, "b.json", size_twice, "s.json", {}); });
  EXPECT_NE(msg.find("size 8 twice"), std::string::npos) << msg;
}

class BaselineDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("rdzv_compare_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  fs::path dir_;
};

TEST_F(BaselineDirTest, ADirectoryMeansItsNewestReport) {
  writeReport(report({series("latency", {row(8, 1, 1)})}, "2026-03-01T00:00:00.000Z"),
              path("b-march.json"));
  writeReport(report({series("latency", {row(8, 2, 1)})}, "2026-05-01T00:00:00.000Z"),
              path("a-may.json"));
  writeReport(report({series("latency", {row(8, 3, 1)})}, "2026-04-01T00:00:00.000Z"),
              path("c-april.json"));
  std::ofstream(path("notes.txt")) << "not a report";
  std::string chosen = "stale";
  const Report r = readBaseline(dir_.string(), chosen);
  EXPECT_EQ(chosen, path("a-may.json"));
  EXPECT_EQ(r.series.at(0).rows.at(0).latency_us.p50, 2);
  // A file is read as it is.
  EXPECT_EQ(readBaseline(path("c-april.json"), chosen).series.at(0).rows.at(0).latency_us.p50, 3);
  EXPECT_EQ(chosen, path("c-april.json"));
}

TEST_F(BaselineDirTest, AnEmptyDirectoryOrABrokenReportInItIsUsage) {
  std::string chosen;
  std::string msg = usageError([&] { readBaseline(dir_.string(), chosen); });
  EXPECT_NE(msg.find("no reports"), std::string::npos) << msg;
  std::ofstream(path("broken.json")) << "{\"schema_version\": 1,";
  msg = usageError([&] { readBaseline(dir_.string(), chosen); });
  EXPECT_NE(msg.find(path("broken.json")), std::string::npos) << msg;
}

Comparison mixedComparison() {
  const Report base = report({series("latency", {row(8, 10, 1), row(64, 10, 5), row(128, 10, 9)}),
                              series("bibw", {row(8, 1, 1)}, {{"A", "<&>"}})});
  const Report now = report({series("latency", {row(8, 12, 1), row(64, 10, 5), row(256, 1, 1)})});
  return compareReports(base, "base.json", now, "new.json", Tolerances{});
}

TEST(CompareFormat, JunitHasOneCasePerSeriesAndSize) {
  const std::string xml = formatComparisonJunit(mixedComparison());
  EXPECT_EQ(xml.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites", 0), 0u) << xml;
  // latency: 8 (failed), 64 (passed), 128 (only BASE), 256 (only NEW); bibw: 8 (only BASE).
  EXPECT_NE(xml.find("tests=\"5\" failures=\"1\" errors=\"0\" skipped=\"3\""), std::string::npos)
      << xml;
  EXPECT_NE(xml.find("<failure type=\"regression\" message=\"latency p50 (us) +20.0% "
                     "(tolerance 5%)\">"),
            std::string::npos)
      << xml;
  EXPECT_NE(xml.find("name=\"size 128\""), std::string::npos);
  EXPECT_NE(xml.find("<skipped message=\"series only in BASE\"/>"), std::string::npos);
  // Markup in names is escaped.
  EXPECT_NE(xml.find("A=&lt;&amp;&gt;"), std::string::npos) << xml;
  EXPECT_EQ(xml.find("<&>"), std::string::npos);
}

TEST(CompareFormat, MarkdownLeadsWithTheVerdictAndTheChanges) {
  const std::string md = formatComparisonMarkdown(mixedComparison());
  EXPECT_EQ(md.rfind("### rdzvbench compare: 1 regression\n", 0), 0u) << md;
  EXPECT_NE(md.find("| tcp latency pairs=0-1 | 8 | latency p50 (us) | 10.00 | 12.00 | +20.0% | - "
                    "| **regressed** |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("<details><summary>All 4 comparisons</summary>"), std::string::npos) << md;
  EXPECT_NE(md.find("series only in BASE: tcp bibw pairs=0-1 A=\\<&\\>"), std::string::npos) << md;
  EXPECT_NE(md.find("sizes only in NEW for tcp latency pairs=0-1: 256"), std::string::npos) << md;
}

TEST(CompareFormat, TextEndsWithTheCounts) {
  const std::string text = formatComparisonText(mixedComparison());
  EXPECT_NE(text.find("REGRESSED"), std::string::npos) << text;
  EXPECT_NE(text.find("compare: 1 regressed, 0 improved, 0 within noise, 3 same (4 comparisons)"),
            std::string::npos)
      << text;
}

TEST(CompareFormat, JsonCarriesPercentsAndTheResult) {
  const json j = mixedComparison();
  EXPECT_EQ(j.at("schema_version"), kCompareSchemaVersion);
  EXPECT_EQ(j.at("result"), "regressed");
  EXPECT_EQ(j.at("counts").at("compared"), 4);
  const json& m = j.at("series").at(0).at("rows").at(0).at("metrics").at(0);
  EXPECT_EQ(m.at("metric"), "latency_p50_us");
  EXPECT_NEAR(m.at("change_pct").get<double>(), 20.0, 1e-9);
  EXPECT_NEAR(m.at("tolerance_pct").get<double>(), 5.0, 1e-9);
  EXPECT_EQ(m.at("verdict"), "regressed");
  EXPECT_EQ(j.at("series_only_in_base").at(0).at("sizes"), json::array({8}));
  EXPECT_EQ(j.at("series").at(0).at("sizes_only_in_new"), json::array({256}));
}

}  // namespace
}  // namespace rdzv
