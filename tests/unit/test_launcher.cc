#include "store/launcher.h"

#include <gtest/gtest.h>

#include <map>

#include "lib/error.h"

namespace rdzv::store {
namespace {

EnvLookup envOf(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

// Expects a Usage error whose message names `needle` (the variable and its value).
void expectUsage(std::map<std::string, std::string> vars, const std::string& needle) {
  try {
    detectLauncher(envOf(std::move(vars)));
    ADD_FAILURE() << "no error; expected one naming " << needle;
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Usage);
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(Launcher, NoneWhenNothingIsSet) {
  EXPECT_FALSE(detectLauncher(envOf({})).has_value());
  EXPECT_FALSE(detectLauncher(envOf({{"HOME", "/root"}, {"RDZV_RANK", ""}})).has_value());
}

TEST(Launcher, Rdzv) {
  auto info = detectLauncher(envOf({{"RDZV_RANK", "2"}, {"RDZV_SIZE", "4"}}));
  ASSERT_TRUE(info);
  EXPECT_EQ(info->launcher, "rdzv");
  EXPECT_EQ(info->rank, 2);
  EXPECT_EQ(info->size, 4);
  EXPECT_EQ(info->local_rank, -1);
  EXPECT_EQ(info->local_size, -1);
}

TEST(Launcher, OpenMpi) {
  auto info = detectLauncher(envOf({{"OMPI_COMM_WORLD_RANK", "5"},
                                    {"OMPI_COMM_WORLD_SIZE", "8"},
                                    {"OMPI_COMM_WORLD_LOCAL_RANK", "1"},
                                    {"OMPI_COMM_WORLD_LOCAL_SIZE", "4"},
                                    {"OMPI_MCA_ess_base_jobid", "12345"}}));
  ASSERT_TRUE(info);
  EXPECT_EQ(info->launcher, "mpirun");
  EXPECT_EQ(info->rank, 5);
  EXPECT_EQ(info->size, 8);
  EXPECT_EQ(info->local_rank, 1);
  EXPECT_EQ(info->local_size, 4);
  EXPECT_EQ(info->job_id, "12345");
}

TEST(Launcher, OpenMpiJobIdFromPmixNamespace) {
  auto info = detectLauncher(envOf({{"OMPI_COMM_WORLD_RANK", "0"},
                                    {"OMPI_COMM_WORLD_SIZE", "2"},
                                    {"PMIX_NAMESPACE", "prterun-host-1234@1"}}));
  ASSERT_TRUE(info);
  EXPECT_EQ(info->job_id, "prterun-host-1234@1");
}

TEST(Launcher, SrunStep) {
  auto info = detectLauncher(envOf({{"SLURM_PROCID", "3"},
                                    {"SLURM_NTASKS", "4"},
                                    {"SLURM_STEP_ID", "0"},
                                    {"SLURM_JOB_ID", "777"},
                                    {"SLURM_LOCALID", "1"}}));
  ASSERT_TRUE(info);
  EXPECT_EQ(info->launcher, "srun");
  EXPECT_EQ(info->rank, 3);
  EXPECT_EQ(info->size, 4);
  EXPECT_EQ(info->local_rank, 1);
  EXPECT_EQ(info->local_size, -1);
  EXPECT_EQ(info->job_id, "777.0");
}

TEST(Launcher, BatchScriptWithoutAStepIsNotSrun) {
  EXPECT_FALSE(detectLauncher(envOf({{"SLURM_PROCID", "0"},
                                     {"SLURM_NTASKS", "4"},
                                     {"SLURM_JOB_ID", "777"},
                                     {"SLURM_LOCALID", "0"}}))
                   .has_value());
}

TEST(Launcher, Pmi) {
  auto info = detectLauncher(envOf({{"PMI_RANK", "1"}, {"PMI_SIZE", "2"}}));
  ASSERT_TRUE(info);
  EXPECT_EQ(info->launcher, "pmi");
  EXPECT_EQ(info->rank, 1);
  EXPECT_EQ(info->size, 2);
}

TEST(Launcher, PmixWithAndWithoutSize) {
  auto info = detectLauncher(envOf({{"PMIX_RANK", "6"}, {"PMIX_NAMESPACE", "ns"}}));
  ASSERT_TRUE(info);
  EXPECT_EQ(info->launcher, "pmix");
  EXPECT_EQ(info->rank, 6);
  EXPECT_EQ(info->size, -1);
  EXPECT_EQ(info->job_id, "ns");
  info = detectLauncher(envOf({{"PMIX_RANK", "6"}, {"PMIX_SIZE", "7"}}));
  ASSERT_TRUE(info);
  EXPECT_EQ(info->size, 7);
}

TEST(Launcher, Precedence) {
  std::map<std::string, std::string> all = {
      {"RDZV_RANK", "0"},
      {"RDZV_SIZE", "1"},
      {"OMPI_COMM_WORLD_RANK", "1"},
      {"OMPI_COMM_WORLD_SIZE", "2"},
      {"SLURM_PROCID", "2"},
      {"SLURM_NTASKS", "3"},
      {"SLURM_STEP_ID", "0"},
      {"PMI_RANK", "3"},
      {"PMI_SIZE", "4"},
      {"PMIX_RANK", "4"},
  };
  const char* order[][2] = {{"rdzv", "RDZV_RANK"},
                            {"mpirun", "OMPI_COMM_WORLD_RANK"},
                            {"srun", "SLURM_STEP_ID"},
                            {"pmi", "PMI_RANK"},
                            {"pmix", "PMIX_RANK"}};
  for (const auto& [launcher, var] : order) {
    auto info = detectLauncher(envOf(all));
    ASSERT_TRUE(info);
    EXPECT_EQ(info->launcher, launcher);
    all.erase(var);
  }
  EXPECT_FALSE(detectLauncher(envOf(all)).has_value());
}

TEST(Launcher, MalformedValuesAreUsageErrors) {
  expectUsage({{"OMPI_COMM_WORLD_RANK", "abc"}, {"OMPI_COMM_WORLD_SIZE", "2"}},
              "OMPI_COMM_WORLD_RANK=abc");
  expectUsage({{"RDZV_RANK", "-1"}, {"RDZV_SIZE", "2"}}, "RDZV_RANK=-1");
  expectUsage({{"RDZV_RANK", "1"}, {"RDZV_SIZE", "0"}}, "RDZV_SIZE=0");
  expectUsage({{"RDZV_RANK", "2"}, {"RDZV_SIZE", "2"}}, "RDZV_RANK=2 is not below RDZV_SIZE=2");
  expectUsage({{"RDZV_RANK", "1"}}, "RDZV_SIZE");
  expectUsage({{"PMI_RANK", "1x"}, {"PMI_SIZE", "4"}}, "PMI_RANK=1x");
  expectUsage({{"PMI_RANK", "99999999999"}, {"PMI_SIZE", "4"}}, "PMI_RANK=99999999999");
  expectUsage({{"SLURM_PROCID", "4"}, {"SLURM_NTASKS", "4"}, {"SLURM_STEP_ID", "0"}},
              "SLURM_PROCID=4");
  expectUsage({{"OMPI_COMM_WORLD_RANK", "0"},
               {"OMPI_COMM_WORLD_SIZE", "2"},
               {"OMPI_COMM_WORLD_LOCAL_RANK", "two"}},
              "OMPI_COMM_WORLD_LOCAL_RANK=two");
  expectUsage({{"PMIX_RANK", "3"}, {"PMIX_SIZE", "3"}}, "PMIX_RANK=3");
}

TEST(Launcher, ProcessEnvReadsTheRealEnvironment) {
  ::setenv("RDZV_TEST_LAUNCHER_VAR", "x", 1);
  auto env = processEnv();
  EXPECT_EQ(env("RDZV_TEST_LAUNCHER_VAR"), "x");
  ::unsetenv("RDZV_TEST_LAUNCHER_VAR");
  EXPECT_FALSE(env("RDZV_TEST_LAUNCHER_VAR").has_value());
}

}  // namespace
}  // namespace rdzv::store
