#include "transport/ofi/ofi_device.h"

#include <rdma/fi_tagged.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "lib/error.h"

namespace rdzv::transport::ofi {
namespace {

constexpr int kRankBits = 24;

}  // namespace

std::string PendingByPeer::describe() const {
  std::vector<int> from, to;
  for (std::size_t r = 0; r < recv_.size(); ++r) {
    if (recv_[r] > 0) from.push_back(static_cast<int>(r));
    if (send_[r] > 0) to.push_back(static_cast<int>(r));
  }
  return fmt::format("receives pending from rank {}; sends pending to rank {}",
                     from.empty() ? "none" : fmt::format("{}", fmt::join(from, ", ")),
                     to.empty() ? "none" : fmt::format("{}", fmt::join(to, ", ")));
}

int readCompletions(fid_cq* cq, const std::function<void(void*)>& complete,
                    const std::function<int(void*)>& peer_of, const std::string& where) {
  fi_cq_tagged_entry entries[64];
  ssize_t n = fi_cq_read(cq, entries, 64);
  if (n > 0) {
    for (ssize_t i = 0; i < n; ++i) complete(entries[i].op_context);
    return static_cast<int>(n);
  }
  if (n == -FI_EAGAIN) return 0;
  if (n != -FI_EAVAIL) throwFi("fi_cq_read", static_cast<int>(n), where);
  fi_cq_err_entry err{};
  fi_cq_readerr(cq, &err, 0);
  char detail[256] = {};
  fi_cq_strerror(cq, err.prov_errno, err.err_data, detail, sizeof detail);
  throwRuntime(fmt::format("operation with rank {} failed: {} ({}; {})",
                           err.op_context ? peer_of(err.op_context) : -1, fi_strerror(err.err),
                           detail, where),
               err.err == FI_ETRUNC ? "the peer sent more than the receive holds"
                                    : "that rank may have exited, or the provider failed");
}

OfiDevice::OfiDevice(const TransportOptions& options)
    : options_(options), endpoint_(options, FI_TAGGED | FI_MSG) {}

void OfiDevice::connect(int rank, const std::vector<Bytes>& addresses,
                        const std::vector<std::string>& hosts, Deadline) {
  self_ = rank;
  if (addresses.size() >= (std::size_t{1} << kRankBits))
    throwUsage(fmt::format("the ofi transport supports at most {} ranks", 1 << kRankBits));
  endpoint_.insertPeers(addresses, hosts);
  pending_.resize(static_cast<int>(addresses.size()));
  long local = std::count(hosts.begin(), hosts.end(), hosts[rank]);
  yield_ = local > sysconf(_SC_NPROCESSORS_ONLN);
}

std::uint64_t OfiDevice::wireTag(int sender, std::uint64_t tag) const {
  if (tag >= (std::uint64_t{1} << 32))
    throwRuntime(fmt::format("tag {} is too large for the ofi transport (32 bits)", tag));
  return (tag << kRankBits) | static_cast<std::uint64_t>(sender);
}

OfiDevice::Op* OfiDevice::acquireOp(OfiBuffer* buffer, bool send, int peer) {
  Op* op = ops_.acquire();
  *op = Op{{}, buffer, send, peer};
  pending_.add(peer, send, 1);
  return op;
}

void OfiDevice::releaseOp(Op* op) {
  pending_.add(op->peer, op->send, -1);
  ops_.release(op);
}

std::unique_ptr<Buffer> OfiDevice::createBuffer(void* ptr, std::size_t size) {
  return std::make_unique<OfiBuffer>(*this, ptr, size);
}

void OfiDevice::progress(Deadline deadline, const char* what) {
  int n = readCompletions(
      endpoint_.cq(),
      [&](void* context) {
        auto* op = static_cast<Op*>(context);
        auto* buffer = op->buffer;
        if (op->send) {
          buffer->sendCompleted();
        } else {
          buffer->recvCompleted();
        }
        releaseOp(op);
      },
      [](void* context) { return static_cast<Op*>(context)->peer; }, endpoint_.where());
  if (n > 0) return;
  if ((++spins_ & 255) == 0 && deadline.expired())
    throwRuntime(fmt::format("timed out waiting for {} over {} ({})", what, endpoint_.where(),
                             pending_.describe()),
                 "a peer is stuck, dead or far slower than expected; raise --timeout if it is "
                 "only slow");
  if (yield_) sched_yield();
}

nlohmann::json OfiDevice::details() const {
  auto d = endpoint_.details();
  d["ofi_mode"] = "native";
  d["yield_when_idle"] = yield_;
  return d;
}

OfiBuffer::OfiBuffer(OfiDevice& device, void* ptr, std::size_t size)
    : CountedBuffer(ptr, size), device_(device) {
  mr_ = device_.endpoint().registerMemory(ptr, size, FI_SEND | FI_RECV);
  if (mr_) desc_ = fi_mr_desc(mr_.get());
}

void OfiBuffer::send(int peer, std::size_t offset, std::size_t length, std::uint64_t tag) {
  checkRange(offset, length);
  const auto& ep = device_.endpoint();
  if (length > ep.info().ep_attr->max_msg_size)
    throwUsage(fmt::format("message of {} bytes exceeds {}'s limit of {}", length, ep.where(),
                           ep.info().ep_attr->max_msg_size));
  if (peer == device_.self()) throwRuntime(fmt::format("send to self (rank {})", peer));
  auto address = ep.peer(peer);
  auto wire = device_.wireTag(device_.self(), tag);
  auto* op = device_.acquireOp(this, true, peer);
  auto deadline = Deadline::afterSeconds(device_.timeout());
  while (true) {
    ssize_t rc = fi_tsend(ep.ep(), data() + offset, length, desc_, address, wire, &op->context);
    if (rc == 0) break;
    if (rc != -FI_EAGAIN) {
      device_.releaseOp(op);
      throwFi(fmt::format("fi_tsend of {} bytes to rank {}", length, peer), static_cast<int>(rc),
              ep.where());
    }
    device_.progress(deadline, "room to post a send");
  }
  sendPosted();
}

void OfiBuffer::recv(int peer, std::size_t offset, std::size_t length, std::uint64_t tag) {
  checkRange(offset, length);
  const auto& ep = device_.endpoint();
  ep.peer(peer);
  auto wire = device_.wireTag(peer, tag);
  auto* op = device_.acquireOp(this, false, peer);
  auto deadline = Deadline::afterSeconds(device_.timeout());
  while (true) {
    ssize_t rc =
        fi_trecv(ep.ep(), data() + offset, length, desc_, FI_ADDR_UNSPEC, wire, 0, &op->context);
    if (rc == 0) break;
    if (rc != -FI_EAGAIN) {
      device_.releaseOp(op);
      throwFi(fmt::format("fi_trecv of {} bytes from rank {}", length, peer), static_cast<int>(rc),
              ep.where());
    }
    device_.progress(deadline, "room to post a receive");
  }
  recvPosted();
}

}  // namespace rdzv::transport::ofi
