#pragma once
// The tcp transport: one non-blocking socket per peer, progressed by the waiting thread
// (busy-poll or epoll), running the protocol engine: inline and eager messages travel whole,
// a rendezvous sends its first E bytes and the receiver pulls the rest with a Get that the
// sender answers by streaming the bytes from the exposed send buffer.

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "transport/engine/matcher.h"
#include "transport/engine/overflow.h"
#include "transport/engine/protocol.h"
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
  void drain(Deadline deadline) override;
  nlohmann::json details() const override;
  bool hasEngine() const override { return true; }
  void setProtocol(const engine::ProtocolParams& params) override;
  engine::EngineCounters engineCounters() const override;

  void postSend(TcpBuffer& buffer, int peer, const std::uint8_t* data, std::size_t length,
                std::uint64_t tag);
  void postRecv(TcpBuffer& buffer, int peer, std::uint8_t* data, std::size_t capacity,
                std::uint64_t tag);
  // One round of progress on every connection; throws when the deadline has passed
  // (`what` says what was awaited) or a peer is lost.
  void progress(Deadline deadline, const char* what);

 private:
  // A frame waiting to be written, header first, then its payload.
  struct OutFrame {
    FrameHeader header{};
    const std::uint8_t* payload = nullptr;
    std::size_t payload_length = 0;
    std::size_t done = 0;                    // bytes written, header included
    std::vector<std::uint8_t> owned;         // an inline frame's copy (header and payload)
    TcpBuffer* complete_on_write = nullptr;  // eager: the send completes once written
    std::uint64_t exposure_done = 0;         // default rendezvous: written reply completes it
  };
  struct RecvOp {
    TcpBuffer* buffer;
    std::uint8_t* data;
    std::size_t capacity;
    std::uint64_t tag;
  };
  // Posted receives and unexpected first frames (whose payload, all of an eager message or
  // the E bytes of a rendezvous, sits in overflow space).
  using Matcher = engine::Matcher<RecvOp, FrameHeader>;
  // A rendezvous receive waiting for its pulled bytes.
  struct Pull {
    TcpBuffer* buffer;
    std::uint8_t* data;
    std::uint64_t length;
    std::uint64_t eager;
    bool alt_read;
  };
  // A rendezvous send whose buffer the peer may pull from.
  struct Exposure {
    TcpBuffer* buffer;
    const std::uint8_t* data;
    std::uint64_t length;
    int peer;
  };
  enum class Sink { Matched, Unexpected, Pull, None };
  struct Peer {
    int rank = -1;
    std::string host;
    Fd fd;
    bool want_write = false;  // EPOLLOUT registered
    std::deque<OutFrame> out;
    Matcher matcher;
    std::unordered_map<std::uint64_t, Pull> pulls;  // by the sender's exposure id
    std::size_t exposures = 0;                      // ours, pullable by this peer
    // The frame being read.
    bool in_frame = false;
    FrameHeader header{};
    Sink sink = Sink::None;
    std::uint8_t* dst = nullptr;
    std::size_t remaining = 0;
    RecvOp current_op{};
    Matcher::Arrival current_unexpected;
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
  Peer& peerFor(int peer, const char* what);
  void queueFrame(Peer& peer, OutFrame frame);
  void flush(Peer& peer);
  void frameWritten(Peer& peer, OutFrame& frame);
  // Reads what the socket has; returns whether anything was read.
  bool readPeer(Peer& peer);
  void consumeStaged(Peer& peer);
  void startFrame(Peer& peer, const FrameHeader& header);
  void finishFrame(Peer& peer);
  void matchFirstFrame(Peer& peer, const FrameHeader& header);
  // An unexpected message's payload is in its receive: complete it, or pull the rest.
  void deliverUnexpected(Peer& peer, const FrameHeader& header, const RecvOp& op);
  auto deliverTo(Peer& peer) {
    return
        [this, &peer](const FrameHeader& h, const RecvOp& op) { deliverUnexpected(peer, h, op); };
  }
  void issueGet(Peer& peer, std::uint64_t id, const Pull& pull);
  void completeRecv(TcpBuffer& buffer);
  void completeSend(TcpBuffer& buffer);
  void completeExposure(std::uint64_t id);
  bool active(const Peer& peer) const;
  void updateWriteInterest(Peer& peer);
  [[noreturn]] void lostPeer(const Peer& peer, const std::string& cause);
  std::string pendingDescription() const;

  TransportOptions options_;
  engine::EngineState engine_;
  std::unordered_map<std::uint64_t, Exposure> exposures_;
  std::uint64_t next_exposure_ = 1;
  SockAddr listen_addr_;
  Fd listen_fd_;
  Fd epoll_fd_;
  std::vector<Peer> peers_;  // indexed by rank; own entry unused
  int self_ = -1;
  bool yield_ = false;  // more ranks on this host than cores: give the core away when idle
  std::uint64_t spins_ = 0;
};

class TcpBuffer : public CountedBuffer {
 public:
  TcpBuffer(TcpDevice& device, void* ptr, std::size_t size)
      : CountedBuffer(ptr, size), device_(device) {}
  void send(int peer, std::size_t offset, std::size_t length, std::uint64_t tag) override;
  void recv(int peer, std::size_t offset, std::size_t length, std::uint64_t tag) override;

 protected:
  void progress(Deadline deadline, const char* what) override { device_.progress(deadline, what); }

 private:
  friend class TcpDevice;
  TcpDevice& device_;
};

}  // namespace rdzv::transport::tcp
