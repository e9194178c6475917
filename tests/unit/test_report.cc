#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "lib/error.h"
#include "lib/report.h"

namespace rdzv {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

Report populatedReport() {
  Report r;
  r.tool_version = "0.1.0";
  r.git_revision = "abc1234";
  r.command_line = {"rdzvbench", "run", "--sizes", "8:1M", "--output", "out.json"};
  r.start_time = "2026-11-23T21:30:00.123Z";
  r.end_time = "2026-11-23T21:30:05.456Z";
  r.launcher = "srun";
  r.bootstrap = "store";
  r.store = "tcp://nid001:29500";
  r.run_id = "run-42";
  r.size = 2;
  r.ranks = {{0, "nid001", 1234}, {1, "nid002", 5678}};
  r.host = {"nid001", "AMD EPYC 7763 64-Core Processor", "5.14.21", 128, 8};
  r.environment = {{"FI_PROVIDER", "cxi"}, {"SLURM_JOB_ID", "42"}};
  r.complete = false;
  r.error = "rank 1: peer lost";

  Series s;
  s.transport = "tcp";
  s.benchmark = "latency";
  s.algorithm = "";
  s.params = {{"window", "64"}};
  s.env = {{"FI_CXI_RDZV_THRESHOLD", "16384"}};
  s.complete = false;
  s.details = json{{"provider", "sockets"}, {"counters", {{"retries", 3}}}};
  Row row;
  row.size = 8;
  row.iterations = 1000;
  row.latency_us = summarize({1.5, 2.25, 3.0, 0.1 + 0.2});
  row.bandwidth_mbps = 5.3333333333333339;
  row.message_rate = 666666.6666666666;
  row.pairs = 1;
  s.rows.push_back(row);
  row.size = 1 << 20;
  row.pairs = 4;
  s.rows.push_back(row);
  r.series.push_back(s);
  s.transport = "mpi";
  s.benchmark = "allreduce";
  s.algorithm = "ring";
  s.details = json::object();
  s.rows.clear();
  r.series.push_back(s);
  return r;
}

// Each test gets its own directory, removed afterwards.
class ReportFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("rdzv_report_test_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  void writeText(const std::string& name, const std::string& text) const {
    std::ofstream(path(name)) << text;
  }
  // Returns the Usage error's message from readReport, failing when none is thrown.
  std::string readUsageError(const std::string& file) const {
    try {
      readReport(file);
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::Usage);
      EXPECT_EQ(e.message().find('\n'), std::string::npos) << e.message();
      return e.message();
    }
    ADD_FAILURE() << "readReport accepted " << file;
    return {};
  }

  fs::path dir_;
};

TEST(ReportJson, RoundTripsAPopulatedReport) {
  const Report r = populatedReport();
  const json j = r;
  const Report back = json::parse(j.dump()).get<Report>();
  EXPECT_EQ(json(back), j);
  EXPECT_EQ(back.ranks.at(1).host, "nid002");
  EXPECT_EQ(back.series.at(0).rows.at(1).size, 1u << 20);
  EXPECT_EQ(back.series.at(0).rows.at(0).latency_us.p99, r.series[0].rows[0].latency_us.p99);
  EXPECT_EQ(back.series.at(0).details.at("counters").at("retries"), 3);
  EXPECT_FALSE(back.complete);
}

TEST(ReportJson, FieldNamesAreTheMemberNames) {
  const json j = populatedReport();
  for (const char* key : {"schema_version", "tool_version", "git_revision", "command_line",
                          "start_time", "end_time", "launcher", "bootstrap", "store", "run_id",
                          "size", "ranks", "host", "environment", "series", "complete", "error"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_EQ(j.size(), 17u);
  EXPECT_EQ(j.at("schema_version"), kReportSchemaVersion);
  const json& row = j.at("series").at(0).at("rows").at(0);
  EXPECT_EQ(row.size(), 6u);
  EXPECT_TRUE(row.at("latency_us").contains("p90"));
  EXPECT_EQ(j.at("series").at(0).size(), 8u);
  EXPECT_EQ(j.at("ranks").at(0).size(), 3u);
}

TEST(ReportJson, TrialsAreOptionalAndRoundTrip) {
  Report r = populatedReport();
  r.series[0].rows[1].trials = {{2.5, 100.0}, {2.25, 110.5}, {3.0, 90.0}};
  const json j = r;
  EXPECT_FALSE(j.at("series").at(0).at("rows").at(0).contains("trials"));
  const json& trials = j.at("series").at(0).at("rows").at(1).at("trials");
  ASSERT_EQ(trials.size(), 3u);
  EXPECT_EQ(trials.at(1), (json{{"latency_p50_us", 2.25}, {"bandwidth_mbps", 110.5}}));
  const Report back = json::parse(j.dump()).get<Report>();
  EXPECT_EQ(json(back), j);
  EXPECT_TRUE(back.series.at(0).rows.at(0).trials.empty());
  EXPECT_EQ(back.series.at(0).rows.at(1).trials.at(2).latency_p50_us, 3.0);
}

TEST_F(ReportFileTest, WriteThenReadRoundTrips) {
  const Report r = populatedReport();
  writeReport(r, path("report.json"));
  const Report back = readReport(path("report.json"));
  EXPECT_EQ(json(back), json(r));
  // Only the report remains: the temporary file was renamed, not copied.
  int files = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir_)) ++files;
  EXPECT_EQ(files, 1);
}

TEST_F(ReportFileTest, WriteIsPrettyAndReplacesAnOldFile) {
  writeText("report.json", "old contents that are much longer than nothing at all");
  writeReport(populatedReport(), path("report.json"));
  std::ifstream in(path("report.json"));
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str().rfind("{\n  \"", 0), 0u) << "indent 2";
  EXPECT_EQ(text.str().back(), '\n');
  EXPECT_NO_THROW(readReport(path("report.json")));
}

TEST_F(ReportFileTest, WriteReplacesInvalidUtf8) {
  Report r = populatedReport();
  r.command_line.push_back("bad\xff byte");
  writeReport(r, path("report.json"));
  EXPECT_EQ(readReport(path("report.json")).command_line.size(), r.command_line.size());
}

TEST_F(ReportFileTest, WriteFailureIsRuntimeNamingThePath) {
  const std::string bad = path("no/such/dir/report.json");
  try {
    writeReport(populatedReport(), bad);
    FAIL() << "writeReport succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Runtime);
    EXPECT_NE(e.message().find(bad), std::string::npos) << e.message();
  }
}

TEST_F(ReportFileTest, MalformedJsonNamesFileAndPosition) {
  writeText("bad.json", "{\"schema_version\": 1,\n \"tool_version\": oops}");
  const std::string msg = readUsageError(path("bad.json"));
  EXPECT_NE(msg.find(path("bad.json")), std::string::npos) << msg;
  // The 'o' of "oops" is the 40th byte; nlohmann counts bytes from 1.
  EXPECT_NE(msg.find("at byte 40"), std::string::npos) << msg;
}

TEST_F(ReportFileTest, TruncatedAndEmptyFilesAreMalformed) {
  std::string text = json(populatedReport()).dump(2);
  writeText("cut.json", text.substr(0, text.size() / 2));
  EXPECT_NE(readUsageError(path("cut.json")).find("malformed"), std::string::npos);
  writeText("empty.json", "");
  EXPECT_NE(readUsageError(path("empty.json")).find("at byte"), std::string::npos);
}

TEST_F(ReportFileTest, WrongSchemaVersionSaysFoundAndSupported) {
  json j = populatedReport();
  j["schema_version"] = 7;
  writeText("v7.json", j.dump());
  const std::string msg = readUsageError(path("v7.json"));
  EXPECT_NE(msg.find(path("v7.json")), std::string::npos) << msg;
  EXPECT_NE(msg.find("schema_version 7"), std::string::npos) << msg;
  EXPECT_NE(msg.find("supports schema_version 1"), std::string::npos) << msg;

  j.erase("schema_version");
  writeText("none.json", j.dump());
  EXPECT_NE(readUsageError(path("none.json")).find("schema_version"), std::string::npos);
  writeText("array.json", "[1, 2]");
  EXPECT_NE(readUsageError(path("array.json")).find("not a JSON object"), std::string::npos);
}

TEST_F(ReportFileTest, MissingOrMistypedFieldIsUsageError) {
  json j = populatedReport();
  j.erase("run_id");
  writeText("missing.json", j.dump());
  std::string msg = readUsageError(path("missing.json"));
  EXPECT_NE(msg.find(path("missing.json")), std::string::npos) << msg;
  EXPECT_NE(msg.find("run_id"), std::string::npos) << msg;

  j = populatedReport();
  j["size"] = "two";
  writeText("mistyped.json", j.dump());
  msg = readUsageError(path("mistyped.json"));
  EXPECT_NE(msg.find(path("mistyped.json")), std::string::npos) << msg;
}

TEST_F(ReportFileTest, MissingFileAndDirectoryNameThePath) {
  std::string msg = readUsageError(path("absent.json"));
  EXPECT_NE(msg.find(path("absent.json")), std::string::npos) << msg;
  EXPECT_NE(msg.find("No such file"), std::string::npos) << msg;
  msg = readUsageError(dir_.string());
  EXPECT_NE(msg.find(dir_.string()), std::string::npos) << msg;
}

// Runs the Debian python3-jsonschema against the schema in the source tree; returns the
// exit status (0 valid, 1 invalid, 77 when jsonschema is unavailable).
int validateWithSchema(const std::string& report) {
  const std::string schema = RDZV_TEST_SOURCE_DIR "/results-schema/report.schema.json";
  const std::string cmd =
      "/usr/bin/python3 -c '"
      "import sys, json\n"
      "try:\n"
      "    import jsonschema\n"
      "except ImportError:\n"
      "    sys.exit(77)\n"
      "schema = json.load(open(sys.argv[1]))\n"
      "jsonschema.Draft202012Validator.check_schema(schema)\n"
      "errors = list(jsonschema.Draft202012Validator(schema).iter_errors("
      "json.load(open(sys.argv[2]))))\n"
      "for e in errors:\n"
      "    print(\"schema:\", list(e.absolute_path), e.message, file=sys.stderr)\n"
      "sys.exit(1 if errors else 0)\n"
      "' '" +
      schema + "' '" + report + "'";
  const int status = std::system(cmd.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST_F(ReportFileTest, WrittenReportsMatchTheSchema) {
  writeReport(populatedReport(), path("full.json"));
  const int full = validateWithSchema(path("full.json"));
  if (full == 77) GTEST_SKIP() << "python3-jsonschema is not installed";
  EXPECT_EQ(full, 0);
  // A run that fails before bootstrap still writes a valid (incomplete) report.
  writeReport(Report{}, path("default.json"));
  EXPECT_EQ(validateWithSchema(path("default.json")), 0);
  Report repeated = populatedReport();
  repeated.series[0].rows[0].trials = {{1.0, 8.0}, {1.5, 7.0}};
  writeReport(repeated, path("trials.json"));
  EXPECT_EQ(validateWithSchema(path("trials.json")), 0);
}

TEST_F(ReportFileTest, SchemaIsStrict) {
  json j = populatedReport();
  j.erase("launcher");
  writeText("missing.json", j.dump());
  const int missing = validateWithSchema(path("missing.json"));
  if (missing == 77) GTEST_SKIP() << "python3-jsonschema is not installed";
  EXPECT_EQ(missing, 1);

  j = populatedReport();
  j["unexpected"] = 1;
  writeText("extra.json", j.dump());
  EXPECT_EQ(validateWithSchema(path("extra.json")), 1);

  j = populatedReport();
  j["series"][0]["rows"][0]["latency_us"]["p95"] = 1.0;
  writeText("extra_summary.json", j.dump());
  EXPECT_EQ(validateWithSchema(path("extra_summary.json")), 1);

  j = populatedReport();
  j["series"][0]["rows"][0]["size"] = 0;
  writeText("size0.json", j.dump());
  EXPECT_EQ(validateWithSchema(path("size0.json")), 1);

  j = populatedReport();
  j["series"][0]["params"]["window"] = 64;
  writeText("param_number.json", j.dump());
  EXPECT_EQ(validateWithSchema(path("param_number.json")), 1);

  j = populatedReport();
  j["schema_version"] = 2;
  writeText("v2.json", j.dump());
  EXPECT_EQ(validateWithSchema(path("v2.json")), 1);

  j = populatedReport();
  j["series"][0]["rows"][0]["trials"] = {{{"latency_p50_us", 1.0}}};
  writeText("trial_fields.json", j.dump());
  EXPECT_EQ(validateWithSchema(path("trial_fields.json")), 1);

  // details is free-form.
  j = populatedReport();
  j["series"][0]["details"]["anything"] = {{"nested", {1, 2, 3}}};
  writeText("details.json", j.dump());
  EXPECT_EQ(validateWithSchema(path("details.json")), 0);
}

TEST(UtcTimestamp, HasMillisecondsAndZ) {
  const std::string t = utcTimestamp();
  ASSERT_EQ(t.size(), 24u) << t;
  EXPECT_EQ(t[4], '-');
  EXPECT_EQ(t[10], 'T');
  EXPECT_EQ(t[19], '.');
  EXPECT_EQ(t.back(), 'Z');
  EXPECT_GE(t.substr(0, 4), "2024");
}

}  // namespace
}  // namespace rdzv
