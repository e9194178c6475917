#pragma once
// Monotonic time and deadlines. Every wait in rdzvbench takes a Deadline.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>

namespace rdzv {

using Clock = std::chrono::steady_clock;

inline std::int64_t nowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

// Seconds from `start` until now.
inline double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

namespace interrupt::detail {
// When every wait ends (lib/interrupt.h): a stop signal sets it a grace period ahead, so a rank
// blocked on a peer that already stopped gives up instead of waiting out its full timeout.
inline std::atomic<std::int64_t> waits_end_ns{std::numeric_limits<std::int64_t>::max()};
static_assert(std::atomic<std::int64_t>::is_always_lock_free, "set from a signal handler");
}  // namespace interrupt::detail

// True once a stop signal's grace period is over (lib/interrupt.h); every Deadline then reads
// expired.
inline bool waitsCut() {
  return nowNs() >= interrupt::detail::waits_end_ns.load(std::memory_order_relaxed);
}

class Deadline {
 public:
  static Deadline after(std::chrono::nanoseconds d) { return Deadline(Clock::now() + d); }
  static Deadline afterSeconds(double s) {
    return after(std::chrono::nanoseconds(static_cast<std::int64_t>(s * 1e9)));
  }
  explicit Deadline(Clock::time_point at) : at_(at) {}

  bool expired() const { return Clock::now() >= at_ || waitsCut(); }
  Clock::time_point at() const { return at_; }
  // Time left, never negative.
  std::chrono::nanoseconds remaining() const {
    if (waitsCut()) return std::chrono::nanoseconds(0);
    auto left = at_ - Clock::now();
    return left.count() > 0 ? std::chrono::duration_cast<std::chrono::nanoseconds>(left)
                            : std::chrono::nanoseconds(0);
  }
  // Time left in whole milliseconds for poll()/epoll_wait(), capped at `cap_ms`.
  int remainingMs(int cap_ms = 1000) const {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(remaining()).count();
    return ms > cap_ms ? cap_ms : static_cast<int>(ms);
  }

 private:
  Clock::time_point at_;
};

}  // namespace rdzv
