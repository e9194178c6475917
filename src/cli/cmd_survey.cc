// `rdzvbench survey`: every pair of ranks measured (latency and bandwidth), slow nodes and links
// named. Starts and meets its ranks as `run` does (cli/launch.h); the schedule, judging and
// measuring live in src/bench/survey/.

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>

#include <fmt/format.h>

#include "bench/survey/report.h"
#include "bench/survey/runner.h"
#include "cli/commands.h"
#include "cli/launch.h"
#include "cli/progress.h"
#include "cli/transport_flags.h"
#include "lib/error.h"
#include "lib/interrupt.h"
#include "lib/placement.h"
#include "lib/size.h"
#include "lib/sysinfo.h"
#include "rdzv/build_info.h"
#include "transport/registry.h"

namespace rdzv::cli {
namespace {

struct SurveyFlags {
  LaunchFlags launch;
  TransportFlags net;
  std::string transport = "tcp";
  std::string latency_size = "8";
  std::string bandwidth_size = "1M";
  int window = 16;
  std::uint64_t latency_iterations = 200;
  std::uint64_t bandwidth_iterations = 8;
  std::uint64_t warmup = 0;
  double min_time = 0.05;
  bool serial = false;
  std::string ranks_per_node = "1";
  std::string group_by = "auto";
  double outlier_mad = 5;
  double outlier_min_pct = 20;
  bool fail_on_outliers = false;
  int retest_passes = 3;
  std::string output;
  bool quiet = false;
  std::string inject_slow;  // test only (hidden): RANK:FACTOR
};

void parseInjectSlow(const std::string& text, bench::survey::SurveyConfig& c) {
  auto colon = text.find(':');
  std::size_t used_rank = 0, used_factor = 0;
  try {
    if (colon == std::string::npos) throw std::invalid_argument("no colon");
    c.inject_rank = std::stoi(text.substr(0, colon), &used_rank);
    c.inject_factor = std::stod(text.substr(colon + 1), &used_factor);
  } catch (const std::exception&) {
    used_rank = 0;
  }
  if (used_rank == 0 || used_rank != colon || used_factor != text.size() - colon - 1 ||
      c.inject_rank < 0 || !(c.inject_factor >= 1) || c.inject_factor > 100)
    throwUsage(fmt::format("invalid --inject-slow \"{}\"", text),
               "use RANK:FACTOR with a rank of 0 .. size-1 and a factor of 1 to 100, e.g. 4:3");
}

bench::survey::SurveyConfig validate(const SurveyFlags& f) {
  validateLaunchFlags(f.launch);
  bench::survey::SurveyConfig c;
  transport::requireTransport(f.transport);
  if (f.transport == "mpi")
    throwUsage("the survey does not run over the mpi transport",
               "use tcp, ofi or ibverbs (MPI can still start the ranks: --bootstrap mpi)");
  c.transport = f.transport;
  c.latency_size = parseSize(f.latency_size);
  c.bandwidth_size = parseSize(f.bandwidth_size);
  if (c.bandwidth_size > (256u << 20))
    throwUsage(fmt::format("--bandwidth-size {} is too large", f.bandwidth_size),
               "use at most 256M");
  if (f.window < 1 || f.window > 4096)
    throwUsage(fmt::format("invalid --window {}", f.window), "use 1 to 4096 messages in flight");
  if (f.latency_iterations < 1 || f.latency_iterations > 1000000)
    throwUsage(fmt::format("invalid --latency-iterations {}", f.latency_iterations),
               "use 1 to 1000000");
  if (f.bandwidth_iterations < 1 || f.bandwidth_iterations > 100000)
    throwUsage(fmt::format("invalid --bandwidth-iterations {}", f.bandwidth_iterations),
               "use 1 to 100000");
  c.latency_iterations = f.latency_iterations;
  c.bandwidth_iterations = f.bandwidth_iterations;
  c.serial = f.serial;
  if (f.ranks_per_node == "all") {
    c.ranks_per_node = 0;
  } else {
    std::size_t used = 0;
    try {
      c.ranks_per_node = std::stoi(f.ranks_per_node, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != f.ranks_per_node.size() || c.ranks_per_node < 1)
      throwUsage(fmt::format("invalid --ranks-per-node \"{}\"", f.ranks_per_node),
                 "use a number of ranks of 1 or more, or all");
  }
  if (f.group_by != "auto" && f.group_by != "host" && f.group_by != "rank")
    throwUsage(fmt::format("invalid --group-by \"{}\"", f.group_by), "use auto, host or rank");
  c.grouping = f.group_by;
  if (!(f.outlier_mad > 0) || f.outlier_mad > 1000)
    throwUsage(fmt::format("invalid --outlier-mad {}", f.outlier_mad),
               "use a number of spreads above 0, e.g. 5");
  if (!(f.outlier_min_pct >= 0) || f.outlier_min_pct > 10000)
    throwUsage(fmt::format("invalid --outlier-min-pct {}", f.outlier_min_pct),
               "use a percentage of 0 or more, e.g. 20");
  if (f.retest_passes < 1 || f.retest_passes > 100)
    throwUsage(fmt::format("invalid --retest-passes {}", f.retest_passes), "use 1 to 100");
  c.retest_passes = f.retest_passes;
  c.judge.mad_k = f.outlier_mad;
  c.judge.min_pct = f.outlier_min_pct;
  if (!f.inject_slow.empty()) parseInjectSlow(f.inject_slow, c);
  if (c.inject_rank >= 0 && f.launch.size >= 0 && c.inject_rank >= f.launch.size)
    throwUsage(fmt::format("--inject-slow rank {} is not in this job of {} ranks", c.inject_rank,
                           f.launch.size),
               "name a rank of 0 .. size-1");

  auto& b = c.bench;
  b.window = f.window;
  b.warmup = f.warmup;
  if (!(f.min_time >= 0) || f.min_time > 3600)
    throwUsage(fmt::format("invalid --min-time {}", f.min_time), "use 0 to 3600 seconds");
  b.min_time = f.min_time;
  b.timeout = f.launch.timeout;
  applyTransportFlags(f.net, f.launch, b.transport);
  b.transport.max_first_frame =
      std::max({b.protocols.front().switchPoint(), b.protocols.front().rdzv_eager_size,
                b.protocols.front().inject_size});
  return c;
}

std::string fmtValue(double v) { return std::isfinite(v) ? fmt::format("{:.4g}", v) : "-"; }

// Ranks that share one host's CPU scheduler while free to move between its CPUs: a pair
// whose ranks wake each other across CPUs can stay several times slower, alone too, and be
// named (docs/DESIGN.md "Survey"). 0 when that cannot be, else the CPUs they may use.
int unpinnedOnOneHost(const std::vector<RankInfo>& ranks) {
  int most = 0;
  for (const auto& r : ranks) {
    if (r.host != ranks.front().host) return 0;
    most = std::max(most, r.cpu_count);
  }
  return most > 1 ? most : 0;
}

// The terminal summary (rank 0).
void printSummary(const bench::survey::SurveyConfig& config, const bench::survey::SurveyResult& r,
                  const std::vector<RankInfo>& ranks) {
  namespace sv = bench::survey;
  const auto& p = r.placement;
  fmt::print("survey: {} ranks measured on {} nodes (grouped by {}), {} pairs in {} {}, {:.1f} s\n",
             p.participants.size(), p.nodes.size(), p.grouping, r.pairs, r.rounds,
             config.serial ? "serial steps" : "rounds", r.survey_seconds);
  auto line = [&](const char* name, std::uint64_t size, const sv::MeasuredMatrix& m,
                  const char* unit) {
    std::vector<double> values;
    for (std::size_t i = 0; i < m.size(); ++i)
      for (std::size_t j = 0; j < m.size(); ++j)
        if (i != j && std::isfinite(m[i][j].median)) values.push_back(m[i][j].median);
    auto s = sv::statsOf(values);
    fmt::print("  {:<9} {:>5}  min {:>8}  median {:>8}  max {:>8} {}\n", name, formatSize(size),
               fmtValue(s.min), fmtValue(s.median), fmtValue(s.max), unit);
  };
  line("latency", config.latency_size, r.latency_us, "us");
  line("bandwidth", config.bandwidth_size, r.bandwidth_mbps, "MB/s");
  int outliers = 0;
  auto outcome = [](const sv::Finding& f) -> std::string {
    if (f.cause == "slow_node")
      return f.outlier ? "confirmed (slow node)" : "slow alone (slow node)";
    if (f.cause == "slow_link") return "confirmed (slow link)";
    if (f.cause == "contention") return "gone alone (contention)";
    return f.slow_alone ? "slow alone, but no outlier in the survey" : "fine alone";
  };
  for (auto [metric, m] : {std::pair{"latency", &r.latency}, {"bandwidth", &r.bandwidth}}) {
    for (const auto& f : m->verdicts.findings) {
      if (outliers++ == 0)
        fmt::print(
            "outliers (x the median; alone: best of {} passes, x the best of a healthy pair "
            "measured alone beside it; {:.1f} s):\n",
            config.retest_passes, r.retest_seconds);
      fmt::print("  {:<9} {} - {}: {:.2f}x{}, alone {}x: {}\n", metric, p.nodes[f.a].name,
                 p.nodes[f.b].name, f.slowness, f.outlier ? "" : " (re-tested for its node)",
                 std::isfinite(f.retest_slowness) ? fmt::format("{:.2f}", f.retest_slowness) : "-",
                 outcome(f));
    }
  }
  if (outliers == 0) fmt::print("outliers: none\n");
  auto verdicts = sv::namedVerdicts(r);
  if (verdicts.empty()) fmt::print("verdict: no slow node or link\n");
  for (const auto& v : verdicts) {
    if (v.kind == "slow_node")
      fmt::print("verdict: slow node {} ({})\n", p.nodes[v.nodes[0]].name, v.metric);
    else
      fmt::print("verdict: slow link {} - {} ({})\n", p.nodes[v.nodes[0]].name,
                 p.nodes[v.nodes[1]].name, v.metric);
  }
  if (const int cpus = unpinnedOnOneHost(ranks); cpus > 0 && !verdicts.empty())
    fmt::print(
        "note: every rank ran on one host, free to move between its {} CPUs: a pair whose ranks "
        "wake each other across CPUs can stay slower alone too. To tell that from a fault, "
        "survey again on one CPU (taskset -c 0 rdzvbench survey ...)\n",
        cpus);
}

int surveyRank(const bench::survey::SurveyConfig& config, const SurveyFlags& flags,
               RankStart& start) {
  auto& bootstrap = start.bootstrap;
  const int rank = bootstrap.rank();
  nlohmann::json report = {{"schema_version", 1},
                           {"kind", "survey"},
                           {"tool_version", build::kVersion},
                           {"git_revision", build::kGitRevision},
                           {"command_line", start.argv},
                           {"start_time", utcTimestamp()},
                           {"launcher", start.launcher},
                           {"bootstrap", start.store_uri.empty() ? "mpi" : "store"},
                           {"store", start.store_uri},
                           {"run_id", start.run_id},
                           {"size", bootstrap.size()}};
  Progress progress(rank == 0 && !flags.quiet, isatty(STDERR_FILENO));
  bench::survey::SurveyEvents events;
  events.progress = [&](int k, int n, const std::string& what) { progress.step(k, n, what); };
  const auto output = flags.output.empty() ? timestampedFileName("rdzvbench-survey") : flags.output;
  std::vector<RankInfo> ranks;
  bench::survey::SurveyResult result;
  // A report of what was measured before a stop or a failure: every finished slot, no verdict.
  auto writePartial = [&](const std::string& why) {
    report["ranks"] = ranks;
    report["host"] = captureHost();
    report["end_time"] = utcTimestamp();
    report["complete"] = false;
    bench::survey::addSurvey(report, config, result);
    const auto all = result.placement.participants.size();
    report["error"] =
        fmt::format("{} after {} of {} pairs{}; no verdicts", why, result.pairs,
                    all * (all - 1) / 2, result.retests.empty() ? "" : " and part of the re-tests");
    writeJsonFile(report, output);
    fmt::print(stderr, "rdzvbench: {}; partial report written to {}\n",
               report["error"].get<std::string>(), output);
  };
  try {
    auto deadline = Deadline::afterSeconds(config.bench.timeout);
    ranks = gatherRanks(bootstrap,
                        describeThisRank(rank, processEnv(), start.launcher, flags.net.sysfs_root),
                        deadline);
    result = bench::survey::runSurvey(config, bootstrap, ranks, events);
    if (result.failure) std::rethrow_exception(result.failure);
  } catch (Error& e) {
    progress.done();
    const int signal = noteRankFailure(e, bootstrap, "slot under way");
    if (rank == 0 && result.pairs > 0) {
      if (signal != 0)
        report["interrupted"] = {{"signal", signal}, {"name", interrupt::signalName(signal)}};
      try {
        writePartial(e.message());
      } catch (const Error& write_error) {
        fmt::print(stderr, "rdzvbench: error: {}\n", write_error.message());
      }
    }
    throw;
  }
  progress.done();
  const int stopped = result.interrupted;
  // From the report to the exit: MPI_Finalize may wait for an mpirun that is going away.
  if (stopped != 0) interrupt::exitAfter(interrupt::kTeardownSeconds, 128 + stopped);
  if (rank != 0) return stopped != 0 ? 128 + stopped : 0;
  if (stopped != 0) {
    auto name = interrupt::signalName(stopped);
    report["interrupted"] = {{"signal", stopped}, {"name", name}};
    writePartial(fmt::format("interrupted by {} (signal {})", name, stopped));
    std::fflush(stdout);
    return 128 + stopped;
  }
  report["ranks"] = ranks;
  report["host"] = captureHost();
  report["end_time"] = utcTimestamp();
  report["complete"] = true;
  bench::survey::addSurvey(report, config, result);
  writeJsonFile(report, output);
  printSummary(config, result, ranks);
  fmt::print("report: {}\n", output);
  bool confirmed = !bench::survey::namedVerdicts(result).empty();
  return flags.fail_on_outliers && confirmed ? 1 : 0;
}

}  // namespace

Action addSurveyCommand(CLI::App& app, const std::vector<std::string>& argv) {
  auto flags = std::make_shared<SurveyFlags>();
  auto* cmd = app.add_subcommand(
      "survey",
      "Measure latency and bandwidth between every pair of ranks and name slow nodes and links");
  cmd->add_option("-t,--transport", flags->transport, "Transport: tcp, ofi, ibverbs")
      ->capture_default_str();
  cmd->add_option("--latency-size", flags->latency_size, "Message size of the latency ping-pong")
      ->capture_default_str();
  cmd->add_option("--bandwidth-size", flags->bandwidth_size,
                  "Message size of the bandwidth windows (each direction)")
      ->capture_default_str();
  cmd->add_option("--window", flags->window, "Bandwidth messages in flight")->capture_default_str();
  cmd->add_option("--latency-iterations", flags->latency_iterations, "Ping-pongs per pair")
      ->capture_default_str();
  cmd->add_option("--bandwidth-iterations", flags->bandwidth_iterations,
                  "Windows per pair and direction")
      ->capture_default_str();
  cmd->add_option("--min-time", flags->min_time,
                  "Seconds each measurement runs at least (raises the iteration counts), so "
                  "the pairs of a round overlap for their whole measurement")
      ->capture_default_str();
  cmd->add_option("-w,--warmup", flags->warmup, "Warm-up iterations (default: 10%, at least 2)");
  cmd->add_flag("--serial", flags->serial,
                "One pair at a time (n(n-1)/2 steps) instead of n/2 pairs at once in each of "
                "n-1 rounds");
  cmd->add_option("--ranks-per-node", flags->ranks_per_node,
                  "Ranks of each node that take part (the lowest ones), or all")
      ->capture_default_str();
  cmd->add_option("--group-by", flags->group_by,
                  "What a node is: host (host name), rank (each rank), or auto (host, but rank "
                  "when every rank is on one host)")
      ->capture_default_str();
  cmd->add_option("--outlier-mad", flags->outlier_mad,
                  "An outlier is worse than the median by more than K spreads (scaled MAD)...")
      ->capture_default_str();
  cmd->add_option("--outlier-min-pct", flags->outlier_min_pct, "...and by more than this %")
      ->capture_default_str();
  cmd->add_option("--retest-passes", flags->retest_passes,
                  "Times each outlier pair is re-measured alone, each time beside a healthy pair "
                  "measured alone; the best pass of each side counts")
      ->capture_default_str();
  cmd->add_flag("--fail-on-outliers", flags->fail_on_outliers,
                "Exit 1 when an outlier is confirmed alone (a slow node or link)");
  // Test hook, hidden from --help: RANK:FACTOR makes that rank ~FACTOR times slower with every
  // partner by pausing after each of its completions (bench/survey/inject.h), so the judging
  // is tested end to end on one machine.
  cmd->add_option("--inject-slow", flags->inject_slow)->group("");
  addLaunchOptions(*cmd, flags->launch);
  addTransportOptions(*cmd, flags->net);
  cmd->add_option("-o,--output", flags->output,
                  "Report file (default: rdzvbench-survey-<timestamp>.json)");
  cmd->add_flag("-q,--quiet", flags->quiet, "No progress on stderr");

  return [flags, argv]() -> int {
    const auto started = Clock::now();
    // Before any rank or store exists, so that a stop signal never finds the default action.
    interrupt::install();
    auto config = validate(*flags);
    transport::probeTransport(config.transport, config.bench.transport);
    auto local_checks = [&] {
      if (config.inject_rank >= flags->launch.np)
        throwUsage(fmt::format("--inject-slow rank {} is not in this job of {} ranks",
                               config.inject_rank, flags->launch.np),
                   "name a rank of 0 .. np-1");
    };
    return launchRanks(flags->launch, argv, started, false, local_checks, [&](RankStart& s) {
      // mpirun kills its ranks soon after forwarding a signal: stop sooner (interrupt.h).
      if (s.launcher == "mpirun") interrupt::setGrace(interrupt::kMpirunGraceSeconds);
      if (!s.store_uri.empty()) config.bench.transport.run_id = s.run_id;
      return surveyRank(config, *flags, s);
    });
  };
}

}  // namespace rdzv::cli
