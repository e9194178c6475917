#include "bench/collectives/collectives.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "bench/collectives/algorithms.h"
#include "bench/collectives/check.h"
#include "lib/aligned_buffer.h"
#include "lib/error.h"

namespace rdzv::bench {
namespace {

// Tags of the collectives' messages; point-to-point uses 1-3. Messages are matched by
// (peer, tag) in the order posted, and every rank runs the same schedule, so one tag serves
// every message of every call.
constexpr std::uint64_t kCollectiveTag = 64;
constexpr std::uint64_t kControlTag = 65;
constexpr std::uint64_t kSyncTag = 66;

Deadline deadlineFrom(std::int64_t start_ns, double timeout_s) {
  return Deadline(Clock::time_point(std::chrono::nanoseconds(start_ns)) +
                  std::chrono::nanoseconds(static_cast<std::int64_t>(timeout_s * 1e9)));
}

bool contains(const std::vector<std::string>& list, const std::string& name) {
  return std::find(list.begin(), list.end(), name) != list.end();
}

// Rank 0 decides the timed iteration count (it alone calibrates --min-time) and tells all.
std::uint64_t agreeIterations(transport::Context& ctx, std::uint64_t proposed, double timeout) {
  std::uint64_t value = proposed;
  auto control = ctx.createBuffer(&value, sizeof value);
  auto deadline = Deadline::afterSeconds(timeout);
  if (ctx.rank() == 0) {
    for (int r = 1; r < ctx.size(); ++r) control->send(r, 0, sizeof value, kControlTag);
    for (int r = 1; r < ctx.size(); ++r) control->waitSend(deadline);
  } else {
    control->recv(0, 0, sizeof value, kControlTag);
    control->waitRecv(deadline);
  }
  return value;
}

}  // namespace

const std::vector<std::string>& collectiveBenchmarks() {
  static const std::vector<std::string> names{"allreduce",      "broadcast", "allgather",
                                              "reduce_scatter", "alltoall",  "barrier"};
  return names;
}

bool isCollective(const std::string& benchmark) {
  return contains(collectiveBenchmarks(), benchmark);
}

const std::vector<std::string>& builtinAlgorithms(const std::string& benchmark) {
  static const std::vector<std::string> allreduce{"ring", "ring_chunked", "halving_doubling",
                                                  "bcube"};
  static const std::vector<std::string> broadcast{"binomial", "ring_chunked"};
  static const std::vector<std::string> gather{"ring", "bcube"};
  static const std::vector<std::string> alltoall{"pairwise"};
  static const std::vector<std::string> barrier{"dissemination"};
  static const std::vector<std::string> none;
  if (benchmark == "allreduce") return allreduce;
  if (benchmark == "broadcast") return broadcast;
  if (benchmark == "allgather" || benchmark == "reduce_scatter") return gather;
  if (benchmark == "alltoall") return alltoall;
  if (benchmark == "barrier") return barrier;
  return none;
}

std::vector<std::string> algorithmsFor(const std::string& benchmark,
                                       const std::vector<std::string>& requested, bool native) {
  if (!isCollective(benchmark)) return {""};
  if (native) return {kNativeAlgorithm};
  const auto& builtin = builtinAlgorithms(benchmark);
  std::vector<std::string> out;
  for (const auto& name : requested)
    for (const auto& a : builtin)
      if ((name == "all" || name == a) && !contains(out, a)) out.push_back(a);
  return out;
}

void requireAlgorithms(const std::vector<std::string>& benchmarks,
                       const std::vector<std::string>& requested, bool builtin_transport) {
  std::vector<std::string> every{"all", kNativeAlgorithm}, chosen, collectives;
  for (const auto& b : collectiveBenchmarks())
    for (const auto& a : builtinAlgorithms(b)) {
      if (!contains(every, a)) every.push_back(a);
      if (contains(benchmarks, b) && !contains(chosen, a)) chosen.push_back(a);
    }
  std::vector<std::string> have;  // "broadcast: binomial, ring_chunked" per chosen collective
  for (const auto& b : benchmarks)
    if (isCollective(b)) {
      collectives.push_back(b);
      have.push_back(fmt::format("{} has {}", b, fmt::join(builtinAlgorithms(b), ", ")));
    }
  for (const auto& name : requested) {
    if (!contains(every, name))
      throwUsage(fmt::format("unknown algorithm \"{}\"", name),
                 fmt::format("choose from: {}", fmt::join(every, ", ")));
    if (name != "all" && name != kNativeAlgorithm && !contains(chosen, name))
      throwUsage(fmt::format("--algorithm {} belongs to none of the chosen benchmarks ({})", name,
                             fmt::join(benchmarks, ", ")),
                 have.empty() ? "add a collective that has it to --benchmark, or drop it"
                              : fmt::format("{}; or all", fmt::join(have, "; ")));
  }
  if (!builtin_transport) return;
  for (const auto& b : collectives)
    if (algorithmsFor(b, requested, false).empty())
      throwUsage(fmt::format("--algorithm {} has nothing for {}", fmt::join(requested, ","), b),
                 fmt::format("{} has {}; or all", b, fmt::join(builtinAlgorithms(b), ", ")));
}

CollectiveShape collectiveShape(const std::string& benchmark, std::uint64_t size, int ranks,
                                transport::DataType type) {
  if (benchmark == "barrier") return {0, 0};
  const std::uint64_t esize = transport::elementSize(type);
  if (benchmark == "allreduce" || benchmark == "broadcast") {
    auto count = std::max<std::uint64_t>(1, size / esize);
    return {static_cast<std::size_t>(count), count * esize};
  }
  const auto n = static_cast<std::uint64_t>(ranks);
  auto block = std::max<std::uint64_t>(1, size / esize / n);
  return {static_cast<std::size_t>(block), block * esize * n};
}

double busBandwidthFactor(const std::string& benchmark, int ranks) {
  const double n = ranks;
  if (benchmark == "allreduce") return 2 * (n - 1) / n;
  if (benchmark == "allgather" || benchmark == "reduce_scatter" || benchmark == "alltoall")
    return (n - 1) / n;
  if (benchmark == "broadcast") return 1;
  return 0;
}

std::uint64_t collectiveIterations(const BenchConfig& config, std::uint64_t bytes) {
  if (config.iterations > 0) return config.iterations;
  return std::clamp<std::uint64_t>((64ull << 20) / std::max<std::uint64_t>(bytes, 1), 5, 1000);
}

namespace {

Measurement measureCollective(transport::Context& ctx, const BenchConfig& config,
                              const std::string& benchmark, const std::string& algorithm,
                              std::uint64_t size) {
  const int n = ctx.size(), rank = ctx.rank();
  if (benchmark == "broadcast" && config.root >= n)
    throwUsage(fmt::format("--root {} is not a rank of this run of {} ranks", config.root, n),
               fmt::format("use a root of 0 .. {}", n - 1));
  const bool native = algorithm == kNativeAlgorithm;
  const auto shape = collectiveShape(benchmark, size, n, config.dtype);
  const CollectiveCase c{benchmark,   algorithm, config.dtype, config.op,
                         config.root, n,         shape.count,  shape.bytes};
  const std::size_t esize = transport::elementSize(config.dtype);

  // Memory and Buffers, once per size, outside the timed loop.
  AlignedBuffer input(std::max<std::size_t>(inputElements(c) * esize, 1));
  std::size_t output_elements = benchmark == "alltoall"                   ? inputElements(c)
                                : benchmark == "reduce_scatter" && native ? shape.count
                                                                          : 0;
  AlignedBuffer output(std::max<std::size_t>(output_elements * esize, 1));
  CollectiveArgs args{benchmark,   algorithm,    config.dtype,  config.op,     config.root,
                      shape.count, input.data(), output.data(), kCollectiveTag};
  auto collective = makeCollective(ctx, args);
  std::uint8_t* result = input.data();
  if (output_elements > 0)
    result = output.data();
  else if (benchmark == "reduce_scatter")
    result = input.data() + static_cast<std::size_t>(rank) * shape.count * esize;
  std::uint8_t flag = 0;
  CollectiveArgs sync_args{"barrier", "dissemination", config.dtype, config.op, 0,
                           0,         &flag,           &flag,        kSyncTag};
  auto barrier = makeCollective(ctx, sync_args);

  auto call = [&](std::uint64_t iteration) {
    if (config.check) fillInput(c, rank, iteration, input.data());
    auto t0 = nowNs();
    collective->run(deadlineFrom(t0, config.timeout));
    auto t1 = nowNs();
    // Test hook (--inject-corruption): a wrong result that --check must catch.
    if (rank == config.inject_corruption && iteration == 0) corruptResult(c, result);
    if (config.check) verifyResult(c, rank, iteration, result);
    return static_cast<double>(t1 - t0) / 1e9;
  };

  std::uint64_t iterations = collectiveIterations(config, shape.bytes);
  std::uint64_t warmup = defaultWarmup(config, iterations);
  barrier->run(Deadline::afterSeconds(config.timeout));
  double warm_s = 0;
  for (std::uint64_t i = 0; i < warmup; ++i) warm_s += call(i);
  if (config.min_time > 0 && warmup > 0 && warm_s > 0) {
    auto needed = static_cast<std::uint64_t>(
        std::ceil(config.min_time / (warm_s / static_cast<double>(warmup))));
    iterations = std::max(iterations, needed);
  }
  iterations = agreeIterations(ctx, iterations, config.timeout);
  // Everyone starts the timed calls together, so no rank's first call waits for a straggler.
  barrier->run(Deadline::afterSeconds(config.timeout));
  Measurement m;
  m.measured = true;
  m.iterations = iterations;
  m.samples_us.reserve(iterations);
  for (std::uint64_t i = 0; i < iterations; ++i) {
    double s = call(warmup + i);
    m.seconds += s;
    m.samples_us.push_back(s * 1e6);
  }
  m.bytes = static_cast<double>(shape.bytes) * static_cast<double>(iterations);
  m.messages = static_cast<double>(iterations);
  return m;
}

}  // namespace

Measurement runCollective(transport::Context& ctx, const BenchConfig& config,
                          const std::string& benchmark, const std::string& algorithm,
                          std::uint64_t size) {
  try {
    return measureCollective(ctx, config, benchmark, algorithm, size);
  } catch (const Error& e) {
    // Tell the others now (the notice the CLI would publish), while this rank's connections
    // are open: they close as the error unwinds, and the others would then report a lost
    // connection to this rank first, hiding the cause (a failed --check, say).
    ctx.bootstrap().abort(fmt::format("rank {}: {}", ctx.rank(), e.what()));
    throw;
  }
}

Row aggregateCollective(const std::string& benchmark,
                        const std::vector<Measurement>& measurements) {
  Row row;
  row.pairs = 0;
  std::vector<double> samples, means;
  for (const auto& m : measurements) {
    if (!m.measured || m.iterations == 0) continue;
    ++row.pairs;
    row.iterations = std::max(row.iterations, m.iterations);
    row.size =
        static_cast<std::uint64_t>(std::llround(m.bytes / static_cast<double>(m.iterations)));
    samples.insert(samples.end(), m.samples_us.begin(), m.samples_us.end());
    means.push_back(m.seconds / static_cast<double>(m.iterations) * 1e6);
  }
  row.latency_us = summarize(std::move(samples));
  if (means.empty()) return row;
  Spread spread;
  spread.min = *std::min_element(means.begin(), means.end());
  spread.max = *std::max_element(means.begin(), means.end());
  for (double v : means) spread.mean += v / static_cast<double>(means.size());
  row.rank_time_us = spread;
  const double seconds = spread.mean / 1e6;
  if (seconds <= 0) return row;
  row.message_rate = 1 / seconds;
  if (benchmark != "barrier") {
    double algbw = static_cast<double>(row.size) / seconds / 1e9;
    row.algbw_gbps = algbw;
    row.busbw_gbps = algbw * busBandwidthFactor(benchmark, static_cast<int>(measurements.size()));
    row.bandwidth_mbps = algbw * 1e3;
  }
  return row;
}

}  // namespace rdzv::bench
