#include "store/slurm_store.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netdb.h>
#include <netinet/in.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <iterator>
#include <map>
#include <thread>

#include "lib/error.h"
#include "lib/hostlist.h"
#include "store/tcp_store.h"

namespace rdzv::store {
namespace {

constexpr int kWindows = (kSlurmPortHigh - kSlurmPortLow + 1) / kSlurmPortCandidates;

std::uint64_t fnv1a(std::string_view text) {
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

std::optional<std::string> nonEmpty(const EnvLookup& env, const std::string& name) {
  auto value = env(name);
  if (value && value->empty()) return std::nullopt;
  return value;
}

// The key rank 0 sets once it serves: a client that finds it has reached this step's store,
// not another step's (or any other program's) on a port of the same window.
std::string ownerKey(const SlurmStore& where) { return "rdzvbench/slurm-step/" + where.step(); }

// Whether `host` resolves (here) to a loopback address first, as Debian's "127.0.1.1 <hostname>"
// line in /etc/hosts makes a node's own name do.
bool resolvesToLoopback(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (::getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0) return false;
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> guard(res, &::freeaddrinfo);
  if (res->ai_family == AF_INET) {
    auto addr = ntohl(reinterpret_cast<sockaddr_in*>(res->ai_addr)->sin_addr.s_addr);
    return (addr >> 24) == 127;
  }
  if (res->ai_family == AF_INET6)
    return IN6_IS_ADDR_LOOPBACK(&reinterpret_cast<sockaddr_in6*>(res->ai_addr)->sin6_addr);
  return false;
}

OpenedStore serve(const SlurmStore& where, const EnvLookup& env, Deadline deadline) {
  if (auto node = nonEmpty(env, "SLURMD_NODENAME"); node && *node != where.host) {
    throwUsage(fmt::format("rank 0 runs on node {}, but the first node of {} is {}: no rank "
                           "knows where to find rank 0's store",
                           *node, where.nodelist_var, where.host),
               "use srun's default (block) distribution, or pass --store tcp://HOST:PORT naming "
               "rank 0's node to every rank");
  }
  const std::string bind_host = slurmStoreBindHost(where);
  OpenedStore out;
  for (int port = where.first_port; port <= where.lastPort() && !out.server; ++port)
    out.server = TcpStoreServer::tryStart(bind_host, port);
  if (!out.server) {
    throwRuntime(fmt::format("cannot serve the store of Slurm step {}: ports {}-{} on {} are all "
                             "in use",
                             where.step(), where.first_port, where.lastPort(), where.host),
                 "pass --store tcp://HOST:PORT with a free port to every rank");
  }
  auto client = std::make_unique<TcpStoreClient>(where.host, out.server->port(), deadline);
  client->set(ownerKey(where), toBytes(where.step()));
  out.store = std::move(client);
  return out;
}

OpenedStore find(const SlurmStore& where, Deadline deadline) {
  const auto start = Clock::now();
  // What each port answered last, for the error when none is this step's.
  std::map<int, std::string> last;
  while (true) {
    for (int port = where.first_port; port <= where.lastPort(); ++port) {
      std::string error;
      // Long enough for a connection across a cluster network; refusals return at once.
      auto attempt = Deadline::after(std::chrono::milliseconds(250));
      auto client = TcpStoreClient::tryConnect(
          where.host, port, attempt.at() < deadline.at() ? attempt : deadline, error);
      if (!client) {
        last[port] = error;
        continue;
      }
      try {
        // Something that accepts but does not speak the store's protocol must not hold us long.
        client->setRequestTimeout(std::chrono::milliseconds(500));
        if (client->check({ownerKey(where)})) {
          client->setRequestTimeout(std::chrono::seconds(60));
          OpenedStore out;
          out.store = std::move(client);
          return out;
        }
        // Another step's store, or ours before rank 0 published the key: looked at again next
        // round.
        last[port] = fmt::format("a store, but not step {}'s", where.step());
      } catch (const Error& e) {
        last[port] = fmt::format("not a rdzvbench store ({})", e.what());
      }
    }
    if (deadline.expired()) break;
    std::this_thread::sleep_for(
        std::min<std::chrono::nanoseconds>(std::chrono::milliseconds(50), deadline.remaining()));
  }
  // Runs of ports that answered alike read as one: "; 28048-28055: Connection refused".
  std::string seen;
  for (auto it = last.begin(); it != last.end();) {
    auto end = std::next(it);
    while (end != last.end() && end->second == it->second) ++end;
    int to = std::prev(end)->first;
    seen += it->first == to ? fmt::format("; {}: {}", to, it->second)
                            : fmt::format("; {}-{}: {}", it->first, to, it->second);
    it = end;
  }
  throwRuntime(fmt::format("no store of Slurm step {} on {} ports {}-{} after {:.1f}s{}",
                           where.step(), where.host, where.first_port, where.lastPort(),
                           std::chrono::duration<double>(Clock::now() - start).count(), seen),
               "rank 0 did not start, failed, or runs on another node; check its output, or "
               "pass --store tcp://HOST:PORT to every rank");
}

}  // namespace

std::string SlurmStore::uri() const { return tcpUri(host, first_port); }

std::string slurmStoreBindHost(const SlurmStore& where) {
  // The address the node's name has here is where the other ranks look; but a loopback one
  // cannot serve other nodes.
  return where.nodes > 1 && resolvesToLoopback(where.host) ? "" : where.host;
}

int slurmStorePort(std::string_view job_id, std::string_view step_id) {
  std::uint64_t step = 0;
  bool numeric = !step_id.empty() && step_id.size() <= 18 &&
                 std::all_of(step_id.begin(), step_id.end(),
                             [](unsigned char c) { return std::isdigit(c) != 0; });
  // Consecutive step ids take consecutive windows, so concurrent steps of a job never share one.
  step = numeric ? std::stoull(std::string(step_id)) : fnv1a(step_id);
  auto window = (fnv1a(job_id) % kWindows + step % kWindows) % kWindows;
  return kSlurmPortLow + static_cast<int>(window) * kSlurmPortCandidates;
}

SlurmStore slurmStoreFromEnv(const EnvLookup& env) {
  SlurmStore where;
  auto job = nonEmpty(env, "SLURM_JOB_ID");
  if (!job) job = nonEmpty(env, "SLURM_JOBID");
  auto step = nonEmpty(env, "SLURM_STEP_ID");
  if (!step) step = nonEmpty(env, "SLURM_STEPID");
  if (!job || !step) {
    throwUsage(fmt::format("srun started this rank but {} is not set, so the port of the step's "
                           "store cannot be derived",
                           job ? "SLURM_STEP_ID" : "SLURM_JOB_ID"),
               "pass --store tcp://HOST:PORT to every rank");
  }
  where.job_id = *job;
  where.step_id = *step;
  for (const char* name : {"SLURM_STEP_NODELIST", "SLURM_JOB_NODELIST", "SLURM_NODELIST"}) {
    if (auto list = nonEmpty(env, name)) {
      where.nodelist_var = name;
      auto hosts = expandHostlist(*list, name);
      where.host = hosts.front();
      where.nodes = static_cast<int>(hosts.size());
      break;
    }
  }
  if (where.nodelist_var.empty()) {
    throwUsage(
        "srun started this rank but none of SLURM_STEP_NODELIST, SLURM_JOB_NODELIST, "
        "SLURM_NODELIST is set, so no rank knows where rank 0 serves the store",
        "pass --store tcp://HOST:PORT to every rank");
  }
  where.first_port = slurmStorePort(where.job_id, where.step_id);
  return where;
}

OpenedStore openSlurmStore(const SlurmStore& where, int rank, const EnvLookup& env,
                           Deadline deadline) {
  return rank == 0 ? serve(where, env, deadline) : find(where, deadline);
}

}  // namespace rdzv::store
