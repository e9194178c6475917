#pragma once
// Judging a survey: which node pairs are outliers, which of them stay slow when re-measured
// alone, and whether a confirmed one is a slow node (slow with nearly every partner) or a slow
// link (slow while both its nodes are fine). Pure functions over matrices, so the tests feed
// them synthetic surveys.
//
// Every metric is judged as a cost, higher is worse: latency in µs as is, bandwidth as its
// inverse (time per byte), so "20% worse" means the same thing for both.

#include <string>
#include <vector>

#include "bench/survey/schedule.h"

namespace rdzv::bench::survey {

struct JudgeParams {
  double mad_k = 5;             // --outlier-mad: worse than the median by more than K spreads
  double min_pct = 20;          // --outlier-min-pct: ... and by more than this many percent
  double node_fraction = 0.75;  // share of a node's partners that must be confirmed slow
};

// Median, spread (median absolute deviation x 1.4826, a standard deviation for normal data)
// and range of the finite values; all zero for none.
struct Stats {
  double median = 0, mad = 0, min = 0, max = 0;
  int count = 0;
};
Stats statsOf(std::vector<double> values);

// cost[a][b] == cost[b][a]: the judged cost of node pair (a, b); NaN where not measured.
using Matrix = std::vector<std::vector<double>>;

// Each node's median cost over its partners (NaN for a node with none).
std::vector<double> nodeMedians(const Matrix& cost);

// What a healthy pair costs and how far a pair may stray from it.
struct Baseline {
  // The median of the nodes' medians: a slow node cannot move it, however few nodes there
  // are, as long as most nodes are healthy (the median of all pairs can: with 4 nodes, one
  // slow node makes half of the pairs slow).
  double median = 0;
  // Scaled MAD of the pairs at or below the median: faults only make pairs slower, so slow
  // pairs, however many, do not widen it. All pairs when fewer than 3 are at or below it.
  double spread = 0;
  // A pair is an outlier when its cost / median exceeds this: 1 + max(K spread / median,
  // min_pct / 100).
  double limit = 0;
};
Baseline baselineOf(const Matrix& cost, const JudgeParams& params);

struct Suspect {
  int a = 0, b = 0;     // nodes, a < b
  double cost = 0;      // as measured in the survey
  double slowness = 0;  // cost / baseline median
};
// The outlier pairs, and every pair of a node whose median over its partners is an outlier,
// slowest first.
std::vector<Suspect> findSuspects(const Matrix& cost, const Baseline& baseline);

// Up to `count` healthy pairs to re-measure alone beside the suspects, so the re-tests are
// judged against pairs measured the same way: pairs no suspect's node is part of (any
// non-suspect pair when there are none), nearest the median first.
std::vector<Pair> referencePairs(const Matrix& cost, const std::vector<Suspect>& suspects,
                                 const Baseline& baseline, int count);

// One suspect after its re-test.
struct Finding {
  int a = 0, b = 0;
  double cost = 0, slowness = 0;
  double retest_cost = 0, retest_slowness = 0;  // re-measured alone, / the reference pairs
  bool confirmed = false;                       // still an outlier alone
  std::string cause;                            // "slow_node", "slow_link" or "contention"
};

struct Verdicts {
  std::vector<int> slow_nodes;
  std::vector<Pair> slow_links;
  std::vector<Finding> findings;  // one per suspect, in findSuspects' order
};

// `retest_cost[i]` is suspect i re-measured alone; `reference_cost` the median cost of the
// reference pairs re-measured alone (the baseline median when there were none). A node is
// slow when at least node_fraction of its partners (and at least one) form confirmed outlier
// pairs with it; a confirmed pair with no slow node is a slow link; an outlier that is not
// one any more alone was contention.
Verdicts decide(int nodes, const std::vector<Suspect>& suspects,
                const std::vector<double>& retest_cost, double reference_cost,
                const Baseline& baseline, const JudgeParams& params);

// Several metrics judged on one survey: a node that is slow in one of them is not fine in the
// others, so their confirmed pairs with it become its (cause "slow_node"), not slow links.
void attributeToSlowNodes(const std::vector<Verdicts*>& metrics);

}  // namespace rdzv::bench::survey
