// `rdzvbench doctor`: checks this node's libfabric, FI_CXI_* settings, CXI NICs and limits, and
// says per check ok / warning / error with what to set (docs/cxi-reference.md §4). Exit 1 when
// a check found an error, 0 otherwise (warnings allowed). Launched as several ranks (srun,
// mpirun, --np, --rank/--size/--store), every rank checks its own node and rank 0 also compares
// them (bench/doctor_ranks.h).

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "bench/doctor.h"
#include "bench/doctor_ranks.h"
#include "cli/commands.h"
#include "cli/launch.h"
#include "lib/error.h"
#include "lib/interrupt.h"
#include "lib/sysinfo.h"
#include "rdzv/build_info.h"
#include "store/launcher.h"
#include "transport/ofi/cxi_env.h"
#include "transport/ofi/fabric_info.h"

namespace rdzv::cli {
namespace {

struct DoctorFlags {
  LaunchFlags launch;
  bool json = false;
  std::string sysfs_root = "/sys";
  std::string libfabric_version;
  std::string libfabric_conf;
};

// All of it: the name checks need every FI_CXI_* spelling, lower case included.
std::map<std::string, std::string> wholeEnvironment() {
  std::map<std::string, std::string> out;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string entry(*e);
    const std::size_t eq = entry.find('=');
    if (eq != std::string::npos && eq > 0) out.emplace(entry.substr(0, eq), entry.substr(eq + 1));
  }
  return out;
}

void printHeader(const bench::DoctorReport& rep) {
  std::string rules = rep.cxi.version.str();
  if (!rep.cxi.version_known) rules += " (assumed)";
  fmt::print(
      "rdzvbench doctor: {}, FI_CXI_* rules of libfabric {}, sysfs {}\n\n",
      rep.fabric ? "libfabric " + rep.fabric->version() : std::string("libfabric not built in"),
      rules, rep.sysfs.root.string());
}

void printChecks(const std::vector<bench::DoctorCheck>& checks) {
  std::size_t width = 8;
  for (const auto& c : checks) width = std::max(width, c.subject.size());
  width = std::min<std::size_t>(width, 34);
  for (const auto& c : checks)
    fmt::print("  {:<8} {:<4} {:<{}}  {}\n", bench::checkStatusName(c.status), c.id, c.subject,
               width, c.message);
}

void printSummary(int ok, int warnings, int errors) {
  fmt::print("\n{} ok, {} warning{}, {} error{}{}\n", ok, warnings, warnings == 1 ? "" : "s",
             errors, errors == 1 ? "" : "s",
             errors ? ": fix the errors above and run rdzvbench doctor again" : "");
}

void printText(const bench::DoctorReport& rep) {
  printHeader(rep);
  printChecks(rep.checks);
  printSummary(rep.count(bench::CheckStatus::Ok), rep.count(bench::CheckStatus::Warning),
               rep.count(bench::CheckStatus::Error));
}

// Rank 0's own table, then what differs across the ranks, with the ranks named.
void printAcross(const bench::DoctorReport& rep, const bench::AcrossRanks& across,
                 const std::vector<bench::RankDoctor>& all, const std::string& launcher) {
  printHeader(rep);
  fmt::print("rank 0 on {}:\n", rep.host.hostname);
  printChecks(rep.checks);
  fmt::print("\nacross {} ranks on {} node{} ({}):\n", across.size, across.nodes,
             across.nodes == 1 ? "" : "s", launcher);
  std::vector<bench::DoctorCheck> lines;
  for (const auto& c : across.checks) {
    auto line = c.check;
    if (!c.ranks.empty() && c.check.id != "E15")
      line.message = bench::describeRanks(c.ranks, all) + ": " + line.message;
    lines.push_back(std::move(line));
  }
  printChecks(lines);
  auto count = [&](bench::CheckStatus s) {
    return rep.count(s) +
           static_cast<int>(std::count_if(lines.begin(), lines.end(),
                                          [&](const auto& c) { return c.status == s; }));
  };
  printSummary(count(bench::CheckStatus::Ok), count(bench::CheckStatus::Warning),
               count(bench::CheckStatus::Error));
}

// This process's view of its node: environment (after MPI_Init when there is MPI, as libfabric
// reads it then), libfabric, sysfs, limits.
bench::DoctorInput captureInput(const DoctorFlags& flags) {
  bench::DoctorInput in;
  if (!flags.libfabric_version.empty()) {
    in.version = transport::ofi::LibfabricVersion::parse(flags.libfabric_version);
    if (!in.version)
      throwUsage(
          fmt::format("--libfabric-version \"{}\" is not a version", flags.libfabric_version),
          "write MAJOR.MINOR or MAJOR.MINOR.PATCH, e.g. 2.3.1");
  }
  std::error_code ec;
  if (!std::filesystem::is_directory(flags.sysfs_root, ec))
    throwUsage(fmt::format("--sysfs-root {} is not a directory", flags.sysfs_root),
               "give the root of a sysfs tree, /sys by default");
  in.sysfs_root = flags.sysfs_root;
  in.real_node = std::filesystem::equivalent(flags.sysfs_root, "/sys", ec);
  in.env = wholeEnvironment();
  in.libfabric_built = build::kHaveLibfabric;
  in.libfabric_why = build::kWhyNoLibfabric;
#ifdef RDZV_HAVE_LIBFABRIC
  in.fabric = transport::ofi::probeFabric();
#endif
  if (!flags.libfabric_conf.empty())
    in.config_files = {flags.libfabric_conf};
  else
    in.config_files =
        transport::ofi::libfabricConfCandidates(in.fabric ? in.fabric->library_path : "");
  in.host = captureHost();
  in.limits = bench::captureHostLimits();
  bench::captureNodeState(in);
  return in;
}

// One rank of a doctor across ranks: its own checks to rank 0, which compares and prints; every
// rank exits with the job's verdict.
int doctorRank(const DoctorFlags& flags, const std::map<std::string, std::string>& env_at_start,
               RankStart& start) {
  auto& bootstrap = start.bootstrap;
  const int rank = bootstrap.rank();
  try {
    auto input = captureInput(flags);
    if (start.store_uri.empty()) input.env_before_mpi = env_at_start;  // MPI_Init ran since
    const auto rep = bench::runDoctor(input);
    auto deadline = Deadline::afterSeconds(flags.launch.timeout);
    auto said = bootstrap.gather(
        "doctor/ranks", store::toBytes(nlohmann::json(bench::rankDoctorOf(rep, rank)).dump()),
        deadline);
    int code = 0;
    if (rank == 0) {
      std::vector<bench::RankDoctor> all;
      for (const auto& bytes : said)
        all.push_back(bench::rankDoctorFrom(nlohmann::json::parse(store::toString(bytes))));
      const auto across = bench::compareRanks(all);
      code = std::max(rep.exitCode(), across.exitCode());
      if (flags.json) {
        auto j = bench::doctorJson(rep);
        j["across_ranks"] = bench::acrossRanksJson(across);
        j["across_ranks"]["launcher"] = start.launcher;
        j["exit_code"] = code;
        fmt::print("{}\n", j.dump(2));
      } else {
        printAcross(rep, across, all, start.launcher);
      }
      std::fflush(stdout);
    }
    auto decided =
        bootstrap.broadcast("doctor/code", store::toBytes(std::to_string(code)), deadline);
    return std::atoi(store::toString(decided).c_str());
  } catch (Error& e) {
    noteRankFailure(e, bootstrap, "doctor exchange");
    throw;
  }
}

// Several ranks: a launcher that started more than one, an explicit --np, or a rank of a store.
bool acrossRanks(const DoctorFlags& flags, const CLI::App& cmd) {
  if (cmd.count("--np") > 0 || flags.launch.rank >= 0 || !flags.launch.store.empty()) return true;
  auto launch = store::detectLauncher(store::processEnv());
  return launch && launch->size != 1;
}

}  // namespace

Action addDoctorCommand(CLI::App& app, const std::vector<std::string>& argv) {
  auto flags = std::make_shared<DoctorFlags>();
  auto* cmd = app.add_subcommand(
      "doctor",
      "Check libfabric, the FI_CXI_* settings, the CXI NICs and host limits; say what to set. "
      "Under srun or mpirun (or with --np) every rank checks its node and rank 0 compares them");
  cmd->add_flag("--json", flags->json,
                "Print the report as JSON (results-schema/doctor.schema.json) instead of a table");
  cmd->add_option("--sysfs-root", flags->sysfs_root,
                  "Read CXI NICs, hugepages and NUMA nodes under DIR instead of /sys (for fixture "
                  "trees); /dev checks run only with /sys")
      ->capture_default_str();
  cmd->add_option("--libfabric-version", flags->libfabric_version,
                  "Apply the FI_CXI_* rules and defaults of this libfabric release (e.g. 2.3.1) "
                  "instead of the loaded library's");
  cmd->add_option("--libfabric-conf", flags->libfabric_conf,
                  "Read this libfabric.conf instead of looking in /etc and <prefix>/etc");
  addLaunchOptions(*cmd, flags->launch);
  return [flags, cmd, argv]() -> int {
    if (!acrossRanks(*flags, *cmd)) {
      const auto rep = bench::runDoctor(captureInput(*flags));
      if (flags->json)
        fmt::print("{}\n", bench::doctorJson(rep).dump(2));
      else
        printText(rep);
      return rep.exitCode();
    }
    const auto started = Clock::now();
    const auto env_at_start = wholeEnvironment();  // before a launcher's MPI_Init (E14)
    interrupt::install();
    validateLaunchFlags(flags->launch);
    return launchRanks(flags->launch, argv, started, false, {},
                       [&](RankStart& s) { return doctorRank(*flags, env_at_start, s); });
  };
}

}  // namespace rdzv::cli
