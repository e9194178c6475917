#include "store/tcp_store.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "lib/error.h"

namespace rdzv::store {
namespace {

using namespace std::chrono_literals;

// Closes a raw test socket.
struct RawSocket {
  int fd = -1;
  RawSocket() = default;
  explicit RawSocket(int f) : fd(f) {}
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;
  ~RawSocket() {
    if (fd >= 0) ::close(fd);
  }
};

// A loopback IPv4 socket bound to a free port; with `listen`, ready to accept.
int boundSocket(int& port, bool listen) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return -1;
  if (listen && ::listen(fd, 8) != 0) return -1;
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  port = ntohs(addr.sin_port);
  return fd;
}

// A port nothing listens on (bound then released; a race with other processes is unlikely).
int freePort() {
  int port = 0;
  RawSocket s(boundSocket(port, false));
  return port;
}

int rawConnect(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Everything the peer sends until it closes or 2 s pass.
std::string readUntilClosed(int fd) {
  std::string out;
  auto deadline = Deadline::after(2s);
  while (!deadline.expired()) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, deadline.remainingMs()) <= 0) break;
    char buf[4096];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return out;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out + "<not closed>";
}

std::string header(std::uint8_t version, std::uint8_t op, std::uint32_t length) {
  std::string h = "RDZS";
  h += static_cast<char>(version);
  h += static_cast<char>(op);
  for (int i = 0; i < 4; ++i) h += static_cast<char>(length >> (8 * i));
  return h;
}

bool ipv6LoopbackWorks() {
  int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  addr.sin6_addr = in6addr_loopback;
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

class TcpStoreTest : public ::testing::Test {
 protected:
  TcpStoreServer server_{"127.0.0.1", 0};

  std::unique_ptr<TcpStoreClient> client() {
    return std::make_unique<TcpStoreClient>("127.0.0.1", server_.port(), Deadline::after(5s));
  }
};

TEST_F(TcpStoreTest, BasicOperations) {
  ASSERT_GT(server_.port(), 0);
  EXPECT_EQ(server_.describe(), "tcp://127.0.0.1:" + std::to_string(server_.port()));
  auto c = client();
  EXPECT_EQ(c->describe(), server_.describe());
  Bytes value = {0, 1, 2, 255};
  c->set("run1/rank/0", value);
  EXPECT_EQ(c->get("run1/rank/0", Deadline::after(1s)), value);
  EXPECT_TRUE(c->check({"run1/rank/0"}));
  EXPECT_FALSE(c->check({"run1/rank/0", "nope"}));
  EXPECT_EQ(c->add("n", 3), 3);
  EXPECT_EQ(c->add("n", -1), 2);
  EXPECT_EQ(toString(c->get("n", Deadline::after(1s))), "2");
  EXPECT_TRUE(c->remove("n"));
  EXPECT_FALSE(c->remove("n"));
  c->wait({}, Deadline::after(0s));
}

TEST_F(TcpStoreTest, LargeValueRoundTrips) {
  auto c = client();
  Bytes big(4 << 20);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<std::uint8_t>(i * 7);
  c->set("big", big);
  EXPECT_EQ(client()->get("big", Deadline::after(5s)), big);
}

TEST_F(TcpStoreTest, AddOnANonCounterIsRefusedAndTheConnectionStaysUsable) {
  auto c = client();
  c->set("text", toBytes("abc"));
  try {
    c->add("text", 1);
    FAIL() << "add accepted a non-counter";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Runtime);
    EXPECT_NE(std::string(e.what()).find("not a counter"), std::string::npos) << e.what();
  }
  EXPECT_EQ(c->add("counter", 1), 1);
}

TEST_F(TcpStoreTest, WaitIsAnsweredByALaterSetFromAnotherClient) {
  auto waiter = client();
  auto setter = client();
  std::atomic<bool> done = false;
  std::thread t([&] {
    waiter->wait({"a", "b"}, Deadline::after(10s));
    done = true;
  });
  std::this_thread::sleep_for(50ms);
  setter->set("a", {});
  std::this_thread::sleep_for(50ms);
  EXPECT_FALSE(done);
  auto start = Clock::now();
  setter->set("b", {});
  t.join();
  EXPECT_TRUE(done);
  EXPECT_LT(Clock::now() - start, 2s);
}

TEST_F(TcpStoreTest, GetBlocksUntilAnotherClientAdds) {
  auto getter = client();
  auto adder = client();
  std::thread t([&] {
    std::this_thread::sleep_for(50ms);
    adder->add("barrier", 4);
  });
  EXPECT_EQ(toString(getter->get("barrier", Deadline::after(10s))), "4");
  t.join();
}

TEST_F(TcpStoreTest, DeadlineExpiryNamesTheMissingKeys) {
  auto c = client();
  c->set("present", {});
  auto start = Clock::now();
  try {
    c->wait({"present", "rank/1", "rank/2"}, Deadline::after(200ms));
    FAIL() << "wait did not expire";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Runtime);
    std::string msg = e.what();
    EXPECT_NE(msg.find("rank/1, rank/2"), std::string::npos) << msg;
    EXPECT_EQ(msg.find("present"), std::string::npos) << msg;
    EXPECT_NE(msg.find(server_.describe()), std::string::npos) << msg;
  }
  auto waited = Clock::now() - start;
  EXPECT_GE(waited, 190ms);
  EXPECT_LT(waited, 3s);
  // The connection survives an expired wait.
  EXPECT_TRUE(c->check({"present"}));
  EXPECT_THROW(c->get("never", Deadline::after(10ms)), Error);
}

TEST_F(TcpStoreTest, OneWaiterTimingOutLeavesTheOtherWaiting) {
  auto quick = client();
  auto patient = client();
  auto setter = client();
  std::thread t([&] { patient->wait({"shared"}, Deadline::after(10s)); });
  EXPECT_THROW(quick->wait({"shared"}, Deadline::after(50ms)), Error);
  setter->set("shared", {});
  t.join();
  quick->wait({"shared"}, Deadline::after(1s));
}

TEST_F(TcpStoreTest, ManyClientProcessesSetAddAndWait) {
  constexpr int kProcs = 16;
  constexpr int kAdds = 10;
  std::vector<pid_t> children;
  for (int p = 0; p < kProcs; ++p) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int rc = 0;
      try {
        TcpStoreClient c("127.0.0.1", server_.port(), Deadline::after(5s));
        c.set("rank/" + std::to_string(p), toBytes(std::to_string(p)));
        for (int i = 0; i < kAdds; ++i) c.add("counter", 1);
        std::vector<std::string> all;
        for (int q = 0; q < kProcs; ++q) all.push_back("rank/" + std::to_string(q));
        c.wait(all, Deadline::after(10s));
        int peer = (p + 1) % kProcs;
        if (toString(c.get("rank/" + std::to_string(peer), Deadline::after(1s))) !=
            std::to_string(peer)) {
          rc = 2;
        }
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
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  }
  EXPECT_EQ(client()->add("counter", 0), kProcs * kAdds);
}

TEST_F(TcpStoreTest, GarbageIsRejectedAndTheServerKeepsServing) {
  auto before = client();
  before->set("k", toBytes("v"));
  const std::vector<std::string> garbage = {
      "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
      header(2, 1, 0),           // unknown version
      header(1, 0x42, 0),        // unknown opcode
      header(1, 1, 0x7fffffff),  // over 64 MiB
      header(1, 1, 3) + "abc",   // SET whose payload ends early
  };
  for (const auto& bytes : garbage) {
    RawSocket raw(rawConnect(server_.port()));
    ASSERT_GE(raw.fd, 0);
    ASSERT_EQ(::send(raw.fd, bytes.data(), bytes.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(bytes.size()));
    std::string reply = readUntilClosed(raw.fd);
    // An error frame, then the server closes the connection.
    EXPECT_EQ(reply.substr(0, 4), "RDZS") << reply;
    EXPECT_EQ(reply.find("<not closed>"), std::string::npos) << reply;
  }
  // A client that leaves mid-frame does not disturb the server either.
  {
    RawSocket raw(rawConnect(server_.port()));
    std::string partial = header(1, 1, 100).substr(0, 7);
    ::send(raw.fd, partial.data(), partial.size(), MSG_NOSIGNAL);
  }
  EXPECT_EQ(toString(before->get("k", Deadline::after(1s))), "v");
  EXPECT_EQ(toString(client()->get("k", Deadline::after(1s))), "v");
}

TEST_F(TcpStoreTest, AWaitingClientThatLeavesIsForgotten) {
  {
    RawSocket raw(rawConnect(server_.port()));
    std::string payload;
    auto u32 = [&](std::uint32_t v) {
      for (int i = 0; i < 4; ++i) payload += static_cast<char>(v >> (8 * i));
    };
    u32(10000);  // timeout_ms
    u32(1);      // one key
    u32(4);
    payload += "late";
    std::string frame = header(1, 6, static_cast<std::uint32_t>(payload.size())) + payload;
    ::send(raw.fd, frame.data(), frame.size(), MSG_NOSIGNAL);
    std::this_thread::sleep_for(20ms);
  }
  std::this_thread::sleep_for(20ms);
  auto c = client();
  c->set("late", {});
  EXPECT_TRUE(c->check({"late"}));
}

TEST_F(TcpStoreTest, SecondServerOnTheSamePortReportsAddressInUse) {
  try {
    TcpStoreServer second("127.0.0.1", server_.port());
    FAIL() << "two servers on one port";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Runtime);
    EXPECT_NE(std::string(e.what()).find("address in use"), std::string::npos) << e.what();
  }
  EXPECT_EQ(TcpStoreServer::tryStart("127.0.0.1", server_.port()), nullptr);
}

TEST_F(TcpStoreTest, ServerShutdownEndsAPendingWaitPromptly) {
  auto local = std::make_unique<TcpStoreServer>("127.0.0.1", 0);
  TcpStoreClient c("127.0.0.1", local->port(), Deadline::after(5s));
  std::thread stopper([&] {
    std::this_thread::sleep_for(50ms);
    local.reset();
  });
  auto start = Clock::now();
  EXPECT_THROW(c.wait({"never"}, Deadline::after(10s)), Error);
  EXPECT_LT(Clock::now() - start, 3s);
  stopper.join();
  // Later requests fail at once instead of hanging.
  EXPECT_THROW(c.check({"x"}), Error);
}

TEST(TcpStore, TryStartServesAFreePort) {
  auto server = TcpStoreServer::tryStart("127.0.0.1", 0);
  ASSERT_NE(server, nullptr);
  TcpStoreClient c("127.0.0.1", server->port(), Deadline::after(5s));
  c.set("k", {});
  EXPECT_TRUE(c.check({"k"}));
}

TEST(TcpStore, Ipv6Loopback) {
  if (!ipv6LoopbackWorks()) GTEST_SKIP() << "no IPv6 loopback here";
  TcpStoreServer server("::1", 0);
  EXPECT_EQ(server.describe(), "tcp://[::1]:" + std::to_string(server.port()));
  TcpStoreClient c("::1", server.port(), Deadline::after(5s));
  EXPECT_EQ(c.describe(), server.describe());
  c.set("k", toBytes("v6"));
  EXPECT_EQ(toString(c.get("k", Deadline::after(1s))), "v6");
}

TEST(TcpStore, ClientWaitsForAServerThatStartsLater) {
  int port = freePort();
  std::unique_ptr<TcpStoreServer> server;
  std::thread starter([&] {
    std::this_thread::sleep_for(150ms);
    server = std::make_unique<TcpStoreServer>("127.0.0.1", port);
  });
  TcpStoreClient c("127.0.0.1", port, Deadline::after(5s));
  starter.join();
  c.set("k", {});
  EXPECT_TRUE(c.check({"k"}));
}

TEST(TcpStore, ConnectingWithNoServerFailsWithinTheDeadline) {
  int port = freePort();
  auto start = Clock::now();
  try {
    TcpStoreClient c("127.0.0.1", port, Deadline::after(300ms));
    FAIL() << "connected to nothing";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Runtime);
    std::string msg = e.what();
    EXPECT_NE(msg.find("tcp://127.0.0.1:" + std::to_string(port)), std::string::npos) << msg;
    EXPECT_NE(msg.find("unreachable"), std::string::npos) << msg;
    EXPECT_NE(e.hint().find("start rank 0 first"), std::string::npos) << e.hint();
  }
  auto waited = Clock::now() - start;
  EXPECT_GE(waited, 250ms);
  EXPECT_LT(waited, 2s);
}

TEST(TcpStore, ANonStoreServerGivesABadReplyError) {
  int port = 0;
  RawSocket listener(boundSocket(port, true));
  ASSERT_GE(listener.fd, 0);
  std::thread fake([&] {
    RawSocket conn(::accept(listener.fd, nullptr, nullptr));
    const std::string http = "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n";
    ::send(conn.fd, http.data(), http.size(), MSG_NOSIGNAL);
    readUntilClosed(conn.fd);
  });
  {
    TcpStoreClient c("127.0.0.1", port, Deadline::after(5s));
    try {
      c.check({"k"});
      FAIL() << "accepted an HTTP reply";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::Runtime);
      std::string msg = e.what();
      EXPECT_NE(msg.find("tcp://127.0.0.1:" + std::to_string(port) +
                         ": not a rdzvbench store (bad reply)"),
                std::string::npos)
          << msg;
    }
  }
  fake.join();
}

TEST(TcpStore, BadPortIsAUsageError) {
  try {
    TcpStoreClient c("127.0.0.1", 70000, Deadline::after(1s));
    FAIL() << "port 70000 accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Usage);
  }
}

}  // namespace
}  // namespace rdzv::store
