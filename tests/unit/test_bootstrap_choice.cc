#include "store/bootstrap_choice.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <map>

#include "lib/error.h"

namespace rdzv::store {
namespace {

using Env = std::map<std::string, std::string>;

EnvLookup envOf(Env vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

const Env kNone;
const Env kMpirun{{"OMPI_COMM_WORLD_RANK", "1"},
                  {"OMPI_COMM_WORLD_SIZE", "2"},
                  {"OMPI_MCA_ess_base_jobid", "99"}};
const Env kSrun{{"SLURM_PROCID", "1"},
                {"SLURM_NTASKS", "4"},
                {"SLURM_STEP_ID", "2"},
                {"SLURM_JOB_ID", "1234"},
                {"SLURM_LOCALID", "1"},
                {"SLURM_STEP_NODELIST", "nid[001-002]"},
                {"SLURM_JOB_NODELIST", "nid[001-004]"}};
const Env kPmi{{"PMI_RANK", "0"}, {"PMI_SIZE", "2"}};
const Env kPmix{{"PMIX_RANK", "0"}, {"PMIX_SIZE", "2"}, {"PMIX_NAMESPACE", "ns"}};

BootstrapRequest req(std::string bootstrap = "auto", std::string store = "",
                     bool mpi_transport = false) {
  BootstrapRequest r;
  r.bootstrap = std::move(bootstrap);
  r.store = std::move(store);
  r.mpi_transport = mpi_transport;
  return r;
}

BootstrapChoice choose(const BootstrapRequest& r, const Env& vars) {
  auto env = envOf(vars);
  return chooseBootstrap(r, detectLauncher(env), env);
}

void expectUsage(const BootstrapRequest& r, const Env& vars, const std::string& needle) {
  try {
    auto c = choose(r, vars);
    ADD_FAILURE() << "chose " << c.describe() << "; expected an error naming " << needle;
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Usage);
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(BootstrapChoice, NoLauncher) {
  auto c = choose(req(), kNone);
  EXPECT_EQ(c.kind, BootstrapKind::Local);
  EXPECT_EQ(c.launcher, "local");
  EXPECT_EQ(c.describe(), "local (no launcher: rdzvbench starts --np ranks on this host)");
  EXPECT_EQ(choose(req("store"), kNone).kind, BootstrapKind::Local);
  // An MPI singleton.
  EXPECT_EQ(choose(req("mpi"), kNone).kind, BootstrapKind::Mpi);
  expectUsage(req("auto", "tcp://127.0.0.1:4000"), kNone, "--store without --rank/--size");
  expectUsage(req("auto", "", true), kNone, "the mpi transport needs an MPI launcher");
  expectUsage(req("sometimes"), kNone, "invalid --bootstrap \"sometimes\"");
}

TEST(BootstrapChoice, Manual) {
  auto r = req("auto", "tcp://127.0.0.1:4000?prefix=p");
  r.rank = 1;
  r.size = 3;
  auto c = choose(r, kSrun);  // --rank wins over the launcher
  EXPECT_EQ(c.kind, BootstrapKind::Store);
  EXPECT_EQ(c.launcher, "manual");
  EXPECT_EQ(c.rank, 1);
  EXPECT_EQ(c.size, 3);
  EXPECT_EQ(c.storeText(), "tcp://127.0.0.1:4000?prefix=p");
  EXPECT_FALSE(c.slurm);
  EXPECT_EQ(c.run_id, "1234.2");  // the launcher's job id still scopes the keys
  EXPECT_EQ(choose(r, kNone).run_id, "default");
  r.run_id = "alice-7";
  EXPECT_EQ(choose(r, kNone).run_id, "alice-7");
  EXPECT_EQ(chooseBootstrap(r, std::nullopt, envOf({{"RDZV_LAUNCHER", "local"}})).launcher,
            "local");
  r.store.clear();
  expectUsage(r, kNone, "no store to rendezvous through (launcher: manual)");
  r.bootstrap = "mpi";
  EXPECT_EQ(choose(r, kNone).kind, BootstrapKind::Mpi);
}

TEST(BootstrapChoice, MpiLaunchers) {
  for (const auto& [env, name] : {std::pair{kMpirun, "mpirun"}, {kPmi, "pmi"}, {kPmix, "pmix"}}) {
    auto c = choose(req(), env);
    EXPECT_EQ(c.kind, BootstrapKind::Mpi) << name;
    EXPECT_EQ(c.describe(), fmt::format("mpi (launched by {})", name));
    EXPECT_EQ(choose(req("mpi"), env).kind, BootstrapKind::Mpi) << name;
    // The launcher's job id names an MPI run in the report.
    EXPECT_EQ(choose(req("mpi"), env).run_id, detectLauncher(envOf(env))->job_id) << name;
    EXPECT_EQ(choose(req("auto", "", true), env).kind, BootstrapKind::Mpi) << name;
    auto s = choose(req("auto", "file:///tmp/x"), env);
    EXPECT_EQ(s.kind, BootstrapKind::Store) << name;
    EXPECT_EQ(s.storeText(), "file:///tmp/x");
    expectUsage(req("store"), env,
                fmt::format("no store to rendezvous through (launcher: {})", name));
  }
  auto c = choose(req("auto", "tcp://127.0.0.1:4000"), kMpirun);
  EXPECT_EQ(c.rank, 1);
  EXPECT_EQ(c.size, 2);
  EXPECT_EQ(c.run_id, "99");
}

TEST(BootstrapChoice, SrunWithoutStoreDerivesOne) {
  for (const auto& bootstrap : {"auto", "store"}) {
    auto c = choose(req(bootstrap), kSrun);
    EXPECT_EQ(c.kind, BootstrapKind::Store) << bootstrap;
    EXPECT_EQ(c.launcher, "srun");
    ASSERT_TRUE(c.slurm);
    EXPECT_FALSE(c.store);
    EXPECT_EQ(c.slurm->host, "nid001");
    EXPECT_EQ(c.slurm->first_port, slurmStorePort("1234", "2"));
    EXPECT_EQ(c.rank, 1);
    EXPECT_EQ(c.size, 4);
    EXPECT_EQ(c.run_id, "1234.2");
    EXPECT_EQ(c.storeText(), fmt::format("tcp://nid001:{}", c.slurm->first_port));
    EXPECT_EQ(c.describe().rfind(fmt::format("store tcp://nid001:{} (srun without --store or MPI: "
                                             "rank 0 serves a tcp store on the step's first node",
                                             c.slurm->first_port),
                                 0),
              0u)
        << c.describe();
  }
  // --bootstrap store wins over the mpi transport's wish for MPI.
  EXPECT_TRUE(choose(req("store", "", true), kSrun).slurm);
}

TEST(BootstrapChoice, SrunWithMpiOrAStore) {
  auto c = choose(req("mpi"), kSrun);
  EXPECT_EQ(c.kind, BootstrapKind::Mpi);
  EXPECT_EQ(c.describe(), "mpi (--bootstrap mpi, launched by srun)");
  c = choose(req("auto", "", true), kSrun);
  EXPECT_EQ(c.kind, BootstrapKind::Mpi);
  EXPECT_EQ(c.describe(), "mpi (launched by srun, with the mpi transport)");
  c = choose(req("auto", "tcp://10.0.0.1:5000"), kSrun);
  EXPECT_EQ(c.kind, BootstrapKind::Store);
  EXPECT_FALSE(c.slurm);
  EXPECT_EQ(c.storeText(), "tcp://10.0.0.1:5000");
  EXPECT_EQ(c.run_id, "1234.2");
}

TEST(BootstrapChoice, SrunWithABadNodeListIsAUsageError) {
  auto env = kSrun;
  env["SLURM_STEP_NODELIST"] = "nid[001-";
  expectUsage(req(), env, "SLURM_STEP_NODELIST \"nid[001-\"");
  // With MPI the node list is not needed, so it is not read.
  EXPECT_EQ(choose(req("mpi"), env).kind, BootstrapKind::Mpi);
  env.erase("SLURM_STEP_NODELIST");
  EXPECT_EQ(choose(req(), env).slurm->host, "nid001");  // from SLURM_JOB_NODELIST
  env.erase("SLURM_JOB_NODELIST");
  expectUsage(req(), env, "none of SLURM_STEP_NODELIST");
}

TEST(BootstrapChoice, BatchScriptIsNotAStep) {
  // sbatch gives SLURM_PROCID=0 to the batch script, but no step id: local mode there.
  auto c = choose(req(), {{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "4"}, {"SLURM_JOB_ID", "5"}});
  EXPECT_EQ(c.kind, BootstrapKind::Local);
}

}  // namespace
}  // namespace rdzv::store
