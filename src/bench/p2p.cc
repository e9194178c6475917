#include "bench/p2p.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "bench/collectives/collectives.h"
#include "bench/pattern.h"
#include "lib/aligned_buffer.h"
#include "lib/error.h"

namespace rdzv::bench {
namespace {

constexpr std::uint64_t kDataTag = 1;
constexpr std::uint64_t kControlTag = 2;
constexpr std::uint64_t kAckTag = 3;

Deadline deadlineFrom(std::int64_t start_ns, double timeout_s) {
  return Deadline(Clock::time_point(std::chrono::nanoseconds(start_ns)) +
                  std::chrono::nanoseconds(static_cast<std::int64_t>(timeout_s * 1e9)));
}

// The initiator decides the timed iteration count (it alone calibrates --min-time from the
// warm-up) and tells its partner, so both sides run the same loop.
std::uint64_t agreeIterations(transport::Context& ctx, const Partner& partner,
                              std::uint64_t proposed, double timeout) {
  std::uint64_t value = proposed;
  auto control = ctx.createBuffer(&value, sizeof value);
  auto deadline = Deadline::afterSeconds(timeout);
  if (partner.initiator) {
    control->send(partner.peer, 0, sizeof value, kControlTag);
    control->waitSend(deadline);
  } else {
    control->recv(partner.peer, 0, sizeof value, kControlTag);
    control->waitRecv(deadline);
  }
  return value;
}

std::uint64_t calibrate(const BenchConfig& config, std::uint64_t iterations, double warmup_s,
                        std::uint64_t warmup) {
  if (config.min_time <= 0 || warmup == 0 || warmup_s <= 0) return iterations;
  double per_iteration = warmup_s / static_cast<double>(warmup);
  auto needed = static_cast<std::uint64_t>(std::ceil(config.min_time / per_iteration));
  return std::max(iterations, needed);
}

Measurement latency(transport::Context& ctx, const BenchConfig& config, const Partner& partner,
                    std::uint64_t size) {
  std::uint64_t iterations = defaultIterations(config, "latency", size);
  std::uint64_t warmup = defaultWarmup(config, iterations);
  AlignedBuffer memory(2 * size);
  auto buffer = ctx.createBuffer(memory.data(), memory.size());
  std::uint8_t* out = memory.data();
  std::uint8_t* in = memory.data() + size;
  Measurement m;
  m.measured = partner.initiator;
  auto pingPong = [&](std::uint64_t i, bool timed) {
    if (partner.initiator) {
      if (config.check) fillPattern(out, size, ctx.rank(), i);
      buffer->recv(partner.peer, size, size, kDataTag);
      auto t0 = nowNs();
      auto deadline = deadlineFrom(t0, config.timeout);
      buffer->send(partner.peer, 0, size, kDataTag);
      buffer->waitRecv(deadline);
      auto t1 = nowNs();
      buffer->waitSend(deadline);
      if (config.check) verifyPattern(in, size, partner.peer, i);
      if (timed) m.samples_us.push_back(static_cast<double>(t1 - t0) / 2e3);
      return static_cast<double>(t1 - t0) / 1e9;
    }
    buffer->recv(partner.peer, size, size, kDataTag);
    auto deadline = Deadline::afterSeconds(config.timeout);
    buffer->waitRecv(deadline);
    if (config.check) {
      verifyPattern(in, size, partner.peer, i);
      fillPattern(out, size, ctx.rank(), i);
    }
    buffer->send(partner.peer, 0, size, kDataTag);
    buffer->waitSend(deadline);
    return 0.0;
  };
  double warm_s = 0;
  for (std::uint64_t i = 0; i < warmup; ++i) warm_s += pingPong(i, false);
  iterations =
      agreeIterations(ctx, partner, calibrate(config, iterations, warm_s, warmup), config.timeout);
  m.iterations = iterations;
  m.samples_us.reserve(iterations);
  for (std::uint64_t i = 0; i < iterations; ++i) m.seconds += pingPong(warmup + i, true);
  // One-way time is half the round trip, so a ping-pong moves size bytes per half.
  m.seconds /= 2;
  m.bytes = static_cast<double>(size) * static_cast<double>(iterations);
  m.messages = static_cast<double>(iterations);
  return m;
}

// bw (one direction) and bibw (both): a window of messages, then a zero-byte acknowledgement
// so the sender's clock covers the data's arrival, not only its departure.
Measurement windowed(transport::Context& ctx, const BenchConfig& config, const Partner& partner,
                     std::uint64_t size, bool bidirectional) {
  const std::string name = bidirectional ? "bibw" : "bw";
  std::uint64_t iterations = defaultIterations(config, name, size);
  std::uint64_t warmup = defaultWarmup(config, iterations);
  AlignedBuffer memory(2 * size);
  auto buffer = ctx.createBuffer(memory.data(), memory.size());
  std::uint8_t ack_byte = 0;
  auto ack = ctx.createBuffer(&ack_byte, 1);
  std::uint8_t* out = memory.data();
  std::uint8_t* in = memory.data() + size;
  const int window = config.window;
  bool sends = partner.initiator || bidirectional;
  bool receives = !partner.initiator || bidirectional;
  Measurement m;
  m.measured = partner.initiator;
  auto round = [&](std::uint64_t i) {
    auto t0 = nowNs();
    auto deadline = deadlineFrom(t0, config.timeout);
    if (config.check && sends) fillPattern(out, size, ctx.rank(), i);
    if (receives)
      for (int w = 0; w < window; ++w) buffer->recv(partner.peer, size, size, kDataTag);
    if (partner.initiator) ack->recv(partner.peer, 0, 0, kAckTag);
    if (config.check) t0 = nowNs();  // filling is not part of the transfer
    if (sends)
      for (int w = 0; w < window; ++w) buffer->send(partner.peer, 0, size, kDataTag);
    if (sends)
      for (int w = 0; w < window; ++w) buffer->waitSend(deadline);
    if (receives)
      for (int w = 0; w < window; ++w) buffer->waitRecv(deadline);
    if (partner.initiator) {
      ack->waitRecv(deadline);
    } else {
      ack->send(partner.peer, 0, 0, kAckTag);
      ack->waitSend(deadline);
    }
    auto t1 = nowNs();
    if (config.check && receives) verifyPattern(in, size, partner.peer, i);
    return static_cast<double>(t1 - t0) / 1e9;
  };
  double warm_s = 0;
  for (std::uint64_t i = 0; i < warmup; ++i) warm_s += round(i);
  iterations =
      agreeIterations(ctx, partner, calibrate(config, iterations, warm_s, warmup), config.timeout);
  m.iterations = iterations;
  m.samples_us.reserve(iterations);
  for (std::uint64_t i = 0; i < iterations; ++i) {
    double s = round(warmup + i);
    m.seconds += s;
    m.samples_us.push_back(s * 1e6 / window);
  }
  double directions = bidirectional ? 2 : 1;
  m.messages = directions * window * static_cast<double>(iterations);
  m.bytes = m.messages * static_cast<double>(size);
  return m;
}

}  // namespace

const std::vector<std::string>& pointToPointBenchmarks() {
  static const std::vector<std::string> names{"latency", "bw", "bibw"};
  return names;
}

void requireBenchmark(const std::string& name) {
  auto known = pointToPointBenchmarks();
  if (std::find(known.begin(), known.end(), name) != known.end() || isCollective(name)) return;
  const auto& collectives = collectiveBenchmarks();
  known.insert(known.end(), collectives.begin(), collectives.end());
  throwUsage(fmt::format("unknown benchmark \"{}\"", name),
             fmt::format("choose from: {}", fmt::join(known, ", ")));
}

namespace {

// The ranks of each node, nodes in order of their first rank.
std::vector<std::vector<int>> groupByNode(const std::vector<std::string>& nodes) {
  std::vector<std::vector<int>> groups;
  std::map<std::string, std::size_t> index;
  for (int r = 0; r < static_cast<int>(nodes.size()); ++r) {
    auto [it, fresh] = index.emplace(nodes[r], groups.size());
    if (fresh) groups.emplace_back();
    groups[it->second].push_back(r);
  }
  return groups;
}

void pairUp(std::vector<std::optional<Partner>>& partners, int a, int b) {
  partners[std::min(a, b)] = Partner{std::max(a, b), true};
  partners[std::max(a, b)] = Partner{std::min(a, b), false};
}

}  // namespace

std::vector<std::optional<Partner>> choosePairs(PairMode mode,
                                                const std::vector<std::string>& nodes) {
  const int n = static_cast<int>(nodes.size());
  std::vector<std::optional<Partner>> partners(n);
  auto groups = groupByNode(nodes);
  if (mode == PairMode::First) {
    if (n >= 2) pairUp(partners, 0, 1);
    return partners;
  }
  if (mode == PairMode::Auto && groups.size() <= 1) {
    for (int i = 0; i < n / 2; ++i) pairUp(partners, i, i + n / 2);  // the odd rank out sits out
    return partners;
  }
  if (mode == PairMode::Intra) {
    bool any = false;
    for (const auto& g : groups) {
      auto half = g.size() / 2;
      for (std::size_t j = 0; j < half; ++j) pairUp(partners, g[j], g[j + half]);
      any |= half > 0;
    }
    if (!any)
      throwUsage(fmt::format("--pairs intra found no node with two ranks: the {} ranks run on {} "
                             "nodes, one on each",
                             n, groups.size()),
                 "start 2 or more ranks per node, or use --pairs inter");
    return partners;
  }
  // Inter, or Auto across several nodes.
  if (groups.size() < 2)
    throwUsage(
        fmt::format("--pairs inter needs ranks on 2 or more nodes; all {} ranks run on {}", n,
                    n > 0 ? nodes[0] : "one node"),
        "start the ranks on several nodes (e.g. srun -N 2), or use --pairs or --pairs intra");
  std::stable_sort(groups.begin(), groups.end(),
                   [](const auto& a, const auto& b) { return a.size() > b.size(); });
  const std::size_t largest = groups.front().size();
  std::vector<int> others;
  for (std::size_t g = 1; g < groups.size(); ++g)
    others.insert(others.end(), groups[g].begin(), groups[g].end());
  if (largest <= static_cast<std::size_t>(n / 2)) {
    // Grouped by node, no node spans n/2 places, so places j and j + n/2 are on different nodes.
    std::vector<int> order = groups.front();
    order.insert(order.end(), others.begin(), others.end());
    for (int j = 0; j < n / 2; ++j) pairUp(partners, order[j], order[j + n / 2]);
  } else {
    // One node holds most ranks: each other rank pairs with one of it, the rest sit out.
    for (std::size_t j = 0; j < others.size(); ++j) pairUp(partners, groups.front()[j], others[j]);
  }
  return partners;
}

std::optional<Partner> partnerOf(int rank, int size, bool pairs) {
  auto partners = choosePairs(pairs ? PairMode::Auto : PairMode::First,
                              std::vector<std::string>(std::max(size, 0)));
  if (rank < 0 || rank >= size) return std::nullopt;
  return partners[rank];
}

std::vector<std::array<int, 2>> pairList(const std::vector<std::optional<Partner>>& partners) {
  std::vector<std::array<int, 2>> pairs;
  for (int r = 0; r < static_cast<int>(partners.size()); ++r)
    if (partners[r] && partners[r]->initiator) pairs.push_back({r, partners[r]->peer});
  return pairs;
}

std::string pairLocality(const std::vector<std::array<int, 2>>& pairs,
                         const std::vector<std::string>& nodes) {
  bool intra = false;
  bool inter = false;
  for (const auto& [a, b] : pairs) {
    bool same = a >= static_cast<int>(nodes.size()) || b >= static_cast<int>(nodes.size()) ||
                nodes[a] == nodes[b];
    (same ? intra : inter) = true;
  }
  if (intra && inter) return "mixed";
  if (inter) return "inter";
  return intra ? "intra" : "";
}

std::uint64_t defaultIterations(const BenchConfig& config, const std::string& benchmark,
                                std::uint64_t size) {
  if (config.iterations > 0) return config.iterations;
  if (benchmark == "latency") {
    // 1000 round trips, but no more than 256 MiB each way: 64 at 4 MiB.
    return std::clamp<std::uint64_t>((256ull << 20) / std::max<std::uint64_t>(size, 1), 20, 1000);
  }
  std::uint64_t per_round =
      std::max<std::uint64_t>(size, 1) * static_cast<std::uint64_t>(config.window);
  return std::clamp<std::uint64_t>((1ull << 30) / per_round, 10, 100);
}

std::uint64_t defaultWarmup(const BenchConfig& config, std::uint64_t iterations) {
  if (config.warmup > 0) return config.warmup;
  return std::max<std::uint64_t>(2, iterations / 10);
}

Measurement runPointToPoint(transport::Context& ctx, const BenchConfig& config,
                            const std::string& benchmark, std::uint64_t size) {
  auto nodes = config.nodes.size() == static_cast<std::size_t>(ctx.size())
                   ? config.nodes
                   : std::vector<std::string>(ctx.size());
  auto partner = choosePairs(config.pairs, nodes)[ctx.rank()];
  if (!partner) return {};
  return runPointToPointWith(ctx, config, benchmark, size, *partner);
}

Measurement runPointToPointWith(transport::Context& ctx, const BenchConfig& config,
                                const std::string& benchmark, std::uint64_t size,
                                const Partner& partner) {
  if (benchmark == "latency") return latency(ctx, config, partner, size);
  if (benchmark == "bw") return windowed(ctx, config, partner, size, false);
  if (benchmark == "bibw") return windowed(ctx, config, partner, size, true);
  requireBenchmark(benchmark);
  return {};
}

void to_json(nlohmann::json& j, const Measurement& m) {
  j = {{"measured", m.measured}, {"iterations", m.iterations}, {"samples_us", m.samples_us},
       {"seconds", m.seconds},   {"bytes", m.bytes},           {"messages", m.messages}};
}

void from_json(const nlohmann::json& j, Measurement& m) {
  j.at("measured").get_to(m.measured);
  j.at("iterations").get_to(m.iterations);
  j.at("samples_us").get_to(m.samples_us);
  j.at("seconds").get_to(m.seconds);
  j.at("bytes").get_to(m.bytes);
  j.at("messages").get_to(m.messages);
}

}  // namespace rdzv::bench
