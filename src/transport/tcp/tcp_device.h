#pragma once
// The tcp transport: one non-blocking socket per peer, progressed by the waiting thread
// (busy-poll or epoll), messages framed by wire.h and matched by (peer, tag).

#include <cstdint>
#include <deque>
#include <list>
#include <memory>
#include <string>
#include <vector>

#include "transport/tcp/socket.h"
#include "transport/tcp/wire.h"
#include "transport/transport.h"

namespace rdzv::transport::tcp {

class TcpBuffer;

class TcpDevice : public Device {
 public:
  explicit TcpDevice(const TransportOptions& options);
  ~TcpDevice() override;

  std::string name() const override { return "tcp"; }
  Bytes address() const override;
  void connect(int rank, const std::vector<Bytes>& addresses, const std::vector<std::string>& hosts,
               Deadline deadline) override;
  std::unique_ptr<Buffer> createBuffer(void* ptr, std::size_t size) override;
  nlohmann::json details() const override;

  void postSend(TcpBuffer& buffer, int peer, const std::uint8_t* data, std::size_t length,
                std::uint64_t tag);
  void postRecv(TcpBuffer& buffer, int peer, std::uint8_t* data, std::size_t capacity,
                std::uint64_t tag);
  // One round of progress on every connection; throws when the deadline has passed
  // (`what` says what was awaited) or a peer is lost.
  void progress(Deadline deadline, const char* what);

 private:
  struct SendOp {
    TcpBuffer* buffer;
    const std::uint8_t* data;
    std::size_t length;
    MessageHeader header;
    std::size_t done;  // bytes written, header included
  };
  struct RecvOp {
    TcpBuffer* buffer;
    std::uint8_t* data;
    std::size_t capacity;
    std::uint64_t tag;
  };
  // A message that arrived before its receive was posted.
  struct Unexpected {
    std::uint64_t tag;
    std::vector<std::uint8_t> data;
    bool complete = false;
    bool claimed = false;  // a receive is waiting for the rest of it
    RecvOp claim{};
  };
  struct Peer {
    int rank = -1;
    std::string host;
    Fd fd;
    bool want_write = false;  // EPOLLOUT registered
    std::deque<SendOp> sends;
    std::deque<RecvOp> posted;
    std::list<Unexpected> unexpected;
    // The message being read.
    bool in_message = false;
    std::uint8_t* dst = nullptr;
    std::size_t remaining = 0;
    bool matched = false;  // true: reading into current_op; false: into current_unexpected
    RecvOp current_op{};
    std::list<Unexpected>::iterator current_unexpected;
    // Bytes read from the socket but not yet consumed.
    std::vector<std::uint8_t> staging;
    std::size_t staged_begin = 0;
    std::size_t staged_end = 0;
  };

  void connectPeer(Peer& peer, const Bytes& address, int rank, int size, Deadline deadline);
  void acceptPeers(int count, int rank, int size, Deadline deadline);
  void exchangeHello(int fd, int rank, int size, bool initiator, int expected_peer,
                     Deadline deadline, int& peer_rank);
  void activate(Peer& peer);
  void flush(Peer& peer);
  // Reads what the socket has; returns whether anything was read.
  bool readPeer(Peer& peer);
  void consumeStaged(Peer& peer);
  void startMessage(Peer& peer, const MessageHeader& header);
  void finishMessage(Peer& peer);
  void updateWriteInterest(Peer& peer);
  [[noreturn]] void lostPeer(const Peer& peer, const std::string& cause);
  std::string pendingDescription() const;

  TransportOptions options_;
  SockAddr listen_addr_;
  Fd listen_fd_;
  Fd epoll_fd_;
  std::vector<Peer> peers_;  // indexed by rank; own entry unused
  int self_ = -1;
  bool yield_ = false;  // more ranks on this host than cores: give the core away when idle
  std::uint64_t spins_ = 0;
  // Counters for the report.
  std::uint64_t messages_sent_ = 0;
  std::uint64_t messages_received_ = 0;
  std::uint64_t unexpected_messages_ = 0;
  std::uint64_t unexpected_bytes_copied_ = 0;
};

class TcpBuffer : public Buffer {
 public:
  TcpBuffer(TcpDevice& device, void* ptr, std::size_t size) : Buffer(ptr, size), device_(device) {}
  void send(int peer, std::size_t offset, std::size_t length, std::uint64_t tag) override;
  void recv(int peer, std::size_t offset, std::size_t length, std::uint64_t tag) override;
  void waitSend(Deadline deadline) override;
  void waitRecv(Deadline deadline) override;

 private:
  friend class TcpDevice;
  TcpDevice& device_;
  std::uint64_t sends_pending_ = 0;
  std::uint64_t sends_done_ = 0;
  std::uint64_t recvs_pending_ = 0;
  std::uint64_t recvs_done_ = 0;
};

}  // namespace rdzv::transport::tcp
