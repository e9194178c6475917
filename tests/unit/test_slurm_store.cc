#include "store/slurm_store.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <map>
#include <set>

#include "lib/error.h"
#include "store/tcp_store.h"

namespace rdzv::store {
namespace {

using namespace std::chrono_literals;

EnvLookup envOf(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(SlurmStorePort, DeterministicAndInRange) {
  EXPECT_EQ(slurmStorePort("4242", "0"), slurmStorePort("4242", "0"));
  for (const char* job : {"1", "4242", "999999999", "123_4", "x"}) {
    for (const char* step : {"0", "1", "7", "4294967294", "batch"}) {
      int port = slurmStorePort(job, step);
      EXPECT_GE(port, kSlurmPortLow) << job << "." << step;
      EXPECT_LE(port + kSlurmPortCandidates - 1, kSlurmPortHigh) << job << "." << step;
      EXPECT_EQ((port - kSlurmPortLow) % kSlurmPortCandidates, 0);
    }
  }
}

TEST(SlurmStorePort, StepsOfOneJobGetDisjointWindows) {
  // Windows are whole: different first ports mean no shared port.
  for (const char* job : {"1", "4242", "31337"}) {
    std::set<int> first;
    for (int step = 0; step < 1000; ++step) first.insert(slurmStorePort(job, std::to_string(step)));
    EXPECT_EQ(first.size(), 1000u) << job;
  }
}

TEST(SlurmStorePort, JobsSpreadOverTheRange) {
  std::set<int> first;
  for (int job = 1000; job < 1100; ++job) first.insert(slurmStorePort(std::to_string(job), "0"));
  // A hash, not job-id arithmetic: 100 jobs land on (nearly) 100 windows.
  EXPECT_GT(first.size(), 95u);
}

TEST(SlurmStoreFromEnv, FirstNodeOfTheStepAndTheDerivedPort) {
  auto where = slurmStoreFromEnv(envOf({{"SLURM_JOB_ID", "77"},
                                        {"SLURM_STEP_ID", "3"},
                                        {"SLURM_STEP_NODELIST", "nid[007-008],login1"},
                                        {"SLURM_JOB_NODELIST", "other"}}));
  EXPECT_EQ(where.host, "nid007");
  EXPECT_EQ(where.nodes, 3);
  EXPECT_EQ(where.nodelist_var, "SLURM_STEP_NODELIST");
  EXPECT_EQ(where.step(), "77.3");
  EXPECT_EQ(where.first_port, slurmStorePort("77", "3"));
  EXPECT_EQ(where.uri(), fmt::format("tcp://nid007:{}", where.first_port));
}

TEST(SlurmStoreFromEnv, FallsBackToTheJobNodeList) {
  auto where = slurmStoreFromEnv(envOf({{"SLURM_JOBID", "77"},
                                        {"SLURM_STEPID", "0"},
                                        {"SLURM_STEP_NODELIST", ""},
                                        {"SLURM_JOB_NODELIST", "a[2-3]"}}));
  EXPECT_EQ(where.host, "a2");
  EXPECT_EQ(where.nodelist_var, "SLURM_JOB_NODELIST");
  where = slurmStoreFromEnv(
      envOf({{"SLURM_JOB_ID", "77"}, {"SLURM_STEP_ID", "0"}, {"SLURM_NODELIST", "z"}}));
  EXPECT_EQ(where.host, "z");
}

void expectUsage(std::map<std::string, std::string> vars, const std::string& needle) {
  try {
    slurmStoreFromEnv(envOf(std::move(vars)));
    ADD_FAILURE() << "no error; expected one naming " << needle;
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Usage);
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(SlurmStoreFromEnv, MissingOrBadVariablesAreNamed) {
  expectUsage({{"SLURM_STEP_ID", "0"}, {"SLURM_STEP_NODELIST", "a"}}, "SLURM_JOB_ID");
  expectUsage({{"SLURM_JOB_ID", "1"}, {"SLURM_STEP_NODELIST", "a"}}, "SLURM_STEP_ID");
  expectUsage({{"SLURM_JOB_ID", "1"}, {"SLURM_STEP_ID", "0"}}, "SLURM_STEP_NODELIST");
  expectUsage({{"SLURM_JOB_ID", "1"}, {"SLURM_STEP_ID", "0"}, {"SLURM_STEP_NODELIST", "n[3-1]"}},
              "SLURM_STEP_NODELIST \"n[3-1]\"");
}

TEST(SlurmStoreBindHost, TheNodesAddressUnlessLoopbackAcrossNodes) {
  SlurmStore where;
  where.host = "127.0.0.1";
  where.nodes = 1;
  EXPECT_EQ(slurmStoreBindHost(where), "127.0.0.1");
  where.nodes = 2;
  EXPECT_EQ(slurmStoreBindHost(where), "");
  where.host = "localhost";
  EXPECT_EQ(slurmStoreBindHost(where), "");
  where.host = "192.0.2.7";  // TEST-NET-1: never bound here, only looked at
  EXPECT_EQ(slurmStoreBindHost(where), "192.0.2.7");
}

// A step on this host, its window at a port that depends on the test process, so that runs of
// this test at the same time use different windows.
SlurmStore loopbackStep(const std::string& step) {
  SlurmStore where;
  where.job_id = fmt::format("unit-{}", ::getpid());
  where.step_id = step;
  where.host = "127.0.0.1";
  where.nodelist_var = "SLURM_STEP_NODELIST";
  where.first_port = slurmStorePort(where.job_id, where.step_id);
  return where;
}

// A loopback socket listening on `port` that never answers; -1 when the port is taken already.
int squat(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 4) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

TEST(SlurmStoreOpen, RanksFindRankZeroWhicheverStartsFirst) {
  auto where = loopbackStep("0");
  auto env = envOf({});
  // Rank 1 starts looking before rank 0 serves.
  auto rank1 = std::async(std::launch::async, [&] {
    auto opened = openSlurmStore(where, 1, env, Deadline::after(10s));
    opened.store->set("from1", toBytes("hello"));
    return opened.store->describe();
  });
  std::this_thread::sleep_for(200ms);
  auto rank0 = openSlurmStore(where, 0, env, Deadline::after(10s));
  ASSERT_TRUE(rank0.server);
  EXPECT_EQ(toString(rank0.store->get("from1", Deadline::after(10s))), "hello");
  EXPECT_EQ(rank1.get(), rank0.store->describe());
}

TEST(SlurmStoreOpen, TakenPortsAreSkippedAndOtherStepsIgnored) {
  auto where = loopbackStep("1");
  // The first port answers nothing (another program), the second is another step's store.
  int squatter = squat(where.first_port);
  if (squatter < 0) GTEST_SKIP() << "port " << where.first_port << " is in use already";
  auto other_step = loopbackStep("1");
  other_step.step_id = "other";
  std::unique_ptr<TcpStoreServer> other;
  try {
    other = std::make_unique<TcpStoreServer>("127.0.0.1", where.first_port + 1);
  } catch (const Error&) {
    ::close(squatter);
    GTEST_SKIP() << "port " << where.first_port + 1 << " is in use already";
  }
  TcpStoreClient other_client("127.0.0.1", where.first_port + 1, Deadline::after(5s));
  other_client.set("rdzvbench/slurm-step/" + other_step.step(), toBytes("x"));

  auto env = envOf({});
  auto rank0 = openSlurmStore(where, 0, env, Deadline::after(10s));
  ASSERT_TRUE(rank0.server);
  EXPECT_GE(rank0.server->port(), where.first_port + 2);
  EXPECT_LE(rank0.server->port(), where.lastPort());
  auto rank1 = openSlurmStore(where, 1, env, Deadline::after(20s));
  EXPECT_EQ(rank1.store->describe(), rank0.store->describe());
  rank1.store->set("k", toBytes("v"));
  EXPECT_EQ(toString(rank0.store->get("k", Deadline::after(5s))), "v");
  ::close(squatter);
}

TEST(SlurmStoreOpen, NoRankZeroEndsAtTheDeadlineNamingThePorts) {
  auto where = loopbackStep("2");
  auto start = Clock::now();
  try {
    openSlurmStore(where, 1, envOf({}), Deadline::after(700ms));
    FAIL() << "found a store with no rank 0";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Runtime);
    std::string what = e.what();
    EXPECT_NE(what.find(fmt::format("ports {}-{}", where.first_port, where.lastPort())),
              std::string::npos)
        << what;
    EXPECT_NE(what.find(where.step()), std::string::npos) << what;
  }
  EXPECT_LT(Clock::now() - start, 5s);
}

TEST(SlurmStoreOpen, RankZeroOnAnotherNodeIsRefused) {
  auto where = loopbackStep("3");
  try {
    openSlurmStore(where, 0, envOf({{"SLURMD_NODENAME", "nid002"}}), Deadline::after(5s));
    FAIL() << "served on the wrong node";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Usage);
    EXPECT_NE(std::string(e.what()).find("rank 0 runs on node nid002"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace rdzv::store
