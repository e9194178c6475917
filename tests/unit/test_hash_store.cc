#include "store/hash_store.h"

#include <gtest/gtest.h>

#include <limits>
#include <thread>
#include <vector>

#include "lib/error.h"

namespace rdzv::store {
namespace {

using namespace std::chrono_literals;

TEST(HashStore, SetThenGetReturnsTheBytes) {
  HashStore store;
  Bytes value = {0, 1, 2, 255, 0};
  store.set("run1/rank/0", value);
  EXPECT_EQ(store.get("run1/rank/0", Deadline::after(1s)), value);
  store.set("run1/rank/0", toBytes("new"));
  EXPECT_EQ(toString(store.get("run1/rank/0", Deadline::after(1s))), "new");
  EXPECT_EQ(store.describe(), "hash:");
}

TEST(HashStore, GetWaitsForASetFromAnotherThread) {
  HashStore store;
  std::thread setter([&] {
    std::this_thread::sleep_for(50ms);
    store.set("late", toBytes("here"));
  });
  EXPECT_EQ(toString(store.get("late", Deadline::after(5s))), "here");
  setter.join();
}

TEST(HashStore, WaitExpiryNamesOnlyTheMissingKeys) {
  HashStore store;
  store.set("a", toBytes("1"));
  auto start = Clock::now();
  try {
    store.wait({"a", "b", "c"}, Deadline::after(150ms));
    FAIL() << "wait did not expire";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Runtime);
    std::string msg = e.what();
    EXPECT_NE(msg.find("hash:"), std::string::npos) << msg;
    EXPECT_NE(msg.find("b, c"), std::string::npos) << msg;
    EXPECT_EQ(msg.find("a,"), std::string::npos) << msg;
    EXPECT_FALSE(e.hint().empty());
  }
  auto waited = Clock::now() - start;
  EXPECT_GE(waited, 140ms);
  EXPECT_LT(waited, 3s);
}

TEST(HashStore, ManyMissingKeysAreSummarised) {
  HashStore store;
  std::vector<std::string> keys;
  for (int i = 0; i < 20; ++i) keys.push_back("k" + std::to_string(i));
  try {
    store.wait(keys, Deadline::after(0ms));
    FAIL() << "wait did not expire";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("and 12 more"), std::string::npos) << e.what();
  }
}

TEST(HashStore, CheckAndRemove) {
  HashStore store;
  EXPECT_TRUE(store.check({}));
  EXPECT_FALSE(store.check({"x"}));
  store.set("x", {});
  EXPECT_TRUE(store.check({"x"}));
  EXPECT_TRUE(store.remove("x"));
  EXPECT_FALSE(store.remove("x"));
  EXPECT_FALSE(store.check({"x"}));
}

TEST(HashStore, AddIsAtomicAcrossThreads) {
  HashStore store;
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) store.add("counter", 1);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(store.add("counter", 0), 8000);
  EXPECT_EQ(toString(store.get("counter", Deadline::after(1s))), "8000");
  EXPECT_EQ(store.add("counter", -8001), -1);
}

TEST(HashStore, AddWakesAWaiter) {
  HashStore store;
  std::thread adder([&] {
    std::this_thread::sleep_for(30ms);
    store.add("barrier", 1);
  });
  store.wait({"barrier"}, Deadline::after(5s));
  adder.join();
}

TEST(HashStore, AddOnANonCounterIsARuntimeError) {
  HashStore store;
  store.set("text", toBytes("abc"));
  try {
    store.add("text", 1);
    FAIL() << "add accepted a non-counter";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Runtime);
    EXPECT_NE(std::string(e.what()).find("text"), std::string::npos) << e.what();
  }
}

TEST(HashStore, AddOverflowIsAnError) {
  HashStore store;
  store.add("big", std::numeric_limits<std::int64_t>::max());
  EXPECT_THROW(store.add("big", 1), Error);
}

}  // namespace
}  // namespace rdzv::store
