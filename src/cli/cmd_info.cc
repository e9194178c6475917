// `rdzvbench info`: what this binary can do here, and what it cannot and why.

#include <fmt/format.h>

#include <exception>

#include "cli/commands.h"
#include "lib/error.h"
#include "lib/sysinfo.h"
#include "rdzv/build_info.h"
#include "store/bootstrap_choice.h"
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
    auto env = store::processEnv();
    auto launch = store::detectLauncher(env);
    if (launch)
      fmt::print("  launched by {} as rank {} of {}\n", launch->launcher, launch->rank,
                 launch->size);
    else
      fmt::print("  no launcher detected\n");
    // What `rdzvbench run` with no bootstrap flags would do here (RDZV_STORE and RDZV_RUN_ID
    // count, as they do for run).
    store::BootstrapRequest request;
    request.store = env("RDZV_STORE").value_or("");
    request.run_id = env("RDZV_RUN_ID").value_or("");
    // A broken launcher environment fails info as it fails run (exit 2), after the rest.
    std::exception_ptr cannot;
    try {
      if (launch && launch->size == 1)
        fmt::print(
            "  `rdzvbench run` would stop: {} started 1 task (--np N starts local ranks "
            "in it)\n",
            launch->launcher);
      else
        fmt::print("  `rdzvbench run` would use: {}\n",
                   store::chooseBootstrap(request, launch, env).describe());
    } catch (const Error&) {
      cannot = std::current_exception();
    }
    fmt::print("  MPI bootstrap: {}\n", build::kHaveMpi ? "built" : build::kWhyNoMpi);
    if (cannot) std::rethrow_exception(cannot);
    return 0;
  };
}

}  // namespace rdzv::cli
