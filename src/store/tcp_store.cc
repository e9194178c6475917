#include "store/tcp_store.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <optional>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "lib/error.h"
#include "store/hash_store.h"

namespace rdzv::store {
namespace {

constexpr std::uint8_t kMagic[4] = {'R', 'D', 'Z', 'S'};
constexpr std::uint8_t kVersion = 1;
constexpr std::size_t kHeaderSize = 10;
constexpr std::uint32_t kMaxPayload = 64u << 20;

enum Op : std::uint8_t {
  kSet = 1,
  kGet = 2,
  kCheck = 3,
  kAdd = 4,
  kRemove = 5,
  kWait = 6,
  kOk = 0x80,
  kError = 0xff,
};

const char* opName(std::uint8_t op) {
  switch (op) {
    case kSet:
      return "SET";
    case kGet:
      return "GET";
    case kCheck:
      return "CHECK";
    case kAdd:
      return "ADD";
    case kRemove:
      return "REMOVE";
    case kWait:
      return "WAIT";
    default:
      return "?";
  }
}

// A WAIT reply can be late by the server's scheduling; past this much, the server is presumed hung.
constexpr auto kWaitReplyGrace = std::chrono::seconds(5);
// Reading one connection at a time in bounded chunks keeps one busy client from starving others.
constexpr std::size_t kReadChunk = 256 * 1024;
// Past this much unsent output, a client that does not read its replies is not read from either.
constexpr std::size_t kMaxPendingOutput = 1 << 20;

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  ~Fd() { reset(); }
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

// Thrown by Reader when a payload ends early or has trailing bytes.
struct MalformedPayload {};

class Writer {
 public:
  void u8(std::uint8_t v) { out_.push_back(v); }
  void u32(std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  void i64(std::int64_t v) {
    auto u = static_cast<std::uint64_t>(v);
    for (int i = 0; i < 8; ++i) out_.push_back(static_cast<std::uint8_t>(u >> (8 * i)));
  }
  void str(const std::string& s) {
    u32(static_cast<std::uint32_t>(s.size()));
    out_.insert(out_.end(), s.begin(), s.end());
  }
  void bytes(const Bytes& b) {
    u32(static_cast<std::uint32_t>(b.size()));
    out_.insert(out_.end(), b.begin(), b.end());
  }
  void strings(const std::vector<std::string>& v) {
    u32(static_cast<std::uint32_t>(v.size()));
    for (const auto& s : v) str(s);
  }
  Bytes take() { return std::move(out_); }

 private:
  Bytes out_;
};

class Reader {
 public:
  Reader(const std::uint8_t* data, std::size_t size) : p_(data), end_(data + size) {}
  std::uint8_t u8() {
    need(1);
    return *p_++;
  }
  std::uint32_t u32() {
    need(4);
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(*p_++) << (8 * i);
    return v;
  }
  std::int64_t i64() {
    need(8);
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(*p_++) << (8 * i);
    return static_cast<std::int64_t>(v);
  }
  std::string str() {
    std::uint32_t n = u32();
    need(n);
    std::string s(p_, p_ + n);
    p_ += n;
    return s;
  }
  Bytes bytes() {
    std::uint32_t n = u32();
    need(n);
    Bytes b(p_, p_ + n);
    p_ += n;
    return b;
  }
  std::vector<std::string> strings() {
    std::uint32_t n = u32();
    // Each string takes at least its 4-byte length, so a huge count cannot reserve huge memory.
    need(static_cast<std::size_t>(n) * 4);
    std::vector<std::string> v;
    v.reserve(n);
    for (std::uint32_t i = 0; i < n; ++i) v.push_back(str());
    return v;
  }
  void end() const {
    if (p_ != end_) throw MalformedPayload{};
  }

 private:
  void need(std::size_t n) const {
    if (static_cast<std::size_t>(end_ - p_) < n) throw MalformedPayload{};
  }
  const std::uint8_t* p_;
  const std::uint8_t* end_;
};

Bytes frame(std::uint8_t op, const Bytes& payload) {
  Bytes out(kMagic, kMagic + 4);
  out.push_back(kVersion);
  out.push_back(op);
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>(payload.size() >> (8 * i)));
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

struct Header {
  std::uint8_t op = 0;
  std::uint32_t length = 0;
};

// Checks a header; returns what is wrong with it, or an empty string.
std::string checkHeader(const std::uint8_t* h, Header& out) {
  if (std::memcmp(h, kMagic, 4) != 0) return "bad magic (not a rdzvbench store frame)";
  if (h[4] != kVersion) return fmt::format("protocol version {} (this server speaks 1)", h[4]);
  out.op = h[5];
  out.length = static_cast<std::uint32_t>(h[6]) | static_cast<std::uint32_t>(h[7]) << 8 |
               static_cast<std::uint32_t>(h[8]) << 16 | static_cast<std::uint32_t>(h[9]) << 24;
  if (out.length > kMaxPayload)
    return fmt::format("frame of {} bytes (at most 64 MiB)", out.length);
  return {};
}

std::string secondsText(std::chrono::nanoseconds d) {
  return fmt::format("{:.1f}s", std::chrono::duration<double>(d).count());
}

// Thrown by the server constructor so that tryStart() can tell "port taken" from other failures.
class AddressInUse : public Error {
 public:
  using Error::Error;
};

}  // namespace

std::string tcpUri(const std::string& host, int port) {
  if (host.find(':') != std::string::npos) return fmt::format("tcp://[{}]:{}", host, port);
  return fmt::format("tcp://{}:{}", host, port);
}

// ---------------------------------------------------------------------------------------------
// Server

struct TcpStoreServer::Impl {
  struct Conn {
    Fd fd;
    Bytes in;
    std::size_t in_off = 0;  // parsed bytes at the front of `in`, dropped lazily
    Bytes out;
    std::size_t out_off = 0;
    std::uint64_t waiter = 0;  // the pending WAIT, if any; no further request is read meanwhile
    bool closed = false;
  };
  struct Waiter {
    std::uint64_t conn;
    std::vector<std::string> keys;
    std::size_t missing;  // keys not seen yet; rechecked against the data when it reaches 0
    Clock::time_point at;
  };

  Impl(std::string h, Fd l, Fd w, int p)
      : host(std::move(h)), port(p), listener(std::move(l)), wake(std::move(w)) {
    thread = std::thread([this] { run(); });
  }
  ~Impl() {
    std::uint64_t one = 1;
    // eventfd writes of 8 bytes do not fail short of a counter overflow.
    [[maybe_unused]] auto n = ::write(wake.get(), &one, sizeof one);
    thread.join();
  }

  void run();
  void acceptAll();
  void readFrom(Conn& c);
  void process(std::uint64_t id);
  void handle(std::uint64_t id, Conn& c, std::uint8_t op, Reader& r);
  void reply(Conn& c, std::uint8_t op, const Bytes& payload);
  void protocolError(Conn& c, const std::string& why);
  void flush(Conn& c);
  void keyAppeared(const std::string& key);
  void finishWait(std::uint64_t waiter_id, bool timed_out);
  // Forgets a waiter, including its watch entries: clients that time out waiting for a key that
  // never comes (an abort key) would otherwise grow `watchers` without bound.
  void dropWaiter(std::uint64_t waiter_id);
  std::vector<std::string> missingOf(const std::vector<std::string>& keys) const;

  std::string host;
  int port;
  Fd listener;
  Fd wake;
  std::unordered_map<std::uint64_t, Conn> conns;
  std::uint64_t next_id = 1;
  std::unordered_map<std::uint64_t, Waiter> waiters;
  std::unordered_map<std::string, std::unordered_set<std::uint64_t>> watchers;  // key -> waiters
  std::unordered_map<std::string, Bytes> data;
  std::vector<std::uint64_t> runnable;  // connections whose WAIT was answered: read on
  Clock::time_point accept_paused_until{};
  std::thread thread;  // last, so that everything it uses exists before it starts
};

namespace {

// Binds and listens on the first address `host` resolves to. Returns the socket, or throws.
Fd listenOn(const std::string& host, int port, int& bound_port) {
  if (port < 0 || port > 65535) {
    throwUsage(fmt::format("tcp store: port {} out of range", port), "use 1..65535, or 0 for any");
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  std::string service = std::to_string(port);
  int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &res);
  if (rc != 0) {
    throwUsage(fmt::format("store {}: cannot resolve {}: {}", tcpUri(host, port), host,
                           ::gai_strerror(rc)),
               "use an address of this host, e.g. --store tcp://0.0.0.0:PORT");
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> guard(res, &::freeaddrinfo);
  Fd fd(::socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) throwSystem("socket", errno);
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd.get(), res->ai_addr, res->ai_addrlen) != 0) {
    int err = errno;
    if (err == EADDRINUSE) {
      throw AddressInUse(ErrorKind::Runtime,
                         fmt::format("store {}: cannot serve: address in use", tcpUri(host, port)),
                         "another process serves this port; pick another in --store");
    }
    throwRuntime(fmt::format("store {}: cannot bind: {}", tcpUri(host, port), std::strerror(err)),
                 "use an address of this host in --store");
  }
  if (::listen(fd.get(), SOMAXCONN) != 0) throwSystem("listen", errno);
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    throwSystem("getsockname", errno);
  }
  bound_port = addr.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port)
                                          : ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  return fd;
}

}  // namespace

TcpStoreServer::TcpStoreServer(std::string host, int port) {
  int bound = 0;
  Fd listener = listenOn(host, port, bound);
  Fd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (wake.get() < 0) throwSystem("eventfd", errno);
  impl_ = std::make_unique<Impl>(std::move(host), std::move(listener), std::move(wake), bound);
}

std::unique_ptr<TcpStoreServer> TcpStoreServer::tryStart(const std::string& host, int port) {
  try {
    return std::make_unique<TcpStoreServer>(host, port);
  } catch (const AddressInUse&) {
    return nullptr;
  }
}

TcpStoreServer::~TcpStoreServer() = default;

int TcpStoreServer::port() const { return impl_->port; }
const std::string& TcpStoreServer::host() const { return impl_->host; }
std::string TcpStoreServer::describe() const { return tcpUri(impl_->host, impl_->port); }

void TcpStoreServer::Impl::run() {
  std::vector<pollfd> fds;
  std::vector<std::uint64_t> ids;
  while (true) {
    try {
      auto now = Clock::now();
      fds.clear();
      ids.clear();
      fds.push_back({wake.get(), POLLIN, 0});
      bool accepting = now >= accept_paused_until;
      if (accepting) fds.push_back({listener.get(), POLLIN, 0});
      for (auto& [id, c] : conns) {
        short events = 0;
        // A waiting client sends nothing until answered, but its leaving must drop the waiter.
        if (c.waiter != 0) {
          events |= POLLRDHUP;
        } else if (c.out.size() - c.out_off < kMaxPendingOutput) {
          events |= POLLIN;
        }
        if (c.out_off < c.out.size()) events |= POLLOUT;
        fds.push_back({c.fd.get(), events, 0});
        ids.push_back(id);
      }
      auto next = Clock::time_point::max();
      for (auto& [wid, w] : waiters) next = std::min(next, w.at);
      if (!accepting) next = std::min(next, accept_paused_until);
      int timeout = -1;
      if (next != Clock::time_point::max()) {
        // Rounded up, so that the loop does not wake just before a deadline and spin until it.
        auto ms = std::chrono::ceil<std::chrono::milliseconds>(next - now).count();
        timeout = static_cast<int>(std::clamp<std::int64_t>(ms, 0, 60000));
      }
      int n = ::poll(fds.data(), fds.size(), timeout);
      if (n < 0 && errno != EINTR) throwSystem("poll", errno);
      if (fds[0].revents != 0) return;

      now = Clock::now();
      std::vector<std::uint64_t> expired;
      for (auto& [wid, w] : waiters) {
        if (w.at <= now) expired.push_back(wid);
      }
      for (auto wid : expired) finishWait(wid, true);

      std::size_t first_conn = accepting ? 2 : 1;
      if (accepting && n > 0 && fds[1].revents != 0) acceptAll();
      for (std::size_t i = first_conn; n > 0 && i < fds.size(); ++i) {
        auto it = conns.find(ids[i - first_conn]);
        if (it == conns.end() || fds[i].revents == 0) continue;
        Conn& c = it->second;
        if (fds[i].revents & POLLOUT) flush(c);
        if (c.closed) continue;
        if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) {
          readFrom(c);
        } else if (fds[i].revents & POLLRDHUP) {
          c.closed = true;
        }
        // Also after POLLOUT alone: draining the output may unblock requests already buffered.
        if (!c.closed) process(it->first);
      }
      while (!runnable.empty()) {
        auto id = runnable.back();
        runnable.pop_back();
        process(id);
      }
      for (auto it = conns.begin(); it != conns.end();) {
        if (it->second.closed) {
          dropWaiter(it->second.waiter);
          it = conns.erase(it);
        } else {
          ++it;
        }
      }
    } catch (...) {
      // The server must outlive any one bad request (even an allocation failure); pause briefly so
      // that a persistent failure does not spin.
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
}

void TcpStoreServer::Impl::acceptAll() {
  // Bounded, so that a connection storm does not starve the connected clients.
  for (int i = 0; i < 64; ++i) {
    int fd = ::accept4(listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // Out of descriptors: the pending connection stays readable, so stop polling it a while.
        accept_paused_until = Clock::now() + std::chrono::milliseconds(100);
      }
      return;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    Conn c;
    c.fd = Fd(fd);
    conns.emplace(next_id++, std::move(c));
  }
}

void TcpStoreServer::Impl::readFrom(Conn& c) {
  if (c.in_off > 0 && c.in_off == c.in.size()) {
    c.in.clear();
    c.in_off = 0;
  }
  std::size_t old = c.in.size();
  c.in.resize(old + kReadChunk);
  ssize_t n = ::recv(c.fd.get(), c.in.data() + old, kReadChunk, 0);
  c.in.resize(old + (n > 0 ? static_cast<std::size_t>(n) : 0));
  if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
    c.closed = true;
  }
}

void TcpStoreServer::Impl::process(std::uint64_t id) {
  auto it = conns.find(id);
  if (it == conns.end()) return;
  Conn& c = it->second;
  while (!c.closed && c.waiter == 0 && c.out.size() - c.out_off < kMaxPendingOutput) {
    std::size_t avail = c.in.size() - c.in_off;
    if (avail < kHeaderSize) break;
    Header h;
    if (auto why = checkHeader(c.in.data() + c.in_off, h); !why.empty()) {
      protocolError(c, why);
      return;
    }
    if (avail < kHeaderSize + h.length) break;
    Reader r(c.in.data() + c.in_off + kHeaderSize, h.length);
    c.in_off += kHeaderSize + h.length;
    try {
      handle(id, c, h.op, r);
    } catch (const MalformedPayload&) {
      protocolError(c, fmt::format("malformed {} request", opName(h.op)));
      return;
    } catch (const std::exception& e) {
      // Typically bad_alloc on a large value: this client is dropped, the others are served on.
      protocolError(c, fmt::format("{} failed: {}", opName(h.op), e.what()));
      return;
    }
  }
  // Keep the buffer from growing without bound while a client pipelines small requests.
  if (c.in_off > 0 && c.in_off == c.in.size()) {
    c.in.clear();
    c.in_off = 0;
  } else if (c.in_off > kReadChunk) {
    c.in.erase(c.in.begin(), c.in.begin() + static_cast<std::ptrdiff_t>(c.in_off));
    c.in_off = 0;
  }
  flush(c);
}

void TcpStoreServer::Impl::handle(std::uint64_t id, Conn& c, std::uint8_t op, Reader& r) {
  Writer w;
  switch (op) {
    case kSet: {
      std::string key = r.str();
      Bytes value = r.bytes();
      r.end();
      data[key] = std::move(value);
      reply(c, kOk, {});
      keyAppeared(key);
      return;
    }
    case kGet: {
      std::string key = r.str();
      r.end();
      auto found = data.find(key);
      w.u8(found != data.end());
      if (found != data.end()) w.bytes(found->second);
      reply(c, kOk, w.take());
      return;
    }
    case kCheck: {
      auto keys = r.strings();
      r.end();
      w.u8(missingOf(keys).empty());
      reply(c, kOk, w.take());
      return;
    }
    case kAdd: {
      std::string key = r.str();
      std::int64_t delta = r.i64();
      r.end();
      auto found = data.find(key);
      const std::string where = tcpUri(host, port);
      try {
        std::int64_t old =
            found == data.end() ? 0 : detail::decodeCounter(where, key, found->second);
        std::int64_t value = detail::addCounter(where, key, old, delta);
        data[key] = detail::encodeCounter(value);
        w.i64(value);
        reply(c, kOk, w.take());
      } catch (const Error& e) {
        Writer err;
        err.str(e.what());
        reply(c, kError, err.take());
        return;
      }
      if (found == data.end()) keyAppeared(key);
      return;
    }
    case kRemove: {
      std::string key = r.str();
      r.end();
      w.u8(data.erase(key) > 0);
      reply(c, kOk, w.take());
      return;
    }
    case kWait: {
      std::uint32_t timeout_ms = r.u32();
      auto keys = r.strings();
      r.end();
      auto missing = missingOf(keys);
      if (missing.empty() || timeout_ms == 0) {
        w.strings(missing);
        reply(c, kOk, w.take());
        return;
      }
      std::uint64_t wid = next_id++;
      // Each distinct key is watched once, so that `missing` counts down exactly.
      std::sort(missing.begin(), missing.end());
      missing.erase(std::unique(missing.begin(), missing.end()), missing.end());
      for (const auto& key : missing) watchers[key].insert(wid);
      waiters.emplace(wid, Waiter{id, std::move(keys), missing.size(),
                                  Clock::now() + std::chrono::milliseconds(timeout_ms)});
      c.waiter = wid;
      return;
    }
    default:
      protocolError(c, fmt::format("unknown opcode {}", op));
  }
}

void TcpStoreServer::Impl::keyAppeared(const std::string& key) {
  auto it = watchers.find(key);
  if (it == watchers.end()) return;
  auto ids = std::move(it->second);
  watchers.erase(it);
  for (auto wid : ids) {
    auto w = waiters.find(wid);
    if (w == waiters.end()) continue;  // answered by timeout, or its client left
    if (--w->second.missing == 0) finishWait(wid, false);
  }
}

void TcpStoreServer::Impl::finishWait(std::uint64_t wid, bool timed_out) {
  auto it = waiters.find(wid);
  if (it == waiters.end()) return;
  Waiter& w = it->second;
  auto missing = missingOf(w.keys);
  if (!missing.empty() && !timed_out) {
    // A key was removed after it appeared: watch the ones missing now.
    std::sort(missing.begin(), missing.end());
    missing.erase(std::unique(missing.begin(), missing.end()), missing.end());
    for (const auto& key : missing) watchers[key].insert(wid);
    w.missing = missing.size();
    return;
  }
  auto conn = conns.find(w.conn);
  dropWaiter(wid);
  if (conn == conns.end()) return;
  Writer out;
  out.strings(missing);
  conn->second.waiter = 0;
  reply(conn->second, kOk, out.take());
  flush(conn->second);
  runnable.push_back(conn->first);
}

void TcpStoreServer::Impl::dropWaiter(std::uint64_t wid) {
  auto it = waiters.find(wid);
  if (it == waiters.end()) return;
  for (const auto& key : it->second.keys) {
    auto watch = watchers.find(key);
    if (watch == watchers.end()) continue;
    watch->second.erase(wid);
    if (watch->second.empty()) watchers.erase(watch);
  }
  waiters.erase(it);
}

std::vector<std::string> TcpStoreServer::Impl::missingOf(
    const std::vector<std::string>& keys) const {
  std::vector<std::string> missing;
  for (const auto& key : keys) {
    if (!data.contains(key)) missing.push_back(key);
  }
  return missing;
}

void TcpStoreServer::Impl::reply(Conn& c, std::uint8_t op, const Bytes& payload) {
  if (c.out_off > 0 && c.out_off == c.out.size()) {
    c.out.clear();
    c.out_off = 0;
  }
  Bytes f = frame(op, payload);
  c.out.insert(c.out.end(), f.begin(), f.end());
}

void TcpStoreServer::Impl::protocolError(Conn& c, const std::string& why) {
  Writer w;
  w.str("rdzvbench store " + tcpUri(host, port) + ": " + why);
  reply(c, kError, w.take());
  // One attempt only: a peer that sends garbage gets no further claim on the server.
  flush(c);
  c.closed = true;
}

void TcpStoreServer::Impl::flush(Conn& c) {
  while (c.out_off < c.out.size()) {
    ssize_t n =
        ::send(c.fd.get(), c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) c.closed = true;
      return;
    }
    c.out_off += static_cast<std::size_t>(n);
  }
  c.out.clear();
  c.out_off = 0;
}

// ---------------------------------------------------------------------------------------------
// Client

namespace {

// One connection attempt to every address of host:port; returns a connected socket or -1 with
// `error` set to why the last address failed.
int connectOnce(const std::string& host, int port, Deadline deadline, std::string& error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  std::string service = std::to_string(port);
  int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &res);
  if (rc != 0) {
    if (rc == EAI_NONAME) {
      throwUsage(fmt::format("store {}: unknown host {}", tcpUri(host, port), host),
                 "check the host name in --store");
    }
    error = ::gai_strerror(rc);
    return -1;
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> guard(res, &::freeaddrinfo);
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    Fd fd(::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (fd.get() < 0) {
      error = std::strerror(errno);
      continue;
    }
    if (::connect(fd.get(), ai->ai_addr, ai->ai_addrlen) != 0) {
      if (errno != EINPROGRESS) {
        error = std::strerror(errno);
        continue;
      }
      pollfd p{fd.get(), POLLOUT, 0};
      int n = ::poll(&p, 1, deadline.remainingMs());
      if (n <= 0) {
        error = n == 0 ? "connection timed out" : std::strerror(errno);
        continue;
      }
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        error = std::strerror(err);
        continue;
      }
    }
    int one = 1;
    ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd.release();
  }
  return -1;
}

}  // namespace

TcpStoreClient::TcpStoreClient(std::string host, int port, Deadline connect_deadline)
    : host_(std::move(host)), port_(port) {
  if (port_ < 1 || port_ > 65535) {
    throwUsage(fmt::format("store {}: port {} out of range", describe(), port_), "use 1..65535");
  }
  const auto start = Clock::now();
  auto delay = std::chrono::milliseconds(10);
  std::string error = "connection timed out";
  while (true) {
    fd_ = connectOnce(host_, port_, connect_deadline, error);
    if (fd_ >= 0) return;
    if (connect_deadline.expired()) break;
    std::this_thread::sleep_for(
        std::min<std::chrono::nanoseconds>(delay, connect_deadline.remaining()));
    delay = std::min(delay * 2, std::chrono::milliseconds(100));
  }
  throwRuntime(fmt::format("store {} unreachable after {}: {}", describe(),
                           secondsText(Clock::now() - start), error),
               "start rank 0 first or check --store");
}

TcpStoreClient::TcpStoreClient(Adopt, std::string host, int port, int fd)
    : host_(std::move(host)), port_(port), fd_(fd) {}

std::unique_ptr<TcpStoreClient> TcpStoreClient::tryConnect(const std::string& host, int port,
                                                           Deadline deadline, std::string& error) {
  int fd = connectOnce(host, port, deadline, error);
  if (fd < 0) return nullptr;
  return std::make_unique<TcpStoreClient>(Adopt{}, host, port, fd);
}

TcpStoreClient::~TcpStoreClient() {
  if (fd_ >= 0) ::close(fd_);
}

std::string TcpStoreClient::describe() const { return tcpUri(host_, port_); }

void TcpStoreClient::fail(const std::string& what, const std::string& hint) {
  // The stream may hold half a frame; no later request could be matched to its reply.
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  throwRuntime(what, hint);
}

void TcpStoreClient::badReply() {
  fail(fmt::format("store {}: not a rdzvbench store (bad reply)", describe()),
       "check that --store names the port rank 0 serves");
}

void TcpStoreClient::sendAll(const Bytes& frame, Deadline deadline) {
  std::size_t done = 0;
  while (done < frame.size()) {
    ssize_t n = ::send(fd_, frame.data() + done, frame.size() - done, MSG_NOSIGNAL);
    if (n >= 0) {
      done += static_cast<std::size_t>(n);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      fail(fmt::format("store {}: connection lost: {}", describe(), std::strerror(errno)),
           "rank 0, which serves the store, probably exited; check its output");
    }
    pollfd p{fd_, POLLOUT, 0};
    if (deadline.expired() || (::poll(&p, 1, deadline.remainingMs()) < 0 && errno != EINTR)) {
      fail(fmt::format("store {}: cannot send a request ({} unsent)", describe(),
                       deadline.expired() ? "timed out" : std::strerror(errno)),
           "the store server (rank 0) is hung or unreachable; check it");
    }
  }
}

void TcpStoreClient::recvAll(std::uint8_t* out, std::size_t len, Deadline deadline) {
  std::size_t done = 0;
  while (done < len) {
    ssize_t n = ::recv(fd_, out + done, len - done, 0);
    if (n > 0) {
      done += static_cast<std::size_t>(n);
      continue;
    }
    if (n == 0) {
      fail(fmt::format("store {}: connection closed by the server", describe()),
           "rank 0, which serves the store, probably exited; check its output");
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      fail(fmt::format("store {}: connection lost: {}", describe(), std::strerror(errno)),
           "rank 0, which serves the store, probably exited; check its output");
    }
    if (deadline.expired()) {
      fail(fmt::format("store {}: no reply from the server in time", describe()),
           "the store server (rank 0) is hung or overloaded; check it");
    }
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, deadline.remainingMs()) < 0 && errno != EINTR) {
      fail(fmt::format("store {}: poll: {}", describe(), std::strerror(errno)), "");
    }
  }
}

TcpStoreClient::Reply TcpStoreClient::request(std::uint8_t op, const Bytes& payload,
                                              Deadline reply_deadline) {
  if (payload.size() > kMaxPayload) {
    throwUsage(fmt::format("store {}: {} request of {} bytes (at most 64 MiB)", describe(),
                           opName(op), payload.size()),
               "store smaller values");
  }
  if (fd_ < 0) {
    throwRuntime(fmt::format("store {}: connection lost earlier", describe()),
                 "rank 0, which serves the store, probably exited; check its output");
  }
  sendAll(frame(op, payload), reply_deadline);
  std::uint8_t header[kHeaderSize];
  recvAll(header, kHeaderSize, reply_deadline);
  Header h;
  if (!checkHeader(header, h).empty() || (h.op != kOk && h.op != kError)) badReply();
  Reply out{h.op, Bytes(h.length)};
  recvAll(out.payload.data(), h.length, reply_deadline);
  if (out.op == kError) {
    std::string message;
    try {
      Reader r(out.payload.data(), out.payload.size());
      message = r.str();
    } catch (const MalformedPayload&) {
      badReply();
    }
    throwRuntime(fmt::format("store {}: {} refused: {}", describe(), opName(op), message),
                 "check that every rank runs the same rdzvbench version");
  }
  return out;
}

namespace {

// Parses a reply with `parse`, turning a malformed payload into the "bad reply" error.
template <typename F>
auto parseReply(const Bytes& payload, F parse) -> decltype(parse(std::declval<Reader&>())) {
  Reader r(payload.data(), payload.size());
  auto v = parse(r);
  r.end();
  return v;
}

}  // namespace

void TcpStoreClient::set(const std::string& key, const Bytes& value) {
  std::lock_guard lock(mu_);
  Writer w;
  w.str(key);
  w.bytes(value);
  request(kSet, w.take(), Deadline::after(request_timeout_));
}

std::vector<std::string> TcpStoreClient::waitMissing(const std::vector<std::string>& keys,
                                                     Deadline deadline) {
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(deadline.remaining()).count();
  Writer w;
  w.u32(static_cast<std::uint32_t>(
      std::min<std::int64_t>(ms, std::numeric_limits<std::uint32_t>::max())));
  w.strings(keys);
  // Guarded: a caller may pass a deadline at the end of time to mean "no timeout".
  auto reply_at = deadline.at() < Clock::time_point::max() - kWaitReplyGrace
                      ? deadline.at() + kWaitReplyGrace
                      : Clock::time_point::max();
  auto reply = request(kWait, w.take(), Deadline(reply_at));
  try {
    return parseReply(reply.payload, [](Reader& r) { return r.strings(); });
  } catch (const MalformedPayload&) {
    badReply();
  }
}

void TcpStoreClient::wait(const std::vector<std::string>& keys, Deadline deadline) {
  if (keys.empty()) return;
  const auto start = Clock::now();
  std::lock_guard lock(mu_);
  auto missing = waitMissing(keys, deadline);
  if (!missing.empty()) detail::throwWaitExpired(describe(), missing, Clock::now() - start);
}

Bytes TcpStoreClient::get(const std::string& key, Deadline deadline) {
  const auto start = Clock::now();
  std::lock_guard lock(mu_);
  while (true) {
    auto missing = waitMissing({key}, deadline);
    if (!missing.empty()) detail::throwWaitExpired(describe(), missing, Clock::now() - start);
    Writer w;
    w.str(key);
    auto reply = request(kGet, w.take(), Deadline::after(request_timeout_));
    std::optional<Bytes> value;
    try {
      value = parseReply(reply.payload, [](Reader& r) -> std::optional<Bytes> {
        if (r.u8() == 0) return std::nullopt;
        return r.bytes();
      });
    } catch (const MalformedPayload&) {
      badReply();
    }
    if (value) return *value;
    // Removed between WAIT and GET: wait for it again.
    if (deadline.expired()) detail::throwWaitExpired(describe(), {key}, Clock::now() - start);
  }
}

bool TcpStoreClient::check(const std::vector<std::string>& keys) {
  std::lock_guard lock(mu_);
  Writer w;
  w.strings(keys);
  auto reply = request(kCheck, w.take(), Deadline::after(request_timeout_));
  try {
    return parseReply(reply.payload, [](Reader& r) { return r.u8() != 0; });
  } catch (const MalformedPayload&) {
    badReply();
  }
}

std::int64_t TcpStoreClient::add(const std::string& key, std::int64_t delta) {
  std::lock_guard lock(mu_);
  Writer w;
  w.str(key);
  w.i64(delta);
  auto reply = request(kAdd, w.take(), Deadline::after(request_timeout_));
  try {
    return parseReply(reply.payload, [](Reader& r) { return r.i64(); });
  } catch (const MalformedPayload&) {
    badReply();
  }
}

bool TcpStoreClient::remove(const std::string& key) {
  std::lock_guard lock(mu_);
  Writer w;
  w.str(key);
  auto reply = request(kRemove, w.take(), Deadline::after(request_timeout_));
  try {
    return parseReply(reply.payload, [](Reader& r) { return r.u8() != 0; });
  } catch (const MalformedPayload&) {
    badReply();
  }
}

}  // namespace rdzv::store
