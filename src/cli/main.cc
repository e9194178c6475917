// rdzvbench: benchmark and diagnose HPC interconnects. Turns every error into one line on
// stderr and an exit code (DESIGN.md "Errors and exit codes"); nothing else does.

#include <cstdio>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "lib/error.h"
#include "lib/interrupt.h"
#include "rdzv/build_info.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  CLI::App app{
      "rdzvbench: latency and bandwidth sweeps over TCP, libfabric, ibverbs and MPI, "
      "with eager/rendezvous protocol studies and JSON reports.",
      "rdzvbench"};
  app.set_version_flag("--version", fmt::format("rdzvbench {} ({})", rdzv::build::kVersion,
                                                rdzv::build::kGitRevision));
  app.require_subcommand(1);
  app.footer("Run `rdzvbench SUBCOMMAND --help` for the flags of each subcommand.");
  auto run = rdzv::cli::addRunCommand(app, args);
  auto info = rdzv::cli::addInfoCommand(app);
  auto sweep = rdzv::cli::addSweepCommand(app, args);
  auto compare = rdzv::cli::addCompareCommand(app);
  auto doctor = rdzv::cli::addDoctorCommand(app, args);
  auto survey = rdzv::cli::addSurveyCommand(app, args);
  // CLI11 would only say "A subcommand is required"; name the word it did not know.
  auto known = [&](const char* name) {
    try {
      return app.get_subcommand(name) != nullptr;
    } catch (const CLI::OptionNotFound&) {
      return false;
    }
  };
  if (argc > 1 && argv[1][0] != '-' && !known(argv[1])) {
    std::fprintf(stderr,
                 "rdzvbench: error: unknown subcommand \"%s\" (choose from: run, survey, sweep, "
                 "compare, doctor, info)\n",
                 argv[1]);
    return static_cast<int>(rdzv::ErrorKind::Usage);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "rdzvbench: error: %s (see rdzvbench --help)\n", e.what());
    return static_cast<int>(rdzv::ErrorKind::Usage);
  }
  try {
    for (auto* sub : app.get_subcommands()) {
      if (sub->get_name() == "run") return run();
      if (sub->get_name() == "info") return info();
      if (sub->get_name() == "sweep") return sweep();
      if (sub->get_name() == "compare") return compare();
      if (sub->get_name() == "doctor") return doctor();
      if (sub->get_name() == "survey") return survey();
    }
    return static_cast<int>(rdzv::ErrorKind::Usage);
  } catch (const rdzv::Error& e) {
    std::fprintf(stderr, "rdzvbench: error: %s\n", e.message().c_str());
    // A run a stop signal ended exits 128 + its number, as a shell reports a killed command.
    return rdzv::interrupt::exitCode(e.exitCode());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rdzvbench: internal error: %s\n", e.what());
    return static_cast<int>(rdzv::ErrorKind::Runtime);
  }
}
