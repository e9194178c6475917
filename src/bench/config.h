#pragma once
// What a run measures: the axes of the sweep and the timing rules.

#include <cstdint>
#include <string>
#include <vector>

#include "transport/transport.h"

namespace rdzv::bench {

struct BenchConfig {
  std::vector<std::string> transports{"tcp"};
  std::vector<std::string> benchmarks{"latency", "bw"};
  std::vector<std::uint64_t> sizes;
  std::uint64_t iterations = 0;  // 0: per-benchmark default, fewer for large sizes
  std::uint64_t warmup = 0;      // 0: per-benchmark default
  int window = 64;               // messages in flight for bw and bibw
  double min_time = 0;           // seconds per size; raises the iteration count to fill it
  int repeat = 1;                // trials of each size, one after another; rows hold each trial
  bool check = false;            // fill and verify every message
  bool pairs = false;            // with more than 2 ranks: rank i measures with i + n/2
  double timeout = 60;           // seconds any single wait may take
  transport::TransportOptions transport;
  // Protocol engine parameter sets: one series per set on transports that run the engine.
  std::vector<transport::engine::ProtocolParams> protocols{transport::engine::ProtocolParams{}};
};

// The point-to-point benchmarks rdzvbench knows.
const std::vector<std::string>& pointToPointBenchmarks();
// Usage error for an unknown benchmark name, listing the known ones.
void requireBenchmark(const std::string& name);

}  // namespace rdzv::bench
