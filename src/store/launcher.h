#pragma once
// Rank and size from the environment a launcher (mpirun, srun, a PMI launcher) gives each process.

#include <functional>
#include <optional>
#include <string>

#include "lib/sysinfo.h"

namespace rdzv::store {

struct LaunchInfo {
  std::string launcher;  // "rdzv", "mpirun", "srun", "pmi" or "pmix"
  int rank = 0;
  int size = 1;         // -1 when the launcher does not say (PMIx without PMIX_SIZE)
  int local_rank = -1;  // -1 when unknown
  int local_size = -1;  // -1 when unknown
  std::string job_id;   // empty when unknown
};

using rdzv::EnvLookup;
using rdzv::processEnv;

// The first launcher whose variables are set, in this order: RDZV_RANK/RDZV_SIZE,
// OMPI_COMM_WORLD_*, SLURM_PROCID/SLURM_NTASKS (only inside a step: a batch script has
// SLURM_PROCID=0 too), PMI_RANK/PMI_SIZE, PMIX_RANK. nullopt when none is. Throws Usage naming the
// variable and its value when a value is malformed or inconsistent (rank >= size).
std::optional<LaunchInfo> detectLauncher(const EnvLookup& env);

}  // namespace rdzv::store
