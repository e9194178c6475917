#include "transport/ofi/ofi_endpoint.h"

#include <rdma/fi_cm.h>

#include <algorithm>
#include <cstring>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "lib/error.h"
#include "lib/sysinfo.h"
#include "transport/ofi/cxi_env.h"

namespace rdzv::transport::ofi {
namespace {

constexpr std::uint32_t kApiVersion = FI_VERSION(1, 9);

std::uint64_t capsFor(const TransportOptions& options) {
  // The engine mode pulls rendezvous payloads with fi_read.
  return options.ofi_mode == "engine" ? FI_MSG | FI_RMA | FI_READ | FI_REMOTE_READ
                                      : FI_TAGGED | FI_MSG;
}

InfoPtr rdmHints(const TransportOptions& options, std::uint64_t caps) {
  InfoPtr hints(fi_allocinfo());
  if (!hints) throwRuntime("fi_allocinfo failed: out of memory");
  hints->ep_attr->type = FI_EP_RDM;
  hints->caps = caps;
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

// fi_getinfo for these options; a clear error when nothing matches.
InfoPtr findProviders(const TransportOptions& options, std::uint64_t caps) {
  if (options.ofi_mode != "native" && options.ofi_mode != "engine")
    throwUsage(fmt::format("invalid --ofi-mode \"{}\"", options.ofi_mode), "use native or engine");
  auto hints = rdmHints(options, caps);
  fi_info* list = nullptr;
  int rc = fi_getinfo(kApiVersion, nullptr, nullptr, 0, hints.get(), &list);
  if (rc == -FI_ENODATA) {
    bool engine = options.ofi_mode == "engine";
    throwRuntime(
        fmt::format("{} provider not available for RDM endpoints with {} (libfabric {} at {}; "
                    "fi_getinfo: {})",
                    options.provider.empty() ? "no" : options.provider,
                    engine ? "messages and RMA reads (--ofi-mode engine)" : "tagged messages",
                    runtimeVersion(), libraryPath(), fi_strerror(FI_ENODATA)),
        fmt::format("this libfabric offers: {}{}", joinProviders(),
                    options.provider == "cxi"
                        ? "; the cxi provider needs HPE's or upstream libfabric >= 1.21"
                        : ""));
  }
  if (rc != 0)
    throwFi("fi_getinfo", rc, options.provider.empty() ? "any provider" : options.provider);
  return InfoPtr(list);
}

}  // namespace

std::vector<std::string> rdmProviders() {
  TransportOptions none;
  auto hints = rdmHints(none, FI_TAGGED | FI_MSG);
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

void probe(const TransportOptions& options) {
  if (!libfabricLoaded())
    throwRuntime(fmt::format("the ofi transport cannot load libfabric: {}", libfabricLoadError()),
                 "install libfabric1, or set RDZV_LIBFABRIC to the library's path");
  findProviders(options, capsFor(options));
}

Endpoint::Endpoint(const TransportOptions& options, std::uint64_t caps)
    : sysfs_root_(options.sysfs_root) {
  auto all = findProviders(options, caps);
  const fi_info* pick = all.get();
  if (options.provider.empty())
    for (auto* i = all.get(); i; i = i->next)
      if (std::string(i->fabric_attr->prov_name).rfind("cxi", 0) == 0) {
        pick = i;
        break;
      }
  info_.reset(fi_dupinfo(pick));
  where_ = fmt::format("{} on {}", info_->fabric_attr->prov_name, info_->domain_attr->name);

  int rc = 0;
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

void Endpoint::insertPeers(const std::vector<Bytes>& addresses,
                           const std::vector<std::string>& hosts) {
  peers_.assign(addresses.size(), FI_ADDR_UNSPEC);
  for (std::size_t r = 0; r < addresses.size(); ++r) {
    int n = fi_av_insert(av_.get(), addresses[r].data(), 1, &peers_[r], 0, nullptr);
    if (n != 1)
      throwFi(fmt::format("fi_av_insert of rank {} ({})", r, hosts[r]), n < 0 ? n : -FI_EINVAL,
              where_);
  }
}

fi_addr_t Endpoint::peer(int rank) const {
  if (rank < 0 || rank >= size())
    throwRuntime(fmt::format("invalid peer {} (the run has {} ranks)", rank, size()));
  return peers_[rank];
}

Fid<fid_mr> Endpoint::registerMemory(void* ptr, std::size_t size, std::uint64_t access) const {
  bool remote = access & (FI_REMOTE_READ | FI_REMOTE_WRITE);
  if (!remote && !needsLocalRegistration()) return nullptr;
  static std::uint64_t next_key = 1;  // only used when the provider does not pick keys
  fid_mr* mr = nullptr;
  int rc = fi_mr_reg(domain_.get(), ptr, size ? size : 1, access, 0, next_key++, 0, &mr, nullptr);
  if (rc) throwFi(fmt::format("fi_mr_reg of {} bytes", size), rc, where_);
  Fid<fid_mr> owned(mr);
  if (info_->domain_attr->mr_mode & FI_MR_ENDPOINT) {
    if ((rc = fi_mr_bind(mr, &ep_->fid, 0))) throwFi("fi_mr_bind", rc, where_);
    if ((rc = fi_mr_enable(mr))) throwFi("fi_mr_enable", rc, where_);
  }
  return owned;
}

std::uint64_t Endpoint::remoteAddress(const void* base, const void* ptr) const {
  if (info_->domain_attr->mr_mode & FI_MR_VIRT_ADDR) return reinterpret_cast<std::uint64_t>(ptr);
  return static_cast<std::uint64_t>(static_cast<const std::uint8_t*>(ptr) -
                                    static_cast<const std::uint8_t*>(base));
}

void Endpoint::beginSeries() {
  if (!readCxiSysfs(sysfs_root_).nics.empty()) telemetry_before_ = snapshotTelemetry(sysfs_root_);
}

nlohmann::json Endpoint::details() const {
  nlohmann::json fi_env = nlohmann::json::object();
  bool cxi_settings = std::string(info_->fabric_attr->prov_name).rfind("cxi", 0) == 0;
  for (const auto& [k, v] : captureEnvironment())
    if (k.rfind("FI_", 0) == 0) {
      fi_env[k] = v;
      cxi_settings |= k.rfind("FI_CXI_", 0) == 0;
    }
  nlohmann::json d = {
      {"provider", info_->fabric_attr->prov_name},
      {"provider_version", fmt::format("{}.{}", FI_MAJOR(info_->fabric_attr->prov_version),
                                       FI_MINOR(info_->fabric_attr->prov_version))},
      {"fabric", info_->fabric_attr->name ? info_->fabric_attr->name : ""},
      {"domain", info_->domain_attr->name ? info_->domain_attr->name : ""},
      {"endpoint_type", "FI_EP_RDM"},
      {"libfabric_runtime", runtimeVersion()},
      {"libfabric_api", fmt::format("{}.{}", FI_MAJOR_VERSION, FI_MINOR_VERSION)},
      {"library", libraryPath()},
      {"mr_mode", static_cast<std::uint64_t>(info_->domain_attr->mr_mode)},
      {"inject_size", info_->tx_attr->inject_size},
      {"max_msg_size", info_->ep_attr->max_msg_size},
      {"fi_environment", fi_env}};
  // The provider clamps and resets FI_CXI_* values silently: record what it will really use.
  if (cxi_settings) {
    auto version = LibfabricVersion::parse(runtimeVersion()).value_or(LibfabricVersion::latest());
    d["cxi_effective"] = analyzeCxiEnv(processCxiEnvInput(version, libraryPath(), sysfs_root_));
  }
  // The NIC counters that prove which path was taken (e.g. restricted packets for alt_read).
  if (telemetry_before_) {
    auto after = snapshotTelemetry(sysfs_root_);
    d["cxi_telemetry"] = {{"before", *telemetry_before_},
                          {"after", after},
                          {"delta", telemetryDelta(*telemetry_before_, after)}};
  }
  return d;
}

}  // namespace rdzv::transport::ofi
