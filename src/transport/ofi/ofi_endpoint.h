#pragma once
// One libfabric RDM endpoint with everything it needs (fabric, domain, completion queue,
// address vector), opened for the capabilities a mode asks for. Shared by the native and
// engine modes of the ofi transport.

#include <rdma/fabric.h>
#include <rdma/fi_domain.h>
#include <rdma/fi_endpoint.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "transport/ofi/cxi_sysfs.h"
#include "transport/ofi/fid.h"
#include "transport/transport.h"

namespace rdzv::transport::ofi {

class Endpoint {
 public:
  // Opens an endpoint with `caps` (e.g. FI_TAGGED | FI_MSG) on the provider the options
  // name (cxi preferred when none is named); a clear Runtime error when none matches.
  Endpoint(const TransportOptions& options, std::uint64_t caps);

  // Inserts every rank's address; index = rank.
  void insertPeers(const std::vector<Bytes>& addresses, const std::vector<std::string>& hosts);
  fi_addr_t peer(int rank) const;
  int size() const { return static_cast<int>(peers_.size()); }

  // Registers [ptr, ptr+size) for `access`; binds it to the endpoint when the provider
  // wants that. The returned MR is null when the provider needs no registration for
  // `access` (local-only access without FI_MR_LOCAL).
  Fid<fid_mr> registerMemory(void* ptr, std::size_t size, std::uint64_t access) const;
  bool needsLocalRegistration() const { return (info_->domain_attr->mr_mode & FI_MR_LOCAL) != 0; }
  // Remote address of `ptr` inside a region registered at `base`, as fi_read expects it.
  std::uint64_t remoteAddress(const void* base, const void* ptr) const;

  fid_ep* ep() const { return ep_.get(); }
  fid_cq* cq() const { return cq_.get(); }
  const fi_info& info() const { return *info_; }
  const Bytes& address() const { return address_; }
  // "tcp;ofi_rxm on lo": for every error message.
  const std::string& where() const { return where_; }
  // Provider, versions, library, registration mode... for the report; with CXI settings in
  // the environment or a cxi provider, their effective values recomputed with the provider's
  // rules; with CXI NICs in sysfs, their telemetry since beginSeries().
  nlohmann::json details() const;
  // Snapshots the CXI NICs' telemetry counters (when there are NICs).
  void beginSeries();

 private:
  std::string sysfs_root_;
  std::optional<TelemetrySnapshot> telemetry_before_;
  InfoPtr info_;
  Fid<fid_fabric> fabric_;
  Fid<fid_domain> domain_;
  Fid<fid_cq> cq_;
  Fid<fid_av> av_;
  Fid<fid_ep> ep_;  // declared last: closed first, before what it is bound to
  Bytes address_;
  std::vector<fi_addr_t> peers_;
  std::string where_;
};

// The providers fi_getinfo offers for RDM endpoints with tagged messages, in its order.
std::vector<std::string> rdmProviders();
// Throws the error Endpoint would for options no provider satisfies, without opening
// anything: so a run can refuse before it starts any rank.
void probe(const TransportOptions& options);

}  // namespace rdzv::transport::ofi
