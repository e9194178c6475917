#include "store/prefix_store.h"

#include <gtest/gtest.h>

#include "lib/error.h"
#include "store/hash_store.h"

namespace rdzv::store {
namespace {

using namespace std::chrono_literals;

TEST(PrefixStore, ScopesEveryKeyUnderThePrefix) {
  HashStore inner;
  PrefixStore store(inner, "run1");
  store.set("rank/0", toBytes("addr"));
  EXPECT_TRUE(inner.check({"run1/rank/0"}));
  EXPECT_FALSE(inner.check({"rank/0"}));
  EXPECT_EQ(toString(store.get("rank/0", Deadline::after(1s))), "addr");
  EXPECT_TRUE(store.check({"rank/0"}));
  store.wait({"rank/0"}, Deadline::after(1s));
  EXPECT_EQ(store.add("barrier", 2), 2);
  EXPECT_EQ(inner.add("run1/barrier", 0), 2);
  EXPECT_TRUE(store.remove("rank/0"));
  EXPECT_FALSE(inner.check({"run1/rank/0"}));
  EXPECT_EQ(store.prefix(), "run1");
}

TEST(PrefixStore, TwoPrefixesDoNotSeeEachOther) {
  HashStore inner;
  PrefixStore a(inner, "runA");
  PrefixStore b(inner, "runB");
  a.set("k", toBytes("a"));
  EXPECT_FALSE(b.check({"k"}));
  b.set("k", toBytes("b"));
  EXPECT_EQ(toString(a.get("k", Deadline::after(1s))), "a");
  EXPECT_EQ(toString(b.get("k", Deadline::after(1s))), "b");
}

TEST(PrefixStore, DescribeShowsInnerStoreAndPrefix) {
  HashStore inner;
  PrefixStore store(inner, "run1");
  EXPECT_EQ(store.describe(), "hash:?prefix=run1");
  PrefixStore nested(store, "rdzv/a");
  EXPECT_EQ(nested.describe(), "hash:?prefix=run1/rdzv/a");
}

TEST(PrefixStore, ExpiryNamesTheFullKey) {
  HashStore inner;
  PrefixStore store(inner, "run1");
  try {
    store.get("rank/3", Deadline::after(20ms));
    FAIL() << "get did not expire";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Runtime);
    EXPECT_NE(std::string(e.what()).find("run1/rank/3"), std::string::npos) << e.what();
  }
}

TEST(PrefixStore, EmptyPrefixIsAUsageError) {
  HashStore inner;
  try {
    PrefixStore store(inner, "");
    FAIL() << "empty prefix accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Usage);
  }
}

TEST(PrefixStore, CanOwnItsInnerStore) {
  PrefixStore store(std::make_unique<HashStore>(), "p");
  store.set("k", toBytes("v"));
  EXPECT_EQ(toString(store.get("k", Deadline::after(1s))), "v");
  EXPECT_EQ(store.describe(), "hash:?prefix=p");
}

TEST(PrefixStore, RemovePrefixStaysInsideThePrefix) {
  // Records what reaches the inner store.
  struct Recorder final : Store {
    void set(const std::string&, const Bytes&) override {}
    Bytes get(const std::string&, Deadline) override { return {}; }
    void wait(const std::vector<std::string>&, Deadline) override {}
    bool check(const std::vector<std::string>&) override { return true; }
    std::int64_t add(const std::string&, std::int64_t) override { return 0; }
    bool remove(const std::string&) override { return false; }
    std::size_t removePrefix(const std::string& prefix) override {
      removed.push_back(prefix);
      return 7;
    }
    std::string describe() const override { return "recorder:"; }
    std::vector<std::string> removed;
  };
  Recorder inner;
  PrefixStore scoped(inner, "rdzv/run1");
  EXPECT_EQ(scoped.removePrefix(""), 7u);
  EXPECT_EQ(scoped.removePrefix("mesh/"), 7u);
  EXPECT_EQ(inner.removed, (std::vector<std::string>{"rdzv/run1/", "rdzv/run1/mesh/"}));
  // Stores that end with the run remove nothing.
  HashStore hash;
  EXPECT_EQ(PrefixStore(hash, "x").removePrefix(""), 0u);
}

}  // namespace
}  // namespace rdzv::store
