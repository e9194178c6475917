#pragma once
// Which bootstrap a run uses here, and why: one decision shared by `run` (which acts on it),
// `info` (which prints it) and any other command that starts ranks.
//
//   --rank/--size given        --bootstrap mpi: mpi; else store (--store required)
//   no launcher                --bootstrap mpi: mpi (a singleton); --store or the mpi transport:
//                              Usage error; else local (rdzvbench starts --np ranks)
//   a launcher of one task     --np N given (no --store, no --bootstrap mpi): local (N ranks
//                              started inside that task); else as below
//   a launcher                 --bootstrap mpi: mpi; --store: store
//     srun, no --store         --bootstrap store, or auto without the mpi transport: store on the
//                              step's derived tcp store (slurm_store.h); auto with it: mpi
//     any other, no --store    auto: mpi; --bootstrap store: Usage error

#include <optional>
#include <string>

#include "lib/clock.h"
#include "store/launcher.h"
#include "store/slurm_store.h"
#include "store/store_uri.h"

namespace rdzv::store {

// What the command line asks for; the defaults are `rdzvbench run` with no flags.
struct BootstrapRequest {
  std::string bootstrap = "auto";  // --bootstrap: auto, store or mpi
  std::string store;               // --store (or RDZV_STORE); empty when not given
  int rank = -1;                   // --rank and --size, -1 when not given
  int size = -1;
  bool mpi_transport = false;  // the mpi transport is among --transport
  std::string run_id;          // --run-id (or RDZV_RUN_ID); empty when not given
  int np = -1;                 // --np when given on the command line, else -1
};

enum class BootstrapKind {
  Local,  // no launcher: this process starts the ranks (local mode)
  Mpi,    // MPI_Init and MPI_Allgather
  Store,  // a rendezvous store: the given --store, or the Slurm step's derived one
};

struct BootstrapChoice {
  BootstrapKind kind = BootstrapKind::Local;
  // "local", "manual" (--rank/--size; RDZV_LAUNCHER renames it), or LaunchInfo::launcher.
  std::string launcher;
  std::string reason;  // why this kind, for humans: "launched by mpirun"
  // Store only: this process's rank and the run's size.
  int rank = 0;
  int size = 0;
  std::optional<StoreUri> store;    // Store with --store
  std::optional<SlurmStore> slurm;  // Store derived from the Slurm step
  // Store: the run's key scope, and what to do when another job holds it (StoreBootstrap::
  // claimRank). Mpi: --run-id as given.
  std::string run_id;
  std::string collision_hint;

  const char* kindName() const;  // "local", "mpi" or "store"
  // The store's URI as it may be shown: --store (a redis password hidden), or the derived
  // tcp://node:port where rank 0 serves unless the port is taken. Empty unless Store.
  std::string storeText() const;
  // One line: "store tcp://nid001:20480 (srun without ...)", "mpi (launched by mpirun)".
  std::string describe() const;
};

// Decides; throws Usage, naming the flag or variable, for combinations that cannot work (such as
// --store with no launcher and no --rank, or a malformed Slurm node list).
BootstrapChoice chooseBootstrap(const BootstrapRequest& request,
                                const std::optional<LaunchInfo>& launch, const EnvLookup& env);

// Opens the store of a Store choice: the given one, or the Slurm step's (rank 0 serving it).
OpenedStore openChosenStore(const BootstrapChoice& choice, const EnvLookup& env, Deadline deadline);

}  // namespace rdzv::store
