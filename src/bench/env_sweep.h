#pragma once
// Environment sweeps: axes of environment variables that cannot change inside a process
// (libfabric reads FI_* once, at its first fi_getinfo), so each combination is its own
// launch of `rdzvbench run`, and their reports are merged into one.

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lib/report.h"

namespace rdzv::bench {

struct EnvAxis {
  std::string name;
  std::vector<std::string> values;  // as the process will see them
};
using EnvCombination = std::map<std::string, std::string>;

// The value a variable gets: sizes such as "16K" become plain decimal "16384", because
// libfabric parses numbers with strtol and would read "16K" as 16; other text is kept.
std::string environmentValue(const nlohmann::json& value, const std::string& variable);

// Reads the "env" object of a sweep file ({"FI_X": [values] or value, ...}); Usage error
// naming `file` for a malformed name or value.
std::vector<EnvAxis> parseEnvAxes(const nlohmann::json& env, const std::string& file);

// Every combination, the first axis varying slowest. No axes: one empty combination.
std::vector<EnvCombination> expandAxes(const std::vector<EnvAxis>& axes);

// A short stable name for a combination, for part file names.
std::string combinationKey(const EnvCombination& combination);

// Adds one launch's report to the merged one: its series tagged with `combination` (the
// first part also provides the run's header).
void mergePart(Report& merged, const Report& part, const EnvCombination& combination);

}  // namespace rdzv::bench
