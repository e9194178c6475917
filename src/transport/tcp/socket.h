#pragma once
// Thin RAII and address helpers over BSD sockets for the tcp transport.

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "lib/clock.h"

namespace rdzv::transport::tcp {

// Owns a file descriptor; closes it on destruction.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& other) noexcept : fd_(other.release()) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = other.release();
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset();

 private:
  int fd_ = -1;
};

// An IPv4 or IPv6 socket address with a port.
struct SockAddr {
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family() const { return storage.ss_family; }
  int port() const;
  void setPort(int port);
  std::string ip() const;
  // "127.0.0.1:4000" or "[::1]:4000".
  std::string text() const;
};

// Parses a numeric IPv4 or IPv6 address; Usage error naming it otherwise.
SockAddr parseIp(const std::string& ip, int port);
// The first IPv4 (else IPv6) address of interface `name`; Usage error listing the
// interfaces that exist when it has none.
SockAddr interfaceAddress(const std::string& name);
// The address this host's name resolves to (IPv4 first); Runtime error with a hint to use
// --addr or --iface when it does not resolve.
SockAddr hostAddress();

Fd listenOn(const SockAddr& addr, int backlog);
// Connects with retries on refusal until the deadline; returns a blocking socket.
Fd connectTo(const SockAddr& addr, Deadline deadline);
Fd acceptFrom(int listen_fd, Deadline deadline);

// Blocking exchange helpers for the handshake: all bytes or a Runtime error by the deadline.
void sendAll(int fd, const void* data, std::size_t length, Deadline deadline,
             const std::string& what);
void recvAll(int fd, void* data, std::size_t length, Deadline deadline, const std::string& what);

void setNonBlocking(int fd);
void setNoDelay(int fd);
void setBufferSizes(int fd, int bytes);

}  // namespace rdzv::transport::tcp
