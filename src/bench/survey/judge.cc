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

std::vector<Suspect> findSuspects(const Matrix& cost, const Baseline& baseline) {
  std::vector<Suspect> out;
  if (!(baseline.median > 0)) return out;
  for (std::size_t a = 0; a < cost.size(); ++a)
    for (std::size_t b = a + 1; b < cost.size(); ++b) {
      double c = cost[a][b];
      if (!std::isfinite(c)) continue;
      double slowness = c / baseline.median;
      if (slowness > baseline.limit)
        out.push_back({static_cast<int>(a), static_cast<int>(b), c, slowness});
    }
  // A node whose median is an outlier has every pair re-tested, also those that stayed under
  // the limit in the survey (a slow node hidden by contention in some rounds).
  auto medians = nodeMedians(cost);
  for (std::size_t a = 0; a < cost.size(); ++a) {
    if (!(medians[a] / baseline.median > baseline.limit)) continue;
    for (std::size_t b = 0; b < cost.size(); ++b) {
      if (a == b || !std::isfinite(cost[a][b])) continue;
      Pair p{static_cast<int>(std::min(a, b)), static_cast<int>(std::max(a, b))};
      bool known = std::any_of(out.begin(), out.end(),
                               [&](const Suspect& s) { return s.a == p.first && s.b == p.second; });
      if (!known) out.push_back({p.first, p.second, cost[a][b], cost[a][b] / baseline.median});
    }
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const Suspect& x, const Suspect& y) { return x.slowness > y.slowness; });
  return out;
}

std::vector<Pair> referencePairs(const Matrix& cost, const std::vector<Suspect>& suspects,
                                 const Baseline& baseline, int count) {
  std::set<int> touched;
  std::set<Pair> suspect_pairs;
  for (const auto& s : suspects) {
    touched.insert(s.a);
    touched.insert(s.b);
    suspect_pairs.insert({s.a, s.b});
  }
  std::vector<std::pair<double, Pair>> clean, other;
  for (std::size_t a = 0; a < cost.size(); ++a)
    for (std::size_t b = a + 1; b < cost.size(); ++b) {
      Pair p{static_cast<int>(a), static_cast<int>(b)};
      if (!std::isfinite(cost[a][b]) || suspect_pairs.count(p)) continue;
      auto entry = std::make_pair(std::abs(cost[a][b] - baseline.median), p);
      (touched.count(p.first) || touched.count(p.second) ? other : clean).push_back(entry);
    }
  auto& pool = clean.empty() ? other : clean;
  std::stable_sort(pool.begin(), pool.end(),
                   [](const auto& x, const auto& y) { return x.first < y.first; });
  std::vector<Pair> out;
  for (const auto& [distance, p] : pool) {
    if (static_cast<int>(out.size()) >= count) break;
    out.push_back(p);
  }
  return out;
}

Verdicts decide(int nodes, const std::vector<Suspect>& suspects,
                const std::vector<double>& retest_cost, double reference_cost,
                const Baseline& baseline, const JudgeParams& params) {
  Verdicts v;
  if (!(reference_cost > 0)) reference_cost = baseline.median;
  std::vector<int> confirmed_pairs(static_cast<std::size_t>(std::max(nodes, 0)), 0);
  for (std::size_t i = 0; i < suspects.size(); ++i) {
    const auto& s = suspects[i];
    Finding f;
    f.a = s.a;
    f.b = s.b;
    f.cost = s.cost;
    f.slowness = s.slowness;
    f.retest_cost = i < retest_cost.size() ? retest_cost[i] : NAN;
    f.retest_slowness = f.retest_cost / reference_cost;
    // A re-test that could not be measured is not evidence of a fault.
    f.confirmed = std::isfinite(f.retest_slowness) && f.retest_slowness > baseline.limit;
    if (f.confirmed) {
      ++confirmed_pairs[static_cast<std::size_t>(s.a)];
      ++confirmed_pairs[static_cast<std::size_t>(s.b)];
    }
    v.findings.push_back(f);
  }
  const int partners = nodes - 1;
  const int need = std::max(1, static_cast<int>(std::ceil(params.node_fraction * partners - 1e-9)));
  std::vector<bool> slow(confirmed_pairs.size(), false);
  // With two nodes there is no telling which end of their one pair is slow.
  if (nodes >= 3)
    for (int n = 0; n < nodes; ++n)
      if (confirmed_pairs[static_cast<std::size_t>(n)] >= need) {
        slow[static_cast<std::size_t>(n)] = true;
        v.slow_nodes.push_back(n);
      }
  for (auto& f : v.findings) {
    if (!f.confirmed) {
      f.cause = "contention";
    } else if (slow[static_cast<std::size_t>(f.a)] || slow[static_cast<std::size_t>(f.b)]) {
      f.cause = "slow_node";
    } else {
      f.cause = "slow_link";
      v.slow_links.push_back({f.a, f.b});
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
      if (!f.confirmed) continue;
      if (slow.count(f.a) || slow.count(f.b)) {
        f.cause = "slow_node";
      } else {
        f.cause = "slow_link";
        v->slow_links.push_back({f.a, f.b});
      }
    }
  }
}

}  // namespace rdzv::bench::survey
