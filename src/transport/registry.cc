#include "transport/registry.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "lib/error.h"
#include "rdzv/build_info.h"
#include "transport/tcp/tcp_device.h"
#ifdef RDZV_HAVE_MPI
#include "transport/mpi/mpi_device.h"
#endif
#ifdef RDZV_HAVE_LIBFABRIC
#include "transport/ofi/ofi_device.h"
#include "transport/ofi/ofi_engine.h"
#endif
#ifdef RDZV_HAVE_IBVERBS
#include "transport/ibverbs/ib_device.h"
#endif

namespace rdzv::transport {

std::vector<TransportInfo> listTransports() {
  return {
      {"tcp", true, "", true},
      {"mpi", build::kHaveMpi,
       build::kHaveMpi ? "needs an MPI launcher and --bootstrap mpi" : build::kWhyNoMpi, false,
       true},
      {"ofi", build::kHaveLibfabric, build::kHaveLibfabric ? "" : build::kWhyNoLibfabric},
      {"ibverbs", build::kHaveIbverbs, build::kHaveIbverbs ? "" : build::kWhyNoIbverbs,
       build::kHaveIbverbs},
  };
}

TransportInfo transportInfo(const std::string& name) {
  for (const auto& t : listTransports())
    if (t.name == name) return t;
  requireTransport(name);
  return {};
}

void requireTransport(const std::string& name) {
  std::vector<std::string> names;
  for (const auto& t : listTransports()) {
    names.push_back(t.name);
    if (t.name != name) continue;
    if (!t.built)
      throwUsage(fmt::format("transport \"{}\" is not built into this rdzvbench: {}", name, t.why),
                 "run `rdzvbench info` to see what is available");
    return;
  }
  throwUsage(fmt::format("unknown transport \"{}\"", name),
             fmt::format("choose from: {}", fmt::join(names, ", ")));
}

std::string hostNotes(const std::string& name) {
#ifdef RDZV_HAVE_LIBFABRIC
  if (name == "ofi") {
    if (!ofi::libfabricLoaded())
      return fmt::format("libfabric cannot be loaded: {}", ofi::libfabricLoadError());
    auto providers = ofi::rdmProviders();
    return fmt::format("libfabric {} at {}; RDM providers: {}", ofi::runtimeVersion(),
                       ofi::libraryPath(),
                       providers.empty() ? "none" : fmt::format("{}", fmt::join(providers, ", ")));
  }
#endif
#ifdef RDZV_HAVE_IBVERBS
  if (name == "ibverbs") return ibverbs::hostStatus();
#endif
  (void)name;
  return "";
}

void probeTransport(const std::string& name, const TransportOptions& options) {
  requireTransport(name);
#ifdef RDZV_HAVE_LIBFABRIC
  if (name == "ofi") ofi::probe(options);
#endif
#ifdef RDZV_HAVE_IBVERBS
  if (name == "ibverbs") ibverbs::probe(options);
#endif
  (void)options;
}

std::unique_ptr<Device> createDevice(const std::string& name, const TransportOptions& options) {
  requireTransport(name);
  if (name == "tcp") return std::make_unique<tcp::TcpDevice>(options);
#ifdef RDZV_HAVE_MPI
  if (name == "mpi") return std::make_unique<mpi::MpiDevice>(options);
#endif
#ifdef RDZV_HAVE_LIBFABRIC
  if (name == "ofi" && options.ofi_mode == "engine")
    return std::make_unique<ofi::OfiEngineDevice>(options);
  if (name == "ofi") return std::make_unique<ofi::OfiDevice>(options);
#endif
#ifdef RDZV_HAVE_IBVERBS
  if (name == "ibverbs") return std::make_unique<ibverbs::IbDevice>(options);
#endif
  throwUsage(fmt::format("transport \"{}\" is not available", name));
}

}  // namespace rdzv::transport
