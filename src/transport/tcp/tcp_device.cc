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
  setProtocol(engine::ProtocolParams{});
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

void TcpDevice::drain(Deadline deadline) {
  auto queued = [&] {
    return std::any_of(peers_.begin(), peers_.end(), [](const Peer& p) { return !p.out.empty(); });
  };
  while (queued()) progress(deadline, "queued frames to be written");
}

void TcpDevice::setProtocol(const engine::ProtocolParams& params) {
  engine_.apply(params, !exposures_.empty());
}

engine::EngineCounters TcpDevice::engineCounters() const { return engine_.snapshot(); }

nlohmann::json TcpDevice::details() const {
  return {{"listen", listen_addr_.text()},
          {"progress", options_.progress == ProgressMode::Poll ? "poll" : "epoll"},
          {"yield_when_idle", yield_},
          {"socket_buffer", options_.socket_buffer},
          {"wire_version", kWireVersion},
          {"overflow_buffers_allocated", engine_.overflow->buffersAllocated()}};
}

TcpDevice::Peer& TcpDevice::peerFor(int peer, const char* what) {
  if (peer < 0 || peer >= static_cast<int>(peers_.size()) || peer == self_)
    throwRuntime(fmt::format("{} invalid peer {} (this is rank {} of {})", what, peer, self_,
                             peers_.size()));
  return peers_[peer];
}

void TcpDevice::postSend(TcpBuffer& buffer, int peer, const std::uint8_t* data, std::size_t length,
                         std::uint64_t tag) {
  Peer& p = peerFor(peer, "send to");
  buffer.sendPosted();
  OutFrame frame;
  frame.header = FrameHeader{kMessage, 0, 0, tag, length, 0};
  switch (engine::choosePath(engine_.params, length)) {
    case engine::Path::Inline: {
      ++engine_.counters.inline_sent;
      // Inline data is the caller's to reuse at once: written now, or copied if it can't be.
      if (p.out.empty()) {
        iovec iov[2] = {{&frame.header, sizeof frame.header},
                        {const_cast<std::uint8_t*>(data), length}};
        msghdr msg{};
        msg.msg_iov = iov;
        msg.msg_iovlen = length > 0 ? 2 : 1;
        ssize_t n = ::sendmsg(p.fd.get(), &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
          lostPeer(p, std::strerror(errno));
        frame.done = n > 0 ? static_cast<std::size_t>(n) : 0;
      }
      std::size_t total = sizeof frame.header + length;
      if (frame.done < total) {
        frame.owned.resize(total);
        std::memcpy(frame.owned.data(), &frame.header, sizeof frame.header);
        if (length > 0) std::memcpy(frame.owned.data() + sizeof frame.header, data, length);
        queueFrame(p, std::move(frame));
      }
      completeSend(buffer);
      return;
    }
    case engine::Path::Eager:
      ++engine_.counters.eager_sent;
      frame.payload = data;
      frame.payload_length = length;
      frame.complete_on_write = &buffer;
      queueFrame(p, std::move(frame));
      return;
    case engine::Path::Rendezvous: {
      ++engine_.counters.rendezvous_sent;
      std::uint64_t id = next_exposure_++;
      exposures_[id] = Exposure{&buffer, data, length, peer};
      ++p.exposures;
      auto eager = engine_.params.rdzv_eager_size;
      frame.header = FrameHeader{
          kRendezvous,
          static_cast<std::uint16_t>(
              engine_.params.rdzv_proto == engine::RdzvProto::AltRead ? kFlagAltRead : 0),
          static_cast<std::uint32_t>(eager),
          tag,
          length,
          id};
      frame.payload = data;
      frame.payload_length = eager;
      queueFrame(p, std::move(frame));
      return;
    }
  }
}

void TcpDevice::postRecv(TcpBuffer& buffer, int peer, std::uint8_t* data, std::size_t capacity,
                         std::uint64_t tag) {
  Peer& p = peerFor(peer, "receive from");
  buffer.recvPosted();
  p.matcher.post(RecvOp{&buffer, data, capacity, tag}, peer, engine_, deliverTo(p));
}

void TcpDevice::deliverUnexpected(Peer& p, const FrameHeader& h, const RecvOp& op) {
  if (h.kind == kRendezvous) {
    // An unexpected rendezvous: the Get is issued by software when the receive is
    // processed, whatever the protocol (cxi-reference.md §2.2).
    issueGet(p, h.id, Pull{op.buffer, op.data, h.length, h.eager, (h.flags & kFlagAltRead) != 0});
  } else {
    completeRecv(*op.buffer);
  }
}

void TcpDevice::issueGet(Peer& p, std::uint64_t id, const Pull& pull) {
  ++engine_.counters.gets;
  p.pulls.emplace(id, pull);
  OutFrame get;
  get.header = FrameHeader{kGet, 0, 0, pull.eager, pull.length - pull.eager, id};
  queueFrame(p, std::move(get));
}

void TcpDevice::completeRecv(TcpBuffer& buffer) { buffer.recvCompleted(); }

void TcpDevice::completeSend(TcpBuffer& buffer) { buffer.sendCompleted(); }

void TcpDevice::completeExposure(std::uint64_t id) {
  auto it = exposures_.find(id);
  if (it == exposures_.end()) throwRuntime(fmt::format("rendezvous {} completed twice", id));
  completeSend(*it->second.buffer);
  --peers_[it->second.peer].exposures;
  exposures_.erase(it);
}

void TcpDevice::queueFrame(Peer& p, OutFrame frame) {
  p.out.push_back(std::move(frame));
  if (p.out.size() == 1) flush(p);
}

void TcpDevice::frameWritten(Peer&, OutFrame& frame) {
  if (frame.complete_on_write) completeSend(*frame.complete_on_write);
  if (frame.exposure_done) completeExposure(frame.exposure_done);
}

void TcpDevice::flush(Peer& p) {
  while (!p.out.empty()) {
    OutFrame& f = p.out.front();
    iovec iov[2];
    int count = 1;
    std::size_t total;
    if (!f.owned.empty()) {
      total = f.owned.size();
      iov[0] = {f.owned.data() + f.done, total - f.done};
    } else {
      total = sizeof(FrameHeader) + f.payload_length;
      if (f.done < sizeof(FrameHeader)) {
        iov[0] = {reinterpret_cast<std::uint8_t*>(&f.header) + f.done,
                  sizeof(FrameHeader) - f.done};
        iov[1] = {const_cast<std::uint8_t*>(f.payload), f.payload_length};
        count = f.payload_length > 0 ? 2 : 1;
      } else {
        std::size_t sent = f.done - sizeof(FrameHeader);
        iov[0] = {const_cast<std::uint8_t*>(f.payload) + sent, f.payload_length - sent};
      }
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
    f.done += static_cast<std::size_t>(n);
    if (f.done < total) break;  // the socket is full
    OutFrame written = std::move(f);
    p.out.pop_front();
    frameWritten(p, written);
  }
  if (options_.progress == ProgressMode::Epoll) updateWriteInterest(p);
}

void TcpDevice::updateWriteInterest(Peer& p) {
  bool want = !p.out.empty();
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
    bool direct = p.in_frame && p.staged_begin == p.staged_end && p.remaining >= kDirectReadBytes;
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
      if (p.remaining == 0) finishFrame(p);
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
    if (!p.in_frame) {
      if (avail < sizeof(FrameHeader)) return;
      FrameHeader header;
      std::memcpy(&header, p.staging.data() + p.staged_begin, sizeof header);
      p.staged_begin += sizeof header;
      startFrame(p, header);
    } else {
      if (avail == 0) return;
      std::size_t n = std::min(avail, p.remaining);
      std::memcpy(p.dst, p.staging.data() + p.staged_begin, n);
      p.staged_begin += n;
      p.dst += n;
      p.remaining -= n;
      if (p.remaining == 0) finishFrame(p);
    }
  }
}

void TcpDevice::startFrame(Peer& p, const FrameHeader& h) {
  p.in_frame = true;
  p.header = h;
  p.sink = Sink::None;
  p.remaining = 0;
  switch (h.kind) {
    case kMessage:
    case kRendezvous:
      matchFirstFrame(p, h);
      break;
    case kGet: {
      auto it = exposures_.find(h.id);
      if (it == exposures_.end() || it->second.peer != p.rank ||
          h.tag + h.length > it->second.length)
        lostPeer(p, fmt::format("protocol error: Get of unknown rendezvous {}", h.id));
      OutFrame reply;
      reply.header = FrameHeader{kGetReply, 0, 0, h.tag, h.length, h.id};
      reply.payload = it->second.data + h.tag;
      reply.payload_length = h.length;
      // With the default protocol the sender is done once its data has been pulled.
      if (engine_.params.rdzv_proto == engine::RdzvProto::Default) reply.exposure_done = h.id;
      queueFrame(p, std::move(reply));
      break;
    }
    case kGetReply: {
      auto it = p.pulls.find(h.id);
      if (it == p.pulls.end() || h.tag + h.length > it->second.length)
        lostPeer(p, fmt::format("protocol error: reply to unknown Get {}", h.id));
      p.sink = Sink::Pull;
      p.dst = it->second.data + h.tag;
      p.remaining = h.length;
      break;
    }
    case kDone:
      if (!exposures_.count(h.id))
        lostPeer(p, fmt::format("protocol error: done for unknown rendezvous {}", h.id));
      completeExposure(h.id);
      break;
    default:
      lostPeer(p, fmt::format("protocol error: unknown frame kind {}", h.kind));
  }
  if (p.remaining == 0) finishFrame(p);
}

void TcpDevice::matchFirstFrame(Peer& p, const FrameHeader& h) {
  bool rendezvous = h.kind == kRendezvous;
  std::uint64_t carried = rendezvous ? h.eager : h.length;
  auto sink = p.matcher.arrive(h, carried, p.rank, engine_);
  p.dst = sink.dst;
  p.remaining = carried;
  if (!sink.matched) {
    p.sink = Sink::Unexpected;
    p.current_unexpected = sink.unexpected;
    return;
  }
  p.sink = Sink::Matched;
  p.current_op = sink.op;
  // Default protocol: the Get goes out as soon as the first frame matches (the CXI NIC
  // issues it in hardware); alt_read waits until the frame has been processed.
  if (rendezvous && !(h.flags & kFlagAltRead))
    issueGet(p, h.id, Pull{p.current_op.buffer, p.current_op.data, h.length, h.eager, false});
}

void TcpDevice::finishFrame(Peer& p) {
  p.in_frame = false;
  const FrameHeader& h = p.header;
  switch (p.sink) {
    case Sink::Matched:
      if (h.kind == kMessage)
        completeRecv(*p.current_op.buffer);
      else if (h.flags & kFlagAltRead)
        issueGet(p, h.id, Pull{p.current_op.buffer, p.current_op.data, h.length, h.eager, true});
      break;
    case Sink::Unexpected:
      p.matcher.arrived(p.current_unexpected, engine_, deliverTo(p));
      break;
    case Sink::Pull: {
      auto it = p.pulls.find(h.id);
      // A Get is answered by one reply, so the pull is complete with it.
      Pull pull = it->second;
      p.pulls.erase(it);
      completeRecv(*pull.buffer);
      if (pull.alt_read) {
        ++engine_.counters.done_sent;
        OutFrame done;
        done.header = FrameHeader{kDone, 0, 0, 0, 0, h.id};
        queueFrame(p, std::move(done));
      }
      break;
    }
    case Sink::None:
      break;
  }
  p.sink = Sink::None;
}

bool TcpDevice::active(const Peer& p) const {
  return p.matcher.hasPosted() || p.in_frame || !p.pulls.empty() || p.exposures > 0;
}

void TcpDevice::progress(Deadline deadline, const char* what) {
  bool any = false;
  bool busy = false;
  for (auto& p : peers_) {
    if (!p.fd) continue;
    if (!p.out.empty()) {
      auto before = p.out.size();
      auto done = p.out.front().done;
      flush(p);
      any |= p.out.size() != before || (!p.out.empty() && p.out.front().done != done);
    }
    // In poll mode, reading the sockets we expect data on directly saves the epoll_wait
    // syscall per spin; the others are looked at every 64 spins below.
    if (options_.progress == ProgressMode::Poll && active(p)) {
      busy = true;
      any |= readPeer(p);
    }
  }
  ++spins_;
  bool poll_all = options_.progress == ProgressMode::Epoll || !busy || (spins_ & 63) == 0;
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
    if (p.matcher.hasPosted() || p.in_frame || !p.pulls.empty()) recv_from.push_back(p.rank);
    if (!p.out.empty() || p.exposures > 0) send_to.push_back(p.rank);
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

}  // namespace rdzv::transport::tcp
