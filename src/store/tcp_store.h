#pragma once
// The embedded store: rank 0 serves it over TCP, every rank (rank 0 included) is a client.
//
// Wire format, both directions: a 10-byte header (the bytes "RDZS", u8 version 1, u8 opcode,
// u32 payload length, little endian) then the payload, at most 64 MiB. Strings and byte strings
// are a u32 length then the bytes. Requests: SET(key, value), GET(key), CHECK(keys), ADD(key,
// i64 delta), REMOVE(key), WAIT(u32 timeout_ms, keys); WAIT is answered by the server when the
// last key appears or the timeout passes, so waiting costs no network traffic. Replies: OK (its
// payload depends on the request) or ERROR(message). A malformed request gets ERROR and the
// connection is closed.

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "store/store.h"

namespace rdzv::store {

class TcpStoreServer {
 public:
  // Binds host:port (port 0 picks a free port; IPv4 or IPv6 literal or a host name) and serves on
  // its own thread until destroyed. Throws Runtime, whose message holds "address in use" when
  // another socket has the port.
  TcpStoreServer(std::string host, int port);
  // As the constructor, but nullptr when the port is in use: then another process (the local-mode
  // parent, or an earlier rank 0) already serves the store.
  static std::unique_ptr<TcpStoreServer> tryStart(const std::string& host, int port);
  // Stops serving, closes every connection and joins the thread.
  ~TcpStoreServer();
  TcpStoreServer(const TcpStoreServer&) = delete;
  TcpStoreServer& operator=(const TcpStoreServer&) = delete;

  // The bound port (the chosen one when constructed with 0).
  int port() const;
  const std::string& host() const;
  // "tcp://host:port" with the bound port.
  std::string describe() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One connection to a TcpStoreServer. Thread-safe, but requests are serialised: a thread blocked
// in wait() or get() holds up the others, so give each waiting thread its own client.
class TcpStoreClient final : public Store {
 public:
  // Connects, retrying every 10-100 ms until `connect_deadline` because the server may start
  // later; throws Runtime "store tcp://host:port unreachable after Ns: <reason>" on expiry.
  TcpStoreClient(std::string host, int port, Deadline connect_deadline);
  // One connection attempt, bounded by `deadline`, for a caller probing several ports: nullptr
  // with `error` set to why when nothing accepted. Throws Usage when the host is unknown.
  static std::unique_ptr<TcpStoreClient> tryConnect(const std::string& host, int port,
                                                    Deadline deadline, std::string& error);
  ~TcpStoreClient() override;
  // For tryConnect only (through make_unique): adopts a connected socket.
  struct Adopt {
   private:
    Adopt() = default;
    friend class TcpStoreClient;
  };
  TcpStoreClient(Adopt, std::string host, int port, int fd);
  TcpStoreClient(const TcpStoreClient&) = delete;
  TcpStoreClient& operator=(const TcpStoreClient&) = delete;

  void set(const std::string& key, const Bytes& value) override;
  Bytes get(const std::string& key, Deadline deadline) override;
  void wait(const std::vector<std::string>& keys, Deadline deadline) override;
  bool check(const std::vector<std::string>& keys) override;
  std::int64_t add(const std::string& key, std::int64_t delta) override;
  bool remove(const std::string& key) override;
  std::string describe() const override;

  // Bounds the requests that take no deadline (set, check, add, remove); default 60 s.
  void setRequestTimeout(std::chrono::milliseconds timeout) { request_timeout_ = timeout; }

 private:
  struct Reply {
    std::uint8_t op;
    Bytes payload;
  };
  Reply request(std::uint8_t op, const Bytes& payload, Deadline reply_deadline);
  // Closes the connection (its stream may hold half a frame) and throws Runtime.
  [[noreturn]] void fail(const std::string& what, const std::string& hint);
  [[noreturn]] void badReply();
  void sendAll(const Bytes& frame, Deadline deadline);
  void recvAll(std::uint8_t* out, std::size_t len, Deadline deadline);
  // WAIT on the server; returns the keys still missing when `deadline` passed.
  std::vector<std::string> waitMissing(const std::vector<std::string>& keys, Deadline deadline);

  std::string host_;
  int port_;
  int fd_ = -1;  // owned; -1 once the connection is lost
  std::mutex mu_;
  std::chrono::milliseconds request_timeout_{60000};
};

// "tcp://host:port", with IPv6 addresses in brackets.
std::string tcpUri(const std::string& host, int port);

}  // namespace rdzv::store
