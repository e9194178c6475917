// `rdzvbench compare BASE NEW`: the regression check a CI job runs. Prints the change of every
// metric, writes the requested JUnit/Markdown/JSON files, and exits 1 when a metric regressed.

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include <fmt/format.h>

#include "cli/commands.h"
#include "lib/compare.h"
#include "lib/compare_format.h"
#include "lib/error.h"
#include "lib/report.h"
#include "lib/size.h"

namespace rdzv::cli {
namespace {

struct CompareFlags {
  std::string base;
  std::string now;
  std::string tolerance = "5%";
  std::string junit;
  std::string markdown;
  std::string json;
};

// Temporary file + rename, so a CI step reading the file never sees half of it.
void writeTextFile(const std::string& path, const std::string& text, const char* what) {
  const std::string tmp = path + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "w");
  int err = f ? 0 : errno;
  if (f) {
    if (std::fwrite(text.data(), 1, text.size(), f) != text.size()) err = errno;
    if (std::fclose(f) != 0 && err == 0) err = errno;
    if (err == 0 && std::rename(tmp.c_str(), path.c_str()) != 0) err = errno;
    if (err != 0) std::remove(tmp.c_str());
  }
  if (err != 0)
    throwRuntime(fmt::format("cannot write {} \"{}\": {}", what, path, std::strerror(err)),
                 "check that the directory exists and is writable");
}

// "tcp latency pairs=0-1 size 8: latency p50 (us) +12.7%; ..." for the first few regressions.
std::string regressionList(const Comparison& c) {
  constexpr int kShown = 3;
  std::string out;
  int listed = 0;
  for (const auto& s : c.series)
    for (const auto& r : s.rows)
      for (const auto& m : r.metrics) {
        if (m.verdict != Verdict::Regressed) continue;
        if (listed++ < kShown)
          out += fmt::format("{}{} size {}: {} {:+.1f}%", listed > 1 ? "; " : "", describe(s.key),
                             formatSize(r.size), m.metric, m.change * 100);
      }
  if (listed > kShown) out += fmt::format("; and {} more", listed - kShown);
  return out;
}

}  // namespace

Action addCompareCommand(CLI::App& app) {
  auto flags = std::make_shared<CompareFlags>();
  auto* cmd = app.add_subcommand(
      "compare",
      "Compare two reports; exit 1 when a metric regressed beyond the tolerance (for CI)");
  cmd->add_option("BASE", flags->base,
                  "Baseline report, or a directory of reports (the newest by start_time is used)")
      ->required();
  cmd->add_option("NEW", flags->now, "Report to check against the baseline")->required();
  cmd->add_option("--tolerance", flags->tolerance,
                  "Allowed change: 5% for every metric, or per metric: latency=10%,bw=5% "
                  "(also algbw=, busbw=; they follow bw unless given)")
      ->capture_default_str();
  cmd->add_option("--junit", flags->junit, "Write JUnit XML: one test case per series and size");
  cmd->add_option("--markdown", flags->markdown, "Write a Markdown summary for a PR comment");
  cmd->add_option("--json", flags->json,
                  "Write the comparison as JSON (results-schema/compare.schema.json)");

  return [flags]() -> int {
    const Tolerances tolerances = parseTolerances(flags->tolerance);
    std::string base_path;
    const Report base = readBaseline(flags->base, base_path);
    const Report now = readReport(flags->now);
    const Comparison c = compareReports(base, base_path, now, flags->now, tolerances);

    fmt::print("{}", formatComparisonText(c));
    std::fflush(stdout);
    if (!flags->junit.empty()) writeTextFile(flags->junit, formatComparisonJunit(c), "JUnit file");
    if (!flags->markdown.empty())
      writeTextFile(flags->markdown, formatComparisonMarkdown(c), "Markdown file");
    if (!flags->json.empty())
      writeTextFile(flags->json, nlohmann::json(c).dump(2) + "\n", "JSON file");

    if (c.regressed())
      throw Error(ErrorKind::Check,
                  fmt::format("{} of {} comparisons regressed beyond the tolerance: {}",
                              c.count(Verdict::Regressed), c.compared(), regressionList(c)),
                  "if the change is intended, make NEW the baseline");
    return 0;
  };
}

}  // namespace rdzv::cli
