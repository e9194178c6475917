#pragma once
// The store of a step srun started with no --store: rank 0 serves a tcp store on the step's first
// node, on a port derived from the job and step ids, so that every rank finds it with no flags.
//
// Ports: the range 20000-32767 is cut into 1596 windows of 8 ports; a step's window is
// (FNV-1a(job id) + step id) mod 1596, so the steps of one job get disjoint windows. The range
// stays below Linux's ephemeral ports (32768-60999), which outgoing connections and port-0
// listeners take. Rank 0 serves on the first free port of the window; the other ranks try the
// window's ports in turn until one answers with this step's owner key.

#include <optional>
#include <string>
#include <string_view>

#include "lib/clock.h"
#include "store/launcher.h"
#include "store/store_uri.h"

namespace rdzv::store {

constexpr int kSlurmPortLow = 20000;
constexpr int kSlurmPortHigh = 32767;
constexpr int kSlurmPortCandidates = 8;

struct SlurmStore {
  std::string job_id;        // SLURM_JOB_ID
  std::string step_id;       // SLURM_STEP_ID
  std::string host;          // the step's first node, as the node list names it
  std::string nodelist_var;  // the variable the node list came from
  int nodes = 1;             // nodes in that list
  int first_port = 0;        // the window is first_port .. first_port + kSlurmPortCandidates - 1

  std::string step() const { return job_id + "." + step_id; }
  // "tcp://host:first_port", where rank 0 serves unless that port is taken.
  std::string uri() const;
  int lastPort() const { return first_port + kSlurmPortCandidates - 1; }
};

// The first port of the window of `step_id` (a number, or any text, which is hashed) in job
// `job_id`: deterministic, in [kSlurmPortLow, kSlurmPortHigh - kSlurmPortCandidates + 1].
int slurmStorePort(std::string_view job_id, std::string_view step_id);

// What rank 0 binds: the first node's name (so the address it resolves to here), or "" (every
// address) when that is a loopback address and the step spans several nodes.
std::string slurmStoreBindHost(const SlurmStore& where);

// Where the step's store is, from SLURM_JOB_ID, SLURM_STEP_ID and the first of
// SLURM_STEP_NODELIST, SLURM_JOB_NODELIST, SLURM_NODELIST. Throws Usage naming the variable when
// one is missing or the node list is malformed.
SlurmStore slurmStoreFromEnv(const EnvLookup& env);

// Rank 0: checks that it runs on the first node (SLURMD_NODENAME, when set), serves on the first
// free port of the window, and publishes the owner key. Other ranks: try the window's ports in
// turn until one holds the owner key of this step, until `deadline`. The store's describe() is
// the URI actually used. Throws Runtime when every port is taken (rank 0) or none answered in
// time (others).
OpenedStore openSlurmStore(const SlurmStore& where, int rank, const EnvLookup& env,
                           Deadline deadline);

}  // namespace rdzv::store
