#pragma once
// Test-only slowness (`survey --inject-slow RANK:FACTOR`, hidden from --help): makes one rank a
// slow node on any machine, so the judging is tested end to end without a broken fabric.
//
// The rank's Device is wrapped so that each completion it waits for is followed by a pause of
// (FACTOR - 1) x the time it was busy since the end of its previous pause: everything that rank
// takes part in slows down, with every partner, while pairs without it are untouched. As the
// initiator of a ping-pong its busy time is the whole round trip and latency grows FACTOR
// times; as the responder it sees about half of it, and latency grows about (1 + FACTOR) / 2
// times. Bandwidth windows stall the partner too and slow down by FACTOR or more. Busy
// stretches longer than 50 ms count as 50 ms, so the idle time between measurements does not
// turn into long pauses.

#include <cstdint>
#include <memory>

#include "transport/transport.h"

namespace rdzv::bench::survey {

class Slowdown {
 public:
  explicit Slowdown(double factor) : factor_(factor) {}
  // Forget the last completion (call before each measurement).
  void reset() { last_ns_ = 0; }
  // Called after each completion: pauses (busy-yielding) as described above.
  void completed();

 private:
  double factor_;
  std::int64_t last_ns_ = 0;
};

// `inner` with every Buffer's waits followed by `slowdown.completed()`.
std::unique_ptr<transport::Device> slowDevice(std::unique_ptr<transport::Device> inner,
                                              std::shared_ptr<Slowdown> slowdown);

}  // namespace rdzv::bench::survey
