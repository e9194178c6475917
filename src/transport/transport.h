#pragma once
// The interfaces every transport implements and every algorithm uses. Algorithms see only
// Context and Buffer, so each runs over every transport.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lib/clock.h"
#include "store/store.h"
#include "transport/engine/overflow.h"
#include "transport/engine/protocol.h"
#include "transport/native.h"

namespace rdzv::transport {

using store::Bytes;

// How a transport waits for completions.
enum class ProgressMode {
  Poll,   // busy-poll (lowest latency); yields the core when the host is oversubscribed
  Epoll,  // block in the kernel until something happens
};

// Options shared by the transports (each uses what applies to it).
struct TransportOptions {
  std::string addr;   // address to listen on and publish; empty: resolve the host name
  std::string iface;  // interface whose address to use (instead of addr)
  ProgressMode progress = ProgressMode::Poll;
  std::string run_id;     // peers of another run are refused at connection time
  int socket_buffer = 0;  // SO_SNDBUF/SO_RCVBUF bytes; 0 leaves the kernel's autotuning
  std::string provider;   // ofi: libfabric provider; empty: cxi if present, else the first
  std::string ofi_mode = "native";  // ofi: native (tagged, the provider decides) or engine
  double timeout = 60;              // seconds a posting call may wait for the provider's resources
  std::string ib_device;            // ibverbs: RDMA device; empty: the first with an active port
  int ib_port = 1;                  // ibverbs: port of that device
  int gid_index = -1;               // ibverbs: GID table index; -1: none on IB, chosen on RoCE
  // The largest first-frame payload any protocol set of the run may send (T+G, E, inject):
  // message-based engines size their receive slots once, before the first set is applied.
  std::uint64_t max_first_frame = 0;
  std::string sysfs_root = "/sys";  // where CXI NICs and their telemetry are read from
};

// Registered memory that messages are sent from and received into. A message is matched
// by (peer, tag) in the order posted, as MPI does. send/recv return at once; waitSend and
// waitRecv wait for one completion each, in any order.
class Buffer {
 public:
  Buffer(void* ptr, std::size_t size) : ptr_(static_cast<std::uint8_t*>(ptr)), size_(size) {}
  virtual ~Buffer() = default;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  std::uint8_t* data() const { return ptr_; }
  std::size_t size() const { return size_; }

  virtual void send(int peer, std::size_t offset, std::size_t length, std::uint64_t tag) = 0;
  // A receive takes a message of at most `length` bytes.
  virtual void recv(int peer, std::size_t offset, std::size_t length, std::uint64_t tag) = 0;
  // Waits for one posted send to complete (its memory may then be reused).
  virtual void waitSend(Deadline deadline) = 0;
  // Waits for one posted receive to complete (its memory then holds the message).
  virtual void waitRecv(Deadline deadline) = 0;

 protected:
  void checkRange(std::size_t offset, std::size_t length) const;

 private:
  std::uint8_t* ptr_;
  std::size_t size_;
};

// A Buffer whose transport counts completions as its progress engine finds them: the waits
// drive progress() until one is there. Transports call the four notifications.
class CountedBuffer : public Buffer {
 public:
  using Buffer::Buffer;
  void waitSend(Deadline deadline) override;
  void waitRecv(Deadline deadline) override;
  void sendPosted() { ++sends_pending_; }
  void sendCompleted() {
    --sends_pending_;
    ++sends_done_;
  }
  void recvPosted() { ++recvs_pending_; }
  void recvCompleted() {
    --recvs_pending_;
    ++recvs_done_;
  }

 protected:
  // One round of the transport's progress; throws when the deadline has passed.
  virtual void progress(Deadline deadline, const char* what) = 0;

 private:
  std::uint64_t sends_pending_ = 0;
  std::uint64_t sends_done_ = 0;
  std::uint64_t recvs_pending_ = 0;
  std::uint64_t recvs_done_ = 0;
};

// The progress engine of one transport in one process, with one connection per peer.
class Device {
 public:
  virtual ~Device() = default;
  virtual std::string name() const = 0;
  // Called once before address() with this rank's place in the run: a transport whose address
  // depends on its peers (ibverbs: one RC queue pair per peer) creates its endpoints here.
  virtual void prepare(int /*rank*/, int /*size*/) {}
  // What peers need to reach this rank; published through the bootstrap.
  virtual Bytes address() const = 0;
  // Connects to every other rank. `addresses` is indexed by rank; `hosts` names each rank's
  // host (for messages and for oversubscription detection).
  virtual void connect(int rank, const std::vector<Bytes>& addresses,
                       const std::vector<std::string>& hosts, Deadline deadline) = 0;
  virtual std::unique_ptr<Buffer> createBuffer(void* ptr, std::size_t size) = 0;
  // Progresses until everything queued has left this process. A send can complete before
  // its bytes are on the wire (inline data is copied), so a rank that stops progressing
  // right after its last wait could strand them; call this before doing so.
  virtual void drain(Deadline) {}
  // Transport details and counters for the report, as of now.
  virtual nlohmann::json details() const { return nlohmann::json::object(); }
  // Marks the start of a series: what details() reports as "during the series" counts from
  // here (e.g. NIC telemetry).
  virtual void beginSeries() {}
  // Transports that run the protocol engine take its parameters between series (nothing
  // may be in flight) and count what it did.
  virtual bool hasEngine() const { return false; }
  virtual void setProtocol(const engine::ProtocolParams&) {}
  virtual engine::EngineCounters engineCounters() const { return {}; }
  // The library's own collectives, for transports built on one that has them (mpi);
  // nullptr for the others, whose collectives are rdzvbench's built-in algorithms only.
  virtual NativeCollectives* native() { return nullptr; }
};

}  // namespace rdzv::transport
