#include "lib/sysinfo.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <climits>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string_view>
#include <system_error>

namespace rdzv {
namespace {

std::string cpuModel() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) != 0) continue;
    const std::size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::size_t begin = line.find_first_not_of(" \t", colon + 1);
    return begin == std::string::npos ? std::string() : line.substr(begin);
  }
  return {};
}

int numaNodes() {
  std::error_code ec;
  int count = 0;
  // The error_code overloads keep a missing or unreadable /sys from throwing.
  for (std::filesystem::directory_iterator it("/sys/devices/system/node", ec), end;
       !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() > 4 && name.compare(0, 4, "node") == 0 &&
        std::all_of(name.begin() + 4, name.end(),
                    [](unsigned char c) { return std::isdigit(c) != 0; })) {
      ++count;
    }
  }
  return count;
}

}  // namespace

std::string hostName() {
  char host[HOST_NAME_MAX + 1] = {};
  if (gethostname(host, sizeof host - 1) != 0) return {};
  return host;
}

EnvLookup processEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

HostInfo captureHost() {
  HostInfo h;
  struct utsname u {};
  if (uname(&u) == 0) {
    h.hostname = u.nodename;
    h.kernel = u.release;
  }
  h.cpu_model = cpuModel();
  const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  h.cpus = cpus > 0 ? static_cast<int>(cpus) : 0;
  h.numa_nodes = numaNodes();
  return h;
}

std::map<std::string, std::string> captureEnvironment(char** envp) {
  static constexpr std::array<std::string_view, 8> kPrefixes = {
      "FI_", "RDZV_", "SLURM_", "OMPI_", "PMI", "PMIX_", "SLINGSHOT_", "CXI_"};
  std::map<std::string, std::string> out;
  if (envp == nullptr) return out;
  for (char** e = envp; *e != nullptr; ++e) {
    const std::string_view entry(*e);
    const std::size_t eq = entry.find('=');
    if (eq == std::string_view::npos || eq == 0) continue;
    const std::string_view name = entry.substr(0, eq);
    for (std::string_view prefix : kPrefixes) {
      if (name.substr(0, prefix.size()) == prefix) {
        out.emplace(std::string(name), std::string(entry.substr(eq + 1)));
        break;
      }
    }
  }
  return out;
}

void to_json(nlohmann::json& j, const HostInfo& h) {
  j = nlohmann::json{{"hostname", h.hostname},
                     {"cpu_model", h.cpu_model},
                     {"kernel", h.kernel},
                     {"cpus", h.cpus},
                     {"numa_nodes", h.numa_nodes}};
}

void from_json(const nlohmann::json& j, HostInfo& h) {
  j.at("hostname").get_to(h.hostname);
  j.at("cpu_model").get_to(h.cpu_model);
  j.at("kernel").get_to(h.kernel);
  j.at("cpus").get_to(h.cpus);
  j.at("numa_nodes").get_to(h.numa_nodes);
}

}  // namespace rdzv
