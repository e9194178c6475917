#include "cli/local_mode.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include <fmt/format.h>

#include "lib/clock.h"
#include "lib/error.h"
#include "lib/interrupt.h"
#include "lib/sysinfo.h"
#include "store/bootstrap.h"
#include "store/prefix_store.h"
#include "store/tcp_store.h"

namespace rdzv::cli {
namespace {

std::string makeRunId() {
  return fmt::format("local-{}-{}-{}", hostName(), getpid(), nowNs() % 1000000007);
}

// How long ranks may take to stop after a forwarded signal before they are killed: they stop
// at their next safe point, or give up waiting interrupt::kStopGraceSeconds after the signal.
constexpr double kStopSeconds = 4.0;

// Children that are still running when the parent gives up are told to stop, then killed.
void stopAll(const std::vector<pid_t>& pids, const std::vector<bool>& done) {
  for (std::size_t i = 0; i < pids.size(); ++i)
    if (!done[i]) kill(pids[i], SIGTERM);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  for (std::size_t i = 0; i < pids.size(); ++i)
    if (!done[i]) kill(pids[i], SIGKILL);
}

// A rank killed by a signal says nothing: publish its death as the run's abort notice
// (StoreBootstrap::abort), which the other ranks' store waits check, so that they end now,
// naming it, rather than at --timeout.
void publishDeath(const store::TcpStoreServer& server, const std::string& run_id, int rank, int np,
                  const std::string& what) {
  try {
    store::TcpStoreClient client("127.0.0.1", server.port(), Deadline::afterSeconds(2));
    store::PrefixStore scoped(client, "rdzv/" + run_id);
    store::StoreBootstrap(scoped, rank, np).abort(fmt::format("rank {}: {}", rank, what));
  } catch (const Error&) {
    // The others still end by their own timeouts.
  }
}

}  // namespace

int runLocal(int np, const std::vector<std::string>& args, bool add_addr, double timeout) {
  store::TcpStoreServer server("127.0.0.1", 0);
  auto run_id = makeRunId();
  std::vector<pid_t> pids;
  std::fflush(stdout);
  std::fflush(stderr);
  for (int rank = 0; rank < np; ++rank) {
    std::vector<std::string> child{"/proc/self/exe"};
    child.insert(child.end(), args.begin(), args.end());
    child.insert(child.end(),
                 {"--rank", std::to_string(rank), "--size", std::to_string(np), "--store",
                  fmt::format("tcp://127.0.0.1:{}", server.port()), "--run-id", run_id});
    if (add_addr) child.insert(child.end(), {"--addr", "127.0.0.1"});
    pid_t pid = fork();
    if (pid < 0) throwSystem("fork", errno);
    if (pid == 0) {
      std::vector<char*> cargv;
      for (auto& s : child) cargv.push_back(s.data());
      cargv.push_back(nullptr);
      setenv("RDZV_LAUNCHER", "local", 1);
      // All ranks share this host: libfabric's socket providers should use loopback too
      // (the user's own setting wins).
      setenv("FI_TCP_IFACE", "lo", 0);
      setenv("FI_SOCKETS_IFACE", "lo", 0);
      execv("/proc/self/exe", cargv.data());
      std::perror("rdzvbench: execv");
      _exit(3);
    }
    pids.push_back(pid);
  }
  std::vector<bool> done(np, false);
  int remaining = np;
  int result = 0;
  // Once a rank failed, the others must end by `linger`.
  bool lingering = false;
  Deadline linger = Deadline::afterSeconds(0);
  int forwarded = 0;  // the stop signal passed on to the ranks
  while (remaining > 0) {
    if (int signal = interrupt::pending(); signal != 0 && forwarded == 0) {
      // Ranks in this process group may have it already (Ctrl-C); a second one changes nothing.
      forwarded = signal;
      interrupt::holdWaits();  // this loop's own deadline below must hold
      for (int r = 0; r < np; ++r)
        if (!done[r]) kill(pids[r], signal);
      lingering = true;
      linger = Deadline::afterSeconds(kStopSeconds);
    }
    int status = 0;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid <= 0) {
      if (lingering && linger.expired()) {
        if (forwarded != 0)
          fmt::print(stderr,
                     "rdzvbench: {} rank(s) still running {:.1f} s after {}; killing them\n",
                     remaining, kStopSeconds, interrupt::signalName(forwarded));
        else
          fmt::print(stderr,
                     "rdzvbench: {} rank(s) still running {:.0f} s after a failure; "
                     "stopping them\n",
                     remaining, timeout);
        stopAll(pids, done);
        lingering = false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      continue;
    }
    int rank = static_cast<int>(std::find(pids.begin(), pids.end(), pid) - pids.begin());
    if (rank >= np) continue;
    done[rank] = true;
    --remaining;
    int code = 0;
    if (WIFEXITED(status)) {
      code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
      auto what =
          fmt::format("killed by signal {} ({})", WTERMSIG(status), strsignal(WTERMSIG(status)));
      fmt::print(stderr, "rdzvbench: rank {} was {}\n", rank, what);
      if (forwarded == 0) publishDeath(server, run_id, rank, np, what);
      code = static_cast<int>(ErrorKind::Runtime);
    }
    if (code != 0 && result == 0) {
      result = code;
      if (forwarded == 0) {
        lingering = true;
        linger = Deadline::afterSeconds(timeout + 5);
      }
    }
    // A failed check or bad usage (1, 2) is the cause of the others' lost-peer errors (3),
    // which can come first: the failing rank's connections close as its error unwinds, and
    // rank 0 writes the report before it exits.
    if (code != 0 && code < result) result = code;
  }
  // Stopped by a signal: exit as the ranks did, whatever the ranks' own codes.
  return forwarded != 0 ? 128 + forwarded : result;
}

}  // namespace rdzv::cli
