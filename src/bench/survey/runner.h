#pragma once
// Runs a survey on this rank: every pair of surveyed ranks measured (latency, then bandwidth
// each way) in tournament rounds or one pair at a time, the results gathered to rank 0, which
// judges them; every suspect pair is then re-measured alone, pass after pass, alternating with
// a healthy reference pair measured alone right beside it, and rank 0 decides the verdicts
// from the ratios.

#include <array>
#include <cmath>
#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/config.h"
#include "bench/survey/judge.h"
#include "bench/survey/placement.h"
#include "lib/report.h"
#include "store/bootstrap.h"

namespace rdzv::bench::survey {

struct SurveyConfig {
  BenchConfig bench;  // transport options, timeout, window, warm-up
  std::string transport = "tcp";
  std::uint64_t latency_size = 8;
  std::uint64_t bandwidth_size = 1 << 20;
  std::uint64_t latency_iterations = 200;  // ping-pongs per pair
  std::uint64_t bandwidth_iterations = 8;  // windows per pair and direction
  bool serial = false;                     // one pair at a time instead of tournament rounds
  std::string grouping = "auto";           // see placeRanks
  int ranks_per_node = 1;                  // 0: all
  JudgeParams judge;
  int retest_passes = 3;  // suspect-and-reference passes; each suspect's median ratio counts
  int inject_rank = -1;   // test only: this rank is made slow by inject_factor (inject.h)
  double inject_factor = 1;
};

// One pair's (or direction's) median over its iterations and the spread (scaled MAD) of them.
struct Measured {
  double median = NAN;
  double spread = NAN;
};
using MeasuredMatrix = std::vector<std::vector<Measured>>;

// One metric judged over the nodes.
struct MetricResult {
  Matrix cost;  // node x node; bandwidth as µs per MB (1 / MB/s)
  Baseline baseline;
  std::vector<bool> outlier_nodes;  // see outlierNodes
  std::vector<Suspect> suspects;
  Verdicts verdicts;
};

// One pair's values alone, one per re-test pass.
struct Alone {
  std::vector<double> latency_us;
  std::vector<std::array<double, 2>> bandwidth_mbps;  // first rank sending, second rank sending
};

// A suspect node pair (of either metric) re-measured alone `retest_passes` times, each time
// beside its reference pair measured alone (suspect then reference, reference then suspect in
// the next pass, ...).
struct Retest {
  Pair nodes;
  Pair ranks;  // the ranks that measured it (each node's first surveyed rank)
  std::optional<Pair> reference_nodes;
  Pair reference_ranks{-1, -1};
  Alone suspect, reference;
};

struct SurveyResult {
  Placement placement;
  int rounds = 0;  // slots that ran: tournament rounds, or pairs with --serial
  int pairs = 0;   // pairs of surveyed ranks measured
  // The stop signal the ranks agreed on between two slots (bench/stop.h), 0 when the survey
  // ran to its end. An interrupted survey keeps what it measured and names no verdict: with
  // the rounds unfinished nothing is judged, with the re-tests unfinished nothing is decided.
  int interrupted = 0;
  // The error (a lost rank, a deadline) that ended the survey early, or null. The result still
  // holds every slot finished before it (on rank 0) and, like an interrupted one, no verdict.
  std::exception_ptr failure;
  // Participant x participant (Placement::participants order); bandwidth row sends.
  MeasuredMatrix latency_us;
  MeasuredMatrix bandwidth_mbps;
  MetricResult latency;
  MetricResult bandwidth;
  std::vector<Retest> retests;
  double survey_seconds = 0;
  double retest_seconds = 0;
  nlohmann::json details = nlohmann::json::object();  // the transport's, rank 0
};

struct SurveyEvents {
  // On rank 0 before each slot: step k of n (1-based), and what it is.
  std::function<void(int step, int steps, const std::string& what)> progress;
  // On every rank once the full mesh is connected.
  std::function<void()> connected;
};

// Every rank calls it with every rank's RankInfo; the result is complete on rank 0 only (but
// `interrupted`, `rounds` and `pairs` are the same on every rank that did not fail). Throws
// only before the first slot; later errors are the result's `failure`.
SurveyResult runSurvey(const SurveyConfig& config, store::Bootstrap& bootstrap,
                       const std::vector<RankInfo>& ranks, const SurveyEvents& events);

// The judged node x node cost matrices of a survey's rank matrices (rank 0 part, pure):
// the median over the rank pairs between two nodes; bandwidth as 1 / the slower direction.
Matrix latencyCost(const Placement& placement, const MeasuredMatrix& latency_us);
Matrix bandwidthCost(const Placement& placement, const MeasuredMatrix& bandwidth_mbps);

}  // namespace rdzv::bench::survey
