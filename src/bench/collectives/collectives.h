#pragma once
// Collective benchmarks: allreduce, broadcast, allgather, reduce_scatter, alltoall and
// barrier, each with rdzvbench's built-in algorithms (over any transport's Buffers) or, on a
// transport whose library has collectives (mpi), with the library's own call ("native").
//
// Sizes follow nccl-tests: the bytes of the vector (allreduce, broadcast) or of all n blocks
// (allgather: the gathered result; reduce_scatter: the input; alltoall: what each rank
// sends), rounded down to whole elements and blocks, at least one element per block. Barrier
// has no size (its one row reports 0).

#include <cstdint>
#include <string>
#include <vector>

#include "bench/config.h"
#include "bench/p2p.h"
#include "lib/report.h"
#include "transport/context.h"

namespace rdzv::bench {

// The algorithm name of a transport library's own collectives.
inline constexpr const char* kNativeAlgorithm = "native";

// The collective benchmarks, in a stable order.
const std::vector<std::string>& collectiveBenchmarks();
// Whether `benchmark` is one of collectiveBenchmarks().
bool isCollective(const std::string& benchmark);
// The built-in algorithms of a collective benchmark (empty for other names).
const std::vector<std::string>& builtinAlgorithms(const std::string& benchmark);

// The algorithms to run for a collective benchmark from the --algorithm list ("all" means
// every built-in one). A transport with native collectives runs "native" only: the library's
// call is the baseline the built-in algorithms (on the other transports) are measured beside.
std::vector<std::string> algorithmsFor(const std::string& benchmark,
                                       const std::vector<std::string>& requested, bool native);
// Usage error for a name no chosen collective knows, or a chosen collective none of the names
// applies to on a transport without native collectives (`builtin_transport`).
void requireAlgorithms(const std::vector<std::string>& benchmarks,
                       const std::vector<std::string>& requested, bool builtin_transport);

// Elements of the vector (allreduce, broadcast) or of one block (the others) for a requested
// size, and the size that is then actually measured.
struct CollectiveShape {
  std::size_t count = 0;
  std::uint64_t bytes = 0;
};
CollectiveShape collectiveShape(const std::string& benchmark, std::uint64_t size, int ranks,
                                transport::DataType type);

// nccl-tests' bus bandwidth factor: busbw = algbw x factor, so that busbw compares with the
// link's speed whatever the collective and the rank count (allreduce 2(n-1)/n; allgather,
// reduce_scatter and alltoall (n-1)/n; broadcast 1; barrier 0, as it moves no data).
double busBandwidthFactor(const std::string& benchmark, int ranks);

// Iterations for a collective at `bytes`: the configured count, or 1000 shrinking to 5 as the
// size grows (64 MiB per size at most).
std::uint64_t collectiveIterations(const BenchConfig& config, std::uint64_t bytes);

// Runs `benchmark` with `algorithm` at `size` on this rank (every rank calls it): memory and
// Buffers set up first, then warm-up, an agreement on the iteration count, a barrier, and the
// timed calls back to back. Every rank measures.
Measurement runCollective(transport::Context& context, const BenchConfig& config,
                          const std::string& benchmark, const std::string& algorithm,
                          std::uint64_t size);

// Combines every rank's measurement of one size into a row (rank 0): per-rank mean time per
// call (min/mean/max across ranks), algbw = bytes / mean of those (as nccl-tests averages
// over ranks), busbw = algbw x busBandwidthFactor; bandwidth_mbps is algbw in MB/s and
// message_rate calls per second, so rows of every kind share those columns.
Row aggregateCollective(const std::string& benchmark, const std::vector<Measurement>& measurements);

}  // namespace rdzv::bench
