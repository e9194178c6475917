#include "lib/interrupt.h"

#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#include <fmt/format.h>

#include "lib/clock.h"
#include "lib/error.h"

namespace rdzv::interrupt {
namespace {

std::atomic<int> g_signal{0};
std::atomic<std::int64_t> g_grace_ns{static_cast<std::int64_t>(kStopGraceSeconds * 1e9)};
static_assert(std::atomic<int>::is_always_lock_free, "read and written in a signal handler");

void onSignal(int signal) {
  int expected = 0;
  if (!g_signal.compare_exchange_strong(expected, signal)) return;
  // clock_gettime is async-signal-safe; CLOCK_MONOTONIC is steady_clock's clock on Linux.
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  auto end = static_cast<std::int64_t>(now.tv_sec) * 1000000000 + now.tv_nsec + g_grace_ns.load();
  detail::waits_end_ns.store(end, std::memory_order_relaxed);
}

}  // namespace

void install() {
  struct sigaction action {};
  action.sa_handler = onSignal;
  sigemptyset(&action.sa_mask);
  // SA_RESTART: a read or write the signal interrupts goes on; waits notice the flag through
  // their deadlines.
  action.sa_flags = SA_RESTART;
  for (int signal : {SIGTERM, SIGINT, SIGUSR1})
    if (sigaction(signal, &action, nullptr) != 0) throwSystem("sigaction", errno);
}

void setGrace(double seconds) { g_grace_ns.store(static_cast<std::int64_t>(seconds * 1e9)); }

int pending() { return g_signal.load(); }

void holdWaits() {
  detail::waits_end_ns.store(std::numeric_limits<std::int64_t>::max(), std::memory_order_relaxed);
}

void request(int signal) { onSignal(signal); }

void reset() {
  g_signal.store(0);
  holdWaits();
}

void exitAfter(double seconds, int code) {
  std::thread([seconds, code] {
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    std::fflush(nullptr);
    _exit(code);
  }).detach();
}

std::string signalName(int signal) {
  switch (signal) {
    case SIGTERM:
      return "SIGTERM";
    case SIGINT:
      return "SIGINT";
    case SIGUSR1:
      return "SIGUSR1";
    case SIGUSR2:
      return "SIGUSR2";
    case SIGHUP:
      return "SIGHUP";
    case SIGKILL:
      return "SIGKILL";
    default:
      return fmt::format("signal {}", signal);
  }
}

int exitCode(int code) {
  int signal = pending();
  return signal != 0 ? 128 + signal : code;
}

}  // namespace rdzv::interrupt
