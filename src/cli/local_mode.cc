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
#include "store/tcp_store.h"

namespace rdzv::cli {
namespace {

std::string makeRunId() {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  return fmt::format("local-{}-{}-{}", host, getpid(), nowNs() % 1000000007);
}

// Children that are still running when the parent gives up are told to stop, then killed.
void stopAll(const std::vector<pid_t>& pids, const std::vector<bool>& done) {
  for (std::size_t i = 0; i < pids.size(); ++i)
    if (!done[i]) kill(pids[i], SIGTERM);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  for (std::size_t i = 0; i < pids.size(); ++i)
    if (!done[i]) kill(pids[i], SIGKILL);
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
  while (remaining > 0) {
    int status = 0;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid <= 0) {
      if (lingering && linger.expired()) {
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
      fmt::print(stderr, "rdzvbench: rank {} was killed by signal {} ({})\n", rank,
                 WTERMSIG(status), strsignal(WTERMSIG(status)));
      code = static_cast<int>(ErrorKind::Runtime);
    }
    if (code != 0 && result == 0) {
      result = code;
      lingering = true;
      linger = Deadline::afterSeconds(timeout + 5);
    }
  }
  return result;
}

}  // namespace rdzv::cli
