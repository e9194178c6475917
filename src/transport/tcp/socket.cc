#include "transport/tcp/socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <memory>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "lib/error.h"
#include "lib/sysinfo.h"

namespace rdzv::transport::tcp {

void Fd::reset() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

int SockAddr::port() const {
  if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
  return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
}

void SockAddr::setPort(int port) {
  if (family() == AF_INET)
    reinterpret_cast<sockaddr_in*>(&storage)->sin_port = htons(static_cast<std::uint16_t>(port));
  else
    reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port = htons(static_cast<std::uint16_t>(port));
}

std::string SockAddr::ip() const {
  char text[INET6_ADDRSTRLEN] = {};
  if (family() == AF_INET)
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr, text,
              sizeof text);
  else
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr, text,
              sizeof text);
  return text;
}

std::string SockAddr::text() const {
  return family() == AF_INET6 ? fmt::format("[{}]:{}", ip(), port())
                              : fmt::format("{}:{}", ip(), port());
}

SockAddr parseIp(const std::string& ip, int port) {
  SockAddr addr;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&addr.storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr.storage);
  if (inet_pton(AF_INET, ip.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    addr.length = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, ip.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    addr.length = sizeof(sockaddr_in6);
  } else {
    throwUsage(fmt::format("invalid address \"{}\"", ip),
               "give a numeric IPv4 or IPv6 address, e.g. --addr 127.0.0.1 or --addr ::1");
  }
  addr.setPort(port);
  return addr;
}

SockAddr interfaceAddress(const std::string& name) {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) throwSystem("getifaddrs", errno);
  std::unique_ptr<ifaddrs, decltype(&freeifaddrs)> guard(list, freeifaddrs);
  std::set<std::string> names;
  const ifaddrs* v6 = nullptr;
  for (auto* it = list; it; it = it->ifa_next) {
    if (!it->ifa_addr) continue;
    names.insert(it->ifa_name);
    if (name != it->ifa_name) continue;
    if (it->ifa_addr->sa_family == AF_INET) {
      SockAddr addr;
      std::memcpy(&addr.storage, it->ifa_addr, sizeof(sockaddr_in));
      addr.length = sizeof(sockaddr_in);
      return addr;
    }
    if (it->ifa_addr->sa_family == AF_INET6 && !v6) v6 = it;
  }
  if (v6) {
    SockAddr addr;
    std::memcpy(&addr.storage, v6->ifa_addr, sizeof(sockaddr_in6));
    addr.length = sizeof(sockaddr_in6);
    return addr;
  }
  throwUsage(fmt::format("interface \"{}\" has no IP address", name),
             fmt::format("choose one of: {}", fmt::join(names, ", ")));
}

SockAddr hostAddress() {
  const std::string host = hostName();
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* result = nullptr;
  int rc = getaddrinfo(host.c_str(), nullptr, &hints, &result);
  if (rc != 0)
    throwRuntime(fmt::format("cannot resolve this host's name \"{}\": {}", host, gai_strerror(rc)),
                 "pass --addr IP or --iface NAME");
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> guard(result, freeaddrinfo);
  const addrinfo* pick = result;
  for (auto* it = result; it; it = it->ai_next)
    if (it->ai_family == AF_INET) {
      pick = it;
      break;
    }
  SockAddr addr;
  std::memcpy(&addr.storage, pick->ai_addr, pick->ai_addrlen);
  addr.length = pick->ai_addrlen;
  return addr;
}

Fd listenOn(const SockAddr& addr, int backlog) {
  Fd fd(::socket(addr.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) throwSystem("socket", errno);
  int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr.storage), addr.length) != 0)
    throwSystem("bind " + addr.text(), errno, "choose another --addr or --iface");
  if (::listen(fd.get(), backlog) != 0) throwSystem("listen " + addr.text(), errno);
  return fd;
}

namespace {

void waitFd(int fd, short events, Deadline deadline, const std::string& what) {
  while (true) {
    pollfd p{fd, events, 0};
    int rc = ::poll(&p, 1, deadline.remainingMs());
    if (rc > 0) return;
    if (rc < 0 && errno != EINTR) throwSystem("poll (" + what + ")", errno);
    if (deadline.expired()) throwRuntime("timed out " + what, "raise --timeout");
  }
}

}  // namespace

Fd connectTo(const SockAddr& addr, Deadline deadline) {
  int last_error = 0;
  while (true) {
    Fd fd(::socket(addr.family(), SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd) throwSystem("socket", errno);
    int rc = ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr.storage), addr.length);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd.get(), POLLOUT, 0};
      rc = ::poll(&p, 1, deadline.remainingMs(5000));
      if (rc > 0) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
        rc = err == 0 ? 0 : -1;
        errno = err;
      } else {
        rc = -1;
        errno = ETIMEDOUT;
      }
    }
    if (rc == 0) {
      int flags = fcntl(fd.get(), F_GETFL);
      fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK);
      return fd;
    }
    last_error = errno;
    if (deadline.expired())
      throwRuntime(fmt::format("cannot connect to {}: {}", addr.text(), std::strerror(last_error)),
                   "the peer is not listening or the address is unreachable; check --addr/--iface "
                   "and firewalls, or raise --timeout");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

Fd acceptFrom(int listen_fd, Deadline deadline) {
  waitFd(listen_fd, POLLIN, deadline, "waiting for a peer to connect");
  Fd fd(::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC));
  if (!fd) throwSystem("accept", errno);
  return fd;
}

void sendAll(int fd, const void* data, std::size_t length, Deadline deadline,
             const std::string& what) {
  auto* p = static_cast<const std::uint8_t*>(data);
  while (length > 0) {
    waitFd(fd, POLLOUT, deadline, what);
    ssize_t n = ::send(fd, p, length, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      throwSystem("send (" + what + ")", errno);
    }
    p += n;
    length -= static_cast<std::size_t>(n);
  }
}

void recvAll(int fd, void* data, std::size_t length, Deadline deadline, const std::string& what) {
  auto* p = static_cast<std::uint8_t*>(data);
  while (length > 0) {
    waitFd(fd, POLLIN, deadline, what);
    ssize_t n = ::recv(fd, p, length, MSG_DONTWAIT);
    if (n == 0) throwRuntime("connection closed " + what);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      throwSystem("recv (" + what + ")", errno);
    }
    p += n;
    length -= static_cast<std::size_t>(n);
  }
}

void setNonBlocking(int fd) {
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) throwSystem("fcntl", errno);
}

void setNoDelay(int fd) {
  int one = 1;
  if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
    throwSystem("setsockopt(TCP_NODELAY)", errno);
}

void setBufferSizes(int fd, int bytes) {
  if (bytes <= 0) return;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
}

}  // namespace rdzv::transport::tcp
