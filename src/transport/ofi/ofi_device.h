#pragma once
// The ofi transport: libfabric RDM endpoints over any provider (--provider tcp, shm, cxi…).
// Native mode sends tagged messages (fi_tsend/fi_trecv), so the provider itself decides
// eager or rendezvous and its FI_* variables tune it — the only way to exercise
// FI_CXI_RDZV_* on Slingshot.

#include <rdma/fabric.h>
#include <rdma/fi_domain.h>
#include <rdma/fi_endpoint.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "transport/ofi/fid.h"
#include "transport/transport.h"

namespace rdzv::transport::ofi {

class OfiBuffer;

class OfiDevice : public Device {
 public:
  explicit OfiDevice(const TransportOptions& options);
  ~OfiDevice() override;

  std::string name() const override { return "ofi"; }
  Bytes address() const override { return address_; }
  void connect(int rank, const std::vector<Bytes>& addresses, const std::vector<std::string>& hosts,
               Deadline deadline) override;
  std::unique_ptr<Buffer> createBuffer(void* ptr, std::size_t size) override;
  nlohmann::json details() const override;

  // A completion context: libfabric hands it back with the completion of the operation.
  struct Op {
    fi_context2 context;  // first, so the provider's FI_CONTEXT/FI_CONTEXT2 space is ours
    OfiBuffer* buffer = nullptr;
    bool send = false;
    int peer = -1;
  };
  // A context for a new operation; released when its completion is read.
  Op* acquireOp(OfiBuffer* buffer, bool send, int peer);
  // Undoes acquireOp for an operation the provider refused.
  void releaseOp(Op* op);
  // Reads completions once; throws on a completion error or when the deadline has passed.
  void progress(Deadline deadline, const char* what);
  fid_ep* endpoint() const { return ep_.get(); }
  fid_domain* domain() const { return domain_.get(); }
  fi_addr_t peerAddress(int peer) const;
  // Tags carry the sender's rank in their low bits, so matching is by (peer, tag) without
  // needing FI_DIRECTED_RECV from the provider.
  std::uint64_t wireTag(int sender, std::uint64_t tag) const;
  bool needsRegistration() const { return (info_->domain_attr->mr_mode & FI_MR_LOCAL) != 0; }
  bool mrEndpoint() const { return (info_->domain_attr->mr_mode & FI_MR_ENDPOINT) != 0; }
  std::uint64_t maxMessage() const { return info_->ep_attr->max_msg_size; }
  int self() const { return self_; }
  // "tcp;ofi_rxm on lo": for every error message.
  const std::string& where() const { return where_; }
  double timeout() const { return options_.timeout; }

 private:
  TransportOptions options_;
  InfoPtr info_;
  Fid<fid_fabric> fabric_;
  Fid<fid_domain> domain_;
  Fid<fid_cq> cq_;
  Fid<fid_av> av_;
  Fid<fid_ep> ep_;
  Bytes address_;
  std::vector<fi_addr_t> peers_;
  std::vector<std::unique_ptr<Op>> ops_;  // owns every context ever handed out
  std::vector<Op*> free_ops_;
  std::vector<int> pending_recv_;  // posted, not completed, per peer (for error messages)
  std::vector<int> pending_send_;
  std::string where_;
  int self_ = -1;
  bool yield_ = false;
  std::uint64_t spins_ = 0;
};

class OfiBuffer : public Buffer {
 public:
  OfiBuffer(OfiDevice& device, void* ptr, std::size_t size);
  void send(int peer, std::size_t offset, std::size_t length, std::uint64_t tag) override;
  void recv(int peer, std::size_t offset, std::size_t length, std::uint64_t tag) override;
  void waitSend(Deadline deadline) override;
  void waitRecv(Deadline deadline) override;

 private:
  friend class OfiDevice;
  OfiDevice& device_;
  Fid<fid_mr> mr_;
  void* desc_ = nullptr;
  std::uint64_t sends_pending_ = 0;
  std::uint64_t sends_done_ = 0;
  std::uint64_t recvs_pending_ = 0;
  std::uint64_t recvs_done_ = 0;
};

// The providers fi_getinfo offers for RDM endpoints with tagged messages, in its order.
std::vector<std::string> rdmProviders();
// Throws the error OfiDevice would for options no provider satisfies, without opening
// anything: so a run can refuse before it starts any rank.
void probe(const TransportOptions& options);

}  // namespace rdzv::transport::ofi
