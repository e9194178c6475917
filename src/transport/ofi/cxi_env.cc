#include "transport/ofi/cxi_env.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "lib/error.h"
#include "lib/size.h"
#include "lib/sysinfo.h"
#include "transport/ofi/cxi_sysfs.h"

namespace rdzv::transport::ofi {
namespace {

// Constants of the provider and the Cassini headers (cxip.h, cassini_hw.h).
constexpr std::uint64_t kInjectSize = 192;  // C_MAX_IDC_PAYLOAD_UNR
// CXIP_REQ_BUF_HEADER_MAX_SIZE: sizeof(struct c_port_fab_hdr) (20) + sizeof(struct
// c_port_unrestricted_hdr) (43), both packed.
constexpr std::uint64_t kReqBufHeader = 63;
constexpr std::uint64_t kMinQueueSize = 16;
constexpr std::uint64_t kMaxTxSize = 16384;  // CXIP_MAX_TX_SIZE
constexpr std::uint64_t kMaxRxSize = 15360;  // 16384 list entries minus 1024 reserved
constexpr int kSwRxTxInitMin = 64;           // CXIP_SW_RX_TX_INIT_MIN
constexpr std::uint64_t kCtrlRxEqMaxDefault = 64u << 20;
constexpr std::string_view kPrefix = "FI_CXI_";

enum class VarType { Size, Int, Bool, String, Other };

// One name the provider registers with fi_param_define, and the releases that have it.
struct VarSpec {
  std::string_view name;  // lower case, without FI_CXI_
  VarType type;
  int since_major = 0, since_minor = 0;  // 0.0: every release with the provider
  int until_major = 0, until_minor = 0;  // first release without it; 0.0: still there
};

// The 65 names of v1.21/v1.22 plus the later additions and removals (§1.1, last paragraph).
// Types whose parse rules are not documented are Other: no syntax check.
constexpr VarSpec kVars[] = {
    {"rget_tc", VarType::String},
    {"rdzv_aligned_sw_rget", VarType::Bool},
    {"rnr_max_timeout_us", VarType::Int},
    {"enable_trig_op_limit", VarType::Bool},
    {"disable_non_inject_msg_idc", VarType::Bool},
    {"disable_host_register", VarType::Bool},
    {"enable_unrestricted_end_ro", VarType::Bool, 0, 0, 2, 1},
    {"odp", VarType::Bool},
    {"force_odp", VarType::Bool},
    {"ats", VarType::Bool},
    {"iotlb", VarType::Bool},
    {"disable_dmabuf_cuda", VarType::Bool, 0, 0, 2, 0},
    {"disable_dmabuf_rocr", VarType::Bool, 0, 0, 2, 0},
    {"ats_mlock_mode", VarType::String},
    {"device_name", VarType::String},
    {"telemetry", VarType::String},
    {"telemetry_rgid", VarType::Int},
    {"rx_match_mode", VarType::String},
    {"rdzv_threshold", VarType::Size},
    {"rdzv_get_min", VarType::Size},
    {"rdzv_eager_size", VarType::Size},
    {"oflow_buf_size", VarType::Size},
    {"oflow_buf_count", VarType::Size},
    {"oflow_buf_min_posted", VarType::Size},
    {"oflow_buf_max_cached", VarType::Size},
    {"safe_devmem_copy_threshold", VarType::Size},
    {"optimized_mrs", VarType::Bool},
    {"mr_match_events", VarType::Bool},
    {"prov_key_cache", VarType::Bool},
    {"llring_mode", VarType::String},
    {"zbcoll_radix", VarType::Int},
    {"cq_policy", VarType::String},
    {"default_vni", VarType::Size},
    {"eq_ack_batch_size", VarType::Size},
    {"msg_lossless", VarType::Bool},
    {"req_buf_size", VarType::Size},
    {"req_buf_min_posted", VarType::Size},
    {"req_buf_max_count", VarType::Size},
    {"req_buf_max_cached", VarType::Size},
    {"hybrid_preemptive", VarType::Bool},
    {"hybrid_recv_preemptive", VarType::Bool},
    {"hybrid_posted_recv_preemptive", VarType::Bool},
    {"hybrid_unexpected_msg_preemptive", VarType::Bool},
    {"fc_retry_usec_delay", VarType::Int},
    {"sw_rx_tx_init_max", VarType::Int},
    {"ctrl_rx_eq_max_size", VarType::Size},
    {"default_cq_size", VarType::Size},
    {"disable_cq_hugetlb", VarType::Bool},
    {"disable_eq_hugetlb", VarType::Bool},
    {"cq_fill_percent", VarType::Size},
    {"coll_job_id", VarType::String},
    {"coll_job_step_id", VarType::String},
    {"coll_fabric_mgr_url", VarType::String},
    {"coll_mcast_token", VarType::String},
    {"coll_use_dma_put", VarType::Bool},
    {"hwcoll_addrs_per_job", VarType::Size},
    {"hwcoll_min_nodes", VarType::Size},
    {"coll_retry_usec", VarType::Size},
    {"coll_timeout_usec", VarType::Size},
    {"default_tx_size", VarType::Size},
    {"default_rx_size", VarType::Size},
    {"disable_hmem_dev_register", VarType::Bool},
    {"force_ze_hmem_support", VarType::Bool},
    {"trunc_ok", VarType::Bool},
    {"rdzv_proto", VarType::String},
    {"force_dev_reg_copy", VarType::Bool, 2, 0},
    {"mr_cache_events_disable_poll_nsecs", VarType::Size, 2, 0},
    {"mr_cache_events_disable_le_poll_nsecs", VarType::Size, 2, 0},
    {"mr_target_ordering", VarType::Other, 2, 1},
    {"cntr_spin_before_yield", VarType::Other, 2, 3},
    {"cntr_trig_cmdq", VarType::Other, 2, 3},
    {"disable_alt_read_cmdq", VarType::Bool, 2, 3},
    {"disable_cuda_sync_memops", VarType::Bool, 2, 3},
    {"disable_non_inject_amo_idc", VarType::Bool, 2, 3},
    {"disable_non_inject_rma_idc", VarType::Bool, 2, 3},
    {"enable_writedata", VarType::Bool, 2, 5},
    {"rnr_append_retry_timeout_us", VarType::Int, 2, 6},
};

std::string upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

const VarSpec* findVar(std::string_view full_name) {
  if (full_name.substr(0, kPrefix.size()) != kPrefix) return nullptr;
  const std::string key = lower(full_name.substr(kPrefix.size()));
  for (const auto& v : kVars)
    if (v.name == key) return &v;
  return nullptr;
}

bool inVersion(const VarSpec& v, const LibfabricVersion& version) {
  if (v.since_major != 0 && !version.atLeast(v.since_major, v.since_minor)) return false;
  if (v.until_major != 0 && version.atLeast(v.until_major, v.until_minor)) return false;
  return true;
}

// Slurm's hardware-collective variables and the collective job variables are read with getenv
// or registered by the collectives code: legitimate, never "unknown".
bool legitNonParameter(std::string_view name) {
  return name.rfind("FI_CXI_COLL_", 0) == 0 || name.rfind("FI_CXI_HWCOLL_", 0) == 0;
}

bool allSpace(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](unsigned char c) { return std::isspace(c) != 0; });
}

std::string trim(std::string_view text) {
  std::size_t b = 0, e = text.size();
  while (b < e && std::isspace(static_cast<unsigned char>(text[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(text[e - 1]))) --e;
  return std::string(text.substr(b, e - b));
}

// What the user most likely meant by a number libfabric misreads: leading zeros dropped, unit
// suffixes honoured (rdzvbench's own size syntax). nullopt when that is no number either.
std::optional<std::uint64_t> intendedNumber(const std::string& text) {
  std::string t = trim(text);
  if (!t.empty() && t[0] == '+') t.erase(0, 1);
  std::size_t zeros = 0;
  while (zeros + 1 < t.size() && t[zeros] == '0' &&
         std::isdigit(static_cast<unsigned char>(t[zeros + 1])))
    ++zeros;
  t.erase(0, zeros);
  try {
    return parseByteCount(t);
  } catch (const Error&) {
    return std::nullopt;
  }
}

// Reads FI_* values the way fi_param_get does (environment, libfabric.conf, FI_PREFER_SYSCONFIG)
// and records what it read, where from, and every parsing surprise.
class Reader {
 public:
  Reader(const CxiEnvInput& in, CxiEnvResult& out) : in_(in), out_(out) {
    // Since v1.18.0 libfabric reads its libfabric.conf; older releases never do.
    conf_read_ = in.version.atLeast(1, 18);
    if (auto it = in.env.find("FI_PREFER_SYSCONFIG"); it != in.env.end())
      prefer_sysconfig_ = libfabricBool(it->second).value_or(false);
    use_registered_ = std::any_of(in.registered.begin(), in.registered.end(), [](const auto& n) {
      return n.rfind(std::string(kPrefix), 0) == 0;
    });
  }

  void add(Severity severity, std::string variable, std::string message, std::string check = "E7") {
    out_.findings.push_back({severity, std::move(variable), std::move(message), std::move(check)});
  }

  bool isParameter(std::string_view full) const {
    if (use_registered_) return in_.registered.count(std::string(full)) != 0;
    return isCxiParameter(full, in_.version);
  }

  bool conf_read() const { return conf_read_; }
  bool wasRead(const std::string& full) const { return read_.count(full) != 0; }

  // The text libfabric sees for `full` (an FI_* name), or nullopt when it is not set or not a
  // parameter of this release (libfabric never looks at it then).
  std::optional<std::string> raw(const std::string& full, bool cxi = true) {
    read_.insert(full);
    if (cxi && !isParameter(full)) return std::nullopt;
    const auto env = in_.env.find(full);
    const auto conf = conf_read_ ? in_.config_file.find(full) : in_.config_file.end();
    const bool in_env = env != in_.env.end(), in_conf = conf != in_.config_file.end();
    if (!in_env && !in_conf) return std::nullopt;
    std::string value, source;
    if (in_env && in_conf) {
      const bool conf_wins = prefer_sysconfig_;
      value = conf_wins ? conf->second : env->second;
      source = conf_wins ? "libfabric.conf" : "env";
      if (env->second != conf->second)
        add(Severity::Warning, full,
            fmt::format("{} is \"{}\" in the environment and \"{}\" in {}: libfabric uses \"{}\" "
                        "({}); keep one of them",
                        full, env->second, conf->second, in_.config_path, value,
                        conf_wins ? "FI_PREFER_SYSCONFIG=1 makes the file win"
                                  : "the environment wins unless FI_PREFER_SYSCONFIG=1"),
            "E5");
    } else if (in_env) {
      value = env->second;
      source = "env";
    } else {
      value = conf->second;
      source = "libfabric.conf";
      add(Severity::Info, full,
          fmt::format("{}=\"{}\" comes from {}, not from the environment", full, value,
                      in_.config_path),
          "E5");
    }
    if (cxi) {
      out_.requested[full] = value;
      out_.sources[full] = source;
    }
    return value;
  }

  // A FI_PARAM_SIZE_T parameter: sets `value` and returns true when the variable is set.
  bool size(std::string_view suffix, std::uint64_t& value) {
    const std::string full = std::string(kPrefix) + std::string(suffix);
    auto text = raw(full);
    if (!text) return false;
    checkNumber(full, *text, VarType::Size);
    value = libfabricSizeT(*text);
    return true;
  }

  // A FI_PARAM_INT parameter.
  bool integer(std::string_view suffix, int& value) {
    const std::string full = std::string(kPrefix) + std::string(suffix);
    auto text = raw(full);
    if (!text) return false;
    checkNumber(full, *text, VarType::Int);
    value = libfabricInt(*text);
    return true;
  }

  // A FI_PARAM_BOOL parameter: an unparsable value keeps the default, as libfabric does.
  bool boolean(std::string_view suffix, bool& value) {
    const std::string full = std::string(kPrefix) + std::string(suffix);
    auto text = raw(full);
    if (!text) return false;
    if (auto b = libfabricBool(*text)) {
      value = *b;
      return true;
    }
    badBool(full, *text, value);
    return false;
  }

  // A FI_PARAM_STRING parameter, as set.
  std::optional<std::string> string(std::string_view suffix) {
    return raw(std::string(kPrefix) + std::string(suffix));
  }

  void badBool(const std::string& full, const std::string& text, bool kept) {
    add(Severity::Error, full,
        fmt::format("{}=\"{}\" is not a boolean to libfabric (0/1, true/false, yes/no, on/off): "
                    "it logs \"failed to parse bool var\" and keeps the default {}; write 0 or 1",
                    full, text, kept ? 1 : 0),
        "E6");
  }

  // E6: says when a number as written does not mean to libfabric what it looks like.
  void checkNumber(const std::string& full, const std::string& text, VarType type,
                   bool negative_one_ok = false) {
    const StrtolResult r = libfabricStrtol(text);
    const std::string rest = text.substr(r.consumed);
    std::vector<std::string> why;
    const std::string t = trim(text);
    std::size_t lead = 0;
    if (!t.empty() && (t[0] == '+' || t[0] == '-')) lead = 1;
    const bool negative = !t.empty() && t[0] == '-';
    // "0x..." is hexadecimal and reads as meant; "0" followed by digits is octal.
    const bool octal = t.size() > lead + 1 && t[lead] == '0' &&
                       std::isdigit(static_cast<unsigned char>(t[lead + 1]));
    const std::uint64_t stored =
        type == VarType::Int
            ? static_cast<std::uint64_t>(static_cast<std::int64_t>(libfabricInt(text)))
            : libfabricSizeT(text);
    const std::string shown =
        type == VarType::Int ? std::to_string(libfabricInt(text)) : std::to_string(stored);
    if (r.consumed == 0) {
      add(Severity::Error, full,
          fmt::format("{}=\"{}\" is not a number: libfabric parses it as 0; write a plain decimal "
                      "number",
                      full, text),
          "E6");
      return;
    }
    if (octal) {
      // "00".."07" mean the same in octal and decimal: nothing to say.
      const auto decimal = intendedNumber(text.substr(0, r.consumed));
      if (!decimal || static_cast<long>(*decimal) != r.value)
        why.push_back("a leading 0 makes strtol read octal");
    }
    if (!allSpace(rest))
      why.push_back(fmt::format(
          "strtol stops at \"{}\"{}", rest,
          std::isalpha(static_cast<unsigned char>(rest[0])) ? " (no unit suffixes)" : ""));
    if (r.out_of_range) why.push_back("the value exceeds the range of a long and saturates");
    if (type == VarType::Int && static_cast<long>(libfabricInt(text)) != r.value)
      why.push_back("the value does not fit in an int");
    if (!why.empty()) {
      std::string message = fmt::format("{}=\"{}\" is parsed by libfabric as {} ({})", full, text,
                                        shown, fmt::join(why, "; "));
      if (auto meant = intendedNumber(text); meant && *meant != stored)
        message += fmt::format("; write {}", *meant);
      add(Severity::Error, full, std::move(message), "E6");
      return;
    }
    if (negative && type == VarType::Size && !(negative_one_ok && r.value == -1))
      add(Severity::Error, full,
          fmt::format("{}=\"{}\" is negative: libfabric stores it in a size_t as {}; write a "
                      "non-negative number",
                      full, text, stored),
          "E6");
  }

 private:
  const CxiEnvInput& in_;
  CxiEnvResult& out_;
  bool conf_read_ = false;
  bool prefer_sysconfig_ = false;
  bool use_registered_ = false;
  std::set<std::string> read_;
};

std::string bytes(std::uint64_t n) {
  const std::string pretty = formatSize(n);
  return pretty == std::to_string(n) ? pretty + " B" : fmt::format("{} ({})", n, pretty);
}

// The steps of cxip_env_init() that concern messaging, in its order. `d` holds the compiled
// defaults of the release, `s` starts as `d` and ends as the effective values.
void applyRules(const CxiEnvInput& in, Reader& r, const CxiSettings& d, CxiSettings& s) {
  const auto warn = [&](const char* var, std::string message, const char* check = "E7") {
    r.add(Severity::Warning, var, std::move(message), check);
  };

  if (auto tc = r.string("RGET_TC")) {
    static const std::set<std::string> kClasses = {"BEST_EFFORT", "LOW_LATENCY", "DEDICATED_ACCESS",
                                                   "BULK_DATA"};
    if (kClasses.count(*tc))
      s.rget_tc = *tc;
    else
      warn("FI_CXI_RGET_TC",
           fmt::format(
               "FI_CXI_RGET_TC=\"{}\" is not recognized (\"Unrecognized rget_tc\"), so it is "
               "ignored; use BEST_EFFORT, LOW_LATENCY, DEDICATED_ACCESS or BULK_DATA "
               "(case-sensitive)",
               *tc));
  }
  r.boolean("RDZV_ALIGNED_SW_RGET", s.rdzv_aligned_sw_rget);
  if (r.integer("RNR_MAX_TIMEOUT_US", s.rnr_max_timeout_us) && s.rnr_max_timeout_us < 0) {
    warn("FI_CXI_RNR_MAX_TIMEOUT_US",
         fmt::format("FI_CXI_RNR_MAX_TIMEOUT_US={} is negative: the provider uses its default {} "
                     "(logged at INFO only)",
                     s.rnr_max_timeout_us, d.rnr_max_timeout_us));
    s.rnr_max_timeout_us = d.rnr_max_timeout_us;
  }
  r.boolean("DISABLE_NON_INJECT_MSG_IDC", s.disable_non_inject_msg_idc);
  r.boolean("DISABLE_HOST_REGISTER", s.disable_host_register);
  r.boolean("ODP", s.odp);
  if (r.boolean("FORCE_ODP", s.force_odp) && s.force_odp && !s.odp) {
    s.odp = true;
    r.add(Severity::Info, "FI_CXI_FORCE_ODP", "FI_CXI_FORCE_ODP=1 also turns on FI_CXI_ODP");
  }
  r.boolean("ATS", s.ats);
  if (auto mode = r.string("ATS_MLOCK_MODE")) {
    if (*mode == "off" || *mode == "all")
      s.ats_mlock_mode = *mode;
    else
      warn("FI_CXI_ATS_MLOCK_MODE",
           fmt::format(
               "FI_CXI_ATS_MLOCK_MODE=\"{}\" is not recognized: \"{}\" stays; use off or all",
               *mode, s.ats_mlock_mode));
  }
  if (auto names = r.string("DEVICE_NAME")) {
    if (validCxiDeviceName(*names))
      s.device_name = *names;
    else
      warn("FI_CXI_DEVICE_NAME",
           fmt::format("FI_CXI_DEVICE_NAME=\"{}\" fails the provider's validation (\"Failed to "
                       "validate device name\"), so the whole variable is ignored and every NIC is "
                       "used; write a comma list of cxi0..cxi99, e.g. cxi0,cxi1",
                       *names));
  }
  if (auto items = r.string("TELEMETRY")) s.telemetry = *items;
  r.integer("TELEMETRY_RGID", s.telemetry_rgid);

  // cxip_set_env_rx_match_mode(): "hardware" in any case, the other two exactly.
  if (auto mode = r.string("RX_MATCH_MODE")) {
    if (lower(*mode) == "hardware") {
      s.rx_match_mode = RxMatchMode::Hardware;
    } else if (*mode == "software") {
      s.rx_match_mode = RxMatchMode::Software;
    } else if (*mode == "hybrid") {
      s.rx_match_mode = RxMatchMode::Hybrid;
    } else {
      s.rx_match_mode = RxMatchMode::Hardware;
      const std::string hint = lower(*mode) == "software" || lower(*mode) == "hybrid"
                                   ? fmt::format(" (\"{}\" is case-sensitive)", lower(*mode))
                                   : "";
      warn("FI_CXI_RX_MATCH_MODE",
           fmt::format("RX_MATCH_MODE={} is not recognized → hardware (\"Unrecognized "
                       "rx_match_mode\"); use hardware, software or hybrid{}",
                       *mode, hint),
           "E11");
    }
  }
  const struct {
    const char* suffix;
    bool CxiSettings::*field;
  } kHybrid[] = {
      {"HYBRID_PREEMPTIVE", &CxiSettings::hybrid_preemptive},
      {"HYBRID_RECV_PREEMPTIVE", &CxiSettings::hybrid_recv_preemptive},
      {"HYBRID_POSTED_RECV_PREEMPTIVE", &CxiSettings::hybrid_posted_recv_preemptive},
      {"HYBRID_UNEXPECTED_MSG_PREEMPTIVE", &CxiSettings::hybrid_unexpected_msg_preemptive},
  };
  for (const auto& h : kHybrid) {
    if (r.boolean(h.suffix, s.*h.field) && s.*h.field && s.rx_match_mode != RxMatchMode::Hybrid) {
      s.*h.field = false;
      const std::string var = std::string(kPrefix) + h.suffix;
      r.add(Severity::Warning, var,
            fmt::format("{} ignored: RX_MATCH_MODE={} (\"Not in hybrid mode\"); it only acts with "
                        "FI_CXI_RX_MATCH_MODE=hybrid",
                        var, rxMatchModeName(s.rx_match_mode)),
            "E11");
    }
  }

  // Threshold, Get minimum, eager size and overflow buffer size, in that order: each check sees
  // only the values read before it, which is where the surprises come from.
  r.size("RDZV_THRESHOLD", s.rdzv_threshold);
  if (s.rdzv_threshold < kInjectSize) {
    warn("FI_CXI_RDZV_THRESHOLD",
         fmt::format("RDZV_THRESHOLD={} → effective {} (the inject size): the provider raises it "
                     "(\"Increased rdzv_threshold size\"); messages up to 192 B always go inline",
                     s.rdzv_threshold, kInjectSize));
    s.rdzv_threshold = kInjectSize;
  }
  if (s.rdzv_aligned_sw_rget && s.rdzv_threshold < in.cacheline_size) {
    warn("FI_CXI_RDZV_THRESHOLD",
         fmt::format("RDZV_THRESHOLD={} is below the CPU cache line ({} B) while "
                     "FI_CXI_RDZV_ALIGNED_SW_RGET=1: the provider raises it to {}",
                     s.rdzv_threshold, in.cacheline_size, in.cacheline_size));
    s.rdzv_threshold = in.cacheline_size;
  }
  r.size("RDZV_GET_MIN", s.rdzv_get_min);
  const bool eager_set = r.size("RDZV_EAGER_SIZE", s.rdzv_eager_size);
  if (s.rdzv_eager_size > s.rdzv_threshold) {
    warn("FI_CXI_RDZV_EAGER_SIZE",
         fmt::format("RDZV_EAGER_SIZE ({}{}) > RDZV_THRESHOLD ({}): the provider clamps the eager "
                     "size to {} (\"Invalid rdzv_eager_size\"); set FI_CXI_RDZV_EAGER_SIZE to at "
                     "most the threshold",
                     s.rdzv_eager_size, eager_set ? "" : ", the default", s.rdzv_threshold,
                     s.rdzv_threshold));
    s.rdzv_eager_size = s.rdzv_threshold;
  }
  r.size("OFLOW_BUF_SIZE", s.oflow_buf_size);
  const std::uint64_t threshold_before_reset = s.rdzv_threshold;
  if (s.rdzv_threshold > s.oflow_buf_size) {
    warn("FI_CXI_RDZV_THRESHOLD",
         fmt::format("RDZV_THRESHOLD({}) > OFLOW_BUF_SIZE({}): provider resets threshold to {} "
                     "(its compiled default, not the buffer size; \"Invalid rdzv_threshold\"); set "
                     "FI_CXI_OFLOW_BUF_SIZE to at least {} (threshold + get_min) to keep it",
                     s.rdzv_threshold, s.oflow_buf_size, d.rdzv_threshold,
                     s.rdzv_threshold + s.rdzv_get_min));
    s.rdzv_threshold = d.rdzv_threshold;
  }
  // size_t subtraction, as in info.c: when the reset threshold still exceeds the buffer it
  // wraps to a huge number and the check passes.
  if (s.rdzv_get_min > s.oflow_buf_size - s.rdzv_threshold) {
    warn(
        "FI_CXI_RDZV_GET_MIN",
        fmt::format("RDZV_GET_MIN({}) > OFLOW_BUF_SIZE({}) − RDZV_THRESHOLD({}) = {}: the provider "
                    "sets it to 0 (\"Invalid rdzv_get_min\"); set FI_CXI_OFLOW_BUF_SIZE to at "
                    "least {} (T + G) or lower FI_CXI_RDZV_GET_MIN",
                    s.rdzv_get_min, s.oflow_buf_size, s.rdzv_threshold,
                    s.oflow_buf_size - s.rdzv_threshold, s.rdzv_threshold + s.rdzv_get_min));
    s.rdzv_get_min = 0;
  }
  if (s.rdzv_threshold > s.oflow_buf_size)
    r.add(Severity::Error, "FI_CXI_OFLOW_BUF_SIZE",
          fmt::format("OFLOW_BUF_SIZE({}) is smaller than the threshold the provider falls back to "
                      "({}): OFLOW_BUF_SIZE − RDZV_THRESHOLD wraps around in size_t, the "
                      "RDZV_GET_MIN check passes, and eager messages of up to T + G = {} B cannot "
                      "fit in an overflow buffer; set FI_CXI_OFLOW_BUF_SIZE to at least {}",
                      s.oflow_buf_size, s.rdzv_threshold, s.eagerMax(), s.eagerMax()));
  if (s.rdzv_eager_size > s.rdzv_threshold)
    warn("FI_CXI_RDZV_EAGER_SIZE",
         fmt::format("RDZV_EAGER_SIZE ({}) ends above the final RDZV_THRESHOLD ({}){}: the "
                     "eager-size clamp runs before the threshold reset (it saw threshold {}), so "
                     "the first packet of a rendezvous message carries more than the threshold; "
                     "set FI_CXI_RDZV_EAGER_SIZE to at most {}",
                     s.rdzv_eager_size, s.rdzv_threshold,
                     s.rdzv_eager_size > s.oflow_buf_size
                         ? fmt::format(" and above OFLOW_BUF_SIZE ({})", s.oflow_buf_size)
                         : "",
                     threshold_before_reset, s.rdzv_threshold));

  // Both names write the same variable; MIN_POSTED is read second and wins.
  std::uint64_t count = s.oflow_buf_min_posted;
  const bool count_set = r.size("OFLOW_BUF_COUNT", count);
  if (count_set) s.oflow_buf_min_posted = count;
  const bool posted_set = r.size("OFLOW_BUF_MIN_POSTED", s.oflow_buf_min_posted);
  if (count_set && posted_set && count != s.oflow_buf_min_posted)
    warn(
        "FI_CXI_OFLOW_BUF_COUNT",
        fmt::format("FI_CXI_OFLOW_BUF_COUNT ({}) and FI_CXI_OFLOW_BUF_MIN_POSTED ({}) set the same "
                    "value; MIN_POSTED is read second and wins; drop one of them",
                    count, s.oflow_buf_min_posted));
  // The max-cached default follows the final min_posted (size_t multiply, wrap included).
  s.oflow_buf_max_cached = s.oflow_buf_min_posted * 3;
  r.size("OFLOW_BUF_MAX_CACHED", s.oflow_buf_max_cached);
  if (s.oflow_buf_max_cached != 0 && s.oflow_buf_max_cached < s.oflow_buf_min_posted) {
    warn(
        "FI_CXI_OFLOW_BUF_MAX_CACHED",
        fmt::format("OFLOW_BUF_MAX_CACHED({}) < OFLOW_BUF_MIN_POSTED({}): the provider raises it "
                    "to {} (\"Adjusted oflow buffer max cached\"); use 0 (keep all) or at least {}",
                    s.oflow_buf_max_cached, s.oflow_buf_min_posted, s.oflow_buf_min_posted,
                    s.oflow_buf_min_posted));
    s.oflow_buf_max_cached = s.oflow_buf_min_posted;
  }

  r.size("SAFE_DEVMEM_COPY_THRESHOLD", s.safe_devmem_copy_threshold);
  r.boolean("OPTIMIZED_MRS", s.optimized_mrs);
  r.boolean("MR_MATCH_EVENTS", s.mr_match_events);
  r.boolean("PROV_KEY_CACHE", s.prov_key_cache);
  if (auto mode = r.string("LLRING_MODE")) {
    if (*mode == "always" || *mode == "idle" || *mode == "never")
      s.llring_mode = *mode;
    else
      warn(
          "FI_CXI_LLRING_MODE",
          fmt::format("FI_CXI_LLRING_MODE=\"{}\" is not recognized (\"Unrecognized llring_mode\"): "
                      "\"{}\" stays; use idle, always or never",
                      *mode, s.llring_mode));
  }
  if (auto policy = r.string("CQ_POLICY")) {
    if (*policy == "always" || *policy == "high_empty" || *policy == "low_empty" ||
        *policy == "low")
      s.cq_policy = *policy;
    else
      warn("FI_CXI_CQ_POLICY",
           fmt::format("FI_CXI_CQ_POLICY=\"{}\" is not recognized (\"Unrecognized cq_policy\"): "
                       "\"{}\" stays; use always, high_empty, low_empty or low",
                       *policy, s.cq_policy));
  }
  r.size("DEFAULT_VNI", s.default_vni);
  if (r.size("EQ_ACK_BATCH_SIZE", s.eq_ack_batch_size) && s.eq_ack_batch_size == 0) {
    warn("FI_CXI_EQ_ACK_BATCH_SIZE",
         "FI_CXI_EQ_ACK_BATCH_SIZE=0 → effective 1: the provider raises it without logging "
         "anything; use 1 or more");
    s.eq_ack_batch_size = 1;
  }
  r.boolean("MSG_LOSSLESS", s.msg_lossless);

  const bool req_size_set = r.size("REQ_BUF_SIZE", s.req_buf_size);
  const bool req_posted_set = r.size("REQ_BUF_MIN_POSTED", s.req_buf_min_posted);
  std::uint64_t max_count = s.req_buf_max_cached;
  const bool max_count_set = r.size("REQ_BUF_MAX_COUNT", max_count);
  if (max_count_set) s.req_buf_max_cached = max_count;
  const bool max_cached_set = r.size("REQ_BUF_MAX_CACHED", s.req_buf_max_cached);
  if (max_count_set && max_cached_set && max_count != s.req_buf_max_cached)
    warn(
        "FI_CXI_REQ_BUF_MAX_COUNT",
        fmt::format("FI_CXI_REQ_BUF_MAX_COUNT ({}) and FI_CXI_REQ_BUF_MAX_CACHED ({}) set the same "
                    "value; MAX_CACHED is read second and wins; drop one of them",
                    max_count, s.req_buf_max_cached));
  if (s.rx_match_mode != RxMatchMode::Hardware) {
    const std::uint64_t min_free = kReqBufHeader + s.rdzv_threshold + s.rdzv_get_min;
    if (s.req_buf_size < min_free) {
      warn("FI_CXI_REQ_BUF_SIZE",
           fmt::format("REQ_BUF_SIZE({}) is below header ({}) + RDZV_THRESHOLD ({}) + RDZV_GET_MIN "
                       "({}) = {} in {} match mode: the provider raises it to {} (\"Requested "
                       "request buffer size to small\")",
                       s.req_buf_size, kReqBufHeader, s.rdzv_threshold, s.rdzv_get_min, min_free,
                       rxMatchModeName(s.rx_match_mode), min_free));
      s.req_buf_size = min_free;
    }
    if (s.req_buf_min_posted < 2) {
      warn("FI_CXI_REQ_BUF_MIN_POSTED",
           fmt::format("REQ_BUF_MIN_POSTED={} → 2: the provider keeps at least two request buffers "
                       "posted in {} match mode",
                       s.req_buf_min_posted, rxMatchModeName(s.rx_match_mode)));
      s.req_buf_min_posted = 2;
    }
    if (s.req_buf_max_cached != 0 && s.req_buf_max_cached < s.req_buf_min_posted) {
      warn("FI_CXI_REQ_BUF_MAX_CACHED",
           fmt::format("REQ_BUF_MAX_CACHED({}) < REQ_BUF_MIN_POSTED({}): the provider raises it to "
                       "{}; use 0 (unlimited) or at least {}",
                       s.req_buf_max_cached, s.req_buf_min_posted, s.req_buf_min_posted,
                       s.req_buf_min_posted));
      s.req_buf_max_cached = s.req_buf_min_posted;
    }
  } else if (req_size_set || req_posted_set || max_count_set || max_cached_set) {
    r.add(Severity::Info, "FI_CXI_REQ_BUF_SIZE",
          "FI_CXI_REQ_BUF_* only matter in software or hybrid match mode; RX_MATCH_MODE is "
          "hardware");
  }

  if (r.integer("FC_RETRY_USEC_DELAY", s.fc_retry_usec_delay) && s.fc_retry_usec_delay < 0) {
    warn("FI_CXI_FC_RETRY_USEC_DELAY",
         fmt::format("FI_CXI_FC_RETRY_USEC_DELAY={} is negative: the provider uses 0",
                     s.fc_retry_usec_delay));
    s.fc_retry_usec_delay = 0;
  }
  if (r.integer("SW_RX_TX_INIT_MAX", s.sw_rx_tx_init_max) && s.sw_rx_tx_init_max < kSwRxTxInitMin) {
    warn("FI_CXI_SW_RX_TX_INIT_MAX",
         fmt::format("FI_CXI_SW_RX_TX_INIT_MAX={} → {}: the provider's minimum",
                     s.sw_rx_tx_init_max, kSwRxTxInitMin));
    s.sw_rx_tx_init_max = kSwRxTxInitMin;
  }
  if (r.size("CTRL_RX_EQ_MAX_SIZE", s.ctrl_rx_eq_max_size) && s.ctrl_rx_eq_max_size == 0) {
    if (in.version.atLeast(2, 6)) {
      warn("FI_CXI_CTRL_RX_EQ_MAX_SIZE",
           fmt::format("FI_CXI_CTRL_RX_EQ_MAX_SIZE=0 → {} (the default)", kCtrlRxEqMaxDefault));
      s.ctrl_rx_eq_max_size = kCtrlRxEqMaxDefault;
    } else {
      warn("FI_CXI_CTRL_RX_EQ_MAX_SIZE",
           fmt::format("FI_CXI_CTRL_RX_EQ_MAX_SIZE=0 is used as is before libfabric 2.6: the "
                       "control event queue cap becomes 0; unset it or use at least 4096"));
    }
  }
  if (r.size("DEFAULT_CQ_SIZE", s.default_cq_size) && s.default_cq_size == 0) {
    warn("FI_CXI_DEFAULT_CQ_SIZE",
         fmt::format("FI_CXI_DEFAULT_CQ_SIZE=0 → {} (\"Default CQ size invalid\")",
                     d.default_cq_size));
    s.default_cq_size = d.default_cq_size;
  }
  // The CQ_ name is read first, so the EQ_ name wins when both are set.
  bool cq_hugetlb = s.disable_eq_hugetlb;
  const bool cq_set = r.boolean("DISABLE_CQ_HUGETLB", cq_hugetlb);
  if (cq_set) s.disable_eq_hugetlb = cq_hugetlb;
  const bool eq_set = r.boolean("DISABLE_EQ_HUGETLB", s.disable_eq_hugetlb);
  if (cq_set && eq_set && cq_hugetlb != s.disable_eq_hugetlb)
    warn("FI_CXI_DISABLE_CQ_HUGETLB",
         fmt::format("FI_CXI_DISABLE_CQ_HUGETLB and FI_CXI_DISABLE_EQ_HUGETLB disagree; the EQ_ "
                     "name is read second and wins ({}); drop the CQ_ one",
                     s.disable_eq_hugetlb ? 1 : 0));
  if (r.size("CQ_FILL_PERCENT", s.cq_fill_percent) &&
      (s.cq_fill_percent < 1 || s.cq_fill_percent > 100)) {
    warn("FI_CXI_CQ_FILL_PERCENT",
         fmt::format("FI_CXI_CQ_FILL_PERCENT={} is outside 1..100: the provider uses 50",
                     s.cq_fill_percent));
    s.cq_fill_percent = 50;
  }
  if (r.size("DEFAULT_TX_SIZE", s.default_tx_size) &&
      (s.default_tx_size < kMinQueueSize || s.default_tx_size > kMaxTxSize)) {
    warn("FI_CXI_DEFAULT_TX_SIZE",
         fmt::format("FI_CXI_DEFAULT_TX_SIZE={} is outside {}..{}: the provider uses {} (\"Default "
                     "TX size invalid\")",
                     s.default_tx_size, kMinQueueSize, kMaxTxSize, d.default_tx_size));
    s.default_tx_size = d.default_tx_size;
  }
  if (r.size("DEFAULT_RX_SIZE", s.default_rx_size) &&
      (s.default_rx_size < kMinQueueSize || s.default_rx_size > kMaxRxSize)) {
    warn("FI_CXI_DEFAULT_RX_SIZE",
         fmt::format("FI_CXI_DEFAULT_RX_SIZE={} is outside {}..{}: the provider uses {} (\"Default "
                     "RX size invalid\")",
                     s.default_rx_size, kMinQueueSize, kMaxRxSize, d.default_rx_size));
    s.default_rx_size = d.default_rx_size;
  }
  r.boolean("DISABLE_HMEM_DEV_REGISTER", s.disable_hmem_dev_register);

  if (auto proto = r.string("RDZV_PROTO")) {
    // The provider turns '-' into '_' in the first 8 characters only.
    std::string p = *proto;
    for (std::size_t i = 0; i < p.size() && i < 8; ++i)
      if (p[i] == '-') p[i] = '_';
    if (p == "default") {
      s.rdzv_proto = engine::RdzvProto::Default;
    } else if (p == "alt_read") {
      s.rdzv_proto = engine::RdzvProto::AltRead;
    } else {
      s.rdzv_proto = engine::RdzvProto::Default;
      warn("FI_CXI_RDZV_PROTO",
           fmt::format("FI_CXI_RDZV_PROTO=\"{}\" is not recognized → default (\"Unrecognized "
                       "rendezvous protocol\"); use default or alt_read",
                       *proto));
    }
  }
  r.boolean("FORCE_DEV_REG_COPY", s.force_dev_reg_copy);
  r.boolean("DISABLE_ALT_READ_CMDQ", s.disable_alt_read_cmdq);
  r.boolean("DISABLE_CUDA_SYNC_MEMOPS", s.disable_cuda_sync_memops);
  r.boolean("DISABLE_NON_INJECT_RMA_IDC", s.disable_non_inject_rma_idc);
  r.boolean("DISABLE_NON_INJECT_AMO_IDC", s.disable_non_inject_amo_idc);
  r.integer("RNR_APPEND_RETRY_TIMEOUT_US", s.rnr_append_retry_timeout_us);
}

// E4: FI_CXI_* names this release does not register (typos, other releases' names, lower case).
void checkNames(const CxiEnvInput& in, Reader& r) {
  std::map<std::string, std::string> names;  // name -> where it was set
  for (const auto& [name, value] : in.env) names.emplace(name, "the environment");
  if (r.conf_read())
    for (const auto& [name, value] : in.config_file) names.emplace(name, in.config_path);
  for (const auto& [name, where] : names) {
    const std::string up = upper(name);
    if (up.rfind(std::string(kPrefix), 0) != 0 || legitNonParameter(up)) continue;
    if (name != up) {
      r.add(Severity::Warning, name,
            fmt::format("{} (in {}) is ignored: environment names are case-sensitive; write {}",
                        name, where, up),
            "E4");
      continue;
    }
    if (r.isParameter(name)) continue;
    const VarSpec* v = findVar(name);
    if (v != nullptr && inVersion(*v, in.version)) {
      // Known to this release's table, but fi_getparams() of the loaded provider lacks it.
      r.add(Severity::Warning, name,
            fmt::format("{} is not registered by this libfabric's cxi provider (fi_getparams): "
                        "ignored",
                        name),
            "E4");
      continue;
    }
    if (v != nullptr) {
      const std::string when =
          v->since_major != 0 && !in.version.atLeast(v->since_major, v->since_minor)
              ? fmt::format("added in {}.{}", v->since_major, v->since_minor)
              : fmt::format("removed in {}.{}", v->until_major, v->until_minor);
      r.add(Severity::Warning, name,
            fmt::format("{} is not a parameter of libfabric {} ({}): ignored", name,
                        in.version.str(), when),
            "E4");
      continue;
    }
    const std::string suggestion = closestCxiParameter(name);
    r.add(Severity::Warning, name,
          fmt::format("{} is not a parameter of libfabric {} (ignored){}", name, in.version.str(),
                      suggestion.empty() ? "" : fmt::format("; did you mean {}?", suggestion)),
          "E4");
  }
}

// E6 for parameters the rules above do not read, and for the generic FI_* numbers tuned on
// Slingshot (§1.2).
void checkOtherSyntax(const CxiEnvInput& in, Reader& r) {
  std::set<std::string> names;
  for (const auto& [name, value] : in.env) names.insert(name);
  if (r.conf_read())
    for (const auto& [name, value] : in.config_file) names.insert(name);
  for (const auto& name : names) {
    if (r.wasRead(name)) continue;
    const VarSpec* v = findVar(name);
    if (v == nullptr || name != upper(name) || !r.isParameter(name)) continue;
    auto text = r.raw(name);
    if (!text) continue;
    if (v->type == VarType::Size || v->type == VarType::Int) {
      r.checkNumber(name, *text, v->type);
    } else if (v->type == VarType::Bool && !libfabricBool(*text)) {
      r.badBool(name, *text, false);
    }
  }
  for (const char* name : {"FI_MR_CACHE_MAX_COUNT", "FI_MR_CACHE_MAX_SIZE", "FI_UNIVERSE_SIZE"}) {
    // FI_MR_CACHE_MAX_SIZE=-1 is the documented "unlimited" (CSCS sets it).
    if (auto text = r.raw(name, false))
      r.checkNumber(name, *text, VarType::Size, std::string_view(name) == "FI_MR_CACHE_MAX_SIZE");
  }
  if (auto monitor = r.raw("FI_MR_CACHE_MONITOR", false)) {
    static const std::set<std::string> kMonitors = {"userfaultfd", "uffd", "memhooks", "kdreg2",
                                                    "disabled"};
    if (!kMonitors.count(*monitor))
      r.add(Severity::Warning, "FI_MR_CACHE_MONITOR",
            fmt::format("FI_MR_CACHE_MONITOR={} is unknown and silently ignored (the compiled "
                        "default monitor stays); use userfaultfd, memhooks, kdreg2 or disabled",
                        *monitor),
            "E12");
  }
}

}  // namespace

std::optional<LibfabricVersion> LibfabricVersion::parse(std::string_view text) {
  if (!text.empty() && (text[0] == 'v' || text[0] == 'V')) text.remove_prefix(1);
  if (text.empty() || text.back() == '.') return std::nullopt;
  int parts[3] = {0, 0, -1};
  int count = 0;
  std::size_t i = 0;
  while (count < 3) {
    if (i >= text.size() || !std::isdigit(static_cast<unsigned char>(text[i]))) return std::nullopt;
    long value = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
      value = value * 10 + (text[i] - '0');
      if (value > 100000) return std::nullopt;
      ++i;
    }
    parts[count++] = static_cast<int>(value);
    if (i == text.size()) break;
    if (text[i] != '.') return std::nullopt;
    ++i;
  }
  if (count < 2) return std::nullopt;
  if (i != text.size()) {
    // HPE's "1.15.2.0": a fourth part of digits after the patch.
    if (count != 3) return std::nullopt;
    for (; i < text.size(); ++i)
      if (!std::isdigit(static_cast<unsigned char>(text[i]))) return std::nullopt;
  }
  return LibfabricVersion{parts[0], parts[1], parts[2]};
}

LibfabricVersion LibfabricVersion::latest() { return {2, 6, -1}; }

std::string LibfabricVersion::str() const {
  return patch >= 0 ? fmt::format("{}.{}.{}", major, minor, patch)
                    : fmt::format("{}.{}", major, minor);
}

bool LibfabricVersion::atLeast(int want_major, int want_minor) const {
  return major != want_major ? major > want_major : minor >= want_minor;
}

const char* severityName(Severity severity) {
  switch (severity) {
    case Severity::Info:
      return "info";
    case Severity::Warning:
      return "warning";
    case Severity::Error:
      return "error";
  }
  return "?";
}

const char* rxMatchModeName(RxMatchMode mode) {
  switch (mode) {
    case RxMatchMode::Hardware:
      return "hardware";
    case RxMatchMode::Software:
      return "software";
    case RxMatchMode::Hybrid:
      return "hybrid";
  }
  return "?";
}

CxiSettings cxiDefaults(const LibfabricVersion& version) {
  CxiSettings s;
  if (!version.atLeast(2, 2)) {
    // v1.21.0 .. v2.1.x (and older HPE builds, as far as anyone knows).
    s.rdzv_threshold = 2048;
    s.rdzv_eager_size = 2048;
    s.oflow_buf_size = 2u << 20;
    s.req_buf_size = 2u << 20;
    s.req_buf_min_posted = 4;
    s.default_cq_size = 1024;
    s.default_tx_size = 512;
    s.default_rx_size = 512;
  } else if (!version.atLeast(2, 4)) {
    // v2.2 .. v2.3: the eager size default is the compiled threshold, 16384.
    s.rdzv_eager_size = 16384;
  }
  s.oflow_buf_max_cached = s.oflow_buf_min_posted * 3;
  return s;
}

engine::ProtocolParams toProtocolParams(const CxiSettings& s) {
  engine::ProtocolParams p;
  p.inject_size = kInjectSize;
  p.rdzv_threshold = s.rdzv_threshold;
  p.rdzv_get_min = s.rdzv_get_min;
  p.rdzv_eager_size = s.rdzv_eager_size;
  p.rdzv_proto = s.rdzv_proto;
  p.oflow_buf_size = s.oflow_buf_size;
  p.oflow_buf_count = s.oflow_buf_min_posted;
  return p;
}

bool CxiEnvResult::hasError() const {
  return std::any_of(findings.begin(), findings.end(),
                     [](const Finding& f) { return f.severity == Severity::Error; });
}

std::string CxiEnvResult::summary() const {
  const auto& s = effective;
  return fmt::format(
      "T={} G={} E={}: eager up to T + G = {} B; above that rendezvous, {} B in the first packet "
      "and the rest by Get (rdzv_proto {}, rx_match_mode {})",
      s.rdzv_threshold, s.rdzv_get_min, s.rdzv_eager_size, s.eagerMax(), s.rdzv_eager_size,
      engine::protoName(s.rdzv_proto), rxMatchModeName(s.rx_match_mode));
}

CxiEnvResult analyzeCxiEnv(const CxiEnvInput& in) {
  CxiEnvResult out;
  out.version = in.version;
  out.version_known = in.version_known;
  Reader r(in, out);
  const CxiSettings defaults = cxiDefaults(in.version);
  CxiSettings s = defaults;

  if (!in.version_known)
    r.add(Severity::Info, "",
          fmt::format("libfabric version unknown: values computed with the rules of {} (defaults "
                      "changed in 2.2 and 2.4; pass --libfabric-version to choose)",
                      in.version.str()));
  else if (!in.version.atLeast(1, 21))
    r.add(
        Severity::Info, "",
        fmt::format("libfabric {} predates the upstream cxi provider (1.21): values computed with "
                    "the ≤2.1 rules; an HPE build of that number may differ",
                    in.version.str()));
  if (!r.conf_read() && !in.config_file.empty())
    r.add(Severity::Warning, "",
          fmt::format("{} sets FI_* variables, but libfabric {} does not read libfabric.conf "
                      "(added in 1.18): they have no effect; export them instead",
                      in.config_path, in.version.str()),
          "E5");

  applyRules(in, r, defaults, s);
  checkOtherSyntax(in, r);
  checkNames(in, r);

  if (in.version.major == 2 && in.version.minor == 3 &&
      !out.requested.count("FI_CXI_RDZV_EAGER_SIZE"))
    r.add(Severity::Info, "FI_CXI_RDZV_EAGER_SIZE",
          "HPE 2.3.x builds may already default RDZV_EAGER_SIZE to 2048 (backport 03fb1d8b5) where "
          "upstream 2.3 uses 16384; set FI_CXI_RDZV_EAGER_SIZE explicitly to be sure");
  std::string memory = fmt::format(
      "overflow buffers: {} × {} posted per receive context (up to {} kept cached)",
      s.oflow_buf_min_posted, bytes(s.oflow_buf_size),
      s.oflow_buf_max_cached == 0 ? std::string("all") : std::to_string(s.oflow_buf_max_cached));
  if (s.rx_match_mode != RxMatchMode::Hardware)
    memory +=
        fmt::format(", plus request buffers: {} × {}", s.req_buf_min_posted, bytes(s.req_buf_size));
  r.add(Severity::Info, "FI_CXI_OFLOW_BUF_SIZE", memory);
  out.effective = s;
  r.add(Severity::Info, "", out.summary());
  return out;
}

StrtolResult libfabricStrtol(const std::string& text) {
  StrtolResult r;
  const char* begin = text.c_str();
  char* end = nullptr;
  errno = 0;
  r.value = std::strtol(begin, &end, 0);
  r.out_of_range = errno == ERANGE;
  r.consumed = static_cast<std::size_t>(end - begin);
  return r;
}

std::uint64_t libfabricSizeT(const std::string& text) {
  // var.c: *(size_t *)value = strtol(str_value, NULL, 0); a negative long wraps.
  return static_cast<std::uint64_t>(libfabricStrtol(text).value);
}

int libfabricInt(const std::string& text) {
  // var.c: *(int *)value = strtol(str_value, NULL, 0); the long is truncated to an int (modulo
  // 2^32 with GCC and Clang).
  return static_cast<int>(libfabricStrtol(text).value);
}

std::optional<bool> libfabricBool(const std::string& text) {
  const std::string l = lower(text);
  if (text == "0" || l == "false" || l == "no" || l == "off") return false;
  if (text == "1" || l == "true" || l == "yes" || l == "on") return true;
  return std::nullopt;
}

bool validCxiDeviceName(const std::string& text) {
  // strtok(",") skips empty tokens; each token must be 4 or 5 characters and match
  // sscanf("cxi%u"), and a 5-character one needs an index of 10 or more.
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t comma = text.find(',', pos);
    if (comma == std::string::npos) comma = text.size();
    const std::string token = text.substr(pos, comma - pos);
    pos = comma + 1;
    if (token.empty()) continue;
    if (token.size() != 4 && token.size() != 5) return false;
    if (token.compare(0, 3, "cxi") != 0) return false;
    // %u: optional whitespace and sign, then at least one digit, converted like strtoul.
    const char* digits = token.c_str() + 3;
    char* end = nullptr;
    errno = 0;
    const unsigned long index = std::strtoul(digits, &end, 10);
    if (end == digits) return false;
    const auto stored = static_cast<unsigned int>(index);
    if (token.size() == 5 && stored < 10) return false;
  }
  return true;
}

std::map<std::string, std::string> parseLibfabricConf(std::string_view text) {
  std::map<std::string, std::string> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    const std::string line = trim(text.substr(pos, eol - pos));
    pos = eol + 1;
    if (line.empty() || line[0] == '#') continue;
    const std::size_t eq = line.find('=');
    if (eq == std::string::npos || eq == 0) continue;
    const std::string name = trim(std::string_view(line).substr(0, eq));
    if (name.rfind("FI_", 0) != 0) continue;
    out[name] = trim(std::string_view(line).substr(eq + 1));
  }
  return out;
}

std::vector<std::filesystem::path> libfabricConfCandidates(const std::string& library_path) {
  namespace fs = std::filesystem;
  std::vector<fs::path> out;
  const auto add = [&](const fs::path& p) {
    if (std::find(out.begin(), out.end(), p) == out.end()) out.push_back(p);
  };
  fs::path prefix;
  if (!library_path.empty()) {
    fs::path dir = fs::path(library_path).parent_path();
    // lib, lib64, or a multiarch lib/x86_64-linux-gnu: the prefix is above the lib directory.
    if (dir.filename().string().find("-linux-") != std::string::npos) dir = dir.parent_path();
    if (dir.filename().string().rfind("lib", 0) == 0) prefix = dir.parent_path();
  }
  // Distribution builds use --sysconfdir=/etc; a build under /opt keeps <prefix>/etc.
  if (!prefix.empty() && prefix != "/usr" && prefix != "/") add(prefix / "etc" / "libfabric.conf");
  add("/etc/libfabric.conf");
  if (!prefix.empty() && prefix != "/") add(prefix / "etc" / "libfabric.conf");
  return out;
}

CxiEnvInput processCxiEnvInput(const LibfabricVersion& version, const std::string& library_path,
                               const std::filesystem::path& sysfs_root) {
  CxiEnvInput in;
  in.version = version;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view entry(*e);
    const std::size_t eq = entry.find('=');
    if (eq != std::string_view::npos && eq > 0)
      in.env.emplace(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
  }
  for (const auto& path : libfabricConfCandidates(library_path)) {
    std::ifstream file(path);
    if (!file) continue;
    std::stringstream text;
    text << file.rdbuf();
    in.config_file = parseLibfabricConf(text.str());
    in.config_path = path.string();
    break;
  }
  in.cacheline_size = readCacheLineSize(sysfs_root);
  return in;
}

bool isCxiParameter(std::string_view name, const LibfabricVersion& version) {
  if (name != upper(name)) return false;
  const VarSpec* v = findVar(name);
  return v != nullptr && inVersion(*v, version);
}

std::size_t editDistance(std::string_view a, std::string_view b) {
  // Optimal string alignment: Levenshtein plus adjacent transpositions.
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.size()][b.size()];
}

std::string closestCxiParameter(std::string_view name) {
  std::string key = upper(name);
  if (key.rfind(std::string(kPrefix), 0) == 0) key.erase(0, kPrefix.size());
  if (key.empty()) return {};
  // A name that is part of a real one ("EAGER_SIZE" of "RDZV_EAGER_SIZE") is the likeliest
  // meaning; otherwise the nearest by edit distance, if near enough to be a typo.
  std::string best;
  std::size_t best_distance = std::numeric_limits<std::size_t>::max();
  for (const auto& v : kVars) {
    const std::string candidate = upper(v.name);
    std::size_t distance = editDistance(key, candidate);
    if ((key.size() >= 4 && candidate.find(key) != std::string::npos) ||
        (candidate.size() >= 4 && key.find(candidate) != std::string::npos))
      distance = std::min<std::size_t>(distance, 1);
    if (distance < best_distance) {
      best_distance = distance;
      best = candidate;
    }
  }
  if (best_distance > std::max<std::size_t>(2, key.size() / 3)) return {};
  return std::string(kPrefix) + best;
}

void to_json(nlohmann::json& j, const Finding& f) {
  j = nlohmann::json{{"severity", severityName(f.severity)},
                     {"check", f.check},
                     {"variable", f.variable},
                     {"message", f.message}};
}

nlohmann::json settingsToJson(const CxiSettings& s, const LibfabricVersion& version) {
  const std::vector<std::pair<const char*, nlohmann::json>> all = {
      {"rdzv_threshold", s.rdzv_threshold},
      {"rdzv_get_min", s.rdzv_get_min},
      {"rdzv_eager_size", s.rdzv_eager_size},
      {"rdzv_proto", engine::protoName(s.rdzv_proto)},
      {"rdzv_aligned_sw_rget", s.rdzv_aligned_sw_rget},
      {"disable_alt_read_cmdq", s.disable_alt_read_cmdq},
      {"rget_tc", s.rget_tc.empty() ? nlohmann::json(nullptr) : nlohmann::json(s.rget_tc)},
      {"sw_rx_tx_init_max", s.sw_rx_tx_init_max},
      {"oflow_buf_size", s.oflow_buf_size},
      {"oflow_buf_min_posted", s.oflow_buf_min_posted},
      {"oflow_buf_max_cached", s.oflow_buf_max_cached},
      {"rx_match_mode", rxMatchModeName(s.rx_match_mode)},
      {"hybrid_preemptive", s.hybrid_preemptive},
      {"hybrid_recv_preemptive", s.hybrid_recv_preemptive},
      {"hybrid_posted_recv_preemptive", s.hybrid_posted_recv_preemptive},
      {"hybrid_unexpected_msg_preemptive", s.hybrid_unexpected_msg_preemptive},
      {"req_buf_size", s.req_buf_size},
      {"req_buf_min_posted", s.req_buf_min_posted},
      {"req_buf_max_cached", s.req_buf_max_cached},
      {"msg_lossless", s.msg_lossless},
      {"fc_retry_usec_delay", s.fc_retry_usec_delay},
      {"default_cq_size", s.default_cq_size},
      {"cq_fill_percent", s.cq_fill_percent},
      {"default_tx_size", s.default_tx_size},
      {"default_rx_size", s.default_rx_size},
      {"ctrl_rx_eq_max_size", s.ctrl_rx_eq_max_size},
      {"disable_eq_hugetlb", s.disable_eq_hugetlb},
      {"safe_devmem_copy_threshold", s.safe_devmem_copy_threshold},
      {"disable_host_register", s.disable_host_register},
      {"disable_non_inject_msg_idc", s.disable_non_inject_msg_idc},
      {"disable_non_inject_rma_idc", s.disable_non_inject_rma_idc},
      {"disable_non_inject_amo_idc", s.disable_non_inject_amo_idc},
      {"disable_hmem_dev_register", s.disable_hmem_dev_register},
      {"force_dev_reg_copy", s.force_dev_reg_copy},
      {"disable_cuda_sync_memops", s.disable_cuda_sync_memops},
      {"eq_ack_batch_size", s.eq_ack_batch_size},
      {"llring_mode", s.llring_mode},
      {"cq_policy", s.cq_policy},
      {"device_name",
       s.device_name.empty() ? nlohmann::json(nullptr) : nlohmann::json(s.device_name)},
      {"default_vni", s.default_vni},
      {"optimized_mrs", s.optimized_mrs},
      {"mr_match_events", s.mr_match_events},
      {"prov_key_cache", s.prov_key_cache},
      {"odp", s.odp},
      {"force_odp", s.force_odp},
      {"ats", s.ats},
      {"ats_mlock_mode", s.ats_mlock_mode},
      {"telemetry", s.telemetry.empty() ? nlohmann::json(nullptr) : nlohmann::json(s.telemetry)},
      {"telemetry_rgid", s.telemetry_rgid},
      {"rnr_max_timeout_us", s.rnr_max_timeout_us},
      {"rnr_append_retry_timeout_us", s.rnr_append_retry_timeout_us},
  };
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [name, value] : all)
    if (isCxiParameter(std::string(kPrefix) + upper(name), version)) j[name] = value;
  return j;
}

void to_json(nlohmann::json& j, const CxiEnvResult& r) {
  nlohmann::json requested = nlohmann::json::object();
  for (const auto& [name, value] : r.requested) {
    auto source = r.sources.find(name);
    requested[name] = {{"value", value},
                       {"source", source == r.sources.end() ? "env" : source->second}};
  }
  j = nlohmann::json{{"libfabric_version", r.version.str()},
                     {"version_known", r.version_known},
                     {"effective", settingsToJson(r.effective, r.version)},
                     {"requested", requested},
                     {"eager_max", r.eagerMax()},
                     {"rdzv_eager_size", r.rdzvEagerBytes()},
                     {"summary", r.summary()},
                     {"findings", r.findings}};
}

}  // namespace rdzv::transport::ofi
