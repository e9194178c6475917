#include "bench/survey/judge.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "lib/stats.h"

namespace rdzv::bench::survey {
namespace {

constexpr double kMadScale = 1.4826;

std::vector<double> pairCosts(const Matrix& cost) {
  std::vector<double> out;
  for (std::size_t a = 0; a < cost.size(); ++a)
    for (std::size_t b = a + 1; b < cost.size(); ++b)
      if (std::isfinite(cost[a][b])) out.push_back(cost[a][b]);
  return out;
}

double madAround(const std::vector<double>& values, double center) {
  std::vector<double> dev;
  for (double v : values) dev.push_back(std::abs(v - center));
  return kMadScale * median(std::move(dev));
}

}  // namespace

Stats statsOf(std::vector<double> values) {
  values.erase(
      std::remove_if(values.begin(), values.end(), [](double v) { return !std::isfinite(v); }),
      values.end());
  Stats s;
  if (values.empty()) return s;
  s.count = static_cast<int>(values.size());
  s.min = *std::min_element(values.begin(), values.end());
  s.max = *std::max_element(values.begin(), values.end());
  s.median = median(values);
  s.mad = madAround(values, s.median);
  return s;
}

std::vector<double> nodeMedians(const Matrix& cost) {
  std::vector<double> out;
  for (std::size_t a = 0; a < cost.size(); ++a) {
    std::vector<double> mine;
    for (std::size_t b = 0; b < cost.size(); ++b)
      if (a != b && std::isfinite(cost[a][b])) mine.push_back(cost[a][b]);
    out.push_back(mine.empty() ? NAN : median(std::move(mine)));
  }
  return out;
}

Baseline baselineOf(const Matrix& cost, const JudgeParams& params) {
  Baseline b;
  b.median = statsOf(nodeMedians(cost)).median;
  auto all = pairCosts(cost);
  std::vector<double> fast;
  for (double v : all)
    if (v <= b.median) fast.push_back(v);
  b.spread = madAround(fast.size() >= 3 ? fast : all, b.median);
  double relative = b.median > 0 ? b.spread / b.median : 0;
  b.limit = 1 + std::max(params.mad_k * relative, params.min_pct / 100);
  return b;
}

std::vector<bool> outlierNodes(const Matrix& cost, const Baseline& baseline) {
  std::vector<bool> out;
  for (double m : nodeMedians(cost))
    out.push_back(baseline.median > 0 && m / baseline.median > baseline.limit);
  return out;
}

std::vector<Suspect> findSuspects(const Matrix& cost, const Baseline& baseline) {
  std::vector<Suspect> out;
  if (!(baseline.median > 0)) return out;
  for (std::size_t a = 0; a < cost.size(); ++a)
    for (std::size_t b = a + 1; b < cost.size(); ++b) {
      double c = cost[a][b];
      if (!std::isfinite(c)) continue;
      double slowness = c / baseline.median;
      if (slowness > baseline.limit)
        out.push_back({static_cast<int>(a), static_cast<int>(b), c, slowness, true});
    }
  // An outlier node has every pair re-tested, also those that stayed under the limit in the
  // survey: alone they may still show the node slow with nearly every partner.
  auto slow_median = outlierNodes(cost, baseline);
  for (std::size_t a = 0; a < cost.size(); ++a) {
    if (!slow_median[a]) continue;
    for (std::size_t b = 0; b < cost.size(); ++b) {
      if (a == b || !std::isfinite(cost[a][b])) continue;
      Pair p{static_cast<int>(std::min(a, b)), static_cast<int>(std::max(a, b))};
      bool known = std::any_of(out.begin(), out.end(),
                               [&](const Suspect& s) { return s.a == p.first && s.b == p.second; });
      if (!known)
        out.push_back({p.first, p.second, cost[a][b], cost[a][b] / baseline.median, false});
    }
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const Suspect& x, const Suspect& y) { return x.slowness > y.slowness; });
  return out;
}

Matrix deviation(const Matrix& cost, const Baseline& baseline) {
  Matrix out(cost.size(), std::vector<double>(cost.size(), NAN));
  if (!(baseline.median > 0)) return out;
  for (std::size_t a = 0; a < cost.size(); ++a)
    for (std::size_t b = 0; b < cost.size(); ++b)
      if (std::isfinite(cost[a][b])) out[a][b] = std::abs(cost[a][b] / baseline.median - 1);
  return out;
}

std::optional<Pair> referenceFor(const Pair& suspect, const std::set<Pair>& suspects,
                                 const Matrix& deviation) {
  std::set<int> touched;
  for (const auto& [a, b] : suspects) {
    touched.insert(a);
    touched.insert(b);
  }
  // Lowest (tier, deviation) wins; tier 0: no suspect's node, 1: none of this suspect's.
  std::optional<Pair> best;
  std::pair<int, double> best_key{3, 0};
  for (std::size_t a = 0; a < deviation.size(); ++a)
    for (std::size_t b = a + 1; b < deviation.size(); ++b) {
      Pair p{static_cast<int>(a), static_cast<int>(b)};
      double d = deviation[a][b];
      if (!std::isfinite(d) || suspects.count(p)) continue;
      bool shares = p.first == suspect.first || p.first == suspect.second ||
                    p.second == suspect.first || p.second == suspect.second;
      int tier = shares ? 2 : touched.count(p.first) || touched.count(p.second) ? 1 : 0;
      std::pair<int, double> key{tier, d};
      if (!best || key < best_key) {
        best = p;
        best_key = key;
      }
    }
  return best;
}

Verdicts decide(int nodes, const std::vector<Suspect>& suspects,
                const std::vector<bool>& outlier_nodes, const std::vector<RetestPasses>& retests,
                const Baseline& baseline, const JudgeParams& params) {
  Verdicts v;
  auto outlierNode = [&](int n) {
    return static_cast<std::size_t>(n) < outlier_nodes.size() &&
           outlier_nodes[static_cast<std::size_t>(n)];
  };
  std::vector<int> against(static_cast<std::size_t>(std::max(nodes, 0)), 0);
  for (std::size_t i = 0; i < suspects.size(); ++i) {
    const auto& s = suspects[i];
    Finding f;
    f.a = s.a;
    f.b = s.b;
    f.outlier = s.outlier;
    f.cost = s.cost;
    f.slowness = s.slowness;
    std::vector<double> alone, yardstick;
    if (i < retests.size()) {
      const auto& r = retests[i];
      for (std::size_t p = 0; p < r.suspect.size(); ++p) {
        double ref = p < r.reference.size() ? r.reference[p] : NAN;
        if (!std::isfinite(r.suspect[p])) continue;
        alone.push_back(r.suspect[p]);
        if (std::isfinite(ref)) yardstick.push_back(ref);
        double by = std::isfinite(ref) ? ref : baseline.median;
        if (by > 0) f.ratios.push_back(r.suspect[p] / by);
      }
    }
    // Noise here only adds time (contention, a wake-up on another core): each side's best
    // pass is its cost, and interleaving puts both best passes in the same stretch of time.
    if (!alone.empty()) f.retest_cost = *std::min_element(alone.begin(), alone.end());
    if (!yardstick.empty())
      f.reference_cost = *std::min_element(yardstick.begin(), yardstick.end());
    // Without a reference pair the survey's healthy median is the only yardstick left.
    double by = std::isfinite(f.reference_cost) ? f.reference_cost : baseline.median;
    // A re-test that could not be measured is not evidence of a fault.
    if (std::isfinite(f.retest_cost) && by > 0) f.retest_slowness = f.retest_cost / by;
    f.slow_alone = std::isfinite(f.retest_slowness) && f.retest_slowness > baseline.limit;
    f.confirmed = f.outlier && f.slow_alone;
    if (f.slow_alone) {
      if (f.outlier || outlierNode(f.a)) ++against[static_cast<std::size_t>(f.a)];
      if (f.outlier || outlierNode(f.b)) ++against[static_cast<std::size_t>(f.b)];
    }
    v.findings.push_back(f);
  }
  const int partners = nodes - 1;
  const int need = std::max(1, static_cast<int>(std::ceil(params.node_fraction * partners - 1e-9)));
  std::vector<bool> slow(against.size(), false);
  // With two nodes there is no telling which end of their one pair is slow.
  if (nodes >= 3)
    for (int n = 0; n < nodes; ++n)
      if (against[static_cast<std::size_t>(n)] >= need) {
        slow[static_cast<std::size_t>(n)] = true;
        v.slow_nodes.push_back(n);
      }
  for (auto& f : v.findings) {
    if (f.slow_alone &&
        (slow[static_cast<std::size_t>(f.a)] || slow[static_cast<std::size_t>(f.b)])) {
      f.cause = "slow_node";
    } else if (f.confirmed) {
      f.cause = "slow_link";
      v.slow_links.push_back({f.a, f.b});
    } else {
      f.cause = f.outlier ? "contention" : "none";
    }
  }
  return v;
}

void attributeToSlowNodes(const std::vector<Verdicts*>& metrics) {
  std::set<int> slow;
  for (const auto* v : metrics) slow.insert(v->slow_nodes.begin(), v->slow_nodes.end());
  for (auto* v : metrics) {
    v->slow_links.clear();
    for (auto& f : v->findings) {
      if (!f.slow_alone) continue;
      if (slow.count(f.a) || slow.count(f.b)) {
        f.cause = "slow_node";
      } else if (f.confirmed) {
        f.cause = "slow_link";
        v->slow_links.push_back({f.a, f.b});
      } else {
        f.cause = "none";
      }
    }
  }
}

}  // namespace rdzv::bench::survey
