// captureNodeState against stand-in systemctl and squeue programs put first on PATH: what it
// asks, how it reads the answers, and that a missing, failing or hanging command leaves
// "cannot tell" within the deadline.

#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "bench/doctor.h"
#include "cxi_fixture.h"

namespace rdzv::bench {
namespace {

using rdzv::testing::FakeNic;
using rdzv::testing::SysfsTree;

// Puts `dir` first on PATH for the life of the object.
class PathPrefix {
 public:
  explicit PathPrefix(const std::filesystem::path& dir) {
    const char* old = getenv("PATH");
    old_ = old != nullptr ? old : "";
    setenv("PATH", (dir.string() + ":" + old_).c_str(), 1);
  }
  ~PathPrefix() { setenv("PATH", old_.c_str(), 1); }
  PathPrefix(const PathPrefix&) = delete;
  PathPrefix& operator=(const PathPrefix&) = delete;

 private:
  std::string old_;
};

// A shell script `name` in tree's bin/ that logs its arguments to bin/<name>.args.
void fakeCommand(const SysfsTree& tree, const std::string& name, const std::string& body) {
  const auto path = tree.root() / "bin" / name;
  tree.write(std::filesystem::path("bin") / name,
             "#!/bin/sh\necho \"$@\" > \"$0.args\"\n" + body + "\n");
  std::filesystem::permissions(path, std::filesystem::perms::owner_all);
}

std::string argsOf(const SysfsTree& tree, const std::string& name) {
  std::ifstream in(tree.root() / "bin" / (name + ".args"));
  std::string line;
  std::getline(in, line);
  return line;
}

DoctorInput nodeInput(const SysfsTree& tree) {
  DoctorInput in;
  in.sysfs_root = tree.root();
  in.real_node = true;
  in.host.hostname = "nid001.cluster.example";
  return in;
}

TEST(DoctorCapture, RetryHandlerStatesFromSystemctl) {
  SysfsTree tree;
  tree.addNic({.index = 0});
  tree.addNic({.index = 1, .slot = "0000:22:00.0"});
  fakeCommand(tree, "systemctl", "echo active; echo inactive; exit 3");
  PathPrefix path(tree.root() / "bin");
  auto in = nodeInput(tree);
  captureNodeState(in, 5);
  EXPECT_EQ(argsOf(tree, "systemctl"), "is-active cxi_rh@cxi0.service cxi_rh@cxi1.service");
  EXPECT_EQ(in.retry_handlers,
            (std::map<std::string, std::string>{{"cxi0", "active"}, {"cxi1", "inactive"}}));
  EXPECT_GT(in.now, 1700000000);
  EXPECT_FALSE(in.node_jobs.has_value());  // not in a job: squeue not asked
  EXPECT_EQ(argsOf(tree, "squeue"), "");
}

TEST(DoctorCapture, SystemctlWithoutAnAnswerIsUnknown) {
  SysfsTree tree;
  tree.addNic({.index = 0});
  // As on a host without systemd as PID 1: nothing on stdout, exit 1.
  fakeCommand(tree, "systemctl", "echo 'System has not been booted with systemd' >&2; exit 1");
  PathPrefix path(tree.root() / "bin");
  auto in = nodeInput(tree);
  captureNodeState(in, 5);
  EXPECT_EQ(in.retry_handlers, (std::map<std::string, std::string>{{"cxi0", "unknown"}}));
  fakeCommand(tree, "systemctl", "exec sleep 30");
  const auto start = std::chrono::steady_clock::now();
  captureNodeState(in, 0.3);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 5);
  EXPECT_EQ(in.retry_handlers, (std::map<std::string, std::string>{{"cxi0", "unknown"}}));
}

TEST(DoctorCapture, SystemctlOnlyOnTheRealNodeWithNics) {
  SysfsTree tree;
  fakeCommand(tree, "systemctl", "echo active");
  PathPrefix path(tree.root() / "bin");
  auto in = nodeInput(tree);
  captureNodeState(in, 5);  // no NIC
  EXPECT_TRUE(in.retry_handlers.empty());
  tree.addNic({.index = 0});
  in.real_node = false;  // a fixture --sysfs-root
  captureNodeState(in, 5);
  EXPECT_TRUE(in.retry_handlers.empty());
  EXPECT_EQ(argsOf(tree, "systemctl"), "");
}

TEST(DoctorCapture, OtherJobsFromSqueue) {
  SysfsTree tree;
  fakeCommand(tree, "squeue", "printf '42\\n43\\n\\n44_7\\n'");
  PathPrefix path(tree.root() / "bin");
  auto in = nodeInput(tree);
  in.env = {{"SLURM_JOB_ID", "42"}};
  captureNodeState(in, 5);
  EXPECT_EQ(argsOf(tree, "squeue"), "-h -w nid001 -o %i");  // the short host name
  EXPECT_EQ(in.node_jobs, (std::vector<std::string>{"42", "43", "44_7"}));
  in.env["SLURMD_NODENAME"] = "x1000c0s0b0n0";
  captureNodeState(in, 5);
  EXPECT_EQ(argsOf(tree, "squeue"), "-h -w x1000c0s0b0n0 -o %i");
  fakeCommand(tree, "squeue", "echo 'slurm_load_jobs error' >&2; exit 1");
  in.node_jobs.reset();
  captureNodeState(in, 5);
  EXPECT_FALSE(in.node_jobs.has_value());  // squeue failed: no N12 line rather than a guess
}

}  // namespace
}  // namespace rdzv::bench
