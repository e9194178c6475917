#include "transport/tcp/tcp_device.h"

#include <sched.h>
#include <sys/epoll.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "lib/error.h"

namespace rdzv::transport::tcp {
namespace {

constexpr std::size_t kStagingBytes = 64 * 1024;
// Payloads at least this large are read straight into the receive buffer, not staged.
constexpr std::size_t kDirectReadBytes = 16 * 1024;

// Test hook: RDZV_TEST_WIRE_VERSION makes this process claim another wire version, so the
// refusal of mismatched peers can be tested with one binary.
std::uint16_t wireVersion() {
  if (const char* v = std::getenv("RDZV_TEST_WIRE_VERSION"))
    return static_cast<std::uint16_t>(std::atoi(v));
  return kWireVersion;
}

}  // namespace

TcpDevice::TcpDevice(const TransportOptions& options) : options_(options) {
  SockAddr bind_addr;
  if (!options_.addr.empty()) {
    listen_addr_ = parseIp(options_.addr, 0);
    bind_addr = listen_addr_;
  } else if (!options_.iface.empty()) {
    listen_addr_ = interfaceAddress(options_.iface);
    bind_addr = listen_addr_;
  } else {
    listen_addr_ = hostAddress();
    bind_addr = parseIp(listen_addr_.family() == AF_INET6 ? "::" : "0.0.0.0", 0);
  }
  bind_addr.setPort(0);
  listen_fd_ = listenOn(bind_addr, 1024);
  SockAddr bound;
  bound.length = sizeof bound.storage;
  getsockname(listen_fd_.get(), reinterpret_cast<sockaddr*>(&bound.storage), &bound.length);
  listen_addr_.setPort(bound.port());
  epoll_fd_ = Fd(epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_fd_) throwSystem("epoll_create1", errno);
}

TcpDevice::~TcpDevice() = default;

Bytes TcpDevice::address() const {
  return store::toBytes(fmt::format("{} {}", listen_addr_.ip(), listen_addr_.port()));
}

void TcpDevice::connect(int rank, const std::vector<Bytes>& addresses,
                        const std::vector<std::string>& hosts, Deadline deadline) {
  int size = static_cast<int>(addresses.size());
  self_ = rank;
  peers_.resize(size);
  int local = 0;
  for (int r = 0; r < size; ++r) {
    peers_[r].rank = r;
    peers_[r].host = hosts[r];
    if (hosts[r] == hosts[rank]) ++local;
  }
  yield_ = local > static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  // Higher ranks connect to lower ones: every blocking wait points down, so no cycle forms.
  for (int r = 0; r < rank; ++r) connectPeer(peers_[r], addresses[r], rank, size, deadline);
  acceptPeers(size - 1 - rank, rank, size, deadline);
  for (int r = 0; r < size; ++r)
    if (r != rank) activate(peers_[r]);
}

void TcpDevice::connectPeer(Peer& peer, const Bytes& address, int rank, int size,
                            Deadline deadline) {
  auto text = store::toString(address);
  auto space = text.find(' ');
  if (space == std::string::npos)
    throwRuntime(fmt::format("malformed tcp address \"{}\" published by rank {}", text, peer.rank));
  auto addr = parseIp(text.substr(0, space), std::atoi(text.c_str() + space + 1));
  try {
    peer.fd = connectTo(addr, deadline);
  } catch (Error& e) {
    throw Error(e.kind(), fmt::format("rank {} on {}: {}", peer.rank, peer.host, e.what()),
                e.hint());
  }
  int peer_rank = -1;
  exchangeHello(peer.fd.get(), rank, size, true, peer.rank, deadline, peer_rank);
}

void TcpDevice::acceptPeers(int count, int rank, int size, Deadline deadline) {
  for (int i = 0; i < count; ++i) {
    Fd fd;
    try {
      fd = acceptFrom(listen_fd_.get(), deadline);
    } catch (Error& e) {
      std::vector<int> missing;
      for (int r = rank + 1; r < size; ++r)
        if (!peers_[r].fd) missing.push_back(r);
      throwRuntime(
          fmt::format("timed out waiting for rank{} {} to connect to {}",
                      missing.size() > 1 ? "s" : "", fmt::join(missing, ", "), listen_addr_.text()),
          "those ranks cannot reach this address; check --addr/--iface and firewalls");
    }
    int peer_rank = -1;
    exchangeHello(fd.get(), rank, size, false, -1, deadline, peer_rank);
    if (peer_rank <= rank || peer_rank >= size || peers_[peer_rank].fd)
      throwRuntime(fmt::format("unexpected connection from a peer claiming rank {}", peer_rank),
                   "two runs may share ranks; give each run its own --run-id");
    peers_[peer_rank].fd = std::move(fd);
  }
}

void TcpDevice::exchangeHello(int fd, int rank, int size, bool initiator, int expected_peer,
                              Deadline deadline, int& peer_rank) {
  Hello mine{kWireMagic,
             wireVersion(),
             0,
             static_cast<std::uint32_t>(rank),
             static_cast<std::uint32_t>(size),
             fnv1a(options_.run_id)};
  Hello theirs{};
  std::string what = initiator ? fmt::format("in the handshake with rank {}", expected_peer)
                               : std::string("in the handshake with a connecting peer");
  if (initiator) sendAll(fd, &mine, sizeof mine, deadline, what);
  recvAll(fd, &theirs, sizeof theirs, deadline, what);
  // The acceptor answers before judging, so that both sides can name the mismatch.
  if (!initiator) sendAll(fd, &mine, sizeof mine, deadline, what);
  peer_rank = static_cast<int>(theirs.rank);
  if (theirs.magic != kWireMagic)
    throwRuntime("a peer connected without the rdzvbench handshake (bad magic)",
                 "another program is using this port, or a peer runs an incompatible build");
  if (theirs.version != mine.version)
    throwRuntime(fmt::format("rank {} speaks tcp wire version {}, this rank speaks {}", peer_rank,
                             theirs.version, mine.version),
                 "run the same rdzvbench build on every rank");
  if (theirs.run_hash != mine.run_hash)
    throwRuntime(fmt::format("rank {} belongs to another run (its run id differs)", peer_rank),
                 "give every rank of one run the same --run-id");
  if (static_cast<int>(theirs.size) != size)
    throwRuntime(fmt::format("rank {} believes the run has {} ranks, this rank {}", peer_rank,
                             theirs.size, size),
                 "give every rank the same --size");
  if (initiator && peer_rank != expected_peer)
    throwRuntime(fmt::format("connected to rank {} but expected rank {}", peer_rank, expected_peer),
                 "ranks published conflicting addresses; give each run its own --run-id");
}

void TcpDevice::activate(Peer& peer) {
  setNonBlocking(peer.fd.get());
  setNoDelay(peer.fd.get());
  setBufferSizes(peer.fd.get(), options_.socket_buffer);
  peer.staging.resize(kStagingBytes);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u32 = static_cast<std::uint32_t>(peer.rank);
  if (epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, peer.fd.get(), &ev) != 0)
    throwSystem("epoll_ctl", errno);
}

std::unique_ptr<Buffer> TcpDevice::createBuffer(void* ptr, std::size_t size) {
  return std::make_unique<TcpBuffer>(*this, ptr, size);
}

nlohmann::json TcpDevice::details() const {
  return {{"listen", listen_addr_.text()},
          {"progress", options_.progress == ProgressMode::Poll ? "poll" : "epoll"},
          {"yield_when_idle", yield_},
          {"socket_buffer", options_.socket_buffer},
          {"wire_version", kWireVersion},
          {"messages_sent", messages_sent_},
          {"messages_received", messages_received_},
          {"unexpected_messages", unexpected_messages_},
          {"unexpected_bytes_copied", unexpected_bytes_copied_}};
}

void TcpDevice::postSend(TcpBuffer& buffer, int peer, const std::uint8_t* data, std::size_t length,
                         std::uint64_t tag) {
  if (peer < 0 || peer >= static_cast<int>(peers_.size()) || peer == self_)
    throwRuntime(
        fmt::format("send to invalid peer {} (this is rank {} of {})", peer, self_, peers_.size()));
  Peer& p = peers_[peer];
  ++buffer.sends_pending_;
  ++messages_sent_;
  p.sends.push_back(SendOp{&buffer, data, length, MessageHeader{0, 0, tag, length}, 0});
  if (p.sends.size() == 1) flush(p);
}

void TcpDevice::postRecv(TcpBuffer& buffer, int peer, std::uint8_t* data, std::size_t capacity,
                         std::uint64_t tag) {
  if (peer < 0 || peer >= static_cast<int>(peers_.size()) || peer == self_)
    throwRuntime(fmt::format("receive from invalid peer {} (this is rank {} of {})", peer, self_,
                             peers_.size()));
  Peer& p = peers_[peer];
  ++buffer.recvs_pending_;
  RecvOp op{&buffer, data, capacity, tag};
  for (auto it = p.unexpected.begin(); it != p.unexpected.end(); ++it) {
    if (it->claimed || it->tag != tag) continue;
    if (it->data.size() > capacity)
      throwRuntime(fmt::format("rank {} sent {} bytes with tag {}, but the receive holds only {}",
                               peer, it->data.size(), tag, capacity));
    if (!it->complete) {
      it->claimed = true;
      it->claim = op;
      return;
    }
    std::memcpy(data, it->data.data(), it->data.size());
    unexpected_bytes_copied_ += it->data.size();
    p.unexpected.erase(it);
    --buffer.recvs_pending_;
    ++buffer.recvs_done_;
    return;
  }
  p.posted.push_back(op);
}

void TcpDevice::flush(Peer& p) {
  while (!p.sends.empty()) {
    SendOp& op = p.sends.front();
    iovec iov[2];
    int count = 1;
    if (op.done < sizeof(MessageHeader)) {
      iov[0] = {reinterpret_cast<std::uint8_t*>(&op.header) + op.done,
                sizeof(MessageHeader) - op.done};
      iov[1] = {const_cast<std::uint8_t*>(op.data), op.length};
      count = op.length > 0 ? 2 : 1;
    } else {
      std::size_t sent = op.done - sizeof(MessageHeader);
      iov[0] = {const_cast<std::uint8_t*>(op.data) + sent, op.length - sent};
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<std::size_t>(count);
    ssize_t n = ::sendmsg(p.fd.get(), &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == EINTR) continue;
      lostPeer(p, std::strerror(errno));
    }
    op.done += static_cast<std::size_t>(n);
    if (op.done < sizeof(MessageHeader) + op.length) break;  // the socket is full
    --op.buffer->sends_pending_;
    ++op.buffer->sends_done_;
    p.sends.pop_front();
  }
  if (options_.progress == ProgressMode::Epoll) updateWriteInterest(p);
}

void TcpDevice::updateWriteInterest(Peer& p) {
  bool want = !p.sends.empty();
  if (want == p.want_write) return;
  epoll_event ev{};
  ev.events = EPOLLIN | (want ? EPOLLOUT : 0u);
  ev.data.u32 = static_cast<std::uint32_t>(p.rank);
  if (epoll_ctl(epoll_fd_.get(), EPOLL_CTL_MOD, p.fd.get(), &ev) != 0)
    throwSystem("epoll_ctl", errno);
  p.want_write = want;
}

bool TcpDevice::readPeer(Peer& p) {
  bool any = false;
  while (true) {
    std::uint8_t* into;
    std::size_t room;
    bool direct = p.in_message && p.staged_begin == p.staged_end && p.remaining >= kDirectReadBytes;
    if (direct) {
      into = p.dst;
      room = p.remaining;
    } else {
      // What is left staged is at most a partial header: move it to the front.
      std::size_t left = p.staged_end - p.staged_begin;
      if (p.staged_begin > 0) {
        std::memmove(p.staging.data(), p.staging.data() + p.staged_begin, left);
        p.staged_begin = 0;
        p.staged_end = left;
      }
      into = p.staging.data() + p.staged_end;
      room = p.staging.size() - p.staged_end;
    }
    ssize_t n = ::recv(p.fd.get(), into, room, MSG_DONTWAIT);
    if (n == 0) lostPeer(p, "connection closed by the peer");
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return any;
      if (errno == EINTR) continue;
      lostPeer(p, std::strerror(errno));
    }
    any = true;
    if (direct) {
      p.dst += n;
      p.remaining -= static_cast<std::size_t>(n);
      if (p.remaining == 0) finishMessage(p);
    } else {
      p.staged_end += static_cast<std::size_t>(n);
      consumeStaged(p);
    }
    // A short read means the socket is drained; epoll is level-triggered, so stop here and
    // save the recv that would only say EAGAIN.
    if (static_cast<std::size_t>(n) < room) return any;
  }
}

void TcpDevice::consumeStaged(Peer& p) {
  while (true) {
    std::size_t avail = p.staged_end - p.staged_begin;
    if (!p.in_message) {
      if (avail < sizeof(MessageHeader)) return;
      MessageHeader header;
      std::memcpy(&header, p.staging.data() + p.staged_begin, sizeof header);
      p.staged_begin += sizeof header;
      startMessage(p, header);
    } else {
      if (avail == 0) return;
      std::size_t n = std::min(avail, p.remaining);
      std::memcpy(p.dst, p.staging.data() + p.staged_begin, n);
      p.staged_begin += n;
      p.dst += n;
      p.remaining -= n;
      if (p.remaining == 0) finishMessage(p);
    }
  }
}

void TcpDevice::startMessage(Peer& p, const MessageHeader& header) {
  if (header.kind != 0)
    lostPeer(p, fmt::format("protocol error: unknown message kind {}", header.kind));
  ++messages_received_;
  p.in_message = true;
  p.remaining = header.length;
  auto match = std::find_if(p.posted.begin(), p.posted.end(),
                            [&](const RecvOp& op) { return op.tag == header.tag; });
  if (match != p.posted.end()) {
    if (header.length > match->capacity)
      throwRuntime(fmt::format("rank {} sent {} bytes with tag {}, but the receive holds only {}",
                               p.rank, header.length, header.tag, match->capacity));
    p.matched = true;
    p.current_op = *match;
    p.dst = match->data;
    p.posted.erase(match);
  } else {
    ++unexpected_messages_;
    p.matched = false;
    p.unexpected.push_back(Unexpected{header.tag, std::vector<std::uint8_t>(header.length)});
    p.current_unexpected = std::prev(p.unexpected.end());
    p.dst = p.current_unexpected->data.data();
  }
  if (header.length == 0) finishMessage(p);
}

void TcpDevice::finishMessage(Peer& p) {
  p.in_message = false;
  if (p.matched) {
    --p.current_op.buffer->recvs_pending_;
    ++p.current_op.buffer->recvs_done_;
    return;
  }
  auto it = p.current_unexpected;
  it->complete = true;
  if (!it->claimed) return;
  std::memcpy(it->claim.data, it->data.data(), it->data.size());
  unexpected_bytes_copied_ += it->data.size();
  --it->claim.buffer->recvs_pending_;
  ++it->claim.buffer->recvs_done_;
  p.unexpected.erase(it);
}

void TcpDevice::progress(Deadline deadline, const char* what) {
  bool any = false;
  bool active = false;
  for (auto& p : peers_) {
    if (!p.fd) continue;
    if (!p.sends.empty()) {
      auto before = p.sends.size();
      flush(p);
      any |= p.sends.size() != before;
    }
    // In poll mode, reading the sockets we expect data on directly saves the epoll_wait
    // syscall per spin; the others are looked at every 64 spins below.
    if (options_.progress == ProgressMode::Poll && (!p.posted.empty() || p.in_message)) {
      active = true;
      any |= readPeer(p);
    }
  }
  ++spins_;
  bool poll_all = options_.progress == ProgressMode::Epoll || !active || (spins_ & 63) == 0;
  if (poll_all) {
    int timeout =
        (options_.progress == ProgressMode::Epoll && !any) ? deadline.remainingMs(100) : 0;
    epoll_event events[64];
    int n = epoll_wait(epoll_fd_.get(), events, 64, timeout);
    if (n < 0 && errno != EINTR) throwSystem("epoll_wait", errno);
    for (int i = 0; i < n; ++i) {
      Peer& p = peers_[events[i].data.u32];
      if (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) any |= readPeer(p);
      if (events[i].events & EPOLLOUT) flush(p);
    }
  }
  if (any) return;
  if ((spins_ & 255) == 0 || options_.progress == ProgressMode::Epoll) {
    if (deadline.expired())
      throwRuntime(
          fmt::format("timed out waiting for {} ({})", what, pendingDescription()),
          "a peer is stuck, far slower than expected, or cut off by the network (a lost link "
          "sends no reset, so only the timeout tells); raise --timeout if it is only slow");
  }
  if (yield_) sched_yield();
}

std::string TcpDevice::pendingDescription() const {
  std::vector<int> recv_from, send_to;
  for (const auto& p : peers_) {
    if (!p.posted.empty() || p.in_message) recv_from.push_back(p.rank);
    if (!p.sends.empty()) send_to.push_back(p.rank);
  }
  std::string out;
  if (!recv_from.empty())
    out += fmt::format("receives pending from rank {}", fmt::join(recv_from, ", "));
  if (!send_to.empty())
    out += fmt::format("{}sends pending to rank {}", out.empty() ? "" : "; ",
                       fmt::join(send_to, ", "));
  return out.empty() ? "nothing pending" : out;
}

void TcpDevice::lostPeer(const Peer& p, const std::string& cause) {
  throwRuntime(fmt::format("lost connection to rank {} on {}: {}", p.rank, p.host, cause),
               "that rank exited or crashed, or the network failed; see its own output");
}

void TcpBuffer::send(int peer, std::size_t offset, std::size_t length, std::uint64_t tag) {
  checkRange(offset, length);
  device_.postSend(*this, peer, data() + offset, length, tag);
}

void TcpBuffer::recv(int peer, std::size_t offset, std::size_t length, std::uint64_t tag) {
  checkRange(offset, length);
  device_.postRecv(*this, peer, data() + offset, length, tag);
}

void TcpBuffer::waitSend(Deadline deadline) {
  if (sends_done_ == 0 && sends_pending_ == 0) throwRuntime("waitSend with no send posted");
  while (sends_done_ == 0) device_.progress(deadline, "a send to complete");
  --sends_done_;
}

void TcpBuffer::waitRecv(Deadline deadline) {
  if (recvs_done_ == 0 && recvs_pending_ == 0) throwRuntime("waitRecv with no receive posted");
  while (recvs_done_ == 0) device_.progress(deadline, "a message to arrive");
  --recvs_done_;
}

}  // namespace rdzv::transport::tcp
