#pragma once
// The CXI provider's FI_CXI_* variables as libfabric reads them (docs/cxi-reference.md §1.1):
// parsed with the library's own rules from an injected environment, then clamped and reset in
// the order cxip_info.c does it, for a given libfabric version. The provider changes bad values
// silently (a CXIP_WARN line at most), so a benchmark measures another configuration than the
// one asked for unless someone recomputes it: this file is that recomputation. Pure C++, no
// libfabric needed, so the same answer comes out on a laptop, in CI and on a Slingshot node.

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "transport/engine/protocol.h"

namespace rdzv::transport::ofi {

// A libfabric release. CXI defaults changed in 2.2 and 2.4, so every rule takes one.
struct LibfabricVersion {
  int major = 0;
  int minor = 0;
  int patch = -1;  // -1 when unknown (fi_version() gives major.minor only)

  // "2.3.1", "2.3", "v1.22.0", "1.15.2.0" (HPE builds add a fourth part, ignored); nullopt for
  // anything else.
  static std::optional<LibfabricVersion> parse(std::string_view text);
  // The newest release whose rules are modelled here; used when the version is unknown.
  static LibfabricVersion latest();
  // "2.3.1", or "2.3" when the patch is unknown.
  std::string str() const;
  // Compares major.minor only: no CXI rule modelled here changed in a patch release.
  bool atLeast(int major, int minor) const;
};

enum class Severity { Info, Warning, Error };

// "info", "warning" or "error".
const char* severityName(Severity severity);

// One thing the provider does with the settings that the user should know, and what to set.
struct Finding {
  Severity severity = Severity::Info;
  std::string variable;  // "FI_CXI_RDZV_THRESHOLD"; empty for a remark about the whole set
  std::string message;
  std::string check = "E7";  // the docs/cxi-reference.md §4.1 item: E4 names, E5 config file,
                             // E6 number syntax, E7 effective values, E11 match mode, E12 MR cache
};

enum class RxMatchMode { Hardware, Software, Hybrid };

// "hardware", "software" or "hybrid".
const char* rxMatchModeName(RxMatchMode mode);

// The values the provider uses after parsing, clamping and resetting (struct cxip_environment).
// Member names are the variable names without FI_CXI_, lower case.
struct CxiSettings {
  std::uint64_t rdzv_threshold = 16384;  // T
  std::uint64_t rdzv_get_min = 2049;     // G
  std::uint64_t rdzv_eager_size = 2048;  // E
  engine::RdzvProto rdzv_proto = engine::RdzvProto::Default;
  bool rdzv_aligned_sw_rget = true;
  bool disable_alt_read_cmdq = false;
  std::string rget_tc;  // empty: unset (FI_TC_UNSPEC)
  int sw_rx_tx_init_max = 1024;
  std::uint64_t oflow_buf_size = 12u << 20;
  std::uint64_t oflow_buf_min_posted = 3;  // also FI_CXI_OFLOW_BUF_COUNT
  std::uint64_t oflow_buf_max_cached = 9;
  RxMatchMode rx_match_mode = RxMatchMode::Hardware;
  bool hybrid_preemptive = false;
  bool hybrid_recv_preemptive = false;
  bool hybrid_posted_recv_preemptive = false;
  bool hybrid_unexpected_msg_preemptive = false;
  std::uint64_t req_buf_size = 12u << 20;
  std::uint64_t req_buf_min_posted = 6;
  std::uint64_t req_buf_max_cached = 0;  // also FI_CXI_REQ_BUF_MAX_COUNT; 0 = unlimited
  bool msg_lossless = false;
  int fc_retry_usec_delay = 1000;
  std::uint64_t default_cq_size = 131072;
  std::uint64_t cq_fill_percent = 50;
  std::uint64_t default_tx_size = 1024;
  std::uint64_t default_rx_size = 1024;
  std::uint64_t ctrl_rx_eq_max_size = 64u << 20;
  bool disable_eq_hugetlb = false;  // also FI_CXI_DISABLE_CQ_HUGETLB
  std::uint64_t safe_devmem_copy_threshold = 4096;
  bool disable_host_register = false;
  bool disable_non_inject_msg_idc = false;
  bool disable_non_inject_rma_idc = false;
  bool disable_non_inject_amo_idc = false;
  bool disable_hmem_dev_register = false;
  bool force_dev_reg_copy = false;
  bool disable_cuda_sync_memops = false;
  std::uint64_t eq_ack_batch_size = 32;
  std::string llring_mode = "idle";
  std::string cq_policy = "low_empty";
  std::string device_name;  // empty: every NIC
  std::uint64_t default_vni = 10;
  bool optimized_mrs = true;
  bool mr_match_events = false;
  bool prov_key_cache = true;
  bool odp = false;
  bool force_odp = false;
  bool ats = false;
  std::string ats_mlock_mode = "all";
  std::string telemetry;  // empty: no per-domain telemetry delta
  int telemetry_rgid = -1;
  int rnr_max_timeout_us = 500000;
  int rnr_append_retry_timeout_us = 2000000;

  // T + G in size_t arithmetic (as the provider computes it, wrap included): the largest
  // message sent eagerly; anything longer goes rendezvous.
  std::uint64_t eagerMax() const { return rdzv_threshold + rdzv_get_min; }
};

// The provider's compiled defaults in `version` (the ≤2.1 / 2.2–2.3 / ≥2.4 columns of §1.1).
CxiSettings cxiDefaults(const LibfabricVersion& version);

// The protocol engine's parameters that mirror these settings (inject size 192).
engine::ProtocolParams toProtocolParams(const CxiSettings& settings);

// What libfabric reads, injected so that tests and doctor choose it.
struct CxiEnvInput {
  std::map<std::string, std::string> env;  // the environment (names other than FI_* are ignored)
  std::map<std::string, std::string>
      config_file;          // FI_* settings of libfabric.conf, if one is read
  std::string config_path;  // where config_file came from, for messages
  LibfabricVersion version = LibfabricVersion::latest();
  bool version_known = true;     // false: `version` is a guess, and findings say so
  unsigned cacheline_size = 64;  // cpu0's coherency_line_size (the provider's fallback is 64)
  // FI_CXI_* names fi_getparams() reported with the cxi provider loaded; when not empty they
  // replace the per-version table for deciding which names are parameters.
  std::set<std::string> registered;
};

// The outcome: effective values, what was asked for, and what the provider does about it.
struct CxiEnvResult {
  LibfabricVersion version;
  bool version_known = true;
  CxiSettings effective;
  std::map<std::string, std::string> requested;  // FI_CXI_* parameters as read (raw text)
  std::map<std::string, std::string> sources;    // name -> "env" or "libfabric.conf"
  std::vector<Finding> findings;

  // T + G: the eager/rendezvous cut-over.
  std::uint64_t eagerMax() const { return effective.eagerMax(); }
  // E: payload bytes carried by the first packet of a rendezvous message.
  std::uint64_t rdzvEagerBytes() const { return effective.rdzv_eager_size; }
  bool hasError() const;
  // One line for tables and logs: "T=16384 G=2049 E=2048: eager up to 18433 B, ...".
  std::string summary() const;
};

// Recomputes the provider's effective values from `input`, in cxip_info.c's order. Never throws
// for bad values (the provider does not either): every surprise becomes a Finding.
CxiEnvResult analyzeCxiEnv(const CxiEnvInput& input);

// libfabric's number parsing: strtol(text, NULL, 0) (no unit suffixes, a leading 0 is octal,
// 0x hexadecimal, garbage is 0). `consumed` counts the characters strtol used.
struct StrtolResult {
  long value = 0;
  std::size_t consumed = 0;
  bool out_of_range = false;  // saturated at LONG_MIN or LONG_MAX
};

// Exactly what strtol(text, NULL, 0) returns, and how much of `text` it read.
StrtolResult libfabricStrtol(const std::string& text);
// A FI_PARAM_SIZE_T value: the long from strtol stored in a size_t ("-1" is SIZE_MAX).
std::uint64_t libfabricSizeT(const std::string& text);
// A FI_PARAM_INT value: the long from strtol stored in an int.
int libfabricInt(const std::string& text);
// A FI_PARAM_BOOL value: 0/1, or true/false, yes/no, on/off in any case; nullopt when libfabric
// rejects it ("failed to parse bool var", the default is kept).
std::optional<bool> libfabricBool(const std::string& text);
// FI_CXI_DEVICE_NAME as the provider validates it: comma-separated cxi0..cxi99.
bool validCxiDeviceName(const std::string& text);

// The FI_* settings of a libfabric.conf ("NAME=value" lines; '#' comments and blanks skipped).
std::map<std::string, std::string> parseLibfabricConf(std::string_view text);

// Where a libfabric loaded from `library_path` may keep its libfabric.conf, likeliest first:
// <prefix>/etc for a library under <prefix>/lib* outside /usr, and /etc.
std::vector<std::filesystem::path> libfabricConfCandidates(const std::string& library_path);

// The input as this process sees it: its environment, the first existing libfabric.conf among
// the candidates for `library_path`, and cpu0's cache line under `sysfs_root`. What the ofi
// transport records per series is analyzeCxiEnv(processCxiEnvInput(version, path)).
CxiEnvInput processCxiEnvInput(const LibfabricVersion& version, const std::string& library_path,
                               const std::filesystem::path& sysfs_root = "/sys");

// Whether `name` (FI_CXI_...) is a parameter the CXI provider registers in `version`.
bool isCxiParameter(std::string_view name, const LibfabricVersion& version);
// The known FI_CXI_* parameter closest to a misspelt `name` (substring or edit distance),
// or "" when none is close.
std::string closestCxiParameter(std::string_view name);
// Edit distance with adjacent transpositions counted as one edit.
std::size_t editDistance(std::string_view a, std::string_view b);

void to_json(nlohmann::json& j, const Finding& f);
// The settings that exist in `version`, by lower-case name.
nlohmann::json settingsToJson(const CxiSettings& settings, const LibfabricVersion& version);
// version, effective values, requested values with their source, T + G, E and the findings:
// what the ofi transport records per series.
void to_json(nlohmann::json& j, const CxiEnvResult& r);

}  // namespace rdzv::transport::ofi
