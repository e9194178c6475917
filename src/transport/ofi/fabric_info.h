#pragma once
// What the libfabric this process loaded can do: its runtime version and path, its providers,
// and whether the cxi provider answers (docs/cxi-reference.md §4.1 E1–E4). The structs are
// always available; probeFabric() exists only when rdzvbench is built with libfabric
// (RDZV_HAVE_LIBFABRIC), so callers without it still compile and say "not built".

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace rdzv::transport::ofi {

// One cxi domain (NIC) as fi_getinfo describes it.
struct FabricNic {
  std::string name;             // "cxi0"
  std::optional<bool> link_up;  // nic->link_attr->state
  std::uint64_t speed = 0;      // nic->link_attr->speed, bits per second
  std::uint64_t mtu = 0;        // nic->link_attr->mtu
};

struct FabricProbe {
  int major = 0;  // fi_version() of the loaded library (not the headers')
  int minor = 0;
  int patch = -1;            // from an in-tree provider's version, else the path; -1 unknown
  std::string library_path;  // the file libfabric was loaded from (libfabric_loader.h)
  std::string load_error;    // why it could not be loaded; "" when it was
  std::vector<std::string> providers;  // distinct provider names fi_getinfo() returns
  int providers_rc = 0;                // fi_getinfo's return for that list (negative FI_E*)
  int cxi_rc = 0;                      // fi_getinfo(FI_VERSION(1,21), prov_name "cxi", FI_EP_RDM)
  std::string cxi_error;               // fi_strerror(-cxi_rc), empty on success
  std::vector<FabricNic> cxi_nics;     // the cxi domains, when cxi answered
  std::set<std::string> params;        // fi_getparams() names after those calls

  bool cxiAvailable() const { return cxi_rc == 0 && !cxi_nics.empty(); }
  // "1.17.0", or "1.17" when the patch is unknown. Inline: callers built without libfabric
  // still print probes they were given (tests, doctor).
  std::string version() const {
    std::string v = std::to_string(major) + "." + std::to_string(minor);
    return patch >= 0 ? v + "." + std::to_string(patch) : v;
  }
};

#ifdef RDZV_HAVE_LIBFABRIC
// Asks the loaded libfabric. Never throws: a failing call leaves its part empty with its rc.
FabricProbe probeFabric();
#endif

}  // namespace rdzv::transport::ofi
