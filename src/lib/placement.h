#pragma once
// Where a rank runs (its node, its place among the node's ranks, its CPUs and NUMA nodes) and
// which Slurm job and step a run belongs to, for the report.

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "lib/report.h"
#include "lib/sysinfo.h"

namespace rdzv {

// "0-3,8,10-11": the kernel's cpulist syntax, ascending, duplicates dropped; "" for none.
std::string formatCpuList(std::vector<int> cpus);
// Reads the kernel's cpulist syntax ("" is no CPU). Throws Usage naming `text` when malformed.
std::vector<int> parseCpuList(const std::string& text);
// The CPUs this process may run on (sched_getaffinity); empty when the call fails.
std::vector<int> affinityCpus();
// The NUMA nodes holding any of `cpus`, ascending, from
// `sysfs_root`/devices/system/node/node<N>/cpulist; empty when that directory says nothing.
std::vector<int> numaNodesOf(const std::vector<int>& cpus, const std::string& sysfs_root);

// Fills the placement fields of `info` (node_id, local_id, cpus, cpu_count, numa_nodes) for a
// rank started by `launcher` ("srun", "mpirun", "pmi", ...): the launcher's own variables only,
// so a local-mode run inside a batch job does not copy the batch shell's SLURM_LOCALID.
void capturePlacement(RankInfo& info, const EnvLookup& env, const std::string& launcher,
                      const std::vector<int>& cpus, const std::string& sysfs_root);

// This process as rank `rank`: host, pid and the placement above, with its own affinity.
RankInfo describeThisRank(int rank, const EnvLookup& env, const std::string& launcher,
                          const std::string& sysfs_root);

// Gives every rank without a local_id its position among the ranks on its host, in rank order.
void deriveLocalIds(std::vector<RankInfo>& ranks);

// The Slurm job and step around this process (SLURM_JOB_ID ...), or nullopt outside Slurm.
std::optional<SlurmRun> captureSlurmRun(const EnvLookup& env);

}  // namespace rdzv
