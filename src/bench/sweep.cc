#include "bench/sweep.h"

#include <algorithm>
#include <map>
#include <utility>

#include <fmt/format.h>

#include "bench/collectives/collectives.h"
#include "bench/stop.h"
#include "lib/error.h"
#include "lib/size.h"
#include "transport/context.h"
#include "transport/registry.h"

namespace rdzv::bench {

Row aggregate(std::uint64_t size, const std::vector<Measurement>& measurements) {
  Row row;
  row.size = size;
  row.pairs = 0;
  std::vector<double> samples;
  for (const auto& m : measurements) {
    if (!m.measured) continue;
    ++row.pairs;
    row.iterations = std::max(row.iterations, m.iterations);
    samples.insert(samples.end(), m.samples_us.begin(), m.samples_us.end());
    if (m.seconds > 0) {
      row.bandwidth_mbps += m.bytes / m.seconds / 1e6;
      row.message_rate += m.messages / m.seconds;
    }
  }
  row.latency_us = summarize(std::move(samples));
  return row;
}

Row combineTrials(const std::vector<Row>& trials) {
  if (trials.size() <= 1) return trials.empty() ? Row{} : trials.front();
  auto med = [&](auto field) {
    std::vector<double> values;
    for (const auto& t : trials) values.push_back(static_cast<double>(field(t)));
    return median(std::move(values));
  };
  Row row = trials.front();
  for (const auto& t : trials) {
    // --min-time calibrates each trial on its own, so their counts can differ.
    row.iterations = std::max(row.iterations, t.iterations);
    row.latency_us.count = std::max(row.latency_us.count, t.latency_us.count);
    row.pairs = std::min(row.pairs, t.pairs);
    row.trials.push_back({t.latency_us.p50, t.bandwidth_mbps});
  }
  row.latency_us.min = med([](const Row& r) { return r.latency_us.min; });
  row.latency_us.mean = med([](const Row& r) { return r.latency_us.mean; });
  row.latency_us.p50 = med([](const Row& r) { return r.latency_us.p50; });
  row.latency_us.p90 = med([](const Row& r) { return r.latency_us.p90; });
  row.latency_us.p99 = med([](const Row& r) { return r.latency_us.p99; });
  row.latency_us.max = med([](const Row& r) { return r.latency_us.max; });
  row.bandwidth_mbps = med([](const Row& r) { return r.bandwidth_mbps; });
  row.message_rate = med([](const Row& r) { return r.message_rate; });
  // Collectives' fields: every trial of a size has them, or none has.
  if (row.rank_time_us) {
    row.rank_time_us->min = med([](const Row& r) { return r.rank_time_us.value_or(Spread{}).min; });
    row.rank_time_us->mean =
        med([](const Row& r) { return r.rank_time_us.value_or(Spread{}).mean; });
    row.rank_time_us->max = med([](const Row& r) { return r.rank_time_us.value_or(Spread{}).max; });
  }
  if (row.algbw_gbps) row.algbw_gbps = med([](const Row& r) { return r.algbw_gbps.value_or(0); });
  if (row.busbw_gbps) row.busbw_gbps = med([](const Row& r) { return r.busbw_gbps.value_or(0); });
  return row;
}

namespace {

nlohmann::json countersJson(const transport::engine::EngineCounters& c) {
  return {{"inline_sent", c.inline_sent},
          {"eager_sent", c.eager_sent},
          {"rendezvous_sent", c.rendezvous_sent},
          {"unexpected", c.unexpected},
          {"overflow_bytes_copied", c.overflow_bytes_copied},
          {"gets", c.gets},
          {"done_sent", c.done_sent},
          {"peak_overflow_bytes", c.peak_overflow_bytes}};
}

// What this rank's engine did during one series (the peak is per series already: the
// overflow pool is renewed with each parameter set).
transport::engine::EngineCounters delta(const transport::engine::EngineCounters& before,
                                        const transport::engine::EngineCounters& after) {
  auto d = after;
  d.inline_sent -= before.inline_sent;
  d.eager_sent -= before.eager_sent;
  d.rendezvous_sent -= before.rendezvous_sent;
  d.unexpected -= before.unexpected;
  d.overflow_bytes_copied -= before.overflow_bytes_copied;
  d.gets -= before.gets;
  d.done_sent -= before.done_sent;
  return d;
}

// Sums every rank's counters (the peak is the largest of any rank).
nlohmann::json sumCounters(const std::vector<store::Bytes>& gathered) {
  nlohmann::json total = countersJson({});
  for (const auto& bytes : gathered) {
    auto one = nlohmann::json::parse(store::toString(bytes));
    for (auto& [key, value] : total.items()) {
      auto v = one.at(key).get<std::uint64_t>();
      value = key == "peak_overflow_bytes" ? std::max(value.get<std::uint64_t>(), v)
                                           : value.get<std::uint64_t>() + v;
    }
  }
  return total;
}

Series makeSeries(const BenchConfig& config, int size, const std::string& transport,
                  const std::string& benchmark, const std::string& algorithm) {
  Series s;
  s.transport = transport;
  s.benchmark = benchmark;
  s.algorithm = algorithm;
  if (isCollective(benchmark)) {
    if (benchmark != "barrier") s.params["dtype"] = transport::toString(config.dtype);
    if (benchmark == "allreduce" || benchmark == "reduce_scatter")
      s.params["op"] = transport::toString(config.op);
    if (benchmark == "broadcast") s.params["root"] = std::to_string(config.root);
  } else {
    if (benchmark != "latency") s.params["window"] = std::to_string(config.window);
    // The pairing asked for: compare matches series on it.
    static const std::map<PairMode, std::string> asked{{PairMode::First, "0-1"},
                                                       {PairMode::Auto, "all"},
                                                       {PairMode::Intra, "intra"},
                                                       {PairMode::Inter, "inter"}};
    s.params["pairs"] = asked.at(config.pairs);
    // ... and the pairs it gave on these nodes.
    auto nodes = config.nodes.size() == static_cast<std::size_t>(size)
                     ? config.nodes
                     : std::vector<std::string>(size);
    s.measured_pairs = pairList(choosePairs(config.pairs, nodes));
    s.pair_locality = pairLocality(s.measured_pairs, nodes);
  }
  if (config.check) s.params["check"] = "on";
  s.complete = false;
  return s;
}

// The (benchmark, algorithm) of each series a transport runs, in --benchmark order; the
// algorithm is empty for point-to-point benchmarks.
std::vector<std::pair<std::string, std::string>> seriesKinds(const BenchConfig& config,
                                                             bool native_collectives) {
  std::vector<std::pair<std::string, std::string>> kinds;
  for (const auto& benchmark : config.benchmarks)
    for (const auto& algorithm : algorithmsFor(benchmark, config.algorithms, native_collectives))
      kinds.emplace_back(benchmark, algorithm);
  return kinds;
}

}  // namespace

int runSweep(const BenchConfig& config, store::Bootstrap& bootstrap, Report& report,
             const SweepEvents& events) {
  const int rank = bootstrap.rank();
  if (bootstrap.size() < 2)
    throwUsage(fmt::format("point-to-point benchmarks need at least 2 ranks, this run has {}",
                           bootstrap.size()),
               "start 2 or more ranks (--np 2 in local mode)");
  int steps = 0;
  for (const auto& name : config.transports) {
    // Only the engine's transports sweep protocol parameters; the others run once.
    auto info = transport::transportInfo(name);
    steps += static_cast<int>(seriesKinds(config, info.native_collectives).size() *
                              config.sizes.size() * (info.engine ? config.protocols.size() : 1));
  }
  int step = 0;
  int series_index = 0;
  for (const auto& name : config.transports) {
    auto timeout = Deadline::afterSeconds(config.timeout);
    transport::Context context(transport::createDevice(name, config.transport), bootstrap);
    context.connectFullMesh("mesh/" + name, timeout);
    auto& device = context.device();
    std::size_t protocol_sets = device.hasEngine() ? config.protocols.size() : 1;
    if (events.connected) events.connected(name);
    const bool native = transport::transportInfo(name).native_collectives;
    for (const auto& [benchmark, algorithm] : seriesKinds(config, native)) {
      const bool collective = isCollective(benchmark);
      for (std::size_t pi = 0; pi < protocol_sets; ++pi) {
        const auto tag = fmt::format("s{}", series_index++);
        if (device.hasEngine()) {
          // No rank may still send under the previous parameters when they change.
          bootstrap.barrier(tag + "/start", Deadline::afterSeconds(config.timeout));
          device.setProtocol(config.protocols[pi]);
        }
        device.beginSeries();
        auto before = device.engineCounters();
        if (rank == 0) {
          auto series = makeSeries(config, context.size(), name, benchmark, algorithm);
          if (device.hasEngine()) {
            for (auto& [k, v] : transport::engine::describe(config.protocols[pi]))
              series.params[k] = v;
            series.details["switch_point"] = config.protocols[pi].switchPoint();
            series.details["inject_size"] = config.protocols[pi].inject_size;
          }
          report.series.push_back(std::move(series));
        }
        std::uint64_t measured_bytes = ~std::uint64_t{0};
        for (auto size : config.sizes) {
          ++step;
          if (collective) {
            // Sizes round to whole elements and blocks (barrier has none): measure each
            // resulting size once.
            auto bytes = collectiveShape(benchmark, size, context.size(), config.dtype).bytes;
            if (bytes == measured_bytes) continue;
            measured_bytes = bytes;
          }
          std::vector<Row> trials;
          int stop = 0;
          for (int trial = 1; trial <= config.repeat && stop == 0; ++trial) {
            if (events.progress)
              events.progress(
                  step, steps,
                  fmt::format(
                      "{} {}{} {}{}", name, benchmark, algorithm.empty() ? "" : " " + algorithm,
                      formatSize(size),
                      config.repeat > 1 ? fmt::format(" trial {}/{}", trial, config.repeat) : ""));
            auto measured = collective ? runCollective(context, config, benchmark, algorithm, size)
                                       : runPointToPoint(context, config, benchmark, size);
            device.drain(Deadline::afterSeconds(config.timeout));
            auto gathered = bootstrap.gather(fmt::format("{}/result/{}/{}", tag, size, trial),
                                             store::toBytes(nlohmann::json(measured).dump()),
                                             Deadline::afterSeconds(config.timeout));
            std::vector<Measurement> all;
            for (const auto& bytes : gathered)
              all.push_back(nlohmann::json::parse(store::toString(bytes)).get<Measurement>());
            stop = agreeOnStop(bootstrap, fmt::format("{}/stop/{}/{}", tag, size, trial),
                               Deadline::afterSeconds(config.timeout));
            if (rank == 0)
              trials.push_back(collective ? aggregateCollective(benchmark, all)
                                          : aggregate(size, all));
          }
          // A row keeps only complete sizes: a stop between trials drops the size under way.
          if (rank == 0 && static_cast<int>(trials.size()) == config.repeat) {
            auto& series = report.series.back();
            series.rows.push_back(combineTrials(trials));
            if (events.row) events.row(series, series.rows.back());
          }
          if (stop != 0) return stop;  // the series under way stays incomplete
        }
        auto counters = bootstrap.gather(
            tag + "/counters",
            store::toBytes(countersJson(delta(before, device.engineCounters())).dump()),
            Deadline::afterSeconds(config.timeout));
        if (rank == 0) {
          auto& series = report.series.back();
          auto details = device.details();  // items() would dangle on a temporary
          for (auto& [k, v] : details.items()) series.details[k] = v;
          if (device.hasEngine()) series.details["counters"] = sumCounters(counters);
          series.complete = true;
          if (events.seriesDone) events.seriesDone(series);
        }
      }
    }
    bootstrap.barrier("done/" + name, Deadline::afterSeconds(config.timeout));
  }
  return 0;
}

}  // namespace rdzv::bench

namespace rdzv::bench {

double estimateSweepSeconds(const BenchConfig& config, int ranks) {
  auto perMessage = [](double bytes) {
    return kEstimateMessageUs * 1e-6 + bytes / kEstimateBytesPerSecond;
  };
  ranks = std::max(ranks, 2);
  double total = 0;
  for (const auto& name : config.transports) {
    auto info = transport::transportInfo(name);
    double sets = info.engine ? static_cast<double>(config.protocols.size()) : 1;
    for (const auto& [benchmark, algorithm] : seriesKinds(config, info.native_collectives)) {
      for (auto size : config.sizes) {
        double row = 0;
        if (isCollective(benchmark)) {
          // As a ring: 2(n-1) steps per call, each moving 1/n of the data.
          auto bytes = collectiveShape(benchmark, size, ranks, config.dtype).bytes;
          auto iterations = collectiveIterations(config, bytes);
          double calls = static_cast<double>(iterations + defaultWarmup(config, iterations));
          row = calls * 2.0 * (ranks - 1) * perMessage(static_cast<double>(bytes) / ranks);
        } else {
          auto iterations = defaultIterations(config, benchmark, size);
          double rounds = static_cast<double>(iterations + defaultWarmup(config, iterations));
          double messages = benchmark == "latency" ? 2.0
                            : benchmark == "bw"    ? config.window + 1.0
                                                   : 2.0 * config.window + 1.0;
          row = rounds * messages * perMessage(static_cast<double>(size));
        }
        total += (std::max(row, config.min_time) + kEstimateRowSeconds) * config.repeat * sets;
      }
    }
  }
  return total;
}

}  // namespace rdzv::bench
