#pragma once
// Point-to-point benchmarks: latency (ping-pong, half round trip), bw (a window of messages
// in flight, one direction, acknowledged per window as OSU does) and bibw (both directions).

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/config.h"
#include "transport/context.h"

namespace rdzv::bench {

// Who a rank measures with.
struct Partner {
  int peer = -1;
  bool initiator = false;  // the side that times and reports
};
// Every rank's partner (nullopt: it sits out) under `mode`, given each rank's node (`nodes`, one
// entry per rank). Auto is Inter when the ranks span several nodes, else rank i with i + n/2.
// Inter pairs as many ranks as can be paired across nodes, Intra pairs within each node; the
// initiator is the lower rank. Throws Usage when Inter or Intra finds no pair at all.
std::vector<std::optional<Partner>> choosePairs(PairMode mode,
                                                const std::vector<std::string>& nodes);
// The partner of `rank` among `size` ranks on one node: rank 0 with 1, or with `pairs` rank i
// with i + n/2.
std::optional<Partner> partnerOf(int rank, int size, bool pairs);
// The (initiator, partner) pairs of `partners`, by initiator.
std::vector<std::array<int, 2>> pairList(const std::vector<std::optional<Partner>>& partners);
// "intra", "inter" or "mixed": whether `pairs` join ranks of one node, of two, or both ("" for
// no pair).
std::string pairLocality(const std::vector<std::array<int, 2>>& pairs,
                         const std::vector<std::string>& nodes);

// What one rank measured for one size.
struct Measurement {
  bool measured = false;  // false on ranks that only answered or sat out
  std::uint64_t iterations = 0;
  std::vector<double> samples_us;  // per-message latency of each timed iteration
  double seconds = 0;              // total timed seconds
  double bytes = 0;                // payload bytes moved in the timed iterations
  double messages = 0;             // messages moved in the timed iterations
};
void to_json(nlohmann::json& j, const Measurement& m);
void from_json(const nlohmann::json& j, Measurement& m);

// Iterations and warm-up for `benchmark` at `size`: the configured counts, or defaults that
// shrink for large messages so a sweep to 4 MiB takes seconds, not minutes.
std::uint64_t defaultIterations(const BenchConfig& config, const std::string& benchmark,
                                std::uint64_t size);
std::uint64_t defaultWarmup(const BenchConfig& config, std::uint64_t iterations);

// Runs `benchmark` at `size` on this rank (every rank of the context calls it).
Measurement runPointToPoint(transport::Context& context, const BenchConfig& config,
                            const std::string& benchmark, std::uint64_t size);
// Runs `benchmark` at `size` between this rank and `partner.peer` only (both call it, one of
// them the initiator); the other ranks are free to measure with others at the same time.
Measurement runPointToPointWith(transport::Context& context, const BenchConfig& config,
                                const std::string& benchmark, std::uint64_t size,
                                const Partner& partner);

}  // namespace rdzv::bench
