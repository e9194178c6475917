// Placement capture (lib/placement.h) from an injected environment and a fake sysfs tree, and
// its JSON form in the report.

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

#include <gtest/gtest.h>

#include "lib/error.h"
#include "lib/placement.h"
#include "lib/report.h"

namespace rdzv {
namespace {

namespace fs = std::filesystem;

EnvLookup fakeEnv(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

// A sysfs root with NUMA node directories, each holding a cpulist.
class FakeSysfs : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    root_ = fs::temp_directory_path() /
            ("rdzv_placement_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }
  void node(const std::string& name, const std::string& cpulist) {
    auto dir = root_ / "devices/system/node" / name;
    fs::create_directories(dir);
    std::ofstream(dir / "cpulist") << cpulist << "\n";
  }
  std::string root() const { return root_.string(); }

 private:
  fs::path root_;
};

TEST(CpuList, FormatsRangesAndSingles) {
  EXPECT_EQ(formatCpuList({}), "");
  EXPECT_EQ(formatCpuList({5}), "5");
  EXPECT_EQ(formatCpuList({0, 1, 2, 3, 8}), "0-3,8");
  EXPECT_EQ(formatCpuList({8, 3, 1, 2, 0, 3}), "0-3,8");  // unsorted, duplicate
  EXPECT_EQ(formatCpuList({0, 2, 4, 5}), "0,2,4-5");
  EXPECT_EQ(formatCpuList({10, 11, 12, 64, 65, 127}), "10-12,64-65,127");
}

TEST(CpuList, ParsesTheKernelSyntaxAndRoundTrips) {
  EXPECT_EQ(parseCpuList("0-3,8\n"), (std::vector<int>{0, 1, 2, 3, 8}));
  EXPECT_EQ(parseCpuList(""), std::vector<int>{});
  EXPECT_EQ(parseCpuList("7"), std::vector<int>{7});
  EXPECT_EQ(formatCpuList(parseCpuList("0-3,8,10-11")), "0-3,8,10-11");
  for (const char* bad : {"a", "1-", "-3", "3-1", "1,,2", "1-2-3", "0x1"}) {
    try {
      parseCpuList(bad);
      ADD_FAILURE() << "accepted " << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::Usage);
      EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
    }
  }
}

TEST(CpuList, AffinityOfThisProcessIsNotEmpty) {
  auto cpus = affinityCpus();
  ASSERT_FALSE(cpus.empty());
  EXPECT_LE(static_cast<long>(cpus.size()), sysconf(_SC_NPROCESSORS_CONF));
}

TEST_F(FakeSysfs, NumaNodesAreThoseHoldingTheCpus) {
  node("node0", "0-3");
  node("node1", "4-7");
  node("node3", "8-9,12");
  node("possible", "0-9");  // not a node directory
  EXPECT_EQ(numaNodesOf({0, 1}, root()), std::vector<int>{0});
  EXPECT_EQ(numaNodesOf({3, 4}, root()), (std::vector<int>{0, 1}));
  EXPECT_EQ(numaNodesOf({12}, root()), std::vector<int>{3});
  EXPECT_EQ(numaNodesOf({10}, root()), std::vector<int>{});
  EXPECT_EQ(numaNodesOf({0}, root() + "/nowhere"), std::vector<int>{});
}

TEST_F(FakeSysfs, AnUnreadableNodeIsSkipped) {
  node("node0", "0-1");
  node("node1", "garbage");
  EXPECT_EQ(numaNodesOf({0, 1, 2}, root()), std::vector<int>{0});
}

TEST_F(FakeSysfs, SrunGivesNodeAndLocalId) {
  node("node0", "0-3");
  node("node1", "4-7");
  RankInfo info;
  capturePlacement(info, fakeEnv({{"SLURM_NODEID", "3"}, {"SLURM_LOCALID", "1"}}), "srun",
                   {2, 3, 4}, root());
  EXPECT_EQ(info.node_id, 3);
  EXPECT_EQ(info.local_id, 1);
  EXPECT_EQ(info.cpus, "2-4");
  EXPECT_EQ(info.cpu_count, 3);
  EXPECT_EQ(info.numa_nodes, (std::vector<int>{0, 1}));
}

TEST_F(FakeSysfs, EachLauncherUsesItsOwnLocalRank) {
  auto env = fakeEnv({{"SLURM_NODEID", "0"},
                      {"SLURM_LOCALID", "0"},
                      {"OMPI_COMM_WORLD_LOCAL_RANK", "2"},
                      {"MPI_LOCALRANKID", "5"}});
  RankInfo mpirun;
  capturePlacement(mpirun, env, "mpirun", {0}, root());
  EXPECT_EQ(mpirun.local_id, 2);
  EXPECT_FALSE(mpirun.node_id);  // a batch shell's SLURM_NODEID says nothing about this rank
  RankInfo pmi;
  capturePlacement(pmi, env, "pmi", {0}, root());
  EXPECT_EQ(pmi.local_id, 5);
  // Local mode inside a batch job: the batch shell's SLURM_LOCALID is not this rank's.
  RankInfo local;
  capturePlacement(local, env, "local", {0}, root());
  EXPECT_FALSE(local.local_id);
  EXPECT_FALSE(local.node_id);
  EXPECT_TRUE(local.numa_nodes.empty());  // no node directories in this tree
}

TEST_F(FakeSysfs, MalformedIdsAreLeftOut) {
  RankInfo info;
  capturePlacement(info, fakeEnv({{"SLURM_NODEID", "x"}, {"SLURM_LOCALID", "-1"}}), "srun", {},
                   root());
  EXPECT_FALSE(info.node_id);
  EXPECT_FALSE(info.local_id);
  EXPECT_EQ(info.cpus, "");
  EXPECT_EQ(info.cpu_count, 0);
}

TEST(Placement, LocalIdsAreDerivedFromHostOrderWhenMissing) {
  std::vector<RankInfo> ranks{{0, "a", 1}, {1, "b", 2}, {2, "a", 3}, {3, "b", 4}, {4, "a", 5}};
  ranks[3].local_id = 7;  // what a launcher said stays
  deriveLocalIds(ranks);
  std::vector<int> ids;
  for (const auto& r : ranks) ids.push_back(r.local_id.value_or(-1));
  EXPECT_EQ(ids, (std::vector<int>{0, 0, 1, 7, 2}));
}

TEST(Placement, SlurmRunOnlyUnderSlurm) {
  EXPECT_FALSE(captureSlurmRun(fakeEnv({{"SLURM_NODEID", "0"}})));
  auto step = captureSlurmRun(fakeEnv({{"SLURM_JOB_ID", "4242"},
                                       {"SLURM_STEP_ID", "3"},
                                       {"SLURM_STEP_NODELIST", "nid[001-002]"},
                                       {"SLURM_JOB_NODELIST", "nid[001-004]"},
                                       {"SLURM_STEP_TASKS_PER_NODE", "2(x2)"},
                                       {"SLURM_TASKS_PER_NODE", "4(x4)"},
                                       {"SLURM_JOB_PARTITION", "debug"}}));
  ASSERT_TRUE(step);
  EXPECT_EQ(step->job_id, "4242");
  EXPECT_EQ(step->step_id, "3");
  EXPECT_EQ(step->nodelist, "nid[001-002]");  // the step's, not the allocation's
  EXPECT_EQ(step->tasks_per_node, "2(x2)");
  EXPECT_EQ(step->partition, "debug");
  // A batch shell: no step; the job's node list and the old variable names.
  auto batch = captureSlurmRun(fakeEnv(
      {{"SLURM_JOBID", "7"}, {"SLURM_JOB_NODELIST", "login2"}, {"SLURM_TASKS_PER_NODE", "1"}}));
  ASSERT_TRUE(batch);
  EXPECT_EQ(batch->job_id, "7");
  EXPECT_EQ(batch->step_id, "");
  EXPECT_EQ(batch->nodelist, "login2");
  EXPECT_EQ(batch->tasks_per_node, "1");
  EXPECT_EQ(batch->partition, "");
}

TEST(Placement, ReportJsonCarriesPlacementOnlyWhereKnown) {
  RankInfo bare{1, "h", 9};
  auto j = nlohmann::json(bare);
  EXPECT_EQ(j, (nlohmann::json{{"rank", 1}, {"host", "h"}, {"pid", 9}}));  // as older reports
  EXPECT_EQ(j.get<RankInfo>().local_id, std::nullopt);

  RankInfo full{2, "nid001", 10};
  full.node_id = 0;
  full.local_id = 1;
  full.cpus = "0-3,8";
  full.cpu_count = 5;
  full.numa_nodes = {0, 1};
  j = nlohmann::json(full);
  EXPECT_EQ(j.at("node_id"), 0);
  EXPECT_EQ(j.at("local_id"), 1);
  EXPECT_EQ(j.at("cpus"), "0-3,8");
  EXPECT_EQ(j.at("cpu_count"), 5);
  EXPECT_EQ(j.at("numa_nodes"), nlohmann::json::array({0, 1}));
  auto back = j.get<RankInfo>();
  EXPECT_EQ(nlohmann::json(back), j);

  Report report;
  report.slurm = SlurmRun{"42", "0", "nid[001-002]", "2(x2)", ""};
  report.interrupted = Interruption{15, "SIGTERM"};
  auto rj = nlohmann::json(report);
  EXPECT_EQ(rj.at("slurm"), (nlohmann::json{{"job_id", "42"},
                                            {"step_id", "0"},
                                            {"nodelist", "nid[001-002]"},
                                            {"tasks_per_node", "2(x2)"}}));
  EXPECT_EQ(rj.at("interrupted"), (nlohmann::json{{"signal", 15}, {"name", "SIGTERM"}}));
  auto again = rj.get<Report>();
  EXPECT_EQ(nlohmann::json(again), rj);
  EXPECT_FALSE(nlohmann::json(Report{}).contains("slurm"));
  EXPECT_FALSE(nlohmann::json(Report{}).contains("interrupted"));
}

TEST(Placement, SeriesCarriesItsPairs) {
  Series s;
  EXPECT_FALSE(nlohmann::json(s).contains("measured_pairs"));
  s.measured_pairs = {{0, 2}, {1, 3}};
  s.pair_locality = "inter";
  auto j = nlohmann::json(s);
  EXPECT_EQ(j.at("measured_pairs"), nlohmann::json::parse("[[0,2],[1,3]]"));
  EXPECT_EQ(j.at("pair_locality"), "inter");
  EXPECT_EQ(nlohmann::json(j.get<Series>()), j);
}

}  // namespace
}  // namespace rdzv
