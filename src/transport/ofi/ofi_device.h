#pragma once
// The ofi transport in native mode: tagged messages (fi_tsend/fi_trecv) on a libfabric RDM
// endpoint, so the provider itself decides eager or rendezvous and its FI_* variables tune
// it — the only way to exercise FI_CXI_RDZV_* on Slingshot.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "transport/ofi/ofi_endpoint.h"
#include "transport/transport.h"

namespace rdzv::transport::ofi {

class OfiBuffer;

// Completion contexts, handed to libfabric with each operation and handed back with its
// completion; pooled, so the hot path allocates nothing.
template <typename Op>
class OpPool {
 public:
  Op* acquire() {
    if (free_.empty()) {
      all_.push_back(std::make_unique<Op>());
      free_.push_back(all_.back().get());
    }
    Op* op = free_.back();
    free_.pop_back();
    return op;
  }
  void release(Op* op) { free_.push_back(op); }

 private:
  std::vector<std::unique_ptr<Op>> all_;
  std::vector<Op*> free_;
};

// Who is still owed a completion, per peer: for naming them when a wait times out.
class PendingByPeer {
 public:
  void resize(int size) {
    recv_.assign(size, 0);
    send_.assign(size, 0);
  }
  void add(int peer, bool send, int delta) { (send ? send_ : recv_)[peer] += delta; }
  std::string describe() const;

 private:
  std::vector<int> recv_, send_;
};

class OfiDevice : public Device {
 public:
  explicit OfiDevice(const TransportOptions& options);

  std::string name() const override { return "ofi"; }
  Bytes address() const override { return endpoint_.address(); }
  void connect(int rank, const std::vector<Bytes>& addresses, const std::vector<std::string>& hosts,
               Deadline deadline) override;
  std::unique_ptr<Buffer> createBuffer(void* ptr, std::size_t size) override;
  nlohmann::json details() const override;
  void beginSeries() override { endpoint_.beginSeries(); }

  struct Op {
    fi_context2 context;  // first, so the provider's FI_CONTEXT/FI_CONTEXT2 space is ours
    OfiBuffer* buffer = nullptr;
    bool send = false;
    int peer = -1;
  };
  Op* acquireOp(OfiBuffer* buffer, bool send, int peer);
  void releaseOp(Op* op);
  // Reads completions once; throws on a completion error or when the deadline has passed.
  void progress(Deadline deadline, const char* what);
  // Tags carry the sender's rank in their low bits, so matching is by (peer, tag) without
  // needing FI_DIRECTED_RECV from the provider.
  std::uint64_t wireTag(int sender, std::uint64_t tag) const;
  const Endpoint& endpoint() const { return endpoint_; }
  int self() const { return self_; }
  double timeout() const { return options_.timeout; }

 private:
  TransportOptions options_;
  Endpoint endpoint_;
  OpPool<Op> ops_;
  PendingByPeer pending_;
  int self_ = -1;
  bool yield_ = false;
  std::uint64_t spins_ = 0;
};

class OfiBuffer : public CountedBuffer {
 public:
  OfiBuffer(OfiDevice& device, void* ptr, std::size_t size);
  void send(int peer, std::size_t offset, std::size_t length, std::uint64_t tag) override;
  void recv(int peer, std::size_t offset, std::size_t length, std::uint64_t tag) override;

 protected:
  void progress(Deadline deadline, const char* what) override { device_.progress(deadline, what); }

 private:
  friend class OfiDevice;
  OfiDevice& device_;
  Fid<fid_mr> mr_;
  void* desc_ = nullptr;
};

// Reads one batch of completions from `cq`: each entry's context goes to `complete`. A
// completion error becomes a Runtime error naming the peer `peer_of(context)` and `where`.
// Returns how many completions were read.
int readCompletions(fid_cq* cq, const std::function<void(void*)>& complete,
                    const std::function<int(void*)>& peer_of, const std::string& where);

}  // namespace rdzv::transport::ofi
