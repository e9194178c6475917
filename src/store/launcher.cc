#include "store/launcher.h"

#include <fmt/format.h>

#include <charconv>
#include <cstdlib>

#include "lib/error.h"

namespace rdzv::store {
namespace {

// Unset and empty read the same: `export VAR=` is how scripts often clear a variable.
std::optional<std::string> lookup(const EnvLookup& env, const std::string& name) {
  auto value = env(name);
  if (value && value->empty()) return std::nullopt;
  return value;
}

// A non-negative decimal int, or a Usage error naming the variable. `min` is 0 or 1.
int parseCount(const std::string& name, const std::string& value, int min) {
  int out = 0;
  auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
  if (ec != std::errc() || ptr != value.data() + value.size() || out < min) {
    throwUsage(fmt::format("{}={} is not {}", name, value,
                           min == 0 ? "a rank (an integer >= 0)" : "a size (an integer >= 1)"),
               "fix or unset it in the launcher environment");
  }
  return out;
}

std::optional<int> optionalCount(const EnvLookup& env, const std::string& name, int min) {
  auto value = lookup(env, name);
  if (!value) return std::nullopt;
  return parseCount(name, *value, min);
}

int requiredCount(const EnvLookup& env, const std::string& name, int min,
                  const std::string& because) {
  auto value = lookup(env, name);
  if (!value) {
    throwUsage(fmt::format("{} is set but {} is not", because, name),
               "set both, or unset " + because);
  }
  return parseCount(name, *value, min);
}

void checkBelow(const std::string& rank_name, int rank, const std::string& size_name, int size) {
  if (size >= 0 && rank >= size) {
    throwUsage(fmt::format("{}={} is not below {}={}", rank_name, rank, size_name, size),
               "fix the launcher environment (ranks run from 0 to size-1)");
  }
}

// The launcher whose rank variable is `rank_name` and size variable `size_name`.
LaunchInfo fromRankSize(const EnvLookup& env, std::string launcher, const std::string& rank_name,
                        const std::string& size_name) {
  LaunchInfo info;
  info.launcher = std::move(launcher);
  info.rank = parseCount(rank_name, *lookup(env, rank_name), 0);
  info.size = requiredCount(env, size_name, 1, rank_name);
  checkBelow(rank_name, info.rank, size_name, info.size);
  return info;
}

}  // namespace

std::optional<LaunchInfo> detectLauncher(const EnvLookup& env) {
  if (lookup(env, "RDZV_RANK")) return fromRankSize(env, "rdzv", "RDZV_RANK", "RDZV_SIZE");

  if (lookup(env, "OMPI_COMM_WORLD_RANK")) {
    auto info = fromRankSize(env, "mpirun", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE");
    info.local_rank = optionalCount(env, "OMPI_COMM_WORLD_LOCAL_RANK", 0).value_or(-1);
    info.local_size = optionalCount(env, "OMPI_COMM_WORLD_LOCAL_SIZE", 1).value_or(-1);
    if (info.local_rank >= 0) {
      checkBelow("OMPI_COMM_WORLD_LOCAL_RANK", info.local_rank, "OMPI_COMM_WORLD_LOCAL_SIZE",
                 info.local_size);
    }
    auto job = lookup(env, "OMPI_MCA_ess_base_jobid");
    if (!job) job = lookup(env, "PMIX_NAMESPACE");
    info.job_id = job.value_or("");
    return info;
  }

  auto step = lookup(env, "SLURM_STEP_ID");
  if (!step) step = lookup(env, "SLURM_STEPID");
  if (step && lookup(env, "SLURM_PROCID")) {
    LaunchInfo info;
    info.launcher = "srun";
    info.rank = parseCount("SLURM_PROCID", *lookup(env, "SLURM_PROCID"), 0);
    // SLURM_STEP_NUM_TASKS holds the same count inside a step, should SLURM_NTASKS be absent.
    std::string size_name = lookup(env, "SLURM_NTASKS") ? "SLURM_NTASKS" : "SLURM_STEP_NUM_TASKS";
    info.size = requiredCount(env, size_name, 1, "SLURM_PROCID");
    checkBelow("SLURM_PROCID", info.rank, size_name, info.size);
    info.local_rank = optionalCount(env, "SLURM_LOCALID", 0).value_or(-1);
    auto job = lookup(env, "SLURM_JOB_ID");
    if (!job) job = lookup(env, "SLURM_JOBID");
    if (job) info.job_id = *job + "." + *step;
    return info;
  }

  if (lookup(env, "PMI_RANK")) {
    auto info = fromRankSize(env, "pmi", "PMI_RANK", "PMI_SIZE");
    // MPICH's Hydra sets these next to PMI_RANK.
    info.local_rank = optionalCount(env, "MPI_LOCALRANKID", 0).value_or(-1);
    info.local_size = optionalCount(env, "MPI_LOCALNRANKS", 1).value_or(-1);
    return info;
  }

  if (lookup(env, "PMIX_RANK")) {
    LaunchInfo info;
    info.launcher = "pmix";
    info.rank = parseCount("PMIX_RANK", *lookup(env, "PMIX_RANK"), 0);
    // PMIx publishes the job size through its API only; PMIX_SIZE is set by some launchers.
    info.size = optionalCount(env, "PMIX_SIZE", 1).value_or(-1);
    checkBelow("PMIX_RANK", info.rank, "PMIX_SIZE", info.size);
    info.job_id = lookup(env, "PMIX_NAMESPACE").value_or("");
    return info;
  }
  return std::nullopt;
}

}  // namespace rdzv::store
