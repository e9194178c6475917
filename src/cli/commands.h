#pragma once
// The subcommands of rdzvbench: each registers its flags on the CLI11 app and returns the
// action to run once parsing succeeded.

#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace rdzv::cli {

using Action = std::function<int()>;

// `argv` is the whole command line, kept for the report and for local mode's children.
Action addRunCommand(CLI::App& app, const std::vector<std::string>& argv);
Action addInfoCommand(CLI::App& app);
Action addSweepCommand(CLI::App& app, const std::vector<std::string>& argv);
Action addCompareCommand(CLI::App& app);
Action addDoctorCommand(CLI::App& app, const std::vector<std::string>& argv);
Action addSurveyCommand(CLI::App& app, const std::vector<std::string>& argv);

}  // namespace rdzv::cli
