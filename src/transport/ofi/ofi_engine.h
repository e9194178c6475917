#pragma once
// The ofi transport in engine mode: rdzvbench's protocol engine over libfabric messages.
// First frames (inline, eager, or a rendezvous' header and E bytes) travel by fi_send into
// receive slots posted in advance; a rendezvous' remainder is pulled by the receiver with
// fi_read from the sender's registered buffer — a real Get. The parameters and counters are
// the tcp transport's, so a sweep means the same on both.

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "transport/engine/matcher.h"
#include "transport/engine/overflow.h"
#include "transport/engine/protocol.h"
#include "transport/ofi/ofi_device.h"
#include "transport/ofi/ofi_endpoint.h"
#include "transport/transport.h"

namespace rdzv::transport::ofi {

class EngineBuffer;

class OfiEngineDevice : public Device {
 public:
  explicit OfiEngineDevice(const TransportOptions& options);

  std::string name() const override { return "ofi"; }
  Bytes address() const override { return endpoint_.address(); }
  void connect(int rank, const std::vector<Bytes>& addresses, const std::vector<std::string>& hosts,
               Deadline deadline) override;
  std::unique_ptr<Buffer> createBuffer(void* ptr, std::size_t size) override;
  void drain(Deadline deadline) override;
  nlohmann::json details() const override;
  void beginSeries() override { endpoint_.beginSeries(); }
  bool hasEngine() const override { return true; }
  void setProtocol(const engine::ProtocolParams& params) override;
  engine::EngineCounters engineCounters() const override;

  void postSend(EngineBuffer& buffer, int peer, const std::uint8_t* data, std::size_t length,
                std::uint64_t tag);
  void postRecv(EngineBuffer& buffer, int peer, std::uint8_t* data, std::size_t capacity,
                std::uint64_t tag);
  void progress(Deadline deadline, const char* what);
  const Endpoint& endpoint() const { return endpoint_; }

 private:
  // The header of every frame.
  struct Frame {
    std::uint16_t kind;
    std::uint16_t flags;
    std::uint32_t source;  // the sender's rank
    std::uint64_t tag;
    std::uint64_t length;  // the whole message
    std::uint64_t id;      // the sender's exposure (rendezvous, done)
    std::uint64_t addr;    // rendezvous: where fi_read finds the payload
    std::uint64_t key;     // rendezvous: the key of its registration
    std::uint64_t eager;   // rendezvous: payload bytes carried by this frame
  };
  enum Kind : std::uint16_t { kMessage = 0, kRendezvous = 1, kDone = 2 };
  struct Op {
    fi_context2 context;  // first: libfabric's per-operation space
    enum { Slot, Send, Read } what = Slot;
    int slot = -1;                   // receive or send slot
    EngineBuffer* buffer = nullptr;  // an eager send to complete once written
    int peer = -1;
    std::uint64_t pull = 0;  // the exposure a Read pulls
  };
  struct RecvOp {
    EngineBuffer* buffer;
    std::uint8_t* data;
    std::size_t capacity;
    std::uint64_t tag;
  };
  struct Pull {
    EngineBuffer* buffer;
    bool alt_read;
  };
  struct Exposure {
    EngineBuffer* buffer;
    int peer;
  };
  struct Peer {
    engine::Matcher<RecvOp, Frame> matcher;  // first frames arrive whole: never claimed
    std::map<std::uint64_t, Pull> pulls;     // by the sender's exposure id
  };

  void postSlot(int slot);
  int acquireSendSlot(Deadline deadline);
  void sendFrame(int peer, const Frame& frame, const std::uint8_t* payload, std::size_t length,
                 EngineBuffer* complete_when_sent);
  void onSlot(int slot);
  void onFirstFrame(const Frame& frame, const std::uint8_t* payload);
  // The carried bytes of `frame` are in `op`'s memory: completes a message, or issues the Get
  // of a rendezvous (default: now; alt_read: after this round of completions).
  void deliver(const Frame& frame, const RecvOp& op);
  void issueGet(const Frame& frame, const RecvOp& op);
  void onRead(Op* op);
  void complete(Op* op);
  std::uint8_t* slotData(std::vector<std::uint8_t>& memory, int slot) {
    return memory.data() + static_cast<std::size_t>(slot) * slot_size_;
  }

  TransportOptions options_;
  Endpoint endpoint_;
  engine::EngineState engine_;
  std::size_t slot_size_ = 0;
  std::vector<std::uint8_t> recv_memory_;  // receive slots, posted all the time
  std::vector<std::uint8_t> send_memory_;  // send slots: frame header and copied payload
  Fid<fid_mr> recv_mr_;
  Fid<fid_mr> send_mr_;
  std::vector<int> free_send_slots_;
  OpPool<Op> ops_;
  PendingByPeer pending_;
  std::vector<Peer> peers_;
  std::map<std::uint64_t, Exposure> exposures_;
  std::deque<std::pair<Frame, RecvOp>> deferred_gets_;  // alt_read: issued after processing
  std::uint64_t next_exposure_ = 1;
  int self_ = -1;
  bool yield_ = false;
  std::uint64_t spins_ = 0;
};

class EngineBuffer : public CountedBuffer {
 public:
  EngineBuffer(OfiEngineDevice& device, void* ptr, std::size_t size);
  void send(int peer, std::size_t offset, std::size_t length, std::uint64_t tag) override;
  void recv(int peer, std::size_t offset, std::size_t length, std::uint64_t tag) override;

 protected:
  void progress(Deadline deadline, const char* what) override { device_.progress(deadline, what); }

 private:
  friend class OfiEngineDevice;
  OfiEngineDevice& device_;
  Fid<fid_mr> mr_;
  void* desc_ = nullptr;
  std::uint64_t key_ = 0;
};

}  // namespace rdzv::transport::ofi
