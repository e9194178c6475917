// The node/NIC checks of docs/cxi-reference.md §4.2 that are about the NIC's health and who
// else uses it: link restarts and PCIe errors (N3), identity (N4), the retry handler (N6),
// resources (N7), the job's VNI/service (N8) and other jobs on the node (N12).

#include <algorithm>
#include <cstdint>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "bench/doctor_checks.h"
#include "lib/time_left.h"

namespace rdzv::bench::detail {
namespace ofi = transport::ofi;
namespace {

constexpr std::int64_t kFlapWindowS = 3600;
// The driver keeps the last 10 restart times (CASS_SBL_LINK_RESTART_TIME_SIZE).
constexpr std::size_t kRestartSlots = 10;

std::string ago(std::int64_t now, std::int64_t then) {
  return formatDuration(static_cast<double>(std::max<std::int64_t>(now - then, 0))) + " ago";
}

void checkLinkRestarts(const DoctorInput& in, const ofi::CxiNic& nic, Checks& c) {
  if (!nic.link_restarts) return;
  const auto& times = *nic.link_restarts;
  const auto recent = static_cast<std::size_t>(std::count_if(
      times.begin(), times.end(), [&](std::int64_t t) { return in.now - t <= kFlapWindowS; }));
  const std::string subject = nic.name + " link restarts";
  if (recent > 0)
    c.warn("N3", subject,
           fmt::format("{} link restarted {}{}× in last hour (last {}): the link flaps, so "
                       "latency and bandwidth will have outliers and messages may be retried; "
                       "check the cable and switch port (cxi_stat) or leave the NIC out with "
                       "FI_CXI_DEVICE_NAME",
                       nic.name, recent == kRestartSlots ? "at least " : "", recent,
                       ago(in.now, times.back())));
  else if (times.empty())
    c.ok("N3", subject, "no automatic link restart recorded");
  else
    c.ok("N3", subject,
         fmt::format("none in the last hour ({} recorded, the last {})", times.size(),
                     ago(in.now, times.back())));
}

void checkPcieErrors(const ofi::CxiNic& nic, Checks& c) {
  std::vector<std::string> uncorrectable, correctable;
  std::uint64_t bad = 0, corrected = 0;
  const auto note = [](std::vector<std::string>& parts, std::uint64_t& sum, const char* name,
                       std::uint64_t n) {
    parts.push_back(fmt::format("{} {}", name, n));
    sum += n;
  };
  if (nic.pcie_uncorr_err) note(uncorrectable, bad, "pcie_uncorr_err", *nic.pcie_uncorr_err);
  if (nic.pcie_corr_err) note(correctable, corrected, "pcie_corr_err", *nic.pcie_corr_err);
  for (const auto& [kind, n] : nic.aer) {
    const std::string name = "aer_dev_" + kind;
    if (kind == "correctable")
      note(correctable, corrected, name.c_str(), n);
    else
      note(uncorrectable, bad, name.c_str(), n);
  }
  if (uncorrectable.empty() && correctable.empty()) return;
  const std::string counts =
      fmt::format("{}", fmt::join(uncorrectable.empty() ? correctable : uncorrectable, ", "));
  const std::string subject = nic.name + " PCIe errors";
  if (bad > 0)
    c.warn("N3", subject,
           fmt::format("{} uncorrectable PCIe error{} ({}): the NIC's PCIe link is unhealthy and "
                       "transfers may stall or fail; report the node to its administrators",
                       bad, bad == 1 ? "" : "s", counts));
  else
    c.ok("N3", subject,
         fmt::format("no uncorrectable error; {} correctable{}", corrected,
                     correctable.empty() ? std::string()
                                         : fmt::format(" ({})", fmt::join(correctable, ", "))));
}

void checkIdentity(const ofi::CxiNic& nic, Checks& c) {
  std::vector<std::string> parts;
  const auto add = [&](const char* name, const std::string& value) {
    if (!value.empty()) parts.push_back(fmt::format("{} {}", name, value));
  };
  add("nic_addr", nic.nic_addr);
  add("nid", nic.nid);
  if (nic.pid_granule) add("pid_granule", std::to_string(*nic.pid_granule));
  if (nic.rdzv_get_idx) add("rdzv_get_idx", std::to_string(*nic.rdzv_get_idx));
  add("driver", nic.driver_rev);
  add("firmware", nic.firmware);
  for (const auto& [field, value] : nic.fru) add(field.c_str(), value);
  if (!parts.empty()) c.ok("N4", nic.name + " identity", fmt::format("{}", fmt::join(parts, ", ")));
}

void checkResources(const ofi::CxiNic& nic, Checks& c) {
  std::vector<std::string> parts;
  for (const auto& name : ofi::cxiResourceProperties()) {
    auto it = nic.resources.find(name);
    if (it != nic.resources.end()) parts.push_back(fmt::format("{} {}", name, it->second));
  }
  if (parts.empty()) return;
  const auto rgids = nic.resources.find("rgids_avail");
  if (rgids != nic.resources.end() && rgids->second == 0)
    c.warn("N7", nic.name + " resources",
           fmt::format("rgids_avail is 0: every resource group of {} is taken, so a new process "
                       "cannot get a CXI domain (fi_domain fails); find who holds them (other "
                       "jobs, leftover processes) before measuring ({})",
                       nic.name, fmt::join(parts, ", ")));
  else
    c.ok("N7", nic.name + " resources", fmt::format("{}", fmt::join(parts, ", ")));
}

// The driver's retry handler resends what the fabric dropped; without it Cassini transfers
// stall on the first loss (udev rule 60-cxi.rules starts one per NIC).
void checkRetryHandler(const DoctorInput& in, const ofi::CxiNic& nic, Checks& c) {
  const std::string unit = "cxi_rh@" + nic.name;
  auto it = in.retry_handlers.find(nic.name);
  const std::string state = it == in.retry_handlers.end() ? "unknown" : it->second;
  if (state == "active")
    c.ok("N6", nic.name + " retry handler", unit + ".service is active");
  else if (state == "unknown")
    c.warn("N6", nic.name + " retry handler",
           fmt::format("cannot tell whether {}.service runs (no systemctl, or it could not ask "
                       "systemd): without the retry handler Cassini does not recover lost "
                       "packets; check with `systemctl is-active {}`",
                       unit, unit));
  else
    c.error("N6", nic.name + " retry handler",
            fmt::format("{} not running (systemctl is-active: {}): Cassini needs it to recover "
                        "lost packets; start it with `systemctl start {}.service` or report the "
                        "node",
                        unit, state, unit));
}

}  // namespace

void checkNicHealth(const DoctorInput& in, const std::vector<ofi::CxiNic>& used, Checks& c) {
  for (const auto& nic : used) {
    checkLinkRestarts(in, nic, c);
    checkPcieErrors(nic, c);
    checkIdentity(nic, c);
    // A fixture --sysfs-root's NICs have no units on this node to ask about.
    if (in.real_node) checkRetryHandler(in, nic, c);
    checkResources(nic, c);
  }
}

void checkSlingshotService(const DoctorInput& in, const DoctorReport& rep, bool want_cxi,
                           Checks& c) {
  std::vector<std::string> set;
  for (const char* name :
       {"SLINGSHOT_VNIS", "SLINGSHOT_DEVICES", "SLINGSHOT_SVC_IDS", "SLINGSHOT_TCS"}) {
    const std::string value = envValue(in, name);
    if (!value.empty()) set.push_back(fmt::format("{}={}", name, value));
  }
  const bool cxi = !rep.sysfs.nics.empty() || want_cxi;
  if (!envValue(in, "SLINGSHOT_VNIS").empty() || (!cxi && !set.empty()))
    c.ok("N8", "Slingshot VNI", fmt::format("{}", fmt::join(set, ", ")));
  else if (cxi)
    c.warn(
        "N8", "Slingshot VNI",
        fmt::format("no SLINGSHOT_VNIS: provider will use a default service/VNI 10 (may fail "
                    "or be shared); single-node jobs often get none unless the site configures "
                    "or the job requests a VNI (Slurm --network=single_node_vni or "
                    "job_vni){}",
                    set.empty() ? std::string() : fmt::format("; set: {}", fmt::join(set, ", "))));
}

void checkSharedNode(const DoctorInput& in, const DoctorReport& rep, Checks& c) {
  const std::string job = envValue(in, "SLURM_JOB_ID");
  if (job.empty() || !in.node_jobs) return;
  // squeue prints array tasks as ARRAYID_TASK and het job parts as ID+N.
  std::set<std::string> mine = {job};
  const std::string array = envValue(in, "SLURM_ARRAY_JOB_ID");
  const std::string task = envValue(in, "SLURM_ARRAY_TASK_ID");
  if (!array.empty() && !task.empty()) mine.insert(array + "_" + task);
  std::vector<std::string> others;
  for (const auto& id : *in.node_jobs) {
    if (mine.count(id) != 0 || mine.count(id.substr(0, id.find('+'))) != 0) continue;
    if (std::find(others.begin(), others.end(), id) == others.end()) others.push_back(id);
  }
  if (others.empty())
    c.ok("N12", "shared node", "no other job on this node");
  else if (!rep.sysfs.nics.empty())
    c.warn("N12", "shared node",
           fmt::format("rdzv_get_en is node-global; another job ({}) may flip it: Slurm writes it "
                       "for every NIC when a --network=disable_rdzv_get step starts and ends, so "
                       "the protocol can change under a running measurement; measure with "
                       "--exclusive",
                       fmt::join(others, ", ")));
  else
    c.ok("N12", "shared node",
         fmt::format("other jobs on this node ({}), but no CXI NIC whose rdzv_get_en they could "
                     "change",
                     fmt::join(others, ", ")));
}

}  // namespace rdzv::bench::detail
