#include "lib/stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace rdzv {

Summary summarize(std::vector<double> samples) {
  Summary s;
  if (samples.empty()) return s;
  std::sort(samples.begin(), samples.end());
  s.count = samples.size();
  s.min = samples.front();
  s.max = samples.back();
  s.mean = std::accumulate(samples.begin(), samples.end(), 0.0) / static_cast<double>(s.count);
  s.p50 = percentile(samples, 50);
  s.p90 = percentile(samples, 90);
  s.p99 = percentile(samples, 99);
  return s;
}

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const double n = static_cast<double>(sorted.size());
  p = std::clamp(p, 0.0, 100.0);
  // p is rarely exact in binary, so p * n / 100 can land just above a whole rank; the
  // epsilon keeps that from rounding up to the next sample.
  double rank = std::ceil(p * n / 100.0 - 1e-9);
  rank = std::clamp(rank, 1.0, n);
  return sorted[static_cast<std::size_t>(rank) - 1];
}

double median(std::vector<double> samples) {
  if (samples.empty()) return 0;
  const std::size_t mid = samples.size() / 2;
  std::nth_element(samples.begin(), samples.begin() + mid, samples.end());
  const double upper = samples[mid];
  if (samples.size() % 2 == 1) return upper;
  const double lower = *std::max_element(samples.begin(), samples.begin() + mid);
  return (lower + upper) / 2;
}

void to_json(nlohmann::json& j, const Summary& s) {
  j = nlohmann::json{{"min", s.min}, {"mean", s.mean}, {"p50", s.p50},    {"p90", s.p90},
                     {"p99", s.p99}, {"max", s.max},   {"count", s.count}};
}

void from_json(const nlohmann::json& j, Summary& s) {
  j.at("min").get_to(s.min);
  j.at("mean").get_to(s.mean);
  j.at("p50").get_to(s.p50);
  j.at("p90").get_to(s.p90);
  j.at("p99").get_to(s.p99);
  j.at("max").get_to(s.max);
  j.at("count").get_to(s.count);
}

}  // namespace rdzv
