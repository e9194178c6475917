#include "bench/survey/report.h"

#include <cmath>

namespace rdzv::bench::survey {
namespace {

using nlohmann::json;

// NaN becomes null.
json number(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

json statsJson(const Stats& s) {
  return {{"median", number(s.median)},
          {"spread", number(s.mad)},
          {"min", number(s.min)},
          {"max", number(s.max)},
          {"count", s.count}};
}

json matrixJson(const MeasuredMatrix& m) {
  json median = json::array(), spread = json::array();
  for (const auto& row : m) {
    json a = json::array(), b = json::array();
    for (const auto& cell : row) {
      a.push_back(number(cell.median));
      b.push_back(number(cell.spread));
    }
    median.push_back(a);
    spread.push_back(b);
  }
  return {{"median", median}, {"spread", spread}};
}

// A metric's values in its own unit: bandwidth costs are 1 / MB/s.
double shown(bool bandwidth, double cost) { return bandwidth ? 1 / cost : cost; }

json judgementJson(const MetricResult& m, bool bandwidth, const Placement& p,
                   const std::vector<Retest>& retests) {
  json findings = json::array();
  for (const auto& f : m.verdicts.findings) {
    json reference = nullptr;
    for (const auto& r : retests)
      if (r.nodes == Pair{f.a, f.b} && r.reference_nodes)
        reference = {r.reference_nodes->first, r.reference_nodes->second};
    json ratios = json::array();
    for (double v : f.ratios) ratios.push_back(number(v));
    findings.push_back({{"nodes", {f.a, f.b}},
                        {"node_names", {p.nodes[f.a].name, p.nodes[f.b].name}},
                        {"outlier", f.outlier},
                        {"value", number(shown(bandwidth, f.cost))},
                        {"slowness", number(f.slowness)},
                        {"reference", reference},
                        {"retest_value", number(shown(bandwidth, f.retest_cost))},
                        {"reference_value", number(shown(bandwidth, f.reference_cost))},
                        {"retest_ratios", ratios},
                        {"retest_slowness", number(f.retest_slowness)},
                        {"slow_alone", f.slow_alone},
                        {"confirmed", f.confirmed},
                        {"cause", f.cause}});
  }
  json outlier_nodes = json::array();
  for (std::size_t n = 0; n < m.outlier_nodes.size(); ++n)
    if (m.outlier_nodes[n]) outlier_nodes.push_back(n);
  json links = json::array();
  for (const auto& [a, b] : m.verdicts.slow_links) links.push_back({a, b});
  return {{"unit", bandwidth ? "MB/s" : "us"},
          {"baseline", number(shown(bandwidth, m.baseline.median))},
          {"spread_pct", number(100 * m.baseline.spread / m.baseline.median)},
          {"limit", number(m.baseline.limit)},
          {"outlier_nodes", outlier_nodes},
          {"findings", findings},
          {"slow_nodes", m.verdicts.slow_nodes},
          {"slow_links", links}};
}

// Each row's values (the judged ones: bandwidth as the slower direction) over its partners.
Stats rowStats(const Matrix& cost, std::size_t row, bool bandwidth) {
  std::vector<double> values;
  for (std::size_t j = 0; j < cost.size(); ++j)
    if (j != row && std::isfinite(cost[row][j])) values.push_back(shown(bandwidth, cost[row][j]));
  return statsOf(values);
}

}  // namespace

std::vector<Named> namedVerdicts(const SurveyResult& result) {
  std::vector<Named> out;
  for (auto [metric, m] : {std::pair{"latency", &result.latency}, {"bandwidth", &result.bandwidth}})
    for (int n : m->verdicts.slow_nodes) out.push_back({"slow_node", metric, {n}});
  for (auto [metric, m] : {std::pair{"latency", &result.latency}, {"bandwidth", &result.bandwidth}})
    for (const auto& [a, b] : m->verdicts.slow_links) out.push_back({"slow_link", metric, {a, b}});
  return out;
}

void addSurvey(json& report, const SurveyConfig& config, const SurveyResult& result) {
  const auto& p = result.placement;
  json params = {{"transport", config.transport},
                 {"latency_size", config.latency_size},
                 {"bandwidth_size", config.bandwidth_size},
                 {"window", config.bench.window},
                 {"latency_iterations", config.latency_iterations},
                 {"bandwidth_iterations", config.bandwidth_iterations},
                 {"min_time", config.bench.min_time},
                 {"serial", config.serial},
                 {"grouping", p.grouping},
                 {"ranks_per_node", config.ranks_per_node},
                 {"outlier_mad", config.judge.mad_k},
                 {"outlier_min_pct", config.judge.min_pct},
                 {"node_fraction", config.judge.node_fraction},
                 {"retest_passes", config.retest_passes}};
  if (config.inject_rank >= 0)
    params["inject_slow"] = {{"rank", config.inject_rank}, {"factor", config.inject_factor}};
  report["params"] = params;
  json nodes = json::array();
  for (const auto& n : p.nodes)
    nodes.push_back({{"name", n.name}, {"ranks", n.ranks}, {"surveyed", n.surveyed}});
  report["nodes"] = nodes;
  report["matrix_ranks"] = p.participants;
  report["rounds"] = result.rounds;
  report["pairs"] = result.pairs;
  report["seconds"] = {{"survey", result.survey_seconds}, {"retest", result.retest_seconds}};
  report["latency_us"] = matrixJson(result.latency_us);
  report["bandwidth_mbps"] = matrixJson(result.bandwidth_mbps);

  // Per rank: its pairs' values over its partners (rank matrices, judged shape).
  MeasuredMatrix slower(result.bandwidth_mbps.size(),
                        std::vector<Measured>(result.bandwidth_mbps.size()));
  Matrix lat(p.participants.size(), std::vector<double>(p.participants.size(), NAN));
  Matrix bw = lat;
  for (std::size_t i = 0; i < lat.size(); ++i)
    for (std::size_t j = 0; j < lat.size(); ++j) {
      if (i == j) continue;
      lat[i][j] = result.latency_us[i][j].median;
      double low = std::min(result.bandwidth_mbps[i][j].median, result.bandwidth_mbps[j][i].median);
      bw[i][j] = std::isfinite(low) && low > 0 ? 1 / low : NAN;
    }
  json ranks = json::array();
  for (std::size_t i = 0; i < p.participants.size(); ++i)
    ranks.push_back({{"rank", p.participants[i]},
                     {"node", p.node_of[i]},
                     {"latency_us", statsJson(rowStats(lat, i, false))},
                     {"bandwidth_mbps", statsJson(rowStats(bw, i, true))}});
  report["rank_stats"] = ranks;
  json node_stats = json::array();
  for (std::size_t n = 0; n < p.nodes.size(); ++n)
    node_stats.push_back({{"node", n},
                          {"name", p.nodes[n].name},
                          {"latency_us", statsJson(rowStats(result.latency.cost, n, false))},
                          {"bandwidth_mbps", statsJson(rowStats(result.bandwidth.cost, n, true))}});
  report["node_stats"] = node_stats;

  auto alone = [](const Alone& a) {
    json latency = json::array(), bandwidth = json::array();
    for (double v : a.latency_us) latency.push_back(number(v));
    for (const auto& [first, second] : a.bandwidth_mbps)
      bandwidth.push_back({number(first), number(second)});
    return json{{"latency_us", latency}, {"bandwidth_mbps", bandwidth}};
  };
  json retests = json::array();
  for (const auto& r : result.retests) {
    json item = {{"nodes", {r.nodes.first, r.nodes.second}},
                 {"ranks", {r.ranks.first, r.ranks.second}},
                 {"reference_nodes", nullptr},
                 {"reference_ranks", nullptr},
                 {"suspect", alone(r.suspect)},
                 {"reference", alone(r.reference)}};
    if (r.reference_nodes) {
      item["reference_nodes"] = {r.reference_nodes->first, r.reference_nodes->second};
      item["reference_ranks"] = {r.reference_ranks.first, r.reference_ranks.second};
    }
    retests.push_back(item);
  }
  report["retests"] = retests;
  report["judgement"] = {{"latency", judgementJson(result.latency, false, p, result.retests)},
                         {"bandwidth", judgementJson(result.bandwidth, true, p, result.retests)}};
  json verdicts = json::array();
  for (const auto& v : namedVerdicts(result)) {
    json names = json::array(), members = json::array();
    for (int n : v.nodes) {
      names.push_back(p.nodes[static_cast<std::size_t>(n)].name);
      for (int r : p.nodes[static_cast<std::size_t>(n)].surveyed) members.push_back(r);
    }
    verdicts.push_back({{"kind", v.kind},
                        {"metric", v.metric},
                        {"nodes", v.nodes},
                        {"node_names", names},
                        {"ranks", members}});
  }
  report["verdicts"] = verdicts;
  report["details"] = result.details;
}

}  // namespace rdzv::bench::survey
