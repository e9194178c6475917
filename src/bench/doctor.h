#pragma once
// `rdzvbench doctor`'s checks (docs/cxi-reference.md §4): libfabric and its providers, every
// FI_CXI_* variable against the provider's rules, libfabric.conf, the CXI NICs in sysfs and the
// driver's rendezvous-Get setting, and the host limits that matter for registered memory.
// Everything comes in through DoctorInput (environment, sysfs root, what libfabric said,
// rlimits), so the tests run the checks on fixtures and the CLI fills it from the real node.

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lib/sysinfo.h"
#include "transport/ofi/cxi_env.h"
#include "transport/ofi/cxi_sysfs.h"
#include "transport/ofi/fabric_info.h"

namespace rdzv::bench {

inline constexpr int kDoctorSchemaVersion = 1;

enum class CheckStatus { Ok, Warning, Error };

// "ok", "warning" or "error".
const char* checkStatusName(CheckStatus status);

// One line of the doctor's verdict.
struct DoctorCheck {
  std::string id;       // the docs/cxi-reference.md §4 item ("E9", "N2"); "" for none
  std::string subject;  // what was checked: "libfabric", "cxi0 link", "FI_CXI_RDZV_PROTO"
  CheckStatus status = CheckStatus::Ok;
  std::string message;  // what was found and, unless ok, what to do or set
};

// Limits of this process that come from system calls rather than files.
struct HostLimits {
  bool memlock_known = false;
  std::optional<std::uint64_t> memlock_soft;  // bytes; nullopt = unlimited
  std::optional<std::uint64_t> memlock_hard;
  std::vector<int> affinity;  // CPUs this process may run on; empty when unknown
};

struct DoctorInput {
  std::map<std::string, std::string> env;  // the whole environment
  std::filesystem::path sysfs_root = "/sys";
  // /dev and /proc exist only for the real node: device-file, kdreg2 and userfaultfd checks run
  // only when true (not with a fixture --sysfs-root).
  bool real_node = true;
  bool libfabric_built = false;
  std::string libfabric_why;                                // why it was not built
  std::optional<transport::ofi::FabricProbe> fabric;        // what the loaded libfabric said
  std::optional<transport::ofi::LibfabricVersion> version;  // --libfabric-version: rules to use
  std::vector<std::filesystem::path> config_files;  // libfabric.conf candidates, likeliest first
  HostInfo host;
  HostLimits limits;
  // What captureNodeState asks the clock and other programs; tests set it.
  std::int64_t now = 0;  // seconds since the epoch: "the last hour" of link restarts (N3)
  // N6: `systemctl is-active cxi_rh@cxiN.service` per NIC ("active", "inactive", "failed", ...;
  // "unknown" when systemctl is missing or cannot tell). Asked only on the real node.
  std::map<std::string, std::string> retry_handlers;
  // N12: the job ids squeue lists on this node, this job's included; nullopt outside a Slurm
  // job or when squeue failed.
  std::optional<std::vector<std::string>> node_jobs;
  // E14: the environment before MPI_Init, when MPI_Init ran since (`env` is the one after it,
  // which libfabric reads); nullopt without MPI.
  std::optional<std::map<std::string, std::string>> env_before_mpi;
};

// getrlimit(RLIMIT_MEMLOCK) and sched_getaffinity of this process.
HostLimits captureHostLimits();

// Fills `in`'s now, retry_handlers (real node with CXI NICs: systemctl) and node_jobs (inside a
// Slurm job: squeue -w this node) from its env, host, sysfs_root and real_node. Each command
// gets `timeout_s` and is killed after it; a missing or failing one leaves "cannot tell".
void captureNodeState(DoctorInput& in, double timeout_s = 3);

struct DoctorReport {
  std::vector<DoctorCheck> checks;
  transport::ofi::CxiEnvResult cxi;  // the FI_CXI_* recomputation
  transport::ofi::CxiSysfs sysfs;
  std::optional<transport::ofi::FabricProbe> fabric;
  bool libfabric_built = false;
  std::string libfabric_why;
  std::string config_file;  // the libfabric.conf taken into account; "" for none
  HostInfo host;

  int count(CheckStatus status) const;
  // 1 when a check failed with an error, else 0 (warnings allowed).
  int exitCode() const;
};

// Runs every check. Never throws for what it finds; only a broken input could.
DoctorReport runDoctor(const DoctorInput& input);

void to_json(nlohmann::json& j, const DoctorCheck& c);
// The whole report (results-schema/doctor.schema.json).
nlohmann::json doctorJson(const DoctorReport& report);

}  // namespace rdzv::bench
