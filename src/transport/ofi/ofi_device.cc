#include "transport/ofi/ofi_device.h"

#include <rdma/fi_cm.h>
#include <rdma/fi_tagged.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "lib/error.h"
#include "lib/sysinfo.h"

namespace rdzv::transport::ofi {
namespace {

constexpr int kRankBits = 24;
constexpr std::uint32_t kApiVersion = FI_VERSION(1, 9);

InfoPtr rdmHints(const TransportOptions& options) {
  InfoPtr hints(fi_allocinfo());
  if (!hints) throwRuntime("fi_allocinfo failed: out of memory");
  hints->ep_attr->type = FI_EP_RDM;
  hints->caps = FI_TAGGED | FI_MSG;
  hints->mode = FI_CONTEXT | FI_CONTEXT2;
  // Every registration mode this transport can honour.
  hints->domain_attr->mr_mode =
      FI_MR_LOCAL | FI_MR_VIRT_ADDR | FI_MR_ALLOCATED | FI_MR_PROV_KEY | FI_MR_ENDPOINT;
  hints->domain_attr->threading = FI_THREAD_DOMAIN;
  // Progress driven by our own fi_cq_read calls: a provider's progress thread would compete
  // for the cores our busy-polling ranks hold.
  hints->domain_attr->data_progress = FI_PROGRESS_MANUAL;
  hints->domain_attr->control_progress = FI_PROGRESS_MANUAL;
  if (!options.provider.empty()) hints->fabric_attr->prov_name = strdup(options.provider.c_str());
  if (!options.iface.empty()) hints->domain_attr->name = strdup(options.iface.c_str());
  return hints;
}

std::string joinProviders() {
  auto names = rdmProviders();
  return names.empty() ? std::string("none") : fmt::format("{}", fmt::join(names, ", "));
}

}  // namespace

std::vector<std::string> rdmProviders() {
  TransportOptions none;
  auto hints = rdmHints(none);
  fi_info* list = nullptr;
  std::vector<std::string> names;
  if (fi_getinfo(kApiVersion, nullptr, nullptr, 0, hints.get(), &list) != 0) return names;
  InfoPtr guard(list);
  for (auto* i = list; i; i = i->next) {
    std::string name = i->fabric_attr->prov_name;
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  return names;
}

namespace {

// fi_getinfo for these options; a clear error when nothing matches.
InfoPtr findProviders(const TransportOptions& options_) {
  if (options_.ofi_mode != "native")
    throwUsage(fmt::format("--ofi-mode {} is not available", options_.ofi_mode),
               "use --ofi-mode native (the engine mode over libfabric is not implemented yet)");
  auto hints = rdmHints(options_);
  fi_info* list = nullptr;
  int rc = fi_getinfo(kApiVersion, nullptr, nullptr, 0, hints.get(), &list);
  if (rc == -FI_ENODATA) {
    std::string wanted = options_.provider.empty() ? "any provider" : options_.provider;
    if (!options_.iface.empty()) wanted += " on " + options_.iface;
    throwRuntime(fmt::format("{} provider not available for RDM endpoints with tagged messages "
                             "(libfabric {} at {}; fi_getinfo: {})",
                             options_.provider.empty() ? "no" : options_.provider, runtimeVersion(),
                             libraryPath(), fi_strerror(FI_ENODATA)),
                 fmt::format("this libfabric offers: {}{}", joinProviders(),
                             options_.provider == "cxi"
                                 ? "; the cxi provider needs HPE's or upstream libfabric >= 1.21"
                                 : ""));
  }
  if (rc != 0)
    throwFi("fi_getinfo", rc, options_.provider.empty() ? "any provider" : options_.provider);
  return InfoPtr(list);
}

}  // namespace

void probe(const TransportOptions& options) { findProviders(options); }

OfiDevice::OfiDevice(const TransportOptions& options) : options_(options) {
  auto all = findProviders(options_);
  fi_info* list = all.get();
  int rc = 0;
  const fi_info* pick = list;
  if (options_.provider.empty())
    for (auto* i = list; i; i = i->next)
      if (std::string(i->fabric_attr->prov_name).rfind("cxi", 0) == 0) {
        pick = i;
        break;
      }
  info_.reset(fi_dupinfo(pick));
  where_ = fmt::format("{} on {}", info_->fabric_attr->prov_name, info_->domain_attr->name);

  fid_fabric* fabric = nullptr;
  if ((rc = fi_fabric(info_->fabric_attr, &fabric, nullptr))) throwFi("fi_fabric", rc, where_);
  fabric_.reset(fabric);
  fid_domain* domain = nullptr;
  if ((rc = fi_domain(fabric, info_.get(), &domain, nullptr))) throwFi("fi_domain", rc, where_);
  domain_.reset(domain);
  fi_cq_attr cq_attr{};
  cq_attr.format = FI_CQ_FORMAT_TAGGED;
  cq_attr.wait_obj = FI_WAIT_NONE;
  fid_cq* cq = nullptr;
  if ((rc = fi_cq_open(domain, &cq_attr, &cq, nullptr))) throwFi("fi_cq_open", rc, where_);
  cq_.reset(cq);
  fi_av_attr av_attr{};
  av_attr.type =
      info_->domain_attr->av_type != FI_AV_UNSPEC ? info_->domain_attr->av_type : FI_AV_TABLE;
  fid_av* av = nullptr;
  if ((rc = fi_av_open(domain, &av_attr, &av, nullptr))) throwFi("fi_av_open", rc, where_);
  av_.reset(av);
  fid_ep* ep = nullptr;
  if ((rc = fi_endpoint(domain, info_.get(), &ep, nullptr))) throwFi("fi_endpoint", rc, where_);
  ep_.reset(ep);
  if ((rc = fi_ep_bind(ep, &av->fid, 0))) throwFi("fi_ep_bind(av)", rc, where_);
  if ((rc = fi_ep_bind(ep, &cq->fid, FI_TRANSMIT | FI_RECV))) throwFi("fi_ep_bind(cq)", rc, where_);
  if ((rc = fi_enable(ep))) throwFi("fi_enable", rc, where_);
  std::uint8_t name[512];
  std::size_t length = sizeof name;
  if ((rc = fi_getname(&ep->fid, name, &length))) throwFi("fi_getname", rc, where_);
  address_.assign(name, name + length);
}

OfiDevice::~OfiDevice() {
  // The endpoint goes before the objects bound to it; unique_ptr members would close the
  // last-declared first, which is the endpoint, then av, cq, domain, fabric: the right order.
}

void OfiDevice::connect(int rank, const std::vector<Bytes>& addresses,
                        const std::vector<std::string>& hosts, Deadline) {
  self_ = rank;
  int size = static_cast<int>(addresses.size());
  if (size >= (1 << kRankBits))
    throwUsage(fmt::format("the ofi transport supports at most {} ranks", 1 << kRankBits));
  peers_.assign(size, FI_ADDR_UNSPEC);
  pending_recv_.assign(size, 0);
  pending_send_.assign(size, 0);
  for (int r = 0; r < size; ++r) {
    int n = fi_av_insert(av_.get(), addresses[r].data(), 1, &peers_[r], 0, nullptr);
    if (n != 1)
      throwFi(fmt::format("fi_av_insert of rank {} ({})", r, hosts[r]), n < 0 ? n : -FI_EINVAL,
              where_);
  }
  long local = std::count(hosts.begin(), hosts.end(), hosts[rank]);
  yield_ = local > sysconf(_SC_NPROCESSORS_ONLN);
}

fi_addr_t OfiDevice::peerAddress(int peer) const {
  if (peer < 0 || peer >= static_cast<int>(peers_.size()) || peer == self_)
    throwRuntime(
        fmt::format("invalid peer {} (this is rank {} of {})", peer, self_, peers_.size()));
  return peers_[peer];
}

std::uint64_t OfiDevice::wireTag(int sender, std::uint64_t tag) const {
  if (tag >= (std::uint64_t{1} << 32))
    throwRuntime(fmt::format("tag {} is too large for the ofi transport (32 bits)", tag));
  return (tag << kRankBits) | static_cast<std::uint64_t>(sender);
}

OfiDevice::Op* OfiDevice::acquireOp(OfiBuffer* buffer, bool send, int peer) {
  if (free_ops_.empty()) {
    ops_.push_back(std::make_unique<Op>());
    free_ops_.push_back(ops_.back().get());
  }
  Op* op = free_ops_.back();
  free_ops_.pop_back();
  op->buffer = buffer;
  op->send = send;
  op->peer = peer;
  (send ? pending_send_ : pending_recv_)[peer]++;
  return op;
}

void OfiDevice::releaseOp(Op* op) {
  (op->send ? pending_send_ : pending_recv_)[op->peer]--;
  free_ops_.push_back(op);
}

std::unique_ptr<Buffer> OfiDevice::createBuffer(void* ptr, std::size_t size) {
  return std::make_unique<OfiBuffer>(*this, ptr, size);
}

void OfiDevice::progress(Deadline deadline, const char* what) {
  fi_cq_tagged_entry entries[64];
  ssize_t n = fi_cq_read(cq_.get(), entries, 64);
  if (n > 0) {
    for (ssize_t i = 0; i < n; ++i) {
      auto* op = static_cast<Op*>(entries[i].op_context);
      auto* buffer = op->buffer;
      if (op->send) {
        --buffer->sends_pending_;
        ++buffer->sends_done_;
      } else {
        --buffer->recvs_pending_;
        ++buffer->recvs_done_;
      }
      releaseOp(op);
    }
    return;
  }
  if (n == -FI_EAVAIL) {
    fi_cq_err_entry err{};
    fi_cq_readerr(cq_.get(), &err, 0);
    auto* op = static_cast<Op*>(err.op_context);
    char detail[256] = {};
    fi_cq_strerror(cq_.get(), err.prov_errno, err.err_data, detail, sizeof detail);
    throwRuntime(
        fmt::format("{} rank {} failed: {} ({}; {})", op && op->send ? "send to" : "receive from",
                    op ? op->peer : -1, fi_strerror(err.err), detail, where_),
        err.err == FI_ETRUNC ? "the peer sent more than the receive holds"
                             : "that rank may have exited, or the provider failed");
  }
  if (n != -FI_EAGAIN) throwFi("fi_cq_read", static_cast<int>(n), where_);
  if ((++spins_ & 255) == 0 && deadline.expired()) {
    std::vector<int> from, to;
    for (std::size_t r = 0; r < pending_recv_.size(); ++r) {
      if (pending_recv_[r] > 0) from.push_back(static_cast<int>(r));
      if (pending_send_[r] > 0) to.push_back(static_cast<int>(r));
    }
    throwRuntime(fmt::format("timed out waiting for {} over {} (receives pending from rank {}; "
                             "sends pending to rank {})",
                             what, where_, fmt::join(from, ", "), fmt::join(to, ", ")),
                 "a peer is stuck, dead or far slower than expected; raise --timeout if it is "
                 "only slow");
  }
  if (yield_) sched_yield();
}

nlohmann::json OfiDevice::details() const {
  nlohmann::json fi_env = nlohmann::json::object();
  for (const auto& [k, v] : captureEnvironment())
    if (k.rfind("FI_", 0) == 0) fi_env[k] = v;
  std::uint64_t mr_mode = static_cast<std::uint64_t>(info_->domain_attr->mr_mode);
  return {{"provider", info_->fabric_attr->prov_name},
          {"provider_version", fmt::format("{}.{}", FI_MAJOR(info_->fabric_attr->prov_version),
                                           FI_MINOR(info_->fabric_attr->prov_version))},
          {"fabric", info_->fabric_attr->name ? info_->fabric_attr->name : ""},
          {"domain", info_->domain_attr->name ? info_->domain_attr->name : ""},
          {"endpoint_type", "FI_EP_RDM"},
          {"ofi_mode", options_.ofi_mode},
          {"libfabric_runtime", runtimeVersion()},
          {"libfabric_api", fmt::format("{}.{}", FI_MAJOR_VERSION, FI_MINOR_VERSION)},
          {"library", libraryPath()},
          {"mr_mode", mr_mode},
          {"inject_size", info_->tx_attr->inject_size},
          {"max_msg_size", info_->ep_attr->max_msg_size},
          {"fi_environment", fi_env},
          {"yield_when_idle", yield_}};
}

OfiBuffer::OfiBuffer(OfiDevice& device, void* ptr, std::size_t size)
    : Buffer(ptr, size), device_(device) {
  if (!device_.needsRegistration()) return;
  static std::uint64_t next_key = 1;  // only used when the provider does not pick keys
  fid_mr* mr = nullptr;
  int rc = fi_mr_reg(device_.domain(), ptr, size ? size : 1, FI_SEND | FI_RECV, 0, next_key++, 0,
                     &mr, nullptr);
  if (rc) throwFi(fmt::format("fi_mr_reg of {} bytes", size), rc, device_.where());
  mr_.reset(mr);
  if (device_.mrEndpoint()) {
    if ((rc = fi_mr_bind(mr, &device_.endpoint()->fid, 0)))
      throwFi("fi_mr_bind", rc, device_.where());
    if ((rc = fi_mr_enable(mr))) throwFi("fi_mr_enable", rc, device_.where());
  }
  desc_ = fi_mr_desc(mr);
}

void OfiBuffer::send(int peer, std::size_t offset, std::size_t length, std::uint64_t tag) {
  checkRange(offset, length);
  if (length > device_.maxMessage())
    throwUsage(fmt::format("message of {} bytes exceeds {}'s limit of {}", length, device_.where(),
                           device_.maxMessage()));
  auto address = device_.peerAddress(peer);
  auto wire = device_.wireTag(device_.self(), tag);
  auto* op = device_.acquireOp(this, true, peer);
  auto deadline = Deadline::afterSeconds(device_.timeout());
  while (true) {
    ssize_t rc =
        fi_tsend(device_.endpoint(), data() + offset, length, desc_, address, wire, &op->context);
    if (rc == 0) break;
    if (rc != -FI_EAGAIN) {
      device_.releaseOp(op);
      throwFi(fmt::format("fi_tsend of {} bytes to rank {}", length, peer), static_cast<int>(rc),
              device_.where());
    }
    device_.progress(deadline, "room to post a send");
  }
  ++sends_pending_;
}

void OfiBuffer::recv(int peer, std::size_t offset, std::size_t length, std::uint64_t tag) {
  checkRange(offset, length);
  device_.peerAddress(peer);
  auto wire = device_.wireTag(peer, tag);
  auto* op = device_.acquireOp(this, false, peer);
  auto deadline = Deadline::afterSeconds(device_.timeout());
  while (true) {
    ssize_t rc = fi_trecv(device_.endpoint(), data() + offset, length, desc_, FI_ADDR_UNSPEC, wire,
                          0, &op->context);
    if (rc == 0) break;
    if (rc != -FI_EAGAIN) {
      device_.releaseOp(op);
      throwFi(fmt::format("fi_trecv of {} bytes from rank {}", length, peer), static_cast<int>(rc),
              device_.where());
    }
    device_.progress(deadline, "room to post a receive");
  }
  ++recvs_pending_;
}

void OfiBuffer::waitSend(Deadline deadline) {
  if (sends_done_ == 0 && sends_pending_ == 0) throwRuntime("waitSend with no send posted");
  while (sends_done_ == 0) device_.progress(deadline, "a send to complete");
  --sends_done_;
}

void OfiBuffer::waitRecv(Deadline deadline) {
  if (recvs_done_ == 0 && recvs_pending_ == 0) throwRuntime("waitRecv with no receive posted");
  while (recvs_done_ == 0) device_.progress(deadline, "a message to arrive");
  --recvs_done_;
}

}  // namespace rdzv::transport::ofi
