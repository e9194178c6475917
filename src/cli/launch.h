#pragma once
// How the ranks of a job are found and meet, shared by `run` and `survey`: local mode (this
// process starts --np ranks), --rank/--size/--store, a launcher's environment (mpirun, srun) or
// MPI_Init. Each rank then runs the subcommand's body with its Bootstrap.

#include <functional>
#include <map>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "lib/clock.h"
#include "lib/error.h"
#include "lib/report.h"
#include "store/bootstrap.h"

namespace rdzv::cli {

// The flags every launching subcommand has (same names as `run`'s).
struct LaunchFlags {
  int np = 2;
  bool np_given = false;  // --np was on the command line (it then counts under a one-task srun)
  int rank = -1;
  int size = -1;
  std::string store;
  std::string bootstrap = "auto";  // auto, store or mpi
  std::string run_id;
  double timeout = 60;
  std::string addr;
  std::string iface;
};

// What one rank's body is given once it knows its place in the job.
struct RankStart {
  store::Bootstrap& bootstrap;
  std::string launcher;   // "local", "mpirun", "srun", "manual"
  std::string store_uri;  // as shown (a redis password hidden); empty with the mpi bootstrap
  std::string run_id;
  std::vector<std::string> argv;         // the command line for the report, store URI redacted
  Clock::time_point started;             // when this process began
  std::map<std::string, double> phases;  // start-up phases passed (Report::phase_seconds)
};
using RankBody = std::function<int(RankStart&)>;

// Finds this process's rank and runs `body` with a Bootstrap, or, with no launcher and no
// store, starts --np copies of this command line in local mode and returns their exit code.
// `want_mpi`: the job needs MPI_Init (the mpi transport). `local_checks` runs before local
// mode starts anything: usage errors that only exist there (e.g. --root against --np).
int launchRanks(const LaunchFlags& flags, const std::vector<std::string>& argv,
                Clock::time_point started, bool want_mpi, const std::function<void()>& local_checks,
                const RankBody& body);

// Every rank's RankInfo (placement included, local ids derived), in rank order; each rank
// passes its own. Collective: every rank calls it.
std::vector<RankInfo> gatherRanks(store::Bootstrap& bootstrap, const RankInfo& me,
                                  Deadline deadline);

// What a rank does with its failure `e` before rethrowing it: names the rank; when a stop
// signal cut a wait short, says so ("interrupted by SIGTERM before the <under_way> finished")
// and bounds the teardown; tells the other ranks (abort notice); and appends the first failure
// another rank published. Returns the pending stop signal, or 0.
int noteRankFailure(Error& e, store::Bootstrap& bootstrap, const std::string& under_way);

// Registers --np, --rank, --size, --store, --bootstrap, --run-id, --timeout, --addr and --iface
// on `cmd`.
void addLaunchOptions(CLI::App& cmd, LaunchFlags& flags);

// Usage errors of the launch flags, before anything starts.
void validateLaunchFlags(const LaunchFlags& flags);

}  // namespace rdzv::cli
