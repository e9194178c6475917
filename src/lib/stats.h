#pragma once
// Summaries of timing samples. Percentiles use the nearest-rank method, so every reported
// value is one that was actually measured.

#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

namespace rdzv {

struct Summary {
  double min = 0, mean = 0, p50 = 0, p90 = 0, p99 = 0, max = 0;
  std::uint64_t count = 0;
};

// Summarises finite samples; an empty input gives an all-zero Summary with count 0.
Summary summarize(std::vector<double> samples);

// Nearest-rank percentile, `p` in percent (clamped to 0..100), of ascending `sorted`;
// 0 when empty.
double percentile(const std::vector<double>& sorted, double p);

// Conventional median: the mean of the two middle values for an even count; 0 when empty.
double median(std::vector<double> samples);

void to_json(nlohmann::json& j, const Summary& s);
void from_json(const nlohmann::json& j, Summary& s);

}  // namespace rdzv
