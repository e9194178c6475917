#pragma once
// Runs a whole sweep on this rank: every transport, benchmark and size, gathering each
// size's measurements to rank 0, which builds the report's series and rows as they finish.

#include <functional>
#include <string>
#include <vector>

#include "bench/config.h"
#include "bench/p2p.h"
#include "lib/report.h"
#include "store/bootstrap.h"

namespace rdzv::bench {

struct SweepEvents {
  // Before each size: step k of n (1-based), and what it is.
  std::function<void(int step, int steps, const std::string& what)> progress;
  // On rank 0 after each finished row.
  std::function<void(const Series& series, const Row& row)> row;
  // On rank 0 after each finished series.
  std::function<void(const Series& series)> seriesDone;
  // On every rank when the full mesh of a transport is connected (after its barrier).
  std::function<void(const std::string& transport)> connected;
};

// Combines what every rank measured for one size into a row (rank 0).
Row aggregate(std::uint64_t size, const std::vector<Measurement>& measurements);

// Combines the rows of repeated trials of one size (rank 0): every number is the median over
// the trials, and `trials` keeps each trial's headline numbers. One trial is returned as is.
Row combineTrials(const std::vector<Row>& trials);

// Runs the sweep. Rank 0 appends to `report.series` as rows finish, so when a later step
// throws, what was measured is already in the report (the series under way is marked
// incomplete). After each size (each trial) the ranks agree whether any of them got a stop
// signal (bench/stop.h); if one did, every rank returns that signal's number there, the
// series under way left incomplete. 0 when the sweep ran to its end.
int runSweep(const BenchConfig& config, store::Bootstrap& bootstrap, Report& report,
             const SweepEvents& events);

// A rough upper estimate of the sweep's duration in seconds on `ranks` ranks, for the warning
// when a Slurm job has less time left: every message is taken to cost kEstimateMessageUs plus
// its size at kEstimateBytesPerSecond, over the default (or given) iteration counts, plus
// kEstimateRowSeconds per row; --min-time is a floor per row.
double estimateSweepSeconds(const BenchConfig& config, int ranks);
inline constexpr double kEstimateMessageUs = 10;
inline constexpr double kEstimateBytesPerSecond = 1e9;
inline constexpr double kEstimateRowSeconds = 0.01;

}  // namespace rdzv::bench
