#include "transport/ofi/cxi_sysfs.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <sstream>
#include <system_error>

namespace rdzv::transport::ofi {
namespace fs = std::filesystem;
namespace {

std::string trim(std::string_view text) {
  std::size_t b = 0, e = text.size();
  while (b < e && std::isspace(static_cast<unsigned char>(text[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(text[e - 1]))) --e;
  return std::string(text.substr(b, e - b));
}

// Whole file, or nullopt when it cannot be read (sysfs attributes may refuse reads).
std::optional<std::string> readText(const fs::path& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return out.str();
}

std::string readValue(const fs::path& path) {
  auto text = readText(path);
  return text ? trim(*text) : std::string();
}

template <typename T>
std::optional<T> toNumber(std::string_view text) {
  T value{};
  const auto* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

// 0/1 as sysfs prints them, Y/N as bool module parameters print them.
std::optional<bool> parseFlag(const std::string& text) {
  std::string l = text;
  for (char& c : l) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (l == "1" || l == "y" || l == "yes" || l == "true" || l == "on") return true;
  if (l == "0" || l == "n" || l == "no" || l == "false" || l == "off") return false;
  return std::nullopt;
}

// "up", "down" (Cassini port state files, any case and trailing detail) or 1/0
// (properties/link: 1 = PHY running).
std::optional<bool> parseLinkState(const std::string& text) {
  std::string l = text;
  for (char& c : l) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (l == "1" || l.rfind("up", 0) == 0) return true;
  if (l == "0" || l.rfind("down", 0) == 0) return false;
  return std::nullopt;
}

bool pathExists(const fs::path& path) {
  std::error_code ec;
  return fs::exists(path, ec);
}

int nicIndex(const std::string& name) {
  auto n = toNumber<int>(std::string_view(name).substr(3));
  return n.value_or(-1);
}

std::string pciSlotOf(const fs::path& device_dir) {
  if (auto uevent = readText(device_dir / "uevent")) {
    std::istringstream lines(*uevent);
    std::string line;
    while (std::getline(lines, line))
      if (line.rfind("PCI_SLOT_NAME=", 0) == 0) return trim(line.substr(14));
  }
  // The device entry is a link to the PCI function, whose directory name is the slot.
  std::error_code ec;
  if (fs::is_symlink(device_dir, ec)) {
    const fs::path target = fs::read_symlink(device_dir, ec);
    if (!ec) return target.filename().string();
  }
  return {};
}

// The network interface on the same PCI function (hsnN via cxi_eth), as cxi_stat finds it.
std::string netdevOf(const fs::path& root, const std::string& slot) {
  if (slot.empty()) return {};
  std::error_code ec;
  std::vector<std::string> matches;
  for (fs::directory_iterator it(root / "class" / "net", ec), end; !ec && it != end;
       it.increment(ec)) {
    const fs::path device = it->path() / "device";
    std::error_code link_ec;
    std::string candidate;
    if (fs::is_symlink(device, link_ec)) {
      const fs::path target = fs::read_symlink(device, link_ec);
      if (!link_ec) candidate = target.filename().string();
    }
    if (candidate.empty()) candidate = pciSlotOf(device);
    if (candidate == slot) matches.push_back(it->path().filename().string());
  }
  std::sort(matches.begin(), matches.end());
  return matches.empty() ? std::string() : matches.front();
}

void readPort(CxiNic& nic) {
  const fs::path port = nic.device_dir / "port";
  // libcxi's cxi_stat: Cassini 1 has port/{link,speed,media,link_layer_retry}, Cassini 2 has
  // port/0/{link/state,link/speed,media/type,llr/state}.
  const bool c2_layout = pathExists(port / "0" / "link" / "state");
  const bool c1_layout = pathExists(port / "link");
  int layout = nic.generation;
  if (layout == 2 && !c2_layout && c1_layout) layout = 1;
  if (layout == 1 && !c1_layout && c2_layout) layout = 2;
  if (layout == 0) layout = c2_layout ? 2 : (c1_layout ? 1 : 0);
  if (nic.generation == 0) nic.generation = layout;
  if (layout == 2) {
    nic.link_state = readValue(port / "0" / "link" / "state");
    nic.link_speed = readValue(port / "0" / "link" / "speed");
    nic.media = readValue(port / "0" / "media" / "type");
    nic.link_layer_retry = readValue(port / "0" / "llr" / "state");
  } else if (layout == 1) {
    nic.link_state = readValue(port / "link");
    nic.link_speed = readValue(port / "speed");
    nic.media = readValue(port / "media");
    nic.link_layer_retry = readValue(port / "link_layer_retry");
  }
  nic.link_up = parseLinkState(nic.link_state);
  // The portable properties: link (1 = PHY running) and speed.
  if (!nic.link_up) {
    const std::string prop = readValue(nic.device_dir / "properties" / "link");
    if (auto up = parseLinkState(prop)) {
      nic.link_up = up;
      nic.link_state = prop;
    }
  }
  if (nic.link_speed.empty()) nic.link_speed = readValue(nic.device_dir / "properties" / "speed");
}

// The driver fills a ring of 10 timestamps (cass_lmon.c, cass_sysfs.c LINK_RESTART_TIME) and
// zeroes it when the link is brought up by hand.
std::optional<std::vector<std::int64_t>> readLinkRestarts(const fs::path& dir) {
  std::optional<std::vector<std::int64_t>> out;
  for (int i = 0; i < 10; ++i) {
    auto t = toNumber<std::int64_t>(readValue(dir / ("time_" + std::to_string(i))));
    if (!t) continue;
    if (!out) out.emplace();
    if (*t != 0) out->push_back(*t);
  }
  if (out) std::sort(out->begin(), out->end());
  return out;
}

void readHealth(CxiNic& nic) {
  const fs::path props = nic.device_dir / "properties";
  nic.link_restarts = readLinkRestarts(nic.device_dir / "link_restarts");
  nic.pcie_corr_err = toNumber<std::uint64_t>(readValue(props / "pcie_corr_err"));
  nic.pcie_uncorr_err = toNumber<std::uint64_t>(readValue(props / "pcie_uncorr_err"));
  for (const char* kind : {"correctable", "fatal", "nonfatal"})
    if (auto text = readText(nic.device_dir / (std::string("aer_dev_") + kind)))
      if (auto total = parseAerCounters(*text)) nic.aer[kind] = *total;
}

void readIdentity(CxiNic& nic) {
  const fs::path props = nic.device_dir / "properties";
  nic.nic_addr = readValue(props / "nic_addr");
  nic.nid = readValue(props / "nid");
  nic.pid_granule = toNumber<std::int64_t>(readValue(props / "pid_granule"));
  nic.rdzv_get_idx = toNumber<std::int64_t>(readValue(props / "rdzv_get_idx"));
  nic.driver_rev = readValue(props / "driver_rev");
  nic.firmware = readValue(nic.device_dir / "uc" / "version");
  for (const char* field : {"description", "model", "part_number", "serial_number"}) {
    std::string value = readValue(nic.device_dir / "fru" / field);
    if (!value.empty()) nic.fru[field] = std::move(value);
  }
  for (const auto& name : cxiResourceProperties())
    if (auto n = toNumber<std::uint64_t>(readValue(props / name))) nic.resources[name] = *n;
}

CxiNic readNic(const fs::path& root, const fs::path& entry) {
  CxiNic nic;
  nic.name = entry.filename().string();
  nic.device_dir = entry / "device";
  const fs::path props = nic.device_dir / "properties";
  nic.cassini_version = readValue(props / "cassini_version");
  if (!nic.cassini_version.empty()) {
    if (nic.cassini_version[0] == '1') nic.generation = 1;
    if (nic.cassini_version[0] == '2') nic.generation = 2;
  }
  readPort(nic);
  nic.rdzv_get_en = parseFlag(readValue(props / "rdzv_get_en"));
  nic.pci_slot = pciSlotOf(nic.device_dir);
  nic.netdev = netdevOf(root, nic.pci_slot);
  nic.numa_node = toNumber<int>(readValue(nic.device_dir / "numa_node")).value_or(-1);
  nic.local_cpulist = readValue(nic.device_dir / "local_cpulist");
  for (const auto& counter : defaultTelemetryCounters())
    if (auto v = parseTelemetry(readValue(nic.device_dir / "telemetry" / counter)))
      nic.telemetry[counter] = *v;
  readHealth(nic);
  readIdentity(nic);
  return nic;
}

std::vector<fs::path> nicEntries(const fs::path& root) {
  std::vector<fs::path> entries;
  std::error_code ec;
  for (fs::directory_iterator it(root / "class" / "cxi", ec), end; !ec && it != end;
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() > 3 && name.compare(0, 3, "cxi") == 0 && nicIndex(name) >= 0)
      entries.push_back(it->path());
  }
  std::sort(entries.begin(), entries.end(), [](const fs::path& a, const fs::path& b) {
    return nicIndex(a.filename().string()) < nicIndex(b.filename().string());
  });
  return entries;
}

}  // namespace

std::optional<TelemetryValue> parseTelemetry(std::string_view text) {
  const std::string t = trim(text);
  const std::size_t at = t.find('@');
  if (at == std::string::npos) return std::nullopt;
  const std::size_t dot = t.find('.', at);
  if (dot == std::string::npos) return std::nullopt;
  const std::string_view view(t);
  auto count = toNumber<std::uint64_t>(view.substr(0, at));
  auto sec = toNumber<std::int64_t>(view.substr(at + 1, dot - at - 1));
  auto nsec = toNumber<std::int64_t>(view.substr(dot + 1));
  if (!count || !sec || !nsec || *sec < 0 || *nsec < 0) return std::nullopt;
  return TelemetryValue{*count, *sec, *nsec};
}

fs::path CxiNic::rdzvGetEnPath() const { return device_dir / "properties" / "rdzv_get_en"; }

CxiSysfs readCxiSysfs(const fs::path& root) {
  CxiSysfs out;
  out.root = root;
  for (const auto& entry : nicEntries(root)) out.nics.push_back(readNic(root, entry));
  // Slurm reads the same two places: cxi_ss1 today, cxi_core in older drivers.
  for (const char* module : {"cxi_ss1", "cxi_core"}) {
    const fs::path path = root / "module" / module / "parameters" / "rdzv_get_en_default";
    if (auto flag = parseFlag(readValue(path))) {
      out.rdzv_get_en_default = flag;
      out.rdzv_get_en_default_path = path;
      break;
    }
  }
  return out;
}

std::vector<std::string> cxiResourceProperties() {
  return {"num_ptes", "num_txqs", "num_tgqs", "num_eqs",    "num_cts",
          "num_acs",  "num_tles", "num_les",  "rgids_avail"};
}

std::vector<std::string> cxiNicNames(const fs::path& root) {
  std::vector<std::string> names;
  for (const auto& entry : nicEntries(root)) names.push_back(entry.filename().string());
  return names;
}

std::optional<std::uint64_t> parseAerCounters(std::string_view text) {
  std::optional<std::uint64_t> sum;
  std::istringstream lines{std::string(text)};
  std::string line;
  while (std::getline(lines, line)) {
    const std::string t = trim(line);
    const std::size_t space = t.find_last_of(" \t");
    if (space == std::string::npos) continue;
    auto n = toNumber<std::uint64_t>(std::string_view(t).substr(space + 1));
    if (!n) continue;
    if (t.rfind("TOTAL_", 0) == 0) return n;
    sum = sum.value_or(0) + *n;
  }
  return sum;
}

unsigned readCacheLineSize(const fs::path& root) {
  const auto size = toNumber<unsigned>(readValue(root / "devices" / "system" / "cpu" / "cpu0" /
                                                 "cache" / "index0" / "coherency_line_size"));
  return size && *size > 0 ? *size : 64;
}

std::vector<int> parseCpuList(std::string_view text) {
  std::vector<int> cpus;
  const std::string t = trim(text);
  std::size_t pos = 0;
  while (pos < t.size()) {
    std::size_t comma = t.find(',', pos);
    if (comma == std::string::npos) comma = t.size();
    const std::string_view item = std::string_view(t).substr(pos, comma - pos);
    pos = comma + 1;
    const std::size_t dash = item.find('-');
    auto first = toNumber<int>(item.substr(0, dash));
    auto last = dash == std::string_view::npos ? first : toNumber<int>(item.substr(dash + 1));
    if (!first || !last || *first < 0 || *last < *first || *last - *first > 1 << 16) return {};
    for (int c = *first; c <= *last; ++c) cpus.push_back(c);
  }
  return cpus;
}

std::vector<std::string> defaultTelemetryCounters() {
  return {kRestrictedPktCounter, kUnrestrictedPktCounter};
}

TelemetrySnapshot snapshotTelemetry(const fs::path& root,
                                    const std::vector<std::string>& counters) {
  TelemetrySnapshot snapshot;
  for (const auto& entry : nicEntries(root)) {
    auto& nic = snapshot[entry.filename().string()];
    for (const auto& counter : counters)
      if (auto v = parseTelemetry(readValue(entry / "device" / "telemetry" / counter)))
        nic[counter] = *v;
  }
  return snapshot;
}

std::map<std::string, std::map<std::string, TelemetryDelta>> telemetryDelta(
    const TelemetrySnapshot& before, const TelemetrySnapshot& after) {
  constexpr std::uint64_t kCounterRange = std::uint64_t{1} << 56;
  std::map<std::string, std::map<std::string, TelemetryDelta>> out;
  for (const auto& [nic, counters] : after) {
    auto b = before.find(nic);
    if (b == before.end()) continue;
    for (const auto& [name, value] : counters) {
      auto old = b->second.find(name);
      if (old == b->second.end()) continue;
      TelemetryDelta d;
      d.count = value.count >= old->second.count ? value.count - old->second.count
                                                 : kCounterRange + value.count - old->second.count;
      d.seconds = static_cast<double>(value.sec - old->second.sec) +
                  static_cast<double>(value.nsec - old->second.nsec) / 1e9;
      out[nic][name] = d;
    }
  }
  return out;
}

void to_json(nlohmann::json& j, const TelemetryValue& v) {
  j = nlohmann::json{{"count", v.count}, {"sec", v.sec}, {"nsec", v.nsec}};
}

void to_json(nlohmann::json& j, const TelemetryDelta& d) {
  j = nlohmann::json{{"count", d.count}, {"seconds", d.seconds}};
}

void to_json(nlohmann::json& j, const CxiNic& nic) {
  const auto optional = [](const std::optional<bool>& b) {
    return b ? nlohmann::json(*b) : nlohmann::json(nullptr);
  };
  const auto number = [](const auto& n) {
    return n ? nlohmann::json(*n) : nlohmann::json(nullptr);
  };
  j = nlohmann::json{{"name", nic.name},
                     {"device_dir", nic.device_dir.string()},
                     {"cassini_version", nic.cassini_version},
                     {"generation", nic.generation},
                     {"link_up", optional(nic.link_up)},
                     {"link_state", nic.link_state},
                     {"link_speed", nic.link_speed},
                     {"media", nic.media},
                     {"link_layer_retry", nic.link_layer_retry},
                     {"rdzv_get_en", optional(nic.rdzv_get_en)},
                     {"pci_slot", nic.pci_slot},
                     {"netdev", nic.netdev},
                     {"numa_node", nic.numa_node},
                     {"local_cpulist", nic.local_cpulist},
                     {"telemetry", nic.telemetry},
                     {"link_restarts", nic.link_restarts ? nlohmann::json(*nic.link_restarts)
                                                         : nlohmann::json(nullptr)},
                     {"pcie_corr_err", number(nic.pcie_corr_err)},
                     {"pcie_uncorr_err", number(nic.pcie_uncorr_err)},
                     {"aer", nic.aer},
                     {"nic_addr", nic.nic_addr},
                     {"nid", nic.nid},
                     {"pid_granule", number(nic.pid_granule)},
                     {"rdzv_get_idx", number(nic.rdzv_get_idx)},
                     {"driver_rev", nic.driver_rev},
                     {"firmware", nic.firmware},
                     {"fru", nic.fru},
                     {"resources", nic.resources}};
}

void to_json(nlohmann::json& j, const CxiSysfs& sysfs) {
  j = nlohmann::json{
      {"root", sysfs.root.string()},
      {"nics", sysfs.nics},
      {"rdzv_get_en_default", sysfs.rdzv_get_en_default ? nlohmann::json(*sysfs.rdzv_get_en_default)
                                                        : nlohmann::json(nullptr)},
      {"rdzv_get_en_default_path", sysfs.rdzv_get_en_default_path.string()}};
}

}  // namespace rdzv::transport::ofi
