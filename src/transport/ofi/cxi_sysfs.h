#pragma once
// What the CXI driver tells user space through sysfs (docs/cxi-reference.md §3.1, §4.2): each
// NIC's link, its rendezvous-Get property, its telemetry counters, its netdev and NUMA
// placement. Read from a root directory (default /sys) so tests and `doctor --sysfs-root` can
// point at a fixture tree. Pure C++; a file that is missing or unreadable leaves its field empty.

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace rdzv::transport::ofi {

// Counters that prove which rendezvous path ran: alt_read Gets are restricted packets.
inline constexpr const char* kRestrictedPktCounter = "ixe_rx_ptl_restricted_pkt";
inline constexpr const char* kUnrestrictedPktCounter = "ixe_rx_ptl_unrestricted_pkt";

// One telemetry file: "N@sec.nsec" (the count and when the driver sampled it).
struct TelemetryValue {
  std::uint64_t count = 0;
  std::int64_t sec = 0;
  std::int64_t nsec = 0;
  bool operator==(const TelemetryValue&) const = default;
};

// Parses "N@sec.nsec" (surrounding whitespace allowed); nullopt for anything else.
std::optional<TelemetryValue> parseTelemetry(std::string_view text);

// One CXI NIC, <root>/class/cxi/cxiN/device.
struct CxiNic {
  std::string name;                  // "cxi0"
  std::filesystem::path device_dir;  // <root>/class/cxi/cxi0/device
  std::string cassini_version;       // properties/cassini_version: "1.0", "1.1", "2.0" or ""
  int generation = 0;                // 1 or 2 (from the version or the port layout), 0 unknown
  std::optional<bool> link_up;       // from the port state, else properties/link
  std::string link_state;            // raw text it was decided from
  std::string link_speed;            // port speed (e.g. "BS_200G"), else properties/speed
  std::string media;                 // port media ("AOC", "electrical", ...)
  std::string link_layer_retry;      // port LLR state
  std::optional<bool> rdzv_get_en;   // properties/rdzv_get_en: the NIC issues rendezvous Gets
  std::string pci_slot;              // "0000:21:00.0", from device/uevent PCI_SLOT_NAME
  std::string netdev;                // "hsn0": the <root>/class/net entry on the same slot
  int numa_node = -1;                // device/numa_node; -1 unknown or none
  std::string local_cpulist;         // device/local_cpulist, e.g. "0-15,32-47"
  std::map<std::string, TelemetryValue> telemetry;  // the two packet counters, when readable

  // Link flaps and PCIe health (§4.2 N3).
  // link_restarts/time_0..9: when the driver last restarted the link on its own, in seconds
  // since the epoch (ktime_get_real_seconds); empty slots (0) left out. nullopt: no such files.
  std::optional<std::vector<std::int64_t>> link_restarts;
  std::optional<std::uint64_t> pcie_corr_err;    // properties/pcie_corr_err
  std::optional<std::uint64_t> pcie_uncorr_err;  // properties/pcie_uncorr_err
  // The kernel's AER totals by file suffix: "correctable", "fatal", "nonfatal" (aer_dev_*).
  std::map<std::string, std::uint64_t> aer;

  // Identity (N4); empty or nullopt when unreadable.
  std::string nic_addr;                     // properties/nic_addr, as the driver prints it ("0x12")
  std::string nid;                          // properties/nid
  std::optional<std::int64_t> pid_granule;  // properties/pid_granule
  std::optional<std::int64_t> rdzv_get_idx;
  std::string driver_rev;                  // properties/driver_rev: the driver's commit
  std::string firmware;                    // uc/version
  std::map<std::string, std::string> fru;  // fru/{description,model,part_number,serial_number}

  // Resources (N7): properties/num_{ptes,txqs,tgqs,eqs,cts,acs,tles,les} and rgids_avail.
  std::map<std::string, std::uint64_t> resources;

  // <device_dir>/properties/rdzv_get_en, for messages.
  std::filesystem::path rdzvGetEnPath() const;
};

// Every NIC under a root, and the driver's boot default for rdzv_get_en.
struct CxiSysfs {
  std::filesystem::path root;
  std::vector<CxiNic> nics;                        // ordered by index: cxi0, cxi1, ..., cxi10
  std::optional<bool> rdzv_get_en_default;         // module parameter rdzv_get_en_default
  std::filesystem::path rdzv_get_en_default_path;  // which module it came from (cxi_ss1, cxi_core)
};

// Reads <root>/class/cxi/* (Cassini 1 and 2 port layouts) and the module parameter under
// <root>/module/cxi_ss1 (older drivers: cxi_core). Never throws; no NICs when the class is absent.
CxiSysfs readCxiSysfs(const std::filesystem::path& root = "/sys");

// The property files of CxiNic::resources, in the order doctor lists them.
std::vector<std::string> cxiResourceProperties();

// The NIC names under <root>/class/cxi ("cxi0", "cxi1", ...), without reading their files.
std::vector<std::string> cxiNicNames(const std::filesystem::path& root = "/sys");

// One AER counter file (aer_dev_correctable: "RxErr 0\n...\nTOTAL_ERR_COR 2"): its TOTAL_ line
// when it has one, else the sum of its numbers; nullopt when no line ends in a number.
std::optional<std::uint64_t> parseAerCounters(std::string_view text);

// cpu0's coherency_line_size under `root` (the provider's source), 64 when unreadable.
unsigned readCacheLineSize(const std::filesystem::path& root = "/sys");

// CPUs of a sysfs cpulist ("0-3,8,10-11"); empty for malformed text.
std::vector<int> parseCpuList(std::string_view text);

// Counter values per NIC ("cxi0") and counter name, taken before and after a series.
using TelemetrySnapshot = std::map<std::string, std::map<std::string, TelemetryValue>>;

// The two packet counters by default.
std::vector<std::string> defaultTelemetryCounters();

// Reads `counters` of every NIC under <root>/class/cxi; unreadable ones are left out.
TelemetrySnapshot snapshotTelemetry(
    const std::filesystem::path& root = "/sys",
    const std::vector<std::string>& counters = defaultTelemetryCounters());

// How much one counter moved between two snapshots.
struct TelemetryDelta {
  std::uint64_t count = 0;  // counters are 56 bits wide: a smaller "after" is taken as a wrap
  double seconds = 0;       // between the two driver timestamps
};

// after − before for every (NIC, counter) present in both snapshots.
std::map<std::string, std::map<std::string, TelemetryDelta>> telemetryDelta(
    const TelemetrySnapshot& before, const TelemetrySnapshot& after);

void to_json(nlohmann::json& j, const TelemetryValue& v);
void to_json(nlohmann::json& j, const TelemetryDelta& d);
void to_json(nlohmann::json& j, const CxiNic& nic);
void to_json(nlohmann::json& j, const CxiSysfs& sysfs);

}  // namespace rdzv::transport::ofi
