#include "lib/placement.h"

#include <unistd.h>

#include <sched.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <map>

#include <fmt/format.h>

#include "lib/error.h"

namespace rdzv {
namespace {

std::optional<std::string> lookup(const EnvLookup& env, const std::string& name) {
  auto value = env(name);
  if (value && value->empty()) return std::nullopt;
  return value;
}

std::optional<std::string> lookupEither(const EnvLookup& env, const std::string& first,
                                        const std::string& second) {
  auto value = lookup(env, first);
  return value ? value : lookup(env, second);
}

// A non-negative integer; nullopt when `text` is not one (a placement detail is never worth
// failing a run for).
std::optional<int> count(const std::optional<std::string>& text) {
  if (!text) return std::nullopt;
  int out = 0;
  auto [ptr, ec] = std::from_chars(text->data(), text->data() + text->size(), out);
  if (ec != std::errc() || ptr != text->data() + text->size() || out < 0) return std::nullopt;
  return out;
}

bool parseNumber(std::string_view text, int& out) {
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && ptr == text.data() + text.size() && out >= 0;
}

}  // namespace

std::string formatCpuList(std::vector<int> cpus) {
  std::sort(cpus.begin(), cpus.end());
  cpus.erase(std::unique(cpus.begin(), cpus.end()), cpus.end());
  std::string out;
  for (std::size_t i = 0; i < cpus.size();) {
    std::size_t j = i;
    while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += j == i ? std::to_string(cpus[i]) : fmt::format("{}-{}", cpus[i], cpus[j]);
    i = j + 1;
  }
  return out;
}

std::vector<int> parseCpuList(const std::string& text) {
  std::string_view rest = text;
  while (!rest.empty() && (rest.back() == '\n' || rest.back() == ' ')) rest.remove_suffix(1);
  std::vector<int> cpus;
  while (!rest.empty()) {
    auto comma = rest.find(',');
    auto item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    auto dash = item.find('-');
    int first = 0;
    int last = 0;
    bool ok = dash == std::string_view::npos
                  ? parseNumber(item, first) && parseNumber(item, last)
                  : parseNumber(item.substr(0, dash), first) &&
                        parseNumber(item.substr(dash + 1), last) && first <= last;
    if (!ok || last - first > 1 << 20)
      throwUsage(fmt::format("malformed CPU list \"{}\"", text),
                 "expected numbers and ranges such as 0-3,8");
    for (int c = first; c <= last; ++c) cpus.push_back(c);
  }
  std::sort(cpus.begin(), cpus.end());
  cpus.erase(std::unique(cpus.begin(), cpus.end()), cpus.end());
  return cpus;
}

std::vector<int> affinityCpus() {
  // The mask may have to be larger than cpu_set_t on very large machines: grow until it fits.
  for (int capacity = 1024; capacity <= (1 << 20); capacity *= 4) {
    cpu_set_t* set = CPU_ALLOC(capacity);
    if (set == nullptr) return {};
    auto bytes = CPU_ALLOC_SIZE(capacity);
    CPU_ZERO_S(bytes, set);
    if (sched_getaffinity(0, bytes, set) == 0) {
      std::vector<int> cpus;
      for (int c = 0; c < capacity; ++c)
        if (CPU_ISSET_S(c, bytes, set)) cpus.push_back(c);
      CPU_FREE(set);
      return cpus;
    }
    CPU_FREE(set);
    if (errno != EINVAL) return {};
  }
  return {};
}

std::vector<int> numaNodesOf(const std::vector<int>& cpus, const std::string& sysfs_root) {
  namespace fs = std::filesystem;
  std::vector<int> nodes;
  std::error_code ec;
  fs::directory_iterator it(fs::path(sysfs_root) / "devices/system/node", ec);
  if (ec) return {};
  for (const auto& entry : it) {
    auto name = entry.path().filename().string();
    int node = 0;
    if (name.rfind("node", 0) != 0 || !parseNumber(std::string_view(name).substr(4), node))
      continue;
    std::ifstream in(entry.path() / "cpulist");
    std::string text;
    if (!in || !std::getline(in, text)) continue;
    std::vector<int> node_cpus;
    try {
      node_cpus = parseCpuList(text);
    } catch (const Error&) {
      continue;  // an unreadable node says nothing; the others still do
    }
    bool shared = std::any_of(cpus.begin(), cpus.end(), [&](int c) {
      return std::binary_search(node_cpus.begin(), node_cpus.end(), c);
    });
    if (shared) nodes.push_back(node);
  }
  std::sort(nodes.begin(), nodes.end());
  return nodes;
}

void capturePlacement(RankInfo& info, const EnvLookup& env, const std::string& launcher,
                      const std::vector<int>& cpus, const std::string& sysfs_root) {
  if (launcher == "srun") {
    info.node_id = count(lookup(env, "SLURM_NODEID"));
    info.local_id = count(lookup(env, "SLURM_LOCALID"));
  } else if (launcher == "mpirun") {
    info.local_id = count(lookup(env, "OMPI_COMM_WORLD_LOCAL_RANK"));
  } else if (launcher == "pmi") {
    info.local_id = count(lookup(env, "MPI_LOCALRANKID"));
  }
  info.cpus = formatCpuList(cpus);
  info.cpu_count = static_cast<int>(cpus.size());
  info.numa_nodes = numaNodesOf(cpus, sysfs_root);
}

RankInfo describeThisRank(int rank, const EnvLookup& env, const std::string& launcher,
                          const std::string& sysfs_root) {
  RankInfo me;
  me.rank = rank;
  me.host = hostName();
  me.pid = static_cast<int>(getpid());
  capturePlacement(me, env, launcher, affinityCpus(), sysfs_root);
  return me;
}

void deriveLocalIds(std::vector<RankInfo>& ranks) {
  std::map<std::string, int> seen;
  for (auto& r : ranks) {
    int position = seen[r.host]++;
    if (!r.local_id) r.local_id = position;
  }
}

std::optional<SlurmRun> captureSlurmRun(const EnvLookup& env) {
  auto job = lookupEither(env, "SLURM_JOB_ID", "SLURM_JOBID");
  if (!job) return std::nullopt;
  SlurmRun run;
  run.job_id = *job;
  run.step_id = lookupEither(env, "SLURM_STEP_ID", "SLURM_STEPID").value_or("");
  run.nodelist = lookupEither(env, "SLURM_STEP_NODELIST", "SLURM_JOB_NODELIST").value_or("");
  run.tasks_per_node =
      lookupEither(env, "SLURM_STEP_TASKS_PER_NODE", "SLURM_TASKS_PER_NODE").value_or("");
  run.partition = lookup(env, "SLURM_JOB_PARTITION").value_or("");
  return run;
}

}  // namespace rdzv
