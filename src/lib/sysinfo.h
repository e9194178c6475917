#pragma once
// What a report records about the machine and the environment it ran in.

#include <functional>
#include <map>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

// POSIX declares it only under _GNU_SOURCE; declaring it here keeps the default argument portable.
extern char** environ;

namespace rdzv {

struct HostInfo {
  std::string hostname, cpu_model, kernel;  // kernel is the uname release, e.g. "6.1.0-18-amd64"
  int cpus = 0;                             // online CPUs
  int numa_nodes = 0;                       // 0 when /sys does not say
};

// Never throws: a field that cannot be read stays empty or zero.
HostInfo captureHost();

// This host's name (gethostname); "" when it cannot be read.
std::string hostName();

// Looks up one environment variable; injected so that tests need not touch the real environment.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

// The process environment (getenv).
EnvLookup processEnv();

// The variables that change interconnect behaviour or describe the launch: every name
// starting with FI_, RDZV_, SLURM_, OMPI_, PMI, PMIX_, SLINGSHOT_ or CXI_.
std::map<std::string, std::string> captureEnvironment(char** envp = environ);

void to_json(nlohmann::json& j, const HostInfo& h);
void from_json(const nlohmann::json& j, HostInfo& h);

}  // namespace rdzv
