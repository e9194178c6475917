#include "bench/env_sweep.h"

#include <cctype>
#include <regex>

#include <fmt/format.h>

#include "lib/error.h"
#include "lib/size.h"

namespace rdzv::bench {

std::string environmentValue(const nlohmann::json& value, const std::string& variable) {
  if (value.is_number_integer()) return std::to_string(value.get<long long>());
  if (value.is_boolean()) return value.get<bool>() ? "1" : "0";
  if (!value.is_string())
    throwUsage(
        fmt::format("environment value of {} must be a string, integer or boolean", variable),
        "write e.g. \"16K\", 16384 or \"alt_read\"");
  auto text = value.get<std::string>();
  static const std::regex size_like(R"(^\s*[0-9]+\s*([kKmMgG]([iI]?[bB])?)\s*$)");
  if (std::regex_match(text, size_like)) return std::to_string(parseSize(text));
  return text;
}

std::vector<EnvAxis> parseEnvAxes(const nlohmann::json& env, const std::string& file) {
  if (!env.is_object())
    throwUsage(fmt::format("sweep file {}: \"env\" must be an object of variables", file),
               "write \"env\": {\"FI_CXI_RDZV_THRESHOLD\": [\"2K\", \"16K\"]}");
  static const std::regex name(R"(^[A-Za-z_][A-Za-z0-9_]*$)");
  std::vector<EnvAxis> axes;
  for (const auto& [key, value] : env.items()) {
    if (!std::regex_match(key, name))
      throwUsage(
          fmt::format("sweep file {}: \"{}\" is not an environment variable name", file, key));
    EnvAxis axis{key, {}};
    if (value.is_array()) {
      for (const auto& v : value) axis.values.push_back(environmentValue(v, key));
    } else {
      axis.values.push_back(environmentValue(value, key));
    }
    if (axis.values.empty())
      throwUsage(fmt::format("sweep file {}: \"{}\" has no values", file, key));
    axes.push_back(std::move(axis));
  }
  return axes;
}

std::vector<EnvCombination> expandAxes(const std::vector<EnvAxis>& axes) {
  std::vector<EnvCombination> out{{}};
  for (const auto& axis : axes) {
    std::vector<EnvCombination> next;
    for (const auto& base : out)
      for (const auto& v : axis.values) {
        auto c = base;
        c[axis.name] = v;
        next.push_back(std::move(c));
      }
    out = std::move(next);
  }
  return out;
}

std::string combinationKey(const EnvCombination& combination) {
  std::uint64_t h = 1469598103934665603ull;
  for (const auto& [k, v] : combination)
    for (unsigned char c : k + "=" + v + ";") {
      h ^= c;
      h *= 1099511628211ull;
    }
  return fmt::format("{:016x}", h);
}

void mergePart(Report& merged, const Report& part, const EnvCombination& combination) {
  if (merged.tool_version.empty()) {
    auto series = std::move(merged.series);
    auto combinations = std::move(merged.combinations);
    auto command = merged.command_line;
    merged = part;
    merged.series = std::move(series);
    merged.combinations = std::move(combinations);
    merged.command_line = command;
  }
  for (auto s : part.series) {
    for (const auto& [k, v] : combination) s.env[k] = v;
    merged.series.push_back(std::move(s));
  }
}

}  // namespace rdzv::bench
