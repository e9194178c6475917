#include "bench/doctor.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>
#include <system_error>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "bench/doctor_checks.h"
#include "lib/size.h"
#include "rdzv/build_info.h"

namespace rdzv::bench {
namespace fs = std::filesystem;
namespace ofi = transport::ofi;
namespace {

// FI_ENOSYS and FI_ENODATA: what fi_getinfo returns when cxi is absent (§4.1 E2).
constexpr int kFiEnosys = 38;
constexpr int kFiEnodata = 61;

using detail::Checks;

std::string env(const DoctorInput& in, const std::string& name) {
  return detail::envValue(in, name);
}

std::vector<std::string> splitList(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

// FI_PROVIDER names cxi (a "^" prefix excludes instead).
bool providerRequestsCxi(const std::string& providers) {
  if (providers.empty() || providers[0] == '^') return false;
  for (const auto& p : splitList(providers))
    if (p == "cxi") return true;
  return false;
}

std::string readValue(const fs::path& path) {
  std::ifstream in(path);
  std::string value;
  std::getline(in, value);
  while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back()))) value.pop_back();
  return value;
}

std::optional<std::uint64_t> readNumber(const fs::path& path) {
  const std::string text = readValue(path);
  if (text.empty() ||
      !std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c) != 0; }))
    return std::nullopt;
  return std::stoull(text);
}

bool pathExists(const fs::path& path) {
  std::error_code ec;
  return fs::exists(path, ec);
}

int numaNodes(const fs::path& root) {
  std::error_code ec;
  int count = 0;
  for (fs::directory_iterator it(root / "devices" / "system" / "node", ec), end; !ec && it != end;
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() > 4 && name.compare(0, 4, "node") == 0 &&
        std::all_of(name.begin() + 4, name.end(),
                    [](unsigned char c) { return std::isdigit(c) != 0; }))
      ++count;
  }
  return count;
}

// "6.1.0-18-amd64" -> {6, 1}; {0, 0} when unreadable.
std::pair<int, int> kernelVersion(const std::string& release) {
  int major = 0, minor = 0;
  if (std::sscanf(release.c_str(), "%d.%d", &major, &minor) != 2) return {0, 0};
  return {major, minor};
}

// Collapses sorted CPUs into "0-3,8" for messages.
std::string cpuRanges(std::vector<int> cpus) {
  std::sort(cpus.begin(), cpus.end());
  cpus.erase(std::unique(cpus.begin(), cpus.end()), cpus.end());
  std::vector<std::string> parts;
  for (std::size_t i = 0; i < cpus.size();) {
    std::size_t j = i;
    while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1) ++j;
    parts.push_back(j == i ? std::to_string(cpus[i]) : fmt::format("{}-{}", cpus[i], cpus[j]));
    i = j + 1;
  }
  return fmt::format("{}", fmt::join(parts, ","));
}

// "8 MiB" for exact binary multiples, else "12345 B".
std::string bytes(std::uint64_t n) {
  const std::string s = formatSize(n);
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s.back()))) return s + " B";
  return s.substr(0, s.size() - 1) + " " + s.back() + "iB";
}

void checkLibfabric(const DoctorInput& in, bool want_cxi, Checks& c) {
  if (!in.libfabric_built) {
    c.warn("E1", "libfabric",
           fmt::format("libfabric is not built into this rdzvbench ({}): provider checks skipped; "
                       "the FI_CXI_* rules and sysfs checks still run",
                       in.libfabric_why.empty() ? "RDZV_WITH_LIBFABRIC" : in.libfabric_why));
    return;
  }
  if (!in.fabric) {
    c.warn("E1", "libfabric", "libfabric was not asked: provider checks skipped");
    return;
  }
  const auto& f = *in.fabric;
  if (!f.load_error.empty()) {
    c.warn("E1", "libfabric",
           fmt::format("libfabric could not be loaded ({}): provider checks skipped; install "
                       "libfabric1, or set RDZV_LIBFABRIC to the library's path",
                       f.load_error));
    return;
  }
  std::string where = f.library_path.empty() ? "loaded" : f.library_path;
  std::string message = fmt::format("libfabric {} ({})", f.version(), where);
  const bool upstream_cxi = f.major > 1 || (f.major == 1 && f.minor >= 21);
  if (!upstream_cxi)
    message += "; older than 1.21, the first release with the upstream cxi provider";
  if (f.major == 1 && f.minor == 22)
    c.warn("E1", "libfabric",
           message +
               "; CXI RMA on regions above ~1.5 GiB collapses in 1.22 (~20 → 1.7 GB/s, "
               "uccl PR #1013), gone in 2.5: use 2.5 or later for large RMA");
  else
    c.ok("E1", "libfabric", message);

  if (f.providers.empty())
    c.warn("E2", "providers", fmt::format("fi_getinfo found no provider (rc {})", f.providers_rc));
  else
    c.ok("E2", "providers", fmt::format("{}", fmt::join(f.providers, ", ")));

  const std::string fi_provider = env(in, "FI_PROVIDER");
  if (f.cxiAvailable()) {
    std::vector<std::string> nics;
    for (const auto& n : f.cxi_nics)
      nics.push_back(n.link_up ? fmt::format("{} (link {})", n.name, *n.link_up ? "up" : "down")
                               : n.name);
    c.ok("E2", "cxi provider", fmt::format("available: {}", fmt::join(nics, ", ")));
    if (fi_provider.empty())
      c.warn("E3", "FI_PROVIDER",
             fmt::format("FI_PROVIDER unset; first provider is {}: set FI_PROVIDER=cxi so a run "
                         "cannot silently fall back to tcp or shm",
                         f.providers.empty() ? std::string("unknown") : f.providers.front()));
    else if (!providerRequestsCxi(fi_provider))
      c.warn("E3", "FI_PROVIDER",
             fmt::format("FI_PROVIDER={} leaves cxi out: runs will not use the Slingshot NIC",
                         fi_provider));
    else
      c.ok("E3", "FI_PROVIDER", fmt::format("FI_PROVIDER={}", fi_provider));
    return;
  }
  std::string why;
  if (f.cxi_rc == -kFiEnosys)
    why = fmt::format(
        "libfabric {} is older than 1.21, the first with the cxi provider "
        "(fi_getinfo -38: {})",
        f.version(), f.cxi_error);
  else if (f.cxi_rc == -kFiEnodata)
    why = fmt::format("no cxi provider or no CXI NIC in this libfabric (fi_getinfo -61: {})",
                      f.cxi_error);
  else if (f.cxi_rc == 0)
    why = "fi_getinfo returned no cxi domain";
  else
    why = fmt::format("fi_getinfo {}: {}", f.cxi_rc, f.cxi_error);
  if (!fi_provider.empty() && !providerRequestsCxi(fi_provider))
    why += fmt::format("; FI_PROVIDER={} excludes it too", fi_provider);
  if (want_cxi)
    c.error("E2", "cxi provider",
            fmt::format("cxi provider not available: {}; FI_PROVIDER={} asks for it, so runs will "
                        "fail here",
                        why, fi_provider));
  else
    c.warn("E2", "cxi provider", fmt::format("cxi provider not available: {}", why));
}

// E5: the first libfabric.conf that exists among the candidates; others are mentioned.
std::map<std::string, std::string> readConfig(const DoctorInput& in, DoctorReport& rep, Checks& c) {
  std::vector<fs::path> found;
  for (const auto& p : in.config_files)
    if (pathExists(p)) found.push_back(p);
  if (found.empty()) {
    std::vector<std::string> looked;
    for (const auto& p : in.config_files) looked.push_back(p.string());
    c.ok("E5", "libfabric.conf",
         looked.empty() ? std::string("not looked for")
                        : fmt::format("none (looked at {})", fmt::join(looked, ", ")));
    return {};
  }
  std::ifstream file(found.front());
  std::stringstream text;
  text << file.rdbuf();
  auto conf = ofi::parseLibfabricConf(text.str());
  rep.config_file = found.front().string();
  std::vector<std::string> names;
  for (const auto& [name, value] : conf) names.push_back(name);
  if (names.empty())
    c.ok("E5", "libfabric.conf", fmt::format("{} sets no FI_* variable", rep.config_file));
  else
    c.ok("E5", "libfabric.conf",
         fmt::format("{} sets {} (the environment wins unless FI_PREFER_SYSCONFIG=1)",
                     rep.config_file, fmt::join(names, ", ")));
  for (std::size_t i = 1; i < found.size(); ++i)
    c.warn("E5", "libfabric.conf",
           fmt::format("{} exists too; libfabric reads only the one in its build-time sysconfdir, "
                       "taken here to be {}: keep one",
                       found[i].string(), rep.config_file));
  return conf;
}

void checkCxiEnv(const DoctorInput& in, DoctorReport& rep, Checks& c) {
  int set = 0;
  for (const auto& [name, value] : in.env) set += name.rfind("FI_CXI_", 0) == 0;
  for (const auto& f : rep.cxi.findings) {
    const CheckStatus status = f.severity == ofi::Severity::Error     ? CheckStatus::Error
                               : f.severity == ofi::Severity::Warning ? CheckStatus::Warning
                                                                      : CheckStatus::Ok;
    c.add(status, f.check, f.variable.empty() ? "FI_CXI_*" : f.variable, f.message);
  }
  const std::string rules = fmt::format("libfabric {}{}", rep.cxi.version.str(),
                                        rep.cxi.version_known ? "" : " (assumed)");
  if (set == 0)
    c.ok("E7", "FI_CXI_*", fmt::format("none set: the provider defaults of {} apply", rules));
  else if (in.fabric && !in.fabric->cxiAvailable())
    c.ok("E7", "FI_CXI_*",
         fmt::format("{} FI_CXI_* variable(s) set and checked against the rules of {}; no cxi "
                     "provider here, so they have no effect on this node",
                     set, rules));
}

void checkNics(const DoctorInput& in, DoctorReport& rep, const std::vector<ofi::CxiNic>& used,
               bool want_cxi, Checks& c) {
  const fs::path cls = in.sysfs_root / "class" / "cxi";
  if (rep.sysfs.nics.empty()) {
    std::string message = fmt::format(
        "no CXI NIC under {}: not a Slingshot node, or the cxi_ss1 driver is not loaded",
        cls.string());
    if (pathExists(in.sysfs_root / "module" / "cxi_ss1"))
      message =
          fmt::format("no CXI NIC under {}, although the cxi_ss1 module is loaded", cls.string());
    if (want_cxi)
      c.error("N1", "CXI NICs", message + "; FI_PROVIDER asks for cxi");
    else
      c.warn("N1", "CXI NICs", message);
    return;
  }
  for (const auto& name : splitList(rep.cxi.effective.device_name)) {
    const bool present = std::any_of(rep.sysfs.nics.begin(), rep.sysfs.nics.end(),
                                     [&](const ofi::CxiNic& n) { return n.name == name; });
    if (!present)
      c.error(
          "N1", "FI_CXI_DEVICE_NAME",
          fmt::format("FI_CXI_DEVICE_NAME names {}, but {} has no such NIC", name, cls.string()));
  }
  for (const auto& nic : used) {
    if (in.real_node) {
      const fs::path dev = fs::path("/dev") / nic.name;
      if (!pathExists(dev))
        c.error("N1", nic.name + " device",
                fmt::format("no {}: the cxi_user module is not loaded, or (in a container) the "
                            "device is not bound in",
                            dev.string()));
      else if (access(dev.c_str(), R_OK | W_OK) != 0)
        c.error("N1", nic.name + " device",
                fmt::format("{} is not readable and writable by this user", dev.string()));
    }
    std::vector<std::string> detail;
    for (const auto& part : {nic.link_speed, nic.media})
      if (!part.empty()) detail.push_back(part);
    if (nic.generation != 0) detail.push_back(fmt::format("Cassini {}", nic.generation));
    if (!nic.link_up)
      c.warn("N2", nic.name + " link",
             fmt::format("link state unreadable under {}", nic.device_dir.string()));
    else if (*nic.link_up)
      c.ok("N2", nic.name + " link",
           detail.empty() ? std::string("up") : fmt::format("up ({})", fmt::join(detail, ", ")));
    else
      c.error("N2", nic.name + " link",
              fmt::format("{} link down ({}): no traffic can use it; check the cable and switch "
                          "port (cxi_stat), or leave it out with FI_CXI_DEVICE_NAME",
                          nic.name, nic.link_state));
    c.ok("N5", nic.name + " placement",
         fmt::format("{} = {} ({}), NUMA node {}, local CPUs {}", nic.name,
                     nic.netdev.empty() ? "no netdev" : nic.netdev,
                     nic.pci_slot.empty() ? "slot unknown" : nic.pci_slot,
                     nic.numa_node < 0 ? std::string("unknown") : std::to_string(nic.numa_node),
                     nic.local_cpulist.empty() ? "unknown" : nic.local_cpulist));
    const auto restricted = nic.telemetry.find(ofi::kRestrictedPktCounter);
    const auto unrestricted = nic.telemetry.find(ofi::kUnrestrictedPktCounter);
    if (restricted != nic.telemetry.end() && unrestricted != nic.telemetry.end())
      c.ok("N13", nic.name + " telemetry",
           fmt::format("{}={}, {}={}: recorded before and after each series to show which "
                       "rendezvous path ran",
                       ofi::kRestrictedPktCounter, restricted->second.count,
                       ofi::kUnrestrictedPktCounter, unrestricted->second.count));
    else
      c.warn("N13", nic.name + " telemetry",
             fmt::format("cannot read {}/telemetry/{{{},{}}}: which rendezvous path ran cannot be "
                         "proven",
                         nic.device_dir.string(), ofi::kRestrictedPktCounter,
                         ofi::kUnrestrictedPktCounter));
  }
  // N9: a process that can only run far from every NIC it may use pays a NUMA hop per message.
  if (!in.limits.affinity.empty()) {
    std::vector<int> local;
    for (const auto& nic : used)
      for (int cpu : ofi::parseCpuList(nic.local_cpulist)) local.push_back(cpu);
    if (!local.empty()) {
      const std::set<int> near(local.begin(), local.end());
      const bool any = std::any_of(in.limits.affinity.begin(), in.limits.affinity.end(),
                                   [&](int cpu) { return near.count(cpu) != 0; });
      if (any)
        c.ok("N9", "affinity",
             fmt::format("this process may run on CPUs {}, next to a CXI NIC",
                         cpuRanges(in.limits.affinity)));
      else
        c.warn("N9", "affinity",
               fmt::format("this process may run on CPUs {} but the CXI NICs are local to CPUs {}: "
                           "bind each rank next to its NIC (srun --cpu-bind) or choose the NIC "
                           "with FI_CXI_DEVICE_NAME",
                           cpuRanges(in.limits.affinity), cpuRanges(local)));
    }
  }
}

// E9 and E10: the protocol asked for against what the driver lets the NIC do.
void checkRendezvousGet(const DoctorInput& in, const DoctorReport& rep,
                        const std::vector<ofi::CxiNic>& used, Checks& c) {
  const bool alt_read = rep.cxi.effective.rdzv_proto == transport::engine::RdzvProto::AltRead;
  const std::string network = env(in, "SLURM_NETWORK");
  const bool disable_token = network.find("disable_rdzv_get") != std::string::npos;
  const bool in_slurm = !env(in, "SLURM_JOB_ID").empty();
  if (alt_read) {
    if (used.empty())
      c.warn("E9", "FI_CXI_RDZV_PROTO",
             fmt::format("alt_read requested, but there is no CXI NIC under {} whose rdzv_get_en "
                         "could be checked",
                         (in.sysfs_root / "class" / "cxi").string()));
    for (const auto& nic : used) {
      const std::string subject = nic.name + " rdzv_get_en";
      if (!nic.rdzv_get_en)
        c.warn("E9", subject,
               fmt::format("alt_read requested but {} cannot be read: whether the NIC still issues "
                           "unrestricted Gets is unknown",
                           nic.rdzvGetEnPath().string()));
      else if (*nic.rdzv_get_en)
        c.error("E9", subject,
                fmt::format("alt_read requested but {}=1 (run with srun "
                            "--network=disable_rdzv_get; note: no effect on single-node steps "
                            "without a VNI){}",
                            nic.rdzvGetEnPath().string(),
                            disable_token ? "; SLURM_NETWORK has disable_rdzv_get, yet the NIC "
                                            "still says 1: this step probably has no VNI"
                                          : ""));
      else
        c.ok("E9", subject,
             "0 with alt_read: receivers issue restricted Gets and send the \"done\" message");
    }
    if (disable_token)
      c.ok("E9", "SLURM_NETWORK",
           fmt::format("SLURM_NETWORK={} asks Slurm to write "
                       "rdzv_get_en=0 for the step",
                       network));
    else if (in_slurm)
      c.warn("E9", "SLURM_NETWORK",
             fmt::format("alt_read inside a Slurm job without --network=disable_rdzv_get "
                         "(SLURM_NETWORK={}): Slurm leaves rdzv_get_en at the driver default; add "
                         "#SBATCH --network=disable_rdzv_get or srun --network=disable_rdzv_get",
                         network.empty() ? "unset" : network));
    if (rep.sysfs.rdzv_get_en_default && *rep.sysfs.rdzv_get_en_default)
      c.ok("E9", "rdzv_get_en_default",
           fmt::format("{}=Y: NICs return to rdzv_get_en=1 when a step ends",
                       rep.sysfs.rdzv_get_en_default_path.string()));
    return;
  }
  for (const auto& nic : used) {
    const std::string subject = nic.name + " rdzv_get_en";
    if (!nic.rdzv_get_en)
      c.warn("E10", subject,
             fmt::format("cannot read {}: whether the NIC issues rendezvous Gets is unknown",
                         nic.rdzvGetEnPath().string()));
    else if (!*nic.rdzv_get_en)
      c.warn("E10", subject,
             fmt::format("hardware rendezvous gets disabled on {} but RDZV_PROTO=default: every "
                         "Get is software-issued (it waits for progress calls); set "
                         "FI_CXI_RDZV_PROTO=alt_read, or drop --network=disable_rdzv_get",
                         nic.name));
    else
      c.ok("E10", subject, "1: the NIC issues rendezvous Gets itself (RDZV_PROTO=default)");
  }
}

void checkMrCache(const DoctorInput& in, const DoctorReport& rep, Checks& c) {
  const std::string monitor = env(in, "FI_MR_CACHE_MONITOR");
  if (monitor.empty() || !in.real_node) return;
  if (monitor == "kdreg2" && !pathExists("/dev/kdreg2"))
    c.warn("E12", "FI_MR_CACHE_MONITOR",
           "FI_MR_CACHE_MONITOR=kdreg2 but /dev/kdreg2 does not exist: libfabric warns \"monitor "
           "not available\" and disables MR caching; load the kdreg2 module or use userfaultfd");
  if (monitor == "userfaultfd" || monitor == "uffd") {
    const auto [major, minor] = kernelVersion(rep.host.kernel);
    const bool user_mode = major > 5 || (major == 5 && minor >= 11);
    if (!user_mode && readValue("/proc/sys/vm/unprivileged_userfaultfd") != "1")
      c.warn("E12", "FI_MR_CACHE_MONITOR",
             fmt::format("FI_MR_CACHE_MONITOR={} needs kernel 5.11 (UFFD_USER_MODE_ONLY) or "
                         "vm.unprivileged_userfaultfd=1; kernel {} has neither",
                         monitor, rep.host.kernel));
  }
}

void checkHost(const DoctorInput& in, const DoctorReport& rep, Checks& c) {
  const auto& l = in.limits;
  if (!l.memlock_known)
    c.warn("N11", "memlock", "RLIMIT_MEMLOCK could not be read");
  else if (!l.memlock_soft)
    c.ok("N11", "memlock", "unlimited");
  else
    c.warn("N11", "memlock",
           fmt::format("memlock limit {} (hard {}): ibverbs cannot register larger buffers, and "
                       "FI_CXI_ATS_MLOCK_MODE=all (mlockall) may fail; set `ulimit -l unlimited` "
                       "(limits.conf memlock, Slurm PropagateResourceLimits)",
                       bytes(*l.memlock_soft),
                       l.memlock_hard ? bytes(*l.memlock_hard) : std::string("unlimited")));

  const fs::path pool = in.sysfs_root / "kernel" / "mm" / "hugepages" / "hugepages-2048kB";
  const auto total = readNumber(pool / "nr_hugepages");
  const auto free = readNumber(pool / "free_hugepages");
  if (rep.cxi.effective.disable_eq_hugetlb)
    c.ok("N10", "hugepages", "FI_CXI_DISABLE_EQ_HUGETLB=1: CXI event queues use 4 KiB pages");
  else if (!total || !free)
    c.ok("N10", "hugepages",
         fmt::format("no 2 MiB hugepage pool under {}: CXI event queues use 4 KiB pages",
                     pool.string()));
  else if (*free == 0)
    c.ok("N10", "hugepages",
         fmt::format("0 free 2 MiB pages ({} in the pool): CXI event queues use 4 KiB pages; set "
                     "vm.nr_hugepages to give them huge pages",
                     *total));
  else
    c.ok("N10", "hugepages",
         fmt::format("{} of {} 2 MiB pages free for CXI event queues", *free, *total));

  const int nodes = numaNodes(in.sysfs_root);
  c.ok("", "host",
       fmt::format("{}: {} CPU{}, {} NUMA node{}{}",
                   rep.host.hostname.empty() ? "this host" : rep.host.hostname, rep.host.cpus,
                   rep.host.cpus == 1 ? "" : "s", nodes, nodes == 1 ? "" : "s",
                   l.affinity.empty()
                       ? std::string()
                       : fmt::format(", this process may run on CPUs {}", cpuRanges(l.affinity))));
}

// E14: FI_* variables MPI_Init set, changed or removed. The provider reads each once, at its
// first use, so a value a library puts there beforehand silently wins over the job script's
// intent (HPE Cray MPI documents that it sets FI_ defaults).
void checkEnvChangedByMpi(const DoctorInput& in, Checks& c) {
  if (!in.env_before_mpi) return;
  const auto& before = *in.env_before_mpi;
  std::set<std::string> names;
  for (const auto* env : {&before, &in.env})
    for (const auto& [name, value] : *env)
      if (name.rfind("FI_", 0) == 0) names.insert(name);
  auto valueIn = [](const std::map<std::string, std::string>& env, const std::string& name) {
    auto it = env.find(name);
    return it == env.end() ? std::optional<std::string>() : std::optional(it->second);
  };
  int changed = 0;
  for (const auto& name : names) {
    auto was = valueIn(before, name), is = valueIn(in.env, name);
    if (was == is) continue;
    ++changed;
    c.warn("E14", name,
           fmt::format("{} by MPI_Init: {} -> {}; libfabric reads it once, so it uses {}: set "
                       "it in the job's environment if that is not what you meant",
                       !was  ? "set"
                       : !is ? "unset"
                             : "changed",
                       was ? *was : "(unset)", is ? *is : "(unset)",
                       is ? "the value after MPI_Init" : "its default"));
  }
  if (changed == 0) c.ok("E14", "MPI_Init", "MPI_Init set, changed or removed no FI_* variable");
}

}  // namespace

const char* checkStatusName(CheckStatus status) {
  switch (status) {
    case CheckStatus::Ok:
      return "ok";
    case CheckStatus::Warning:
      return "warning";
    case CheckStatus::Error:
      return "error";
  }
  return "?";
}

int DoctorReport::count(CheckStatus status) const {
  return static_cast<int>(std::count_if(checks.begin(), checks.end(),
                                        [&](const DoctorCheck& c) { return c.status == status; }));
}

int DoctorReport::exitCode() const { return count(CheckStatus::Error) > 0 ? 1 : 0; }

DoctorReport runDoctor(const DoctorInput& in) {
  DoctorReport rep;
  Checks c;
  rep.libfabric_built = in.libfabric_built;
  rep.libfabric_why = in.libfabric_why;
  rep.fabric = in.fabric;
  rep.host = in.host;
  const bool want_cxi = providerRequestsCxi(env(in, "FI_PROVIDER"));

  checkLibfabric(in, want_cxi, c);
  auto conf = readConfig(in, rep, c);

  ofi::CxiEnvInput cxi;
  cxi.env = in.env;
  cxi.config_file = std::move(conf);
  cxi.config_path = rep.config_file;
  if (in.version) {
    cxi.version = *in.version;
  } else if (in.fabric) {
    cxi.version = {in.fabric->major, in.fabric->minor, in.fabric->patch};
  } else {
    cxi.version = ofi::LibfabricVersion::latest();
    cxi.version_known = false;
  }
  cxi.cacheline_size = ofi::readCacheLineSize(in.sysfs_root);
  // fi_getparams() lists FI_CXI_* names only once the cxi provider is loaded.
  if (in.fabric && in.fabric->cxiAvailable()) cxi.registered = in.fabric->params;
  rep.cxi = ofi::analyzeCxiEnv(cxi);
  checkCxiEnv(in, rep, c);
  checkEnvChangedByMpi(in, c);

  rep.sysfs = ofi::readCxiSysfs(in.sysfs_root);
  // FI_CXI_DEVICE_NAME (when valid) restricts the provider to the NICs it names.
  std::vector<ofi::CxiNic> used;
  const auto named = splitList(rep.cxi.effective.device_name);
  for (const auto& nic : rep.sysfs.nics)
    if (named.empty() || std::find(named.begin(), named.end(), nic.name) != named.end())
      used.push_back(nic);
  checkNics(in, rep, used, want_cxi, c);
  detail::checkNicHealth(in, used, c);
  checkRendezvousGet(in, rep, used, c);
  detail::checkSlingshotService(in, rep, want_cxi, c);
  detail::checkSharedNode(in, rep, c);
  checkMrCache(in, rep, c);
  checkHost(in, rep, c);
  rep.checks = std::move(c.list);
  return rep;
}

void to_json(nlohmann::json& j, const DoctorCheck& c) {
  j = nlohmann::json{{"id", c.id},
                     {"subject", c.subject},
                     {"status", checkStatusName(c.status)},
                     {"message", c.message}};
}

nlohmann::json doctorJson(const DoctorReport& rep) {
  nlohmann::json libfabric = {{"built", rep.libfabric_built},
                              {"why_not_built", rep.libfabric_built ? "" : rep.libfabric_why},
                              {"probed", rep.fabric.has_value()}};
  if (rep.fabric) {
    const auto& f = *rep.fabric;
    nlohmann::json nics = nlohmann::json::array();
    for (const auto& n : f.cxi_nics)
      nics.push_back({{"name", n.name},
                      {"link_up", n.link_up ? nlohmann::json(*n.link_up) : nlohmann::json()},
                      {"speed", n.speed},
                      {"mtu", n.mtu}});
    libfabric["version"] = f.version();
    libfabric["library_path"] = f.library_path;
    libfabric["providers"] = f.providers;
    libfabric["cxi"] = {
        {"available", f.cxiAvailable()}, {"rc", f.cxi_rc}, {"error", f.cxi_error}, {"nics", nics}};
  }
  return nlohmann::json{{"schema_version", kDoctorSchemaVersion},
                        {"tool_version", build::kVersion},
                        {"git_revision", build::kGitRevision},
                        {"host", rep.host},
                        {"sysfs_root", rep.sysfs.root.string()},
                        {"libfabric", libfabric},
                        {"config_file", rep.config_file},
                        {"cxi_env", rep.cxi},
                        {"cxi_sysfs", rep.sysfs},
                        {"checks", rep.checks},
                        {"summary",
                         {{"ok", rep.count(CheckStatus::Ok)},
                          {"warnings", rep.count(CheckStatus::Warning)},
                          {"errors", rep.count(CheckStatus::Error)}}},
                        {"exit_code", rep.exitCode()}};
}

}  // namespace rdzv::bench
