// RedisStore against real redis-server processes: the shared one the CTest fixture starts
// (RDZV_TEST_REDIS_URL_FILE names the file holding its URL), and private ones that tests stop,
// restart, pause or configure themselves.

#include "store/redis_store.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "lib/error.h"
#include "store/prefix_store.h"
#include "store/store_uri.h"
#include "store/tcp_store.h"

namespace rdzv::store {
namespace {

using namespace std::chrono_literals;

// A port nothing listens on (bound then released; a race with other processes is unlikely).
int freePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// The fixture's server, or nullopt when the test runs outside CTest.
std::optional<StoreUri> sharedServer() {
  const char* file = std::getenv("RDZV_TEST_REDIS_URL_FILE");
  if (file == nullptr) return std::nullopt;
  std::ifstream in(file);
  std::string url;
  if (!(in >> url)) return std::nullopt;
  return parseStoreUri(url);
}

// Runs a raw command on 127.0.0.1:port, for what the store itself never does (wrong types, TTL).
std::string raw(int port, const std::vector<std::string>& args) {
  redisContext* c = redisConnect("127.0.0.1", port);
  EXPECT_TRUE(c != nullptr && c->err == 0);
  std::vector<const char*> argv;
  std::vector<std::size_t> lens;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  auto* r = static_cast<redisReply*>(
      redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data()));
  std::string out;
  if (r != nullptr) {
    // Integers as text, arrays as their length, strings as they are.
    out = r->type == REDIS_REPLY_INTEGER ? std::to_string(r->integer)
          : r->type == REDIS_REPLY_ARRAY ? std::to_string(r->elements)
          : r->str != nullptr            ? std::string(r->str, r->len)
                                         : "";
    freeReplyObject(r);
  }
  redisFree(c);
  return out;
}

// A redis-server of the test's own, on a free port, stopped when destroyed.
class PrivateRedis {
 public:
  explicit PrivateRedis(std::vector<std::string> extra = {})
      : port_(freePort()), extra_(std::move(extra)) {
    start();
  }
  ~PrivateRedis() { stop(); }
  PrivateRedis(const PrivateRedis&) = delete;
  PrivateRedis& operator=(const PrivateRedis&) = delete;

  int port() const { return port_; }
  RedisOptions options() const {
    RedisOptions o;
    o.host = "127.0.0.1";
    o.port = port_;
    o.request_timeout = 5s;
    return o;
  }

  void start() {
    std::vector<std::string> args{"redis-server",
                                  "--port",
                                  std::to_string(port_),
                                  "--bind",
                                  "127.0.0.1",
                                  "--save",
                                  "",
                                  "--appendonly",
                                  "no",
                                  "--dir",
                                  "/tmp",
                                  "--logfile",
                                  ""};
    args.insert(args.end(), extra_.begin(), extra_.end());
    pid_ = fork();
    ASSERT_GE(pid_, 0);
    if (pid_ == 0) {
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      // Quiet: redis logs to stdout when --logfile is empty.
      std::freopen("/dev/null", "w", stdout);
      execvp("redis-server", argv.data());
      _exit(127);
    }
    auto deadline = Deadline::after(10s);
    while (!deadline.expired()) {
      redisContext* c = redisConnect("127.0.0.1", port_);
      bool up = c != nullptr && c->err == 0;
      redisFree(c);
      if (up) return;
      std::this_thread::sleep_for(20ms);
    }
    FAIL() << "redis-server did not start on port " << port_;
  }
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGCONT);
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  void pause() { ::kill(pid_, SIGSTOP); }
  void resume() { ::kill(pid_, SIGCONT); }

 private:
  int port_;
  std::vector<std::string> extra_;
  pid_t pid_ = -1;
};

// Tests on the fixture's server; every key under a prefix of its own, since tests run at once.
class RedisStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto uri = sharedServer();
    if (!uri) GTEST_SKIP() << "no redis fixture (RDZV_TEST_REDIS_URL_FILE unset): run via ctest";
    options_.host = uri->host;
    options_.port = uri->port;
    options_.request_timeout = 10s;
    prefix_ = fmt::format(
        "test/{}/{}/", ::testing::UnitTest::GetInstance()->current_test_info()->name(), getpid());
  }
  void TearDown() override {
    if (!prefix_.empty()) store()->removePrefix(prefix_);
  }
  std::unique_ptr<RedisStore> store() {
    return std::make_unique<RedisStore>(options_, Deadline::after(5s));
  }
  std::string key(const std::string& name) const { return prefix_ + name; }

  RedisOptions options_;
  std::string prefix_;
};

TEST_F(RedisStoreTest, BasicOperations) {
  auto s = store();
  EXPECT_EQ(s->describe(), fmt::format("redis://{}:{}", options_.host, options_.port));
  Bytes value = {0, 1, 2, 255, 0};
  s->set(key("rank/0"), value);
  EXPECT_EQ(s->get(key("rank/0"), Deadline::after(1s)), value);
  EXPECT_TRUE(s->check({key("rank/0")}));
  EXPECT_TRUE(s->check({key("rank/0"), key("rank/0")}));
  EXPECT_FALSE(s->check({key("rank/0"), key("nope")}));
  EXPECT_TRUE(s->check({}));
  EXPECT_EQ(s->add(key("n"), 3), 3);
  EXPECT_EQ(s->add(key("n"), -1), 2);
  EXPECT_EQ(toString(s->get(key("n"), Deadline::after(1s))), "2");
  EXPECT_TRUE(s->remove(key("n")));
  EXPECT_FALSE(s->remove(key("n")));
  s->wait({}, Deadline::after(0s));
  s->wait({key("rank/0"), key("rank/0")}, Deadline::after(0s));
  s->set(key("empty"), {});
  EXPECT_EQ(s->get(key("empty"), Deadline::after(1s)), Bytes{});
}

TEST_F(RedisStoreTest, LargeValueRoundTrips) {
  Bytes big(4 << 20);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<std::uint8_t>(i * 7);
  store()->set(key("big"), big);
  EXPECT_EQ(store()->get(key("big"), Deadline::after(5s)), big);
}

TEST_F(RedisStoreTest, AddOnANonCounterIsRefusedAndTheConnectionStaysUsable) {
  auto s = store();
  s->set(key("text"), toBytes("abc"));
  try {
    s->add(key("text"), 1);
    FAIL() << "add accepted a non-counter";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Runtime);
    EXPECT_NE(std::string(e.what()).find("not a counter"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(key("text")), std::string::npos) << e.what();
  }
  EXPECT_EQ(s->add(key("counter"), 1), 1);
}

TEST_F(RedisStoreTest, AKeyOfAnotherRedisTypeIsAClearError) {
  auto s = store();
  raw(options_.port, {"RPUSH", key("list"), "x"});
  for (int op = 0; op < 2; ++op) {
    try {
      if (op == 0) s->get(key("list"), Deadline::after(1s));
      if (op == 1) s->add(key("list"), 1);
      FAIL() << "a list was read as a string";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::Runtime);
      std::string msg = e.what();
      EXPECT_NE(msg.find("not a string"), std::string::npos) << msg;
      EXPECT_NE(msg.find(key("list")), std::string::npos) << msg;
    }
  }
}

TEST_F(RedisStoreTest, WaitIsAnsweredByALaterSetFromAnotherClient) {
  auto waiter = store();
  auto setter = store();
  std::atomic<bool> done = false;
  std::thread t([&] {
    waiter->wait({key("a"), key("b")}, Deadline::after(10s));
    done = true;
  });
  std::this_thread::sleep_for(50ms);
  setter->set(key("a"), {});
  std::this_thread::sleep_for(100ms);
  EXPECT_FALSE(done);
  auto start = Clock::now();
  setter->set(key("b"), {});
  t.join();
  EXPECT_TRUE(done);
  // The poll back-off is capped at 25 ms: the waiter notices well within a second.
  EXPECT_LT(Clock::now() - start, 1s);
}

TEST_F(RedisStoreTest, GetBlocksUntilAnotherClientAdds) {
  auto getter = store();
  auto adder = store();
  std::thread t([&] {
    std::this_thread::sleep_for(50ms);
    adder->add(key("barrier"), 4);
  });
  EXPECT_EQ(toString(getter->get(key("barrier"), Deadline::after(10s))), "4");
  t.join();
}

TEST_F(RedisStoreTest, DeadlineExpiryNamesTheMissingKeys) {
  auto s = store();
  s->set(key("present"), {});
  for (int op = 0; op < 2; ++op) {
    auto start = Clock::now();
    try {
      if (op == 0) s->wait({key("present"), key("rank/1"), key("rank/2")}, Deadline::after(200ms));
      if (op == 1) s->get(key("rank/1"), Deadline::after(200ms));
      FAIL() << "the wait did not expire";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::Runtime);
      std::string msg = e.what();
      EXPECT_NE(msg.find(key("rank/1")), std::string::npos) << msg;
      if (op == 0) {
        EXPECT_NE(msg.find(key("rank/2")), std::string::npos) << msg;
      }
      EXPECT_EQ(msg.find(key("present")), std::string::npos) << msg;
      EXPECT_NE(msg.find(s->describe()), std::string::npos) << msg;
    }
    auto waited = Clock::now() - start;
    EXPECT_GE(waited, 190ms);
    EXPECT_LT(waited, 2s);
  }
  // The connection survives an expired wait.
  EXPECT_TRUE(s->check({key("present")}));
}

TEST_F(RedisStoreTest, EveryKeyExpires) {
  options_.ttl = 120s;
  auto s = store();
  s->set(key("value"), toBytes("v"));
  s->add(key("counter"), 1);
  for (const char* name : {"value", "counter"}) {
    int ttl = std::stoi(raw(options_.port, {"TTL", key(name)}));
    EXPECT_GT(ttl, 100) << name;
    EXPECT_LE(ttl, 120) << name;
  }
  // add()'s request records expire too (and sooner).
  EXPECT_EQ(raw(options_.port, {"KEYS", key("counter/.add/*")}), "1");
  EXPECT_EQ(raw(options_.port, {"EVAL",
                                "local n = 0 for _, k in ipairs(redis.call('KEYS', ARGV[1])) do "
                                "if redis.call('TTL', k) > 0 then n = n + 1 end end return n",
                                "0", key("*")}),
            "3");
}

TEST_F(RedisStoreTest, RemovePrefixRemovesExactlyThatPrefix) {
  auto s = store();
  for (const char* name : {"run/a", "run/b/c", "run*/x", "runner/a"}) s->set(key(name), {});
  s->add(key("run/count"), 1);
  EXPECT_GE(s->removePrefix(key("run/")), 3u);  // a, b/c, count and count's request record
  EXPECT_FALSE(s->check({key("run/a")}));
  EXPECT_FALSE(s->check({key("run/count")}));
  EXPECT_TRUE(s->check({key("run*/x"), key("runner/a")}));
  // Glob characters in the prefix match only themselves.
  EXPECT_EQ(s->removePrefix(key("run*/")), 1u);
  EXPECT_TRUE(s->check({key("runner/a")}));
  EXPECT_EQ(s->removePrefix(key("nothing/")), 0u);
}

TEST_F(RedisStoreTest, OpenStoreHonoursPrefixTtlAndDatabase) {
  auto uri = parseStoreUri(
      fmt::format("redis://{}:{}/3?prefix={}scoped&ttl=60", options_.host, options_.port, prefix_));
  EXPECT_EQ(uri.ttl, 60);
  auto opened = openStore(uri, 0, Deadline::after(5s));
  EXPECT_EQ(opened.store->describe(),
            fmt::format("redis://{}:{}/3?prefix={}scoped", options_.host, options_.port, prefix_));
  opened.store->set("k", toBytes("v"));
  EXPECT_EQ(raw(options_.port, {"EXISTS", key("scoped/k")}), "0");  // db 0 does not have it
  EXPECT_EQ(opened.store->removePrefix(""), 1u);
  EXPECT_FALSE(opened.store->check({"k"}));
}

TEST(RedisStorePrivate, UnreachableServerFailsAtTheDeadlineNamingIt) {
  RedisOptions o;
  o.host = "127.0.0.1";
  o.port = freePort();
  auto start = Clock::now();
  try {
    RedisStore s(o, Deadline::after(500ms));
    FAIL() << "connected to nothing";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Runtime);
    std::string msg = e.what();
    EXPECT_NE(msg.find(fmt::format("redis://127.0.0.1:{} unreachable", o.port)), std::string::npos)
        << msg;
    EXPECT_NE(msg.find("refused"), std::string::npos) << msg;
  }
  auto took = Clock::now() - start;
  EXPECT_GE(took, 450ms);
  EXPECT_LT(took, 2s);
}

TEST(RedisStorePrivate, NotARedisServerIsAClearError) {
  TcpStoreServer other("127.0.0.1", 0);
  RedisOptions o;
  o.host = "127.0.0.1";
  o.port = other.port();
  try {
    RedisStore s(o, Deadline::after(2s));
    FAIL() << "took a tcp store for Redis";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Runtime);
    EXPECT_NE(std::string(e.what()).find("does not speak the Redis protocol"), std::string::npos)
        << e.what();
  }
}

TEST(RedisStorePrivate, AuthenticationErrorsAreUsageErrors) {
  PrivateRedis server({"--requirepass", "s3cret"});
  auto expectUsage = [&](const std::string& password, const char* needle) {
    auto o = server.options();
    o.password = password;
    try {
      RedisStore s(o, Deadline::after(2s));
      FAIL() << "connected with password \"" << password << "\"";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::Usage) << e.what();
      EXPECT_NE(e.message().find(needle), std::string::npos) << e.message();
      EXPECT_EQ(e.message().find("s3cret"), std::string::npos) << e.message();
    }
  };
  expectUsage("", "requires a password");
  expectUsage("wrong", "authentication failed");
  auto o = server.options();
  o.password = "s3cret";
  RedisStore s(o, Deadline::after(2s));
  s.set("k", toBytes("v"));
  EXPECT_TRUE(s.check({"k"}));
}

TEST(RedisStorePrivate, ReconnectsAfterARestartAndWritesItsKeysAgain) {
  PrivateRedis server;
  RedisStore writer(server.options(), Deadline::after(5s));
  writer.set("run/rank/0", toBytes("addr0"));
  writer.set("run/gone", toBytes("x"));
  writer.remove("run/gone");
  EXPECT_EQ(writer.connects(), 1);
  server.stop();
  server.start();  // same port, no data
  EXPECT_EQ(raw(server.port(), {"EXISTS", "run/rank/0"}), "0");
  // The writer's next request reconnects and writes its key again; a removed key stays removed.
  EXPECT_FALSE(writer.check({"run/other"}));
  EXPECT_EQ(writer.connects(), 2);
  RedisStore reader(server.options(), Deadline::after(5s));
  EXPECT_EQ(toString(reader.get("run/rank/0", Deadline::after(2s))), "addr0");
  EXPECT_FALSE(reader.check({"run/gone"}));
  EXPECT_EQ(writer.add("run/n", 1), 1);
}

TEST(RedisStorePrivate, AWaitSurvivesARestartInTheMiddle) {
  PrivateRedis server;
  RedisStore waiter(server.options(), Deadline::after(5s));
  std::atomic<bool> done = false;
  std::string failure;
  std::thread t([&] {
    try {
      waiter.wait({"late"}, Deadline::after(20s));
      done = true;
    } catch (const Error& e) {
      failure = e.what();
    }
  });
  std::this_thread::sleep_for(200ms);
  server.stop();
  std::this_thread::sleep_for(500ms);  // the waiter finds the server gone and retries
  server.start();
  RedisStore setter(server.options(), Deadline::after(5s));
  setter.set("late", {});
  t.join();
  EXPECT_TRUE(done) << failure;
  EXPECT_GE(waiter.connects(), 2);
}

TEST(RedisStorePrivate, AStoppedServerEndsAWaitAtItsDeadline) {
  PrivateRedis server;
  auto o = server.options();
  o.request_timeout = 1500ms;
  RedisStore s(o, Deadline::after(5s));
  server.stop();
  auto start = Clock::now();
  try {
    s.wait({"k"}, Deadline::after(700ms));
    FAIL() << "waited on a stopped server without error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Runtime);
    EXPECT_NE(std::string(e.what()).find("unreachable"), std::string::npos) << e.what();
  }
  EXPECT_LT(Clock::now() - start, 2s);
  // Requests without a deadline of their own are bounded by request_timeout from the start of
  // the outage, so the next ones give up at once rather than wait it out again.
  start = Clock::now();
  EXPECT_THROW(s.check({"k"}), Error);
  EXPECT_LT(Clock::now() - start, o.request_timeout + 1s);
  start = Clock::now();
  EXPECT_THROW(s.add("abort/count", 1), Error);
  EXPECT_LT(Clock::now() - start, 1s);
}

TEST(RedisStorePrivate, AHungServerIsATimeoutNotAHang) {
  PrivateRedis server;
  RedisStore s(server.options(), Deadline::after(5s));
  server.pause();
  auto start = Clock::now();
  try {
    s.get("k", Deadline::after(500ms));
    FAIL() << "a paused server answered";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Runtime);
    EXPECT_NE(std::string(e.what()).find("no reply"), std::string::npos) << e.what();
  }
  EXPECT_LT(Clock::now() - start, 3s);
  server.resume();
  s.set("k", {});
  EXPECT_TRUE(s.check({"k"}));
}

}  // namespace
}  // namespace rdzv::store
