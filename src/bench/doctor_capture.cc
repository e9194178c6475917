// What doctor learns from the running node rather than from files: rlimits and affinity, the
// clock, the CXI retry handler units (systemctl) and the other Slurm jobs here (squeue). Kept
// apart from the checks so runDoctor stays pure and the tests feed it fixtures.

#include <sched.h>
#include <sys/resource.h>

#include <ctime>
#include <sstream>

#include "bench/doctor.h"
#include "bench/doctor_checks.h"
#include "lib/time_left.h"
#include "transport/ofi/cxi_sysfs.h"

namespace rdzv::bench {
namespace {

std::vector<std::string> nonEmptyLines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

// One systemctl call for all NICs: it prints one state per unit, in order, and exits non-zero
// when any is not active. No output (no systemd as PID 1) or a missing systemctl: "unknown".
std::map<std::string, std::string> retryHandlerStates(const std::vector<std::string>& nics,
                                                      double timeout_s) {
  std::vector<std::string> command = {"systemctl", "is-active"};
  for (const auto& nic : nics) command.push_back("cxi_rh@" + nic + ".service");
  const auto result = runCommand(command, timeout_s);
  const auto states = result ? nonEmptyLines(result->out) : std::vector<std::string>();
  std::map<std::string, std::string> out;
  for (std::size_t i = 0; i < nics.size(); ++i)
    out[nics[i]] = states.size() == nics.size() ? states[i] : "unknown";
  return out;
}

// Slurm's name for this node: slurmd's, else the short host name.
std::string slurmNodeName(const DoctorInput& in) {
  std::string name = detail::envValue(in, "SLURMD_NODENAME");
  if (name.empty()) name = in.host.hostname.substr(0, in.host.hostname.find('.'));
  return name;
}

}  // namespace

HostLimits captureHostLimits() {
  HostLimits l;
  rlimit lim{};
  if (getrlimit(RLIMIT_MEMLOCK, &lim) == 0) {
    l.memlock_known = true;
    if (lim.rlim_cur != RLIM_INFINITY) l.memlock_soft = lim.rlim_cur;
    if (lim.rlim_max != RLIM_INFINITY) l.memlock_hard = lim.rlim_max;
  }
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0)
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu)
      if (CPU_ISSET(cpu, &set)) l.affinity.push_back(cpu);
  return l;
}

void captureNodeState(DoctorInput& in, double timeout_s) {
  in.now = static_cast<std::int64_t>(std::time(nullptr));
  // A fixture --sysfs-root names NICs this node does not have: no units to ask about.
  if (in.real_node) {
    const auto nics = transport::ofi::cxiNicNames(in.sysfs_root);
    if (!nics.empty()) in.retry_handlers = retryHandlerStates(nics, timeout_s);
  }
  if (detail::envValue(in, "SLURM_JOB_ID").empty()) return;
  const std::string node = slurmNodeName(in);
  if (node.empty()) return;
  if (auto out = captureCommand({"squeue", "-h", "-w", node, "-o", "%i"}, timeout_s))
    in.node_jobs = nonEmptyLines(*out);
}

}  // namespace rdzv::bench
