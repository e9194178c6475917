#include "cli/progress.h"

#include <cstdio>

#include <fmt/format.h>

#include "lib/clock.h"

namespace rdzv::cli {

Progress::Progress(bool enabled, bool terminal)
    : enabled_(enabled), terminal_(terminal), start_(nowNs()) {}

void Progress::step(int k, int n, const std::string& what) {
  if (!enabled_) return;
  auto now = nowNs();
  double elapsed = static_cast<double>(now - start_) / 1e9;
  double left = k > 1 ? elapsed / (k - 1) * (n - k + 1) : 0;
  auto text =
      fmt::format("[{}/{}] {}  elapsed {:.0f}s, about {:.0f}s left", k, n, what, elapsed, left);
  if (terminal_) {
    fmt::print(stderr, "\r\033[K{}", text);
  } else if (k == 1 || now - last_ > 10'000'000'000) {
    fmt::print(stderr, "rdzvbench: {}\n", text);
    last_ = now;
  }
  std::fflush(stderr);
}

void Progress::done() {
  if (enabled_ && terminal_) fmt::print(stderr, "\r\033[K");
}

}  // namespace rdzv::cli
