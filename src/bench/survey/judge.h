#pragma once
// Judging a survey: which node pairs are outliers, which of them stay slow when re-measured
// alone, and whether a confirmed one is a slow node (slow with nearly every partner) or a slow
// link (slow while both its nodes are fine). Pure functions over matrices, so the tests feed
// them synthetic surveys.
//
// Every metric is judged as a cost, higher is worse: latency in µs as is, bandwidth as its
// inverse (time per byte), so "20% worse" means the same thing for both.

#include <cmath>
#include <optional>
#include <set>
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
  // The pair itself was beyond the limit in the survey. False for a pair re-tested only
  // because one of its nodes' median was: it may help name that node, never itself.
  bool outlier = true;
};
// Per node: its median over its partners / the baseline median is beyond the limit.
std::vector<bool> outlierNodes(const Matrix& cost, const Baseline& baseline);
// The outlier pairs, and every pair of an outlier node, slowest first.
std::vector<Suspect> findSuspects(const Matrix& cost, const Baseline& baseline);

// How far each pair strays from healthy: |cost / baseline median - 1|, NaN where unmeasured.
Matrix deviation(const Matrix& cost, const Baseline& baseline);

// The healthy pair re-measured alone beside `suspect`, pass after pass, as its yardstick:
// never a pair in `suspects`; preferably sharing no node with `suspect` (its own slow node
// would slow the yardstick too) and then none with any suspect; nearest healthy
// (`deviation`, elementwise the worst of the metrics) first. None when every pair is a suspect.
std::optional<Pair> referenceFor(const Pair& suspect, const std::set<Pair>& suspects,
                                 const Matrix& deviation);

// Suspect i re-measured alone: in each pass, its cost and its reference pair's cost measured
// right beside it (NaN reference: there was none).
struct RetestPasses {
  std::vector<double> suspect, reference;
};

// One suspect after its re-test.
struct Finding {
  int a = 0, b = 0;
  bool outlier = true;  // as Suspect::outlier
  double cost = 0, slowness = 0;
  double retest_cost = NAN;      // the suspect's best (lowest-cost) pass alone
  double reference_cost = NAN;   // its reference's best pass alone
  std::vector<double> ratios;    // per pass: suspect alone / reference alone (for the report)
  double retest_slowness = NAN;  // retest_cost / reference_cost (the baseline median without)
  bool slow_alone = false;       // retest_slowness beyond the survey's limit
  bool confirmed = false;        // an outlier in the survey and still slow alone
  // "slow_node", "slow_link", "contention" (an outlier that is not slow alone) or "none" (a
  // pair re-tested for its node that is not part of a slow node).
  std::string cause;
};

struct Verdicts {
  std::vector<int> slow_nodes;
  std::vector<Pair> slow_links;
  std::vector<Finding> findings;  // one per suspect, in findSuspects' order
};

// Judges each suspect by its best pass over its reference's best pass, both from the same
// interleaved passes (the baseline median stands in for a missing reference), against the
// survey's limit: a ratio of values measured side by side needs no absolute time to be
// comparable between moments, and the best pass of each side drops the noise, which only
// ever adds time (on a 2-core VM a blocking pair alone is 3x slower in about 1 measurement
// in 4, when its ranks wake each other across cores; as that can persist over every pass,
// local ranks are best surveyed on one CPU, see DESIGN "Survey"). A pair counts against its node n
// when it is slow alone and either it was an outlier itself or n was an outlier node; a node
// counted against by at least node_fraction of its partners (and at least one) is slow; a
// confirmed pair with no slow node is a slow link; an outlier not slow alone was contention.
Verdicts decide(int nodes, const std::vector<Suspect>& suspects,
                const std::vector<bool>& outlier_nodes, const std::vector<RetestPasses>& retests,
                const Baseline& baseline, const JudgeParams& params);

// Several metrics judged on one survey: a node that is slow in one of them is not fine in the
// others, so their confirmed pairs with it become its (cause "slow_node"), not slow links, and
// so do their slow-alone pairs re-tested for it.
void attributeToSlowNodes(const std::vector<Verdicts*>& metrics);

}  // namespace rdzv::bench::survey
