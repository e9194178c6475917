// `rdzvbench info`: what this binary can do here, and what it cannot and why.

#include <fmt/format.h>

#include "cli/commands.h"
#include "lib/sysinfo.h"
#include "rdzv/build_info.h"
#include "store/launcher.h"
#include "transport/registry.h"

namespace rdzv::cli {

Action addInfoCommand(CLI::App& app) {
  app.add_subcommand("info", "Show the version, built transports and stores, and the launcher");
  return []() -> int {
    fmt::print("rdzvbench {} ({})\n", build::kVersion, build::kGitRevision);
    auto host = captureHost();
    fmt::print("host: {} ({} CPUs, {}, kernel {})\n", host.hostname, host.cpus, host.cpu_model,
               host.kernel);
    fmt::print("\ntransports:\n");
    for (const auto& t : transport::listTransports()) {
      fmt::print("  {:<8} {}{}\n", t.name, t.built ? "built" : "not built",
                 t.why.empty() ? "" : fmt::format(" ({})", t.why));
      if (auto notes = t.built ? transport::hostNotes(t.name) : ""; !notes.empty())
        fmt::print("           {}\n", notes);
    }
    fmt::print("\nstores:\n");
    fmt::print("  {:<8} built\n  {:<8} built\n  {:<8} built\n", "hash:", "file://", "tcp://");
    if (build::kHaveHiredis)
      fmt::print("  {:<8} built\n", "redis://");
    else
      fmt::print("  {:<8} not built ({})\n", "redis://", build::kWhyNoHiredis);
    fmt::print("\nbootstrap:\n");
    auto launch = store::detectLauncher(store::processEnv());
    if (launch)
      fmt::print("  launched by {} as rank {} of {}: rendezvous by --store, else MPI\n",
                 launch->launcher, launch->rank, launch->size);
    else
      fmt::print("  no launcher detected: `rdzvbench run` starts --np ranks here (local mode)\n");
    fmt::print("  MPI bootstrap: {}\n", build::kHaveMpi ? "built" : build::kWhyNoMpi);
    return 0;
  };
}

}  // namespace rdzv::cli
