#pragma once
// The ibverbs transport: one RC queue pair per peer over rdma-core, running the protocol
// engine. Every two-sided message lands in a slot of a shared receive queue and is matched in
// software (verbs has no tag matching): inline and eager messages travel whole in frames, a
// rendezvous sends its first E bytes with the address and key of the sender's registered
// buffer, and the receiver pulls the rest with RDMA READ (the Get). Progress is the waiting
// thread polling the completion queue, or blocking on its completion channel (--progress
// epoll).

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "lib/aligned_buffer.h"
#include "transport/engine/matcher.h"
#include "transport/engine/overflow.h"
#include "transport/engine/protocol.h"
#include "transport/ibverbs/address.h"
#include "transport/ibverbs/frames.h"
#include "transport/ibverbs/qp_params.h"
#include "transport/ibverbs/reg_cache.h"
#include "transport/ibverbs/verbs.h"
#include "transport/transport.h"

namespace rdzv::transport::ibverbs {

class IbBuffer;

class IbDevice : public Device {
 public:
  explicit IbDevice(const TransportOptions& options);
  ~IbDevice() override;

  std::string name() const override { return "ibverbs"; }
  void prepare(int rank, int size) override;
  Bytes address() const override;
  void connect(int rank, const std::vector<Bytes>& addresses, const std::vector<std::string>& hosts,
               Deadline deadline) override;
  std::unique_ptr<Buffer> createBuffer(void* ptr, std::size_t size) override;
  void drain(Deadline deadline) override;
  nlohmann::json details() const override;
  bool hasEngine() const override { return true; }
  void setProtocol(const engine::ProtocolParams& params) override;
  engine::EngineCounters engineCounters() const override;

  void postSend(IbBuffer& buffer, int peer, const std::uint8_t* data, std::size_t length,
                std::uint64_t tag);
  void postRecv(IbBuffer& buffer, int peer, std::uint8_t* data, std::size_t capacity,
                std::uint64_t tag);
  // Reads completions once (or blocks for them with --progress epoll); throws on a failed
  // completion or when the deadline has passed (`what` says what was awaited).
  void progress(Deadline deadline, const char* what);
  RegistrationCache& registrations() { return *cache_; }

 private:
  struct RecvOp {
    IbBuffer* buffer = nullptr;
    std::uint8_t* data = nullptr;
    std::size_t capacity = 0;
    std::uint64_t tag = 0;
  };
  // Posted receives and unexpected first parts (whose payload, all of an eager message or
  // the E bytes of a rendezvous, waits in overflow space).
  using Matcher = engine::Matcher<RecvOp, Frame>;
  // A rendezvous receive whose READs are outstanding, keyed by the sender's exposure id. It
  // completes when its READs have and its frames have all arrived: a READ issued at match can
  // finish before the last frames of a first part larger than one slot.
  struct Pull {
    IbBuffer* buffer = nullptr;
    std::uint8_t* data = nullptr;
    std::uint64_t length = 0;
    std::uint64_t eager = 0;
    std::uint64_t addr = 0;
    std::uint32_t rkey = 0;
    bool alt_read = false;
    bool frames_done = false;
    std::uint64_t reads_left = 0;
  };
  // A rendezvous send whose buffer the peer reads. It completes when the peer says it has read
  // it and our own frames have completed: a frame held back by a busy receiver (RNR) may
  // still be read from the buffer after the peer's READ.
  struct Exposure {
    IbBuffer* buffer = nullptr;
    int peer = -1;
    bool notified = false;
    bool frames_sent = false;
  };
  // A work request waiting for room in its queue pair (or posted at once when there is).
  struct Work {
    bool read = false;
    Frame header{};
    const std::uint8_t* payload = nullptr;  // zero-copy from a registered buffer
    std::uint32_t lkey = 0;
    bool copy = false;                // inline: the payload is copied into the send slot
    std::vector<std::uint8_t> owned;  // an inline payload copied while the work waits
    IbBuffer* completes = nullptr;    // the user's send completes with this request
    std::uint64_t exposure = 0;       // the last frame of this rendezvous send
    // RDMA READ
    std::uint8_t* local = nullptr;
    std::uint64_t remote = 0;
    std::uint32_t rkey = 0;
    std::uint64_t read_length = 0;
    std::uint64_t pull = 0;
  };
  // A posted send-queue request; wr_id is its index in ops_.
  struct Op {
    int peer = -1;
    int slot = -1;  // send slot, freed on completion
    bool read = false;
    std::uint64_t pull = 0;
    IbBuffer* completes = nullptr;
    std::uint64_t exposure = 0;
  };
  enum class Sink { Matched, Unexpected };
  // The message whose frames are arriving from a peer.
  struct Incoming {
    bool active = false;
    Sink sink = Sink::Matched;
    Frame first{};
    std::uint8_t* dst = nullptr;
    std::uint64_t carried = 0;
    std::uint64_t received = 0;
    RecvOp op{};
    Matcher::Arrival unexpected{};
  };
  struct Peer {
    int rank = -1;
    std::string host;
    QpPtr qp;
    RankAddress address;
    std::deque<Work> queue;
    std::uint32_t outstanding = 0;  // posted send-queue requests not completed
    Matcher matcher;
    std::unordered_map<std::uint64_t, Pull> pulls;
    std::size_t exposures = 0;  // ours, readable by this peer
    Incoming in;
  };

  Peer& peerFor(int peer, const char* what);
  std::string peerName(const Peer& p) const;
  // Posts `work` now if its queue pair has room and nothing waits before it, else queues it.
  void submit(Peer& p, Work&& work);
  bool tryPost(Peer& p, Work& work);
  void pump();
  void postRecvSlots(const std::uint32_t* slots, std::size_t count);
  int pollCompletions();
  void sendCompleted(std::uint64_t wr_id);
  void frameArrived(Peer& p, std::uint32_t slot, std::uint32_t byte_len);
  void startMessage(Peer& p, const Frame& h);
  void finishMessage(Peer& p);
  // An unexpected message's payload is in its receive: complete it, or pull the rest.
  void deliverUnexpected(Peer& p, const Frame& h, const RecvOp& op);
  auto deliverTo(Peer& p) {
    return [this, &p](const Frame& h, const RecvOp& op) { deliverUnexpected(p, h, op); };
  }
  void issueGet(Peer& p, std::uint64_t id, const Pull& pull);
  void sendControl(Peer& p, FrameKind kind, std::uint64_t id);
  void completeRecv(IbBuffer& buffer);
  void completeSend(IbBuffer& buffer);
  void maybeFinishPull(Peer& p, std::uint64_t id);
  // One of the two conditions of a rendezvous send's completion (see Exposure).
  void exposureProgress(int peer, std::uint64_t id, bool notified);
  const RegistrationCache::Region& registered(IbBuffer& buffer);
  [[noreturn]] void completionFailed(const ibv_wc& wc);
  [[noreturn]] void protocolError(const Peer& p, const std::string& what);
  std::string pendingDescription() const;

  TransportOptions options_;
  std::string where_;  // "mlx5_0 port 1", in every error
  LocalPort local_;
  QpSettings settings_;
  ibv_device_attr device_attr_{};
  ibv_port_attr port_attr_{};
  engine::EngineState engine_;
  std::uint64_t read_dones_ = 0;
  std::uint64_t extra_frames_ = 0;  // frames beyond the first of a message (large first parts)
  std::uint64_t queued_ = 0;        // requests that waited for room in a send queue
  std::uint32_t recv_slots_ = 0;
  std::uint32_t send_slots_ = 0;
  std::uint32_t send_credits_ = 0;  // send-queue requests in flight at once, all queue pairs
  std::uint32_t sq_depth_ = 0;
  std::uint32_t max_inline_ = 0;
  std::uint64_t max_read_ = 0;
  std::uint32_t in_flight_ = 0;  // posted send-queue requests, all queue pairs
  std::uint64_t waiting_ = 0;    // requests queued in software now
  std::unordered_map<std::uint64_t, Exposure> exposures_;
  std::uint64_t next_exposure_ = 1;
  std::vector<Op> ops_;
  std::vector<std::uint32_t> free_ops_;
  std::vector<std::uint32_t> free_send_slots_;
  std::unordered_map<std::uint32_t, int> qp_peer_;  // qp_num → rank
  Bytes address_;
  int self_ = -1;
  bool yield_ = false;
  bool armed_ = false;  // epoll: the CQ will raise an event on the next completion
  std::uint64_t spins_ = 0;
  // Declared in the order they are made; members are destroyed in reverse, so queue pairs go
  // before the SRQ and CQ they use, registrations before the protection domain, and that
  // before the device context.
  ContextPtr context_;
  PdPtr pd_;
  std::unique_ptr<RegistrationCache> cache_;
  std::optional<AlignedBuffer> recv_memory_;
  MrPtr recv_mr_;
  std::optional<AlignedBuffer> send_memory_;
  MrPtr send_mr_;
  ChannelPtr channel_;
  CqPtr cq_;
  SrqPtr srq_;
  std::vector<Peer> peers_;  // indexed by rank; own entry unused
};

class IbBuffer : public CountedBuffer {
 public:
  IbBuffer(IbDevice& device, void* ptr, std::size_t size)
      : CountedBuffer(ptr, size), device_(device) {}
  ~IbBuffer() override;
  void send(int peer, std::size_t offset, std::size_t length, std::uint64_t tag) override;
  void recv(int peer, std::size_t offset, std::size_t length, std::uint64_t tag) override;

 protected:
  void progress(Deadline deadline, const char* what) override { device_.progress(deadline, what); }

 private:
  friend class IbDevice;
  IbDevice& device_;
  const RegistrationCache::Region* region_ = nullptr;  // taken at the first need
};

}  // namespace rdzv::transport::ibverbs
