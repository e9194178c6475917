// `rdzvbench doctor`: checks this node's libfabric, FI_CXI_* settings, CXI NICs and limits, and
// says per check ok / warning / error with what to set (docs/cxi-reference.md §4). Exit 1 when
// a check found an error, 0 otherwise (warnings allowed).

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "bench/doctor.h"
#include "cli/commands.h"
#include "lib/error.h"
#include "lib/sysinfo.h"
#include "rdzv/build_info.h"
#include "transport/ofi/cxi_env.h"
#include "transport/ofi/fabric_info.h"

namespace rdzv::cli {
namespace {

struct DoctorFlags {
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

void printText(const bench::DoctorReport& rep) {
  std::string rules = rep.cxi.version.str();
  if (!rep.cxi.version_known) rules += " (assumed)";
  fmt::print(
      "rdzvbench doctor: {}, FI_CXI_* rules of libfabric {}, sysfs {}\n\n",
      rep.fabric ? "libfabric " + rep.fabric->version() : std::string("libfabric not built in"),
      rules, rep.sysfs.root.string());
  std::size_t width = 8;
  for (const auto& c : rep.checks) width = std::max(width, c.subject.size());
  width = std::min<std::size_t>(width, 34);
  for (const auto& c : rep.checks)
    fmt::print("  {:<8} {:<4} {:<{}}  {}\n", bench::checkStatusName(c.status), c.id, c.subject,
               width, c.message);
  const int errors = rep.count(bench::CheckStatus::Error);
  const int warnings = rep.count(bench::CheckStatus::Warning);
  fmt::print("\n{} ok, {} warning{}, {} error{}{}\n", rep.count(bench::CheckStatus::Ok), warnings,
             warnings == 1 ? "" : "s", errors, errors == 1 ? "" : "s",
             errors ? ": fix the errors above and run rdzvbench doctor again" : "");
}

}  // namespace

Action addDoctorCommand(CLI::App& app) {
  auto flags = std::make_shared<DoctorFlags>();
  auto* cmd = app.add_subcommand(
      "doctor",
      "Check libfabric, the FI_CXI_* settings, the CXI NICs and host limits; say what to set");
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
  return [flags]() -> int {
    bench::DoctorInput in;
    if (!flags->libfabric_version.empty()) {
      in.version = transport::ofi::LibfabricVersion::parse(flags->libfabric_version);
      if (!in.version)
        throwUsage(
            fmt::format("--libfabric-version \"{}\" is not a version", flags->libfabric_version),
            "write MAJOR.MINOR or MAJOR.MINOR.PATCH, e.g. 2.3.1");
    }
    std::error_code ec;
    if (!std::filesystem::is_directory(flags->sysfs_root, ec))
      throwUsage(fmt::format("--sysfs-root {} is not a directory", flags->sysfs_root),
                 "give the root of a sysfs tree, /sys by default");
    in.sysfs_root = flags->sysfs_root;
    in.real_node = std::filesystem::equivalent(flags->sysfs_root, "/sys", ec);
    in.env = wholeEnvironment();
    in.libfabric_built = build::kHaveLibfabric;
    in.libfabric_why = build::kWhyNoLibfabric;
#ifdef RDZV_HAVE_LIBFABRIC
    in.fabric = transport::ofi::probeFabric();
#endif
    if (!flags->libfabric_conf.empty())
      in.config_files = {flags->libfabric_conf};
    else
      in.config_files =
          transport::ofi::libfabricConfCandidates(in.fabric ? in.fabric->library_path : "");
    in.host = captureHost();
    in.limits = bench::captureHostLimits();
    bench::captureNodeState(in);
    const auto rep = bench::runDoctor(in);
    if (flags->json)
      fmt::print("{}\n", bench::doctorJson(rep).dump(2));
    else
      printText(rep);
    return rep.exitCode();
  };
}

}  // namespace rdzv::cli
