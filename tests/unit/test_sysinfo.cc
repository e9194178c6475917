#include <string>

#include <gtest/gtest.h>

#include "lib/sysinfo.h"

namespace rdzv {
namespace {

TEST(CaptureEnvironment, KeepsOnlyInterconnectAndLauncherVariables) {
  char* envp[] = {const_cast<char*>("FI_PROVIDER=cxi"),
                  const_cast<char*>("FI_CXI_RDZV_THRESHOLD=16384"),
                  const_cast<char*>("RDZV_STORE=tcp://h:1"),
                  const_cast<char*>("SLURM_JOB_ID=42"),
                  const_cast<char*>("OMPI_COMM_WORLD_RANK=0"),
                  const_cast<char*>("PMI_RANK=3"),
                  const_cast<char*>("PMIX_NAMESPACE=ns"),
                  const_cast<char*>("SLINGSHOT_VNIS=1"),
                  const_cast<char*>("CXI_FORK_SAFE=1"),
                  const_cast<char*>("EMPTY_OK_FI_=x"),
                  const_cast<char*>("HOME=/root"),
                  const_cast<char*>("PATH=/bin"),
                  const_cast<char*>("fi_lower=1"),
                  const_cast<char*>("FI_NOEQUALS"),
                  const_cast<char*>("=FI_NONAME"),
                  const_cast<char*>("RDZV_EMPTY="),
                  const_cast<char*>("RDZV_EQ=a=b"),
                  nullptr};
  const auto env = captureEnvironment(envp);
  const std::map<std::string, std::string> expected = {{"FI_PROVIDER", "cxi"},
                                                       {"FI_CXI_RDZV_THRESHOLD", "16384"},
                                                       {"RDZV_STORE", "tcp://h:1"},
                                                       {"SLURM_JOB_ID", "42"},
                                                       {"OMPI_COMM_WORLD_RANK", "0"},
                                                       {"PMI_RANK", "3"},
                                                       {"PMIX_NAMESPACE", "ns"},
                                                       {"SLINGSHOT_VNIS", "1"},
                                                       {"CXI_FORK_SAFE", "1"},
                                                       {"RDZV_EMPTY", ""},
                                                       {"RDZV_EQ", "a=b"}};
  EXPECT_EQ(env, expected);
}

TEST(CaptureEnvironment, NullOrEmptyEnvironment) {
  EXPECT_TRUE(captureEnvironment(nullptr).empty());
  char* envp[] = {nullptr};
  EXPECT_TRUE(captureEnvironment(envp).empty());
}

TEST(CaptureEnvironment, DefaultsToTheProcessEnvironment) {
  ASSERT_EQ(setenv("RDZV_UNIT_TEST_MARKER", "yes", 1), 0);
  const auto env = captureEnvironment();
  unsetenv("RDZV_UNIT_TEST_MARKER");
  ASSERT_EQ(env.count("RDZV_UNIT_TEST_MARKER"), 1u);
  EXPECT_EQ(env.at("RDZV_UNIT_TEST_MARKER"), "yes");
}

TEST(CaptureHost, FillsTheBasics) {
  const HostInfo h = captureHost();
  EXPECT_FALSE(h.hostname.empty());
  EXPECT_FALSE(h.kernel.empty());
  EXPECT_GE(h.cpus, 1);
  EXPECT_GE(h.numa_nodes, 0);
}

TEST(HostInfoJson, RoundTrips) {
  const HostInfo h{"nid001", "AMD EPYC 7763 64-Core Processor", "5.14.21", 128, 8};
  const nlohmann::json j = h;
  EXPECT_EQ(j.size(), 5u);
  EXPECT_EQ(j.at("cpu_model"), "AMD EPYC 7763 64-Core Processor");
  const HostInfo back = nlohmann::json::parse(j.dump()).get<HostInfo>();
  EXPECT_EQ(back.hostname, h.hostname);
  EXPECT_EQ(back.cpu_model, h.cpu_model);
  EXPECT_EQ(back.kernel, h.kernel);
  EXPECT_EQ(back.cpus, h.cpus);
  EXPECT_EQ(back.numa_nodes, h.numa_nodes);
}

}  // namespace
}  // namespace rdzv
