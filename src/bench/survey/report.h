#pragma once
// The survey's part of its JSON report (results-schema/survey.schema.json): parameters,
// nodes, both matrices, per-rank and per-node statistics, each metric's judgement with its
// re-tests, and the verdicts.

#include <nlohmann/json.hpp>

#include "bench/survey/runner.h"

namespace rdzv::bench::survey {

// Adds the survey's keys to `report` (which holds the run's header: tool, command line, ranks).
void addSurvey(nlohmann::json& report, const SurveyConfig& config, const SurveyResult& result);

// The confirmed verdicts, both metrics: slow nodes first, then slow links.
struct Named {
  std::string kind;    // "slow_node" or "slow_link"
  std::string metric;  // "latency" or "bandwidth"
  std::vector<int> nodes;
};
std::vector<Named> namedVerdicts(const SurveyResult& result);

}  // namespace rdzv::bench::survey
