#pragma once
// What a run measures: the axes of the sweep and the timing rules.

#include <cstdint>
#include <string>
#include <vector>

#include "transport/transport.h"

namespace rdzv::bench {

// Which ranks measure point-to-point benchmarks, and with whom (bench/p2p.h choosePairs).
enum class PairMode {
  First,  // no --pairs: rank 0 with rank 1
  Auto,   // --pairs: rank i with i + n/2 on one node; across nodes when there are several
  Intra,  // --pairs intra: every pair on one node
  Inter,  // --pairs inter: every pair across nodes
};

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
  PairMode pairs = PairMode::First;
  // Each rank's node (its host name), known once the ranks have met; empty: all on one node.
  std::vector<std::string> nodes;
  double timeout = 60;  // seconds any single wait may take
  transport::TransportOptions transport;
  // Collectives: --algorithm list ("all": every built-in one), element type and operator of
  // reductions, broadcast root, and the test-only rank that corrupts its first result.
  std::vector<std::string> algorithms{"all"};
  transport::DataType dtype = transport::DataType::Float32;
  transport::ReduceOp op = transport::ReduceOp::Sum;
  int root = 0;
  int inject_corruption = -1;
  // Protocol engine parameter sets: one series per set on transports that run the engine.
  std::vector<transport::engine::ProtocolParams> protocols{transport::engine::ProtocolParams{}};
};

// The point-to-point benchmarks rdzvbench knows.
const std::vector<std::string>& pointToPointBenchmarks();
// Usage error for an unknown benchmark name (point-to-point or collective), listing the known
// ones.
void requireBenchmark(const std::string& name);

}  // namespace rdzv::bench
