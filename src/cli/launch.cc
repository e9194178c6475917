#include "cli/launch.h"

#include <memory>
#include <thread>

#include <fmt/format.h>

#include "cli/local_mode.h"
#include "lib/error.h"
#include "lib/interrupt.h"
#include "lib/placement.h"
#include "rdzv/build_info.h"
#include "store/bootstrap_choice.h"
#include "store/launcher.h"
#include "store/prefix_store.h"
#include "store/store_uri.h"
#include "transport/tcp/socket.h"
#ifdef RDZV_HAVE_MPI
#include "store/mpi_bootstrap.h"
#endif

namespace rdzv::cli {
namespace {

// The command line with the store URI as parseStoreUri shows it (a redis password hidden), for
// the report.
std::vector<std::string> redactStore(std::vector<std::string> argv, const std::string& raw,
                                     const std::string& shown) {
  for (auto& arg : argv) {
    if (arg == raw) arg = shown;
    if (arg == "--store=" + raw) arg = "--store=" + shown;
  }
  return argv;
}

}  // namespace

std::vector<RankInfo> gatherRanks(store::Bootstrap& bootstrap, const RankInfo& me,
                                  Deadline deadline) {
  std::vector<RankInfo> ranks;
  for (const auto& bytes :
       bootstrap.allgather("ranks", store::toBytes(nlohmann::json(me).dump()), deadline))
    ranks.push_back(nlohmann::json::parse(store::toString(bytes)).get<RankInfo>());
  deriveLocalIds(ranks);
  return ranks;
}

int noteRankFailure(Error& e, store::Bootstrap& bootstrap, const std::string& under_way) {
  const int rank = bootstrap.rank();
  e.onRank(rank);
  const int signal = interrupt::pending();
  if (signal != 0) {
    // The grace period ended a wait: say so, not only what the wait was for.
    interrupt::holdWaits();
    interrupt::exitAfter(interrupt::kTeardownSeconds, 128 + signal);
    e = Error(e.kind(), fmt::format("interrupted by {} before the {} finished ({})",
                                    interrupt::signalName(signal), under_way, e.what()))
            .onRank(rank);
  }
  auto notice = fmt::format("rank {}: {}", rank, e.what());
  bootstrap.abort(notice);
  // A lost peer is often the echo of another rank's failure: name the first one too.
  auto first = bootstrap.abortNotice();
  if (!first.empty() && first != notice && std::string(e.what()).find(first) == std::string::npos)
    e = Error(e.kind(), fmt::format("{}; first failure: {}", e.what(), first), e.hint())
            .onRank(rank);
  return signal;
}

void addLaunchOptions(CLI::App& cmd, LaunchFlags& flags) {
  cmd.add_option("--np", flags.np,
                 "Ranks to start in local mode (no launcher, or a launcher that started one "
                 "task; no store)")
      ->capture_default_str()
      ->each([&flags](const std::string&) { flags.np_given = true; });
  cmd.add_option("--rank", flags.rank, "This process's rank (with --size and --store)");
  cmd.add_option("--size", flags.size, "Number of ranks (with --rank and --store)");
  cmd.add_option("--store", flags.store,
                 "Rendezvous store: tcp://host:port (rank 0 serves it), file:///dir, "
                 "redis://[:password@]host:port[/db], hash:")
      ->envname("RDZV_STORE");
  cmd.add_option("--bootstrap", flags.bootstrap,
                 "auto, store, or mpi (MPI_Init and MPI_Allgather of addresses). auto: local "
                 "mode with no launcher; under srun with no --store, a tcp store rank 0 serves "
                 "on the step's first node (MPI with -t mpi); MPI under other launchers")
      ->capture_default_str();
  cmd.add_option("--run-id", flags.run_id,
                 "Scopes this run's keys in a shared store; every rank must agree")
      ->envname("RDZV_RUN_ID");
  cmd.add_option("--timeout", flags.timeout, "Seconds any single wait may take")
      ->capture_default_str();
  cmd.add_option("--addr", flags.addr, "IP address the tcp transport listens on and publishes");
  cmd.add_option("--iface", flags.iface, "Interface whose address the tcp transport uses");
}

void validateLaunchFlags(const LaunchFlags& f) {
  if (f.np < 2 || f.np > 1024) throwUsage(fmt::format("invalid --np {}", f.np), "use 2 to 1024");
  if ((f.rank >= 0) != (f.size >= 0))
    throwUsage("--rank and --size go together", "give both, or neither");
  if (f.size >= 0 && (f.size < 2 || f.rank >= f.size))
    throwUsage(fmt::format("invalid --rank {} --size {}", f.rank, f.size),
               "use a size of 2 or more and a rank of 0 .. size-1");
  if (!(f.timeout > 0) || f.timeout > 86400)
    throwUsage(fmt::format("invalid --timeout {}", f.timeout), "use a number of seconds > 0");
  if (!f.addr.empty()) transport::tcp::parseIp(f.addr, 0);
  if (!f.store.empty()) store::parseStoreUri(f.store);  // reject a bad URI before anything starts
  if (f.bootstrap != "auto" && f.bootstrap != "store" && f.bootstrap != "mpi")
    throwUsage(fmt::format("invalid --bootstrap \"{}\"", f.bootstrap), "use auto, store or mpi");
}

int launchRanks(const LaunchFlags& flags, const std::vector<std::string>& argv,
                Clock::time_point started, bool want_mpi, const std::function<void()>& local_checks,
                const RankBody& body) {
  auto env = store::processEnv();
  auto launch = store::detectLauncher(env);
  store::BootstrapRequest request;
  request.bootstrap = flags.bootstrap;
  request.store = flags.store;
  request.rank = flags.rank;
  request.size = flags.size;
  request.mpi_transport = want_mpi;
  request.run_id = flags.run_id;
  if (flags.np_given) request.np = flags.np;
  auto choice = store::chooseBootstrap(request, launch, env);
  const std::string& launcher = choice.launcher;
  if (choice.kind != store::BootstrapKind::Local && launch && launch->size == 1 && flags.rank < 0)
    throwUsage(
        fmt::format("{} started 1 task, and this command needs 2 or more ranks", launch->launcher),
        fmt::format("start 2 or more with {}, or add --np 2 to start local ranks in this task",
                    launch->launcher == "srun" ? "srun -n 2" : "-np 2"));

  if (choice.kind == store::BootstrapKind::Local) {
    if (local_checks) local_checks();
    std::vector<std::string> args(argv.begin() + 1, argv.end());
    return runLocal(flags.np, args, flags.addr.empty() && flags.iface.empty(), flags.timeout);
  }

  const bool use_mpi_bootstrap = choice.kind == store::BootstrapKind::Mpi;
#ifdef RDZV_HAVE_MPI
  std::unique_ptr<store::MpiSession> mpi;
  if (use_mpi_bootstrap || want_mpi) mpi = std::make_unique<store::MpiSession>();
#else
  if (use_mpi_bootstrap || want_mpi)
    throwUsage("this rdzvbench was built without MPI",
               fmt::format("{}; pass --store URI instead", build::kWhyNoMpi));
#endif
  auto deadline = Deadline::afterSeconds(flags.timeout);
  if (use_mpi_bootstrap) {
#ifdef RDZV_HAVE_MPI
    store::MpiBootstrap bootstrap(*mpi);
    try {
      RankStart start{bootstrap, launcher, "", choice.run_id, argv, started, {}};
      return body(start);
    } catch (const Error& e) {
      // MPI cannot end a collective that a dead rank never joins: stop every rank now.
      fmt::print(stderr, "rdzvbench: error: {}\n", e.message());
      std::fflush(stderr);
      store::MpiSession::abortAll(interrupt::exitCode(e.exitCode()));
    }
#endif
  }
  const int rank = choice.rank;
  const int size = choice.size;
  const std::string& run_id = choice.run_id;
  auto opened = store::openChosenStore(choice, env, deadline);
  // The store actually used: a derived Slurm store may serve on a later port of its window.
  const std::string store_text = choice.store ? choice.store->text : opened.store->describe();
  std::map<std::string, double> phases{{"store", secondsSince(started)}};
  store::PrefixStore scoped(*opened.store, "rdzv/" + run_id);
  store::StoreBootstrap bootstrap(scoped, rank, size);
  try {
    bootstrap.claimRank(choice.collision_hint);
    RankStart start{bootstrap,
                    launcher,
                    store_text,
                    run_id,
                    choice.store ? redactStore(argv, flags.store, store_text) : argv,
                    started,
                    std::move(phases)};
    int code = body(start);
    // Rank 0 stays until every rank has said it is done with the store: it may serve it, and
    // it removes the run's keys, so that a shared store keeps nothing of a successful run.
    if (rank != 0) {
      scoped.set(fmt::format("bye/{}", rank), {});
    } else {
      std::vector<std::string> keys;
      for (int r = 1; r < size; ++r) keys.push_back(fmt::format("bye/{}", r));
      scoped.wait(keys, Deadline::afterSeconds(flags.timeout));
      try {
        scoped.removePrefix("");
      } catch (const Error& e) {
        // The report is written and every rank is done: a leftover key is not worth a failure.
        fmt::print(stderr, "rdzvbench: warning: the run's keys stay in the store: {}\n",
                   e.message());
      }
    }
    return code;
  } catch (Error& e) {
    // The rank serving the store must outlive the others' last look at it, so the abort
    // notice reaches them; give them a moment before the server goes away.
    if (opened.server) std::this_thread::sleep_for(std::chrono::milliseconds(300));
    throw;
  }
}

}  // namespace rdzv::cli
