#include "store/bootstrap_choice.h"

#include <fmt/format.h>

#include "lib/error.h"

namespace rdzv::store {
namespace {

// With MPI the run id scopes no keys; it names the run in the report (--run-id, else the
// launcher's job id).
BootstrapChoice mpi(std::string launcher, std::string reason, const BootstrapRequest& request,
                    const std::optional<LaunchInfo>& launch) {
  BootstrapChoice c;
  c.kind = BootstrapKind::Mpi;
  c.launcher = std::move(launcher);
  c.reason = std::move(reason);
  c.run_id = request.run_id;
  if (c.run_id.empty() && launch && request.rank < 0) c.run_id = launch->job_id;
  return c;
}

// The run id that scopes a store run's keys, and the hint for when another job holds it too.
void chooseRunId(BootstrapChoice& c, const BootstrapRequest& request,
                 const std::optional<LaunchInfo>& launch) {
  c.run_id = request.run_id;
  c.collision_hint = "give every rank of this job the same new --run-id";
  if (c.run_id.empty() && launch && !launch->job_id.empty()) {
    c.run_id = launch->job_id;
    c.collision_hint = fmt::format("the {} job id {} repeats; pass --run-id to every rank",
                                   launch->launcher, c.run_id);
  }
  if (c.run_id.empty()) {
    // Ranks started by hand cannot agree on a unique id without talking first; the claim
    // catches two such jobs meeting in one store.
    c.run_id = "default";
    c.collision_hint =
        "ranks started by hand share the run id \"default\"; give every rank of this job the "
        "same unique --run-id, e.g. --run-id alice-7";
  }
}

}  // namespace

const char* BootstrapChoice::kindName() const {
  switch (kind) {
    case BootstrapKind::Local:
      return "local";
    case BootstrapKind::Mpi:
      return "mpi";
    case BootstrapKind::Store:
      return "store";
  }
  return "?";
}

std::string BootstrapChoice::storeText() const {
  if (store) return store->text;
  if (slurm) return slurm->uri();
  return {};
}

std::string BootstrapChoice::describe() const {
  auto where = storeText();
  return fmt::format("{}{} ({})", kindName(), where.empty() ? "" : " " + where, reason);
}

BootstrapChoice chooseBootstrap(const BootstrapRequest& request,
                                const std::optional<LaunchInfo>& launch, const EnvLookup& env) {
  if (request.bootstrap != "auto" && request.bootstrap != "store" && request.bootstrap != "mpi")
    throwUsage(fmt::format("invalid --bootstrap \"{}\"", request.bootstrap),
               "use auto, store or mpi");
  const bool manual = request.rank >= 0;
  std::string launcher = manual ? "manual" : launch ? launch->launcher : "local";
  if (auto from = env("RDZV_LAUNCHER"); from && !from->empty() && manual) launcher = *from;

  if (request.bootstrap == "mpi") {
    return mpi(
        launcher,
        launch && !manual ? "--bootstrap mpi, launched by " + launch->launcher : "--bootstrap mpi",
        request, launch);
  }
  if (!manual && launch && launch->size == 1 && request.np > 0 && request.store.empty()) {
    // `srun -n 1 rdzvbench run --np 4`: the allocation's one task starts the ranks itself.
    BootstrapChoice c;
    c.kind = BootstrapKind::Local;
    c.launcher = "local";
    c.reason = fmt::format("{} started one task and --np {} asks for local ranks in it",
                           launch->launcher, request.np);
    return c;
  }
  if (!manual && !launch) {
    if (!request.store.empty())
      throwUsage("--store without --rank/--size or a launcher",
                 "give --rank and --size, or start the ranks with mpirun or srun");
    if (request.mpi_transport)
      throwUsage("the mpi transport needs an MPI launcher",
                 "run under mpirun -np N ... --bootstrap mpi, or drop mpi from --transport");
    BootstrapChoice c;
    c.kind = BootstrapKind::Local;
    c.launcher = launcher;
    c.reason = "no launcher: rdzvbench starts --np ranks on this host";
    return c;
  }

  BootstrapChoice c;
  c.kind = BootstrapKind::Store;
  c.launcher = launcher;
  if (!request.store.empty()) {
    c.store = parseStoreUri(request.store);
    c.reason = manual ? "--rank/--size with --store" : "--store, launched by " + launch->launcher;
  } else if (!manual && launch->launcher == "srun" &&
             (request.bootstrap == "store" || !request.mpi_transport)) {
    c.slurm = slurmStoreFromEnv(env);
    c.reason = fmt::format(
        "srun without --store or MPI: rank 0 serves a tcp store on the step's first node, the "
        "first free port of {}-{}",
        c.slurm->first_port, c.slurm->lastPort());
  } else if (request.bootstrap == "auto" && !manual) {
    return mpi(launcher,
               launch->launcher == "srun" ? "launched by srun, with the mpi transport"
                                          : "launched by " + launch->launcher,
               request, launch);
  } else {
    throwUsage(fmt::format("no store to rendezvous through (launcher: {})", launcher),
               "pass --store tcp://HOST:PORT or file:///shared/dir, or --bootstrap mpi");
  }
  c.rank = manual ? request.rank : launch->rank;
  c.size = manual ? request.size : launch->size;
  if (c.size < 1)
    throwUsage(fmt::format("the {} launcher did not say how many ranks there are", launcher),
               "pass --rank and --size");
  chooseRunId(c, request, launch);
  return c;
}

OpenedStore openChosenStore(const BootstrapChoice& choice, const EnvLookup& env,
                            Deadline deadline) {
  if (choice.kind != BootstrapKind::Store)
    throwUsage(fmt::format("the {} bootstrap has no store", choice.kindName()));
  if (choice.slurm) return openSlurmStore(*choice.slurm, choice.rank, env, deadline);
  return openStore(*choice.store, choice.rank, deadline);
}

}  // namespace rdzv::store
