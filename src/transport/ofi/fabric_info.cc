#include "transport/ofi/fabric_info.h"

#include <rdma/fabric.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <memory>

#include <fmt/format.h>

#include "transport/ofi/libfabric_loader.h"

namespace rdzv::transport::ofi {
namespace {

// fi_getinfo's results and hints are freed with fi_freeinfo, whatever happens in between.
struct InfoDeleter {
  void operator()(fi_info* info) const { fi_freeinfo(info); }
};
using InfoPtr = std::unique_ptr<fi_info, InfoDeleter>;

// The first provider (the cxi provider) that shipped upstream: asking for an older API would
// let a library that predates it answer ENODATA instead of saying it is too old.
constexpr std::uint32_t kCxiApiVersion = FI_VERSION(1, 21);

// "…/libfabric/2.3.1/lib64/libfabric.so.1" → 3 (the patch of `major.minor`). The file name
// itself carries the libtool ABI version (Debian's 1.17.0 is libfabric.so.1.20.0), not the
// release, so only directory names count.
int patchFromPath(const std::string& path, int major, int minor) {
  const std::string prefix = fmt::format("{}.{}.", major, minor);
  for (const auto& part : std::filesystem::path(path).parent_path()) {
    const std::string name = part.string();
    for (std::size_t at = name.find(prefix); at != std::string::npos;
         at = name.find(prefix, at + 1)) {
      if (at > 0 && std::isdigit(static_cast<unsigned char>(name[at - 1]))) continue;
      std::size_t end = at + prefix.size();
      int patch = 0;
      bool digits = false;
      while (end < name.size() && std::isdigit(static_cast<unsigned char>(name[end]))) {
        patch = patch * 10 + (name[end++] - '0');
        digits = true;
        if (patch > 10000) break;
      }
      if (digits) return patch;
    }
  }
  return -1;
}

}  // namespace

FabricProbe probeFabric() {
  FabricProbe probe;
  if (!libfabricLoaded()) {
    probe.load_error = libfabricLoadError();
    probe.providers_rc = probe.cxi_rc = -FI_ENOSYS;
    probe.cxi_error = probe.load_error;
    return probe;
  }
  const std::uint32_t runtime = fi_version();
  probe.major = static_cast<int>(FI_MAJOR(runtime));
  probe.minor = static_cast<int>(FI_MINOR(runtime));

  probe.library_path = libraryPath();

  fi_info* raw = nullptr;
  probe.providers_rc = fi_getinfo(runtime, nullptr, nullptr, 0, nullptr, &raw);
  InfoPtr all(raw);
  for (const fi_info* i = all.get(); i != nullptr; i = i->next) {
    if (i->fabric_attr == nullptr || i->fabric_attr->prov_name == nullptr) continue;
    const std::string name = i->fabric_attr->prov_name;
    if (std::find(probe.providers.begin(), probe.providers.end(), name) == probe.providers.end())
      probe.providers.push_back(name);
    // In-tree providers carry FI_VERSION(major * 100 + minor, patch * 10) of the library they
    // were built with (OFI_VERSION_DEF_PROV): the only runtime source of the patch level.
    const std::uint32_t pv = i->fabric_attr->prov_version;
    if (probe.patch < 0 && static_cast<int>(FI_MAJOR(pv)) == probe.major * 100 + probe.minor)
      probe.patch = static_cast<int>(FI_MINOR(pv)) / 10;
  }
  if (probe.patch < 0) probe.patch = patchFromPath(probe.library_path, probe.major, probe.minor);

  InfoPtr hints(fi_allocinfo());
  if (hints) {
    hints->fabric_attr->prov_name = strdup("cxi");
    hints->ep_attr->type = FI_EP_RDM;
    raw = nullptr;
    probe.cxi_rc = fi_getinfo(kCxiApiVersion, nullptr, nullptr, 0, hints.get(), &raw);
    InfoPtr cxi(raw);
    if (probe.cxi_rc != 0) probe.cxi_error = fi_strerror(-probe.cxi_rc);
    for (const fi_info* i = cxi.get(); i != nullptr; i = i->next) {
      if (i->domain_attr == nullptr || i->domain_attr->name == nullptr) continue;
      FabricNic nic;
      nic.name = i->domain_attr->name;
      if (i->nic != nullptr && i->nic->link_attr != nullptr) {
        const fi_link_attr* link = i->nic->link_attr;
        if (link->state != FI_LINK_UNKNOWN) nic.link_up = link->state == FI_LINK_UP;
        nic.speed = link->speed;
        nic.mtu = link->mtu;
      }
      const bool seen = std::any_of(probe.cxi_nics.begin(), probe.cxi_nics.end(),
                                    [&](const FabricNic& n) { return n.name == nic.name; });
      if (!seen) probe.cxi_nics.push_back(nic);
    }
  }

  fi_param* params = nullptr;
  int count = 0;
  if (fi_getparams(&params, &count) == 0 && params != nullptr) {
    for (int i = 0; i < count && params[i].name != nullptr; ++i)
      probe.params.insert(params[i].name);
    fi_freeparams(params);
  }
  return probe;
}

}  // namespace rdzv::transport::ofi
