// `rdzvbench run`: parse the sweep, find out who we are (flags, MPI, launcher environment or
// local mode), rendezvous, run, print the tables and write the report.

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <thread>

#include <fmt/format.h>

#include "bench/collectives/collectives.h"
#include "bench/sweep.h"
#include "cli/commands.h"
#include "cli/launch.h"
#include "cli/local_mode.h"
#include "cli/progress.h"
#include "cli/sweep_file.h"
#include "cli/table.h"
#include "cli/transport_flags.h"
#include "lib/error.h"
#include "lib/interrupt.h"
#include "lib/placement.h"
#include "lib/size.h"
#include "lib/sysinfo.h"
#include "lib/time_left.h"
#include "rdzv/build_info.h"
#include "store/bootstrap.h"
#include "store/launcher.h"
#include "store/prefix_store.h"
#include "store/store_uri.h"
#include "transport/registry.h"
#include "transport/tcp/socket.h"
#ifdef RDZV_HAVE_MPI
#include "store/mpi_bootstrap.h"
#endif

namespace rdzv::cli {
namespace {

struct RunFlags {
  LaunchFlags launch;
  TransportFlags net;
  std::string transports = "tcp";
  std::string benchmarks = "latency,bw";
  std::string sizes = "1:4M";
  std::uint64_t iterations = 0;
  std::uint64_t warmup = 0;
  int window = 64;
  double min_time = 0;
  int repeat = 1;
  bool check = false;
  std::string pairs = "off";  // "off": not given; "" (given alone) or "true" (sweep file): auto
  std::string output;
  bool quiet = false;
  std::string config;
  // Collectives.
  std::string algorithms = "all";
  std::string dtype = "float32";
  std::string op = "sum";
  int root = 0;
  int inject_corruption = -1;  // test only (hidden): this rank spoils its first result
  // Protocol engine axes: each a comma list; the run sweeps their product.
  std::string inject_size = "192";
  std::string rdzv_threshold = "16384";
  std::string rdzv_get_min = "2049";
  std::string rdzv_eager_size = "2048";
  std::string rdzv_proto = "default";
  std::string oflow_buf_size = "12M";
  std::string oflow_buf_count = "3";
};

std::vector<std::string> splitList(const std::string& text, const char* what);

std::vector<std::uint64_t> byteCounts(const std::string& text, const char* what) {
  std::vector<std::uint64_t> out;
  for (const auto& item : splitList(text, what)) out.push_back(parseByteCount(item));
  return out;
}

// The product of the protocol axes, each set checked against the provider's rules.
std::vector<transport::engine::ProtocolParams> protocolSets(const RunFlags& f) {
  std::vector<transport::engine::ProtocolParams> sets{{}};
  auto expand = [&](const std::vector<std::uint64_t>& values, auto field) {
    std::vector<transport::engine::ProtocolParams> next;
    for (const auto& base : sets)
      for (auto v : values) {
        auto p = base;
        p.*field = v;
        next.push_back(p);
      }
    sets = std::move(next);
  };
  using P = transport::engine::ProtocolParams;
  expand(byteCounts(f.inject_size, "--inject-size"), &P::inject_size);
  expand(byteCounts(f.rdzv_threshold, "--rdzv-threshold"), &P::rdzv_threshold);
  expand(byteCounts(f.rdzv_get_min, "--rdzv-get-min"), &P::rdzv_get_min);
  expand(byteCounts(f.rdzv_eager_size, "--rdzv-eager-size"), &P::rdzv_eager_size);
  expand(byteCounts(f.oflow_buf_size, "--oflow-buf-size"), &P::oflow_buf_size);
  expand(byteCounts(f.oflow_buf_count, "--oflow-buf-count"), &P::oflow_buf_count);
  std::vector<transport::engine::ProtocolParams> out;
  for (const auto& proto : splitList(f.rdzv_proto, "--rdzv-proto"))
    for (auto p : sets) {
      p.rdzv_proto = transport::engine::parseProto(proto);
      transport::engine::validate(p);
      out.push_back(p);
    }
  if (out.size() > 1000)
    throwUsage(fmt::format("the protocol axes expand to {} combinations", out.size()),
               "sweep fewer values at once (at most 1000 combinations)");
  return out;
}

std::vector<std::string> splitList(const std::string& text, const char* what) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    auto end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    auto item = text.substr(start, end - start);
    if (item.empty())
      throwUsage(fmt::format("empty item in {} \"{}\"", what, text),
                 "separate names with single commas, e.g. latency,bw");
    if (std::find(out.begin(), out.end(), item) == out.end()) out.push_back(item);
    start = end + 1;
  }
  return out;
}

// Everything that can be checked before a single process is started or socket opened.
bench::BenchConfig validate(const RunFlags& f) {
  bench::BenchConfig c;
  c.transports = splitList(f.transports, "--transport");
  for (const auto& t : c.transports) transport::requireTransport(t);
  c.benchmarks = splitList(f.benchmarks, "--benchmark");
  for (const auto& b : c.benchmarks) bench::requireBenchmark(b);
  c.algorithms = splitList(f.algorithms, "--algorithm");
  bool builtin_transport = false;  // collectives run built-in algorithms on it
  for (const auto& t : c.transports)
    builtin_transport |= !transport::transportInfo(t).native_collectives;
  bench::requireAlgorithms(c.benchmarks, c.algorithms, builtin_transport);
  c.dtype = transport::parseDataType(f.dtype);
  c.op = transport::parseReduceOp(f.op);
  if (f.root < 0 || (f.launch.size >= 0 && f.root >= f.launch.size))
    throwUsage(fmt::format("invalid --root {}", f.root), "use a rank of 0 .. size-1");
  c.root = f.root;
  c.inject_corruption = f.inject_corruption;
  c.sizes = parseSizeList(f.sizes);
  c.iterations = f.iterations;
  c.warmup = f.warmup;
  if (f.window < 1 || f.window > 4096)
    throwUsage(fmt::format("invalid --window {}", f.window), "use 1 to 4096 messages in flight");
  c.window = f.window;
  if (f.min_time < 0 || f.min_time > 3600)
    throwUsage(fmt::format("invalid --min-time {}", f.min_time), "use 0 to 3600 seconds");
  c.min_time = f.min_time;
  if (f.repeat < 1 || f.repeat > 1000)
    throwUsage(fmt::format("invalid --repeat {}", f.repeat), "use 1 to 1000 trials of each size");
  c.repeat = f.repeat;
  c.timeout = f.launch.timeout;
  c.check = f.check;
  if (f.pairs == "off")
    c.pairs = bench::PairMode::First;
  else if (f.pairs.empty() || f.pairs == "true")
    c.pairs = bench::PairMode::Auto;
  else if (f.pairs == "intra")
    c.pairs = bench::PairMode::Intra;
  else if (f.pairs == "inter")
    c.pairs = bench::PairMode::Inter;
  else
    throwUsage(fmt::format("invalid --pairs \"{}\"", f.pairs),
               "use --pairs alone (across nodes when there are several), --pairs intra or "
               "--pairs inter");
  c.protocols = protocolSets(f);
  for (const auto& p : c.protocols)
    c.transport.max_first_frame =
        std::max({c.transport.max_first_frame, p.switchPoint(), p.rdzv_eager_size, p.inject_size});
  applyTransportFlags(f.net, f.launch, c.transport);
  validateLaunchFlags(f.launch);
  return c;
}

// Warns when the sweep would likely outlast the Slurm job: Slurm would then end it (SIGTERM at
// the time limit) and the report would hold only the sizes finished by then. Quiet when squeue
// is missing, fails or has no figure.
void warnIfJobEndsFirst(const bench::BenchConfig& config, int ranks, const std::string& job_id) {
  auto left = slurmTimeLeft(job_id, 3.0);
  if (!left) return;
  double estimate = bench::estimateSweepSeconds(config, ranks);
  if (estimate <= *left) return;
  fmt::print(stderr,
             "rdzvbench: warning: this sweep may take about {} (a rough estimate from the "
             "iteration counts, at {:.0f} us plus 1 ns per byte per message) but job {} has {} "
             "left (squeue); the sizes not finished by then will be missing from the report "
             "(fewer --sizes, --iterations or --min-time, or a longer --time)\n",
             formatDuration(estimate), bench::kEstimateMessageUs, job_id, formatDuration(*left));
}

// One rank's run, once rank, size and the bootstrap are known. `started` is when this process
// began; `phases` the start-up phases already passed (see Report::phase_seconds).
int runRank(const bench::BenchConfig& config, const RunFlags& flags, store::Bootstrap& bootstrap,
            const std::string& launcher, const std::string& store_uri, const std::string& run_id,
            const std::vector<std::string>& argv, Clock::time_point started,
            std::map<std::string, double> phases = {}) {
  const int rank = bootstrap.rank();
  Report report;
  report.tool_version = build::kVersion;
  report.git_revision = build::kGitRevision;
  report.command_line = argv;
  report.start_time = utcTimestamp();
  report.launcher = launcher;
  report.bootstrap = store_uri.empty() ? "mpi" : "store";
  report.store = store_uri;
  report.run_id = run_id;
  report.size = bootstrap.size();
  // Only a store bootstrap has start-up phases worth timing; MPI_Init hides them.
  const bool timed = !store_uri.empty();
  if (timed) report.phase_seconds = std::move(phases);
  auto output = flags.output.empty() ? timestampedFileName("rdzvbench") : flags.output;
  Progress progress(rank == 0 && !flags.quiet, isatty(STDERR_FILENO));
  bench::SweepEvents events;
  events.progress = [&](int k, int n, const std::string& what) { progress.step(k, n, what); };
  // Rows survive a SIGKILL too (`scancel JOB.STEP`, a time limit's KillWait, the OOM killer):
  // rank 0 rewrites the report after every row, marked unfinished until the end replaces it.
  auto checkpoint = [&](bool series_done) {
    Report snapshot = report;
    snapshot.complete = false;
    snapshot.error =
        "unfinished: rdzvbench rewrites this report after every row and was killed (or is "
        "still running) before the end";
    if (!series_done) snapshot.series.back().complete = false;
    snapshot.end_time = utcTimestamp();
    writeReport(snapshot, output, /*durable=*/false);
  };
  events.row = [&](const Series& series, const Row& row) {
    checkpoint(false);  // first, so that a printed row is always on disk
    progress.done();
    if (series.rows.size() == 1) printSeriesHeader(stdout, series);
    printRow(stdout, row);
  };
  events.seriesDone = [&](const Series& series) {
    printSeriesFooter(stdout, series);
    checkpoint(true);
  };
  events.connected = [&](const std::string& transport) {
    if (rank == 0 && timed) report.phase_seconds["mesh/" + transport] = secondsSince(started);
  };
  int stopped = 0;  // the stop signal the ranks agreed on, 0 when the sweep ran to its end
  try {
    auto deadline = Deadline::afterSeconds(config.timeout);
    auto env = store::processEnv();
    report.ranks = gatherRanks(
        bootstrap, describeThisRank(rank, env, launcher, flags.net.sysfs_root), deadline);
    // Pairs are chosen by node: every rank knows every rank's host now.
    auto run_config = config;
    for (const auto& r : report.ranks) run_config.nodes.push_back(r.host);
    if (std::any_of(config.benchmarks.begin(), config.benchmarks.end(),
                    [](const auto& b) { return !bench::isCollective(b); }))
      bench::choosePairs(run_config.pairs, run_config.nodes);  // refuses an impossible --pairs
    if (rank == 0 && timed) report.phase_seconds["ranks"] = secondsSince(started);
    if (rank == 0) {
      report.host = captureHost();
      report.environment = captureEnvironment();
      report.slurm = captureSlurmRun(env);
      // RDZV_STORE may hold a redis password.
      if (auto it = report.environment.find("RDZV_STORE"); it != report.environment.end()) {
        try {
          it->second = store::parseStoreUri(it->second).text;
        } catch (const Error&) {
          it->second = "(not shown: not a store URI)";
        }
      }
      if (report.slurm) warnIfJobEndsFirst(run_config, report.size, report.slurm->job_id);
    }
    // A stop the ranks agreed on is recorded as each rank's own (bench::agreeOnStop).
    stopped = bench::runSweep(run_config, bootstrap, report, events);
    progress.done();
  } catch (Error& e) {
    progress.done();
    const int signal = noteRankFailure(e, bootstrap, "size under way");
    if (rank == 0) {
      report.complete = false;
      report.error = e.message();
      if (signal != 0) report.interrupted = Interruption{signal, interrupt::signalName(signal)};
      if (!report.series.empty() && !report.series.back().complete)
        report.series.back().complete = false;
      report.end_time = utcTimestamp();
      try {
        writeReport(report, output);
        fmt::print(stderr, "rdzvbench: partial report (incomplete) written to {}\n", output);
      } catch (const Error& write_error) {
        fmt::print(stderr, "rdzvbench: error: {}\n", write_error.message());
      }
    }
    throw;
  }
  if (stopped != 0) {
    auto name = interrupt::signalName(stopped);
    // From writing the report to exiting: MPI_Finalize may wait for an mpirun that got the
    // signal too and is killing the job.
    interrupt::exitAfter(interrupt::kTeardownSeconds, 128 + stopped);
    if (rank == 0) {
      std::size_t rows = 0;
      for (const auto& s : report.series) rows += s.rows.size();
      report.complete = false;
      report.error = fmt::format("interrupted by {} (signal {}) after {} finished row{}", name,
                                 stopped, rows, rows == 1 ? "" : "s");
      report.interrupted = Interruption{stopped, name};
      report.end_time = utcTimestamp();
      writeReport(report, output);
      fmt::print(stderr, "rdzvbench: {}; partial report written to {}\n", report.error, output);
    }
    std::fflush(stdout);
    return 128 + stopped;
  }
  if (rank == 0) {
    report.end_time = utcTimestamp();
    writeReport(report, output);
    fmt::print("\nreport: {}\n", output);
  }
  return 0;
}

}  // namespace

Action addRunCommand(CLI::App& app, const std::vector<std::string>& argv) {
  auto flags = std::make_shared<RunFlags>();
  auto* run = app.add_subcommand("run", "Run a sweep of benchmarks over transports and sizes");
  run->add_option("-t,--transport", flags->transports,
                  "Transports, comma-separated: tcp, ofi, ibverbs, mpi (see `rdzvbench info`)")
      ->capture_default_str();
  run->add_option("-b,--benchmark", flags->benchmarks,
                  "Benchmarks: latency, bw, bibw; allreduce, broadcast, allgather, "
                  "reduce_scatter, alltoall, barrier")
      ->capture_default_str();
  run->add_option("-a,--algorithm", flags->algorithms,
                  "Collective algorithms, or all: allreduce ring, ring_chunked, "
                  "halving_doubling, bcube; broadcast binomial, ring_chunked; allgather and "
                  "reduce_scatter ring, bcube; alltoall pairwise; barrier dissemination. The mpi "
                  "transport runs the MPI library's own call (native)")
      ->capture_default_str();
  run->add_option("--dtype", flags->dtype,
                  "Collectives' element type: float32, float64, int32, int64")
      ->capture_default_str();
  run->add_option("--op", flags->op, "Reduction operator: sum, min, max")->capture_default_str();
  run->add_option("--root", flags->root, "Root rank of broadcast")->capture_default_str();
  // Test hook, hidden from --help: with --check, this rank spoils one element of its first
  // collective result, which --check must then report (exit 1).
  run->add_option("--inject-corruption", flags->inject_corruption)->group("");
  run->add_option("-s,--sizes", flags->sizes,
                  "Message sizes: 8,64,1K lists, 1:4M (powers of two), 1:4M:x4, 1K:8K:+1K")
      ->capture_default_str();
  run->add_option("-i,--iterations", flags->iterations,
                  "Timed iterations per size (default: 1000 latency, 100 bw windows; fewer for "
                  "large sizes)");
  run->add_option("-w,--warmup", flags->warmup, "Warm-up iterations per size (default: 10%)");
  run->add_option("--window", flags->window, "Messages in flight for bw and bibw")
      ->capture_default_str();
  run->add_option("--min-time", flags->min_time,
                  "Seconds each size should run at least (raises the iteration count)");
  run->add_option("--repeat", flags->repeat,
                  "Trials of each size, one after another; rows keep each trial and report "
                  "their medians (for rdzvbench compare's noise estimate)")
      ->capture_default_str();
  run->add_flag("--check", flags->check, "Fill every message with a pattern and verify it");
  run->add_option("--pairs", flags->pairs,
                  "Every rank measures with a partner, all pairs at once: alone, rank i with "
                  "i+n/2 on one node and pairs across nodes when the ranks span several; intra: "
                  "pairs within each node; inter: pairs across nodes")
      ->expected(0, 1)
      ->type_name("[intra|inter]");
  addLaunchOptions(*run, flags->launch);
  addTransportOptions(*run, flags->net);
  run->add_option("-o,--output", flags->output,
                  "Report file (default: rdzvbench-<timestamp>.json)");
  run->add_flag("-q,--quiet", flags->quiet, "No progress on stderr");
  run->add_option("--config", flags->config,
                  "Sweep file (JSON with comments; keys are these flags' long names, e.g. "
                  "configs/thresholds.json); flags given here win");
  auto* engine =
      "Protocol engine (tcp, ibverbs; comma lists are swept, defaults of CXI libfabric >= 2.4)";
  run->add_option("--inject-size", flags->inject_size,
                  "Messages up to this size travel inline with the header")
      ->capture_default_str()
      ->group(engine);
  run->add_option("--rdzv-threshold", flags->rdzv_threshold,
                  "T: with G, messages up to T+G bytes go eager (FI_CXI_RDZV_THRESHOLD)")
      ->capture_default_str()
      ->group(engine);
  run->add_option("--rdzv-get-min", flags->rdzv_get_min,
                  "G: smallest remainder worth a Get (FI_CXI_RDZV_GET_MIN)")
      ->capture_default_str()
      ->group(engine);
  run->add_option("--rdzv-eager-size", flags->rdzv_eager_size,
                  "E: payload bytes carried by a rendezvous' first frame (FI_CXI_RDZV_EAGER_SIZE)")
      ->capture_default_str()
      ->group(engine);
  run->add_option("--rdzv-proto", flags->rdzv_proto,
                  "default (Get at match, sender done when pulled) or alt_read (Get when "
                  "processed, then a \"done\" message) (FI_CXI_RDZV_PROTO)")
      ->capture_default_str()
      ->group(engine);
  run->add_option("--oflow-buf-size", flags->oflow_buf_size,
                  "Size of each overflow buffer for unexpected data (FI_CXI_OFLOW_BUF_SIZE)")
      ->capture_default_str()
      ->group(engine);
  run->add_option("--oflow-buf-count", flags->oflow_buf_count,
                  "Overflow buffers kept posted (FI_CXI_OFLOW_BUF_COUNT)")
      ->capture_default_str()
      ->group(engine);

  return [flags, argv, run]() -> int {
    const auto started = Clock::now();
    // Before any rank or store exists, so that a stop signal never finds the default action.
    interrupt::install();
    if (!flags->config.empty()) applySweepFile(*run, flags->config);
    auto config = validate(*flags);
    bool want_mpi = std::find(config.transports.begin(), config.transports.end(), "mpi") !=
                    config.transports.end();
    for (const auto& t : config.transports) transport::probeTransport(t, config.transport);
    auto local_checks = [&] {
      if (config.pairs == bench::PairMode::Inter)
        throwUsage(
            "--pairs inter needs ranks on 2 or more nodes; local mode starts every rank "
            "on this host",
            "use --pairs or --pairs intra here, or start the ranks on several nodes with "
            "srun or mpirun");
      if (flags->root >= flags->launch.np)
        throwUsage(fmt::format("invalid --root {} for --np {}", flags->root, flags->launch.np),
                   "use a rank of 0 .. np-1");
    };
    return launchRanks(flags->launch, argv, started, want_mpi, local_checks, [&](RankStart& s) {
      // mpirun kills its ranks about 2 s after forwarding a signal: stop sooner
      // (interrupt.h).
      if (s.launcher == "mpirun") interrupt::setGrace(interrupt::kMpirunGraceSeconds);
      if (!s.store_uri.empty()) config.transport.run_id = s.run_id;
      return runRank(config, *flags, s.bootstrap, s.launcher, s.store_uri, s.run_id, s.argv,
                     s.started, std::move(s.phases));
    });
  };
}

}  // namespace rdzv::cli
