#include "cli/sweep_file.h"

#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "lib/error.h"

namespace rdzv::cli {
namespace {

std::string scalarText(const nlohmann::json& v, const std::string& path, const std::string& key) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return std::to_string(v.get<long long>());
  if (v.is_number()) return fmt::format("{}", v.get<double>());
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  throwUsage(fmt::format("sweep file {}: \"{}\" has a value of the wrong type", path, key),
             "use a string, number, boolean or an array of those");
}

}  // namespace

void applySweepFile(CLI::App& command, const std::string& path) {
  std::ifstream in(path);
  if (!in) throwUsage(fmt::format("cannot read sweep file {}", path), "check the --config path");
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text.str(), nullptr, true, /*ignore_comments=*/true);
  } catch (const nlohmann::json::parse_error& e) {
    throwUsage(fmt::format("malformed sweep file {} at byte {}: {}", path, e.byte, e.what()),
               "fix the JSON (comments are allowed)");
  }
  if (!doc.is_object())
    throwUsage(fmt::format("sweep file {} is not a JSON object", path),
               "write {\"sizes\": \"1:4M\", \"transport\": [\"tcp\"], ...}");
  for (auto& [key, value] : doc.items()) {
    if (key == "config" || key.empty() || key[0] == '$') continue;  // "$schema", "$comment"
    if (key == "env")
      throwUsage(fmt::format("sweep file {} has environment axes (\"env\")", path),
                 "a process reads its environment once: run it with `rdzvbench sweep --config "
                 "FILE`, one launch per combination");
    CLI::Option* option = nullptr;
    try {
      option = command.get_option("--" + key);
    } catch (const CLI::OptionNotFound&) {
      throwUsage(fmt::format("sweep file {}: unknown key \"{}\"", path, key),
                 fmt::format("keys are the long flags of `rdzvbench {} --help` without dashes",
                             command.get_name()));
    }
    if (option->count() > 0) continue;  // the command line wins
    std::string joined;
    if (value.is_array()) {
      for (const auto& item : value) {
        if (!joined.empty()) joined += ",";
        joined += scalarText(item, path, key);
      }
    } else {
      joined = scalarText(value, path, key);
    }
    if (value.is_boolean() && !value.get<bool>()) continue;
    option->add_result(joined);
    option->run_callback();
  }
}

}  // namespace rdzv::cli
