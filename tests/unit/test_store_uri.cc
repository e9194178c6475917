#include "store/store_uri.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "lib/error.h"
#include "store/tcp_store.h"

namespace rdzv::store {
namespace {

using namespace std::chrono_literals;

TEST(StoreUri, Hash) {
  auto uri = parseStoreUri("hash:");
  EXPECT_EQ(uri.scheme, "hash");
  EXPECT_EQ(uri.text, "hash:");
  EXPECT_EQ(parseStoreUri("hash:?prefix=run1").prefix, "run1");
}

TEST(StoreUri, File) {
  auto uri = parseStoreUri("file:///shared/rdzv");
  EXPECT_EQ(uri.scheme, "file");
  EXPECT_EQ(uri.path, "/shared/rdzv");
  EXPECT_TRUE(uri.prefix.empty());
  uri = parseStoreUri("file:///tmp/x?prefix=job42/step0");
  EXPECT_EQ(uri.path, "/tmp/x");
  EXPECT_EQ(uri.prefix, "job42/step0");
}

TEST(StoreUri, Tcp) {
  auto uri = parseStoreUri("tcp://node001:4000");
  EXPECT_EQ(uri.scheme, "tcp");
  EXPECT_EQ(uri.host, "node001");
  EXPECT_EQ(uri.port, 4000);
  uri = parseStoreUri("tcp://[::1]:65535?prefix=r");
  EXPECT_EQ(uri.host, "::1");
  EXPECT_EQ(uri.port, 65535);
  EXPECT_EQ(uri.prefix, "r");
  EXPECT_EQ(parseStoreUri("tcp://127.0.0.1:1").port, 1);
  EXPECT_EQ(parseStoreUri("TCP://h:2").scheme, "tcp");
}

TEST(StoreUri, Redis) {
  auto uri = parseStoreUri("redis://cache:6380");
  EXPECT_EQ(uri.scheme, "redis");
  EXPECT_EQ(uri.host, "cache");
  EXPECT_EQ(uri.port, 6380);
  EXPECT_EQ(uri.db, 0);
  EXPECT_TRUE(uri.password.empty());
  uri = parseStoreUri("redis://:s3cret@cache:6379/2?prefix=run7");
  EXPECT_EQ(uri.password, "s3cret");
  EXPECT_EQ(uri.host, "cache");
  EXPECT_EQ(uri.db, 2);
  EXPECT_EQ(uri.prefix, "run7");
  // The password never reaches messages or reports.
  EXPECT_EQ(uri.text, "redis://:***@cache:6379/2?prefix=run7");
  EXPECT_EQ(parseStoreUri("redis://cache").port, 6379);
  EXPECT_EQ(parseStoreUri("redis://[::1]:7000").host, "::1");
}

TEST(StoreUri, RedisKeyExpiry) {
  EXPECT_EQ(parseStoreUri("redis://cache").ttl, 0);
  EXPECT_EQ(parseStoreUri("redis://cache?ttl=600").ttl, 600);
  auto uri = parseStoreUri("redis://cache/1?prefix=a&ttl=60");
  EXPECT_EQ(uri.prefix, "a");
  EXPECT_EQ(uri.ttl, 60);
  for (const char* bad : {"redis://cache?ttl=0", "redis://cache?ttl=-1", "redis://cache?ttl=x",
                          "redis://cache?ttl=1&ttl=2", "file:///tmp/x?ttl=60"}) {
    try {
      parseStoreUri(bad);
      ADD_FAILURE() << bad << " was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::Usage) << bad;
      EXPECT_NE(std::string(e.what()).find("ttl"), std::string::npos) << e.what();
    }
  }
}

TEST(StoreUri, BadUrisAreUsageErrorsNamingTheText) {
  const char* bad[] = {
      "",
      "hash",
      "hash:extra",
      "file://relative/dir",
      "file:relative",
      "file:",
      "tcp://host",
      "tcp://host:",
      "tcp://:4000",
      "tcp://host:0",
      "tcp://host:65536",
      "tcp://host:99999999999",
      "tcp://host:40a0",
      "tcp://::1:4000",
      "tcp://[::1]4000",
      "tcp://[::1:4000",
      "tcp://host:4000/path",
      "tcp:host:4000",
      "ftp://host:21",
      "tcp://host:4000?prefix=",
      "tcp://host:4000?prefix=a b",
      "tcp://host:4000?prefix=a&prefix=b",
      "tcp://host:4000?color=red",
      "redis://user@cache:6379",
      "redis://cache:6379/zero",
  };
  for (const char* text : bad) {
    try {
      parseStoreUri(text);
      ADD_FAILURE() << "accepted " << text;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::Usage) << text;
      EXPECT_NE(std::string(e.what()).find(std::string("\"") + text + "\""), std::string::npos)
          << e.what();
      EXPECT_NE(e.hint().find("tcp://host:port"), std::string::npos) << e.hint();
    }
  }
}

TEST(StoreUri, BadRedisUriDoesNotShowThePassword) {
  try {
    parseStoreUri("redis://:s3cret@cache:notaport");
    FAIL() << "accepted a bad port";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).find("s3cret"), std::string::npos) << e.what();
  }
}

TEST(OpenStore, HashIsSharedWithinTheProcess) {
  auto a = openStore(parseStoreUri("hash:"), 0, Deadline::after(1s));
  auto b = openStore(parseStoreUri("hash:"), 1, Deadline::after(1s));
  EXPECT_EQ(a.server, nullptr);
  a.store->set("open-store-test/shared", toBytes("yes"));
  EXPECT_EQ(toString(b.store->get("open-store-test/shared", Deadline::after(1s))), "yes");
  EXPECT_EQ(b.store->describe(), "hash:");
}

TEST(OpenStore, PrefixWrapsTheStore) {
  auto a = openStore(parseStoreUri("hash:?prefix=open-store-prefix"), 0, Deadline::after(1s));
  auto plain = openStore(parseStoreUri("hash:"), 0, Deadline::after(1s));
  a.store->set("k", toBytes("v"));
  EXPECT_TRUE(plain.store->check({"open-store-prefix/k"}));
  EXPECT_EQ(a.store->describe(), "hash:?prefix=open-store-prefix");
}

TEST(OpenStore, File) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "rdzv-open-store-XXXXXX").string();
  ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
  {
    auto opened = openStore(parseStoreUri("file://" + tmpl + "/sub"), 3, Deadline::after(1s));
    opened.store->set("k", toBytes("v"));
    EXPECT_EQ(opened.store->describe(), "file://" + tmpl + "/sub");
  }
  EXPECT_TRUE(std::filesystem::exists(tmpl + "/sub/k.k"));
  std::filesystem::remove_all(tmpl);
}

TEST(OpenStore, TcpRankZeroServesOthersConnect) {
  // A port that is free now; rank 0 takes it.
  int port = 0;
  {
    TcpStoreServer probe("127.0.0.1", 0);
    port = probe.port();
  }
  std::string text = "tcp://127.0.0.1:" + std::to_string(port) + "?prefix=run1";
  auto rank0 = openStore(parseStoreUri(text), 0, Deadline::after(5s));
  ASSERT_NE(rank0.server, nullptr);
  EXPECT_EQ(rank0.server->port(), port);
  auto rank1 = openStore(parseStoreUri(text), 1, Deadline::after(5s));
  EXPECT_EQ(rank1.server, nullptr);
  rank1.store->set("rank/1", toBytes("one"));
  EXPECT_EQ(toString(rank0.store->get("rank/1", Deadline::after(1s))), "one");
  EXPECT_EQ(rank0.store->describe(), "tcp://127.0.0.1:" + std::to_string(port) + "?prefix=run1");
}

TEST(OpenStore, TcpRankZeroBecomesAClientWhenThePortIsServed) {
  TcpStoreServer parent("127.0.0.1", 0);
  auto rank0 = openStore(parseStoreUri("tcp://127.0.0.1:" + std::to_string(parent.port())), 0,
                         Deadline::after(5s));
  EXPECT_EQ(rank0.server, nullptr);
  rank0.store->set("k", {});
  EXPECT_TRUE(rank0.store->check({"k"}));
}

TEST(OpenStore, RedisIsAClearErrorWhenNotBuiltOrUnreachable) {
  try {
    // Port 1: nothing listens there, so a built redis store is refused at once.
    openStore(parseStoreUri("redis://127.0.0.1:1"), 0, Deadline::after(1s));
    FAIL() << "redis opened";
  } catch (const Error& e) {
#ifndef RDZV_HAVE_HIREDIS
    EXPECT_EQ(e.kind(), ErrorKind::Usage);
    EXPECT_NE(std::string(e.what()).find("not built into this rdzvbench"), std::string::npos)
        << e.what();
#else
    EXPECT_EQ(e.kind(), ErrorKind::Runtime);
    EXPECT_NE(std::string(e.what()).find("redis://127.0.0.1:1 unreachable"), std::string::npos)
        << e.what();
#endif
  }
}

}  // namespace
}  // namespace rdzv::store
