#include "store/file_store.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "lib/error.h"

namespace rdzv::store {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

class FileStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "rdzv-file-store-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string dir_;
};

TEST_F(FileStoreTest, SetThenGetWithSlashesInTheKey) {
  FileStore store(dir_);
  Bytes value = {0, 1, 2, 255};
  store.set("run1/rank/0", value);
  EXPECT_EQ(store.get("run1/rank/0", Deadline::after(1s)), value);
  // A key and a key below it coexist: keys are encoded, not mapped to directories.
  store.set("run1", toBytes("top"));
  EXPECT_EQ(toString(store.get("run1", Deadline::after(1s))), "top");
  EXPECT_TRUE(fs::exists(fs::path(dir_) / "k.run1%2Frank%2F0"));
  EXPECT_EQ(store.describe(), "file://" + dir_);
}

TEST_F(FileStoreTest, KeysThatLookLikePathsStayInsideTheDirectory) {
  FileStore store(dir_);
  store.set("../escape", toBytes("x"));
  store.set(".", toBytes("dot"));
  EXPECT_FALSE(fs::exists(fs::path(dir_).parent_path() / "escape"));
  EXPECT_EQ(toString(store.get(".", Deadline::after(1s))), "dot");
  EXPECT_EQ(toString(store.get("../escape", Deadline::after(1s))), "x");
}

TEST_F(FileStoreTest, CreatesAMissingDirectory) {
  std::string nested = dir_ + "/a/b/c";
  FileStore store(nested);
  store.set("k", toBytes("v"));
  EXPECT_TRUE(fs::is_directory(nested));
}

TEST_F(FileStoreTest, UnusableDirectoryIsARuntimeErrorNamingIt) {
  // Under a regular file, so that it fails even for root.
  std::ofstream(dir_ + "/plainfile") << "x";
  std::string bad = dir_ + "/plainfile/store";
  try {
    FileStore store(bad);
    FAIL() << "store opened under a regular file";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Runtime);
    EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
    EXPECT_FALSE(e.hint().empty());
  }
}

TEST_F(FileStoreTest, WaitExpiryNamesTheMissingKeyAndTakesAboutTheDeadline) {
  FileStore store(dir_);
  store.set("present", {});
  auto start = Clock::now();
  try {
    store.wait({"present", "run1/rank/7"}, Deadline::after(200ms));
    FAIL() << "wait did not expire";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Runtime);
    std::string msg = e.what();
    EXPECT_NE(msg.find("run1/rank/7"), std::string::npos) << msg;
    EXPECT_EQ(msg.find("present"), std::string::npos) << msg;
    EXPECT_NE(msg.find(dir_), std::string::npos) << msg;
  }
  auto waited = Clock::now() - start;
  EXPECT_GE(waited, 190ms);
  EXPECT_LT(waited, 2s);
}

TEST_F(FileStoreTest, GetWaitsForASetFromAnotherThread) {
  FileStore store(dir_);
  std::thread setter([&] {
    std::this_thread::sleep_for(50ms);
    FileStore(dir_).set("late", toBytes("here"));
  });
  EXPECT_EQ(toString(store.get("late", Deadline::after(5s))), "here");
  setter.join();
}

TEST_F(FileStoreTest, CheckRemoveAndCounters) {
  FileStore store(dir_);
  EXPECT_FALSE(store.check({"c"}));
  EXPECT_EQ(store.add("c", 5), 5);
  EXPECT_EQ(store.add("c", -2), 3);
  EXPECT_TRUE(store.check({"c"}));
  EXPECT_EQ(toString(store.get("c", Deadline::after(1s))), "3");
  EXPECT_TRUE(store.remove("c"));
  EXPECT_FALSE(store.remove("c"));
  EXPECT_EQ(store.add("c", 1), 1);
  store.set("text", toBytes("abc"));
  EXPECT_THROW(store.add("text", 1), Error);
}

TEST_F(FileStoreTest, OverlongKeyIsAUsageError) {
  FileStore store(dir_);
  try {
    store.set(std::string(300, 'x'), {});
    FAIL() << "overlong key accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Usage);
  }
}

TEST_F(FileStoreTest, ManyProcessesSetAndAddAtOnce) {
  constexpr int kProcs = 8;
  constexpr int kAdds = 100;
  std::vector<pid_t> children;
  for (int p = 0; p < kProcs; ++p) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int rc = 0;
      try {
        FileStore store(dir_);
        store.set("run1/rank/" + std::to_string(p), toBytes(std::to_string(p)));
        for (int i = 0; i < kAdds; ++i) store.add("run1/counter", 1);
      } catch (...) {
        rc = 1;
      }
      ::_exit(rc);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  FileStore store(dir_);
  EXPECT_EQ(toString(store.get("run1/counter", Deadline::after(1s))),
            std::to_string(kProcs * kAdds));
  std::vector<std::string> keys;
  for (int p = 0; p < kProcs; ++p) keys.push_back("run1/rank/" + std::to_string(p));
  EXPECT_TRUE(store.check(keys));
  // No temp file is left behind by a completed set or add.
  for (const auto& entry : fs::directory_iterator(dir_)) {
    EXPECT_NE(entry.path().filename().string().rfind("t.", 0), 0u) << entry.path();
  }
}

TEST_F(FileStoreTest, RemovePrefixRemovesOnlyKeysUnderIt) {
  FileStore store(dir_);
  store.set("rdzv/run1/rank/0", {});
  store.set("rdzv/run1/rank/1", {});
  store.add("rdzv/run1/claim/0", 1);  // leaves a lock file too
  store.set("rdzv/run10/rank/0", {});
  store.set("rdzv/run2/rank/0", {});
  EXPECT_EQ(store.removePrefix("rdzv/run1/"), 3u);
  EXPECT_FALSE(store.check({"rdzv/run1/rank/0"}));
  EXPECT_FALSE(store.check({"rdzv/run1/claim/0"}));
  EXPECT_TRUE(store.check({"rdzv/run10/rank/0", "rdzv/run2/rank/0"}));
  for (const auto& entry : fs::directory_iterator(dir_))
    EXPECT_EQ(entry.path().filename().string().find("run1%2F"), std::string::npos) << entry.path();
  EXPECT_EQ(store.removePrefix("rdzv/run1/"), 0u);
}

}  // namespace
}  // namespace rdzv::store
