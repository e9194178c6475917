#include "bench/sweep.h"

#include <algorithm>

#include <fmt/format.h>

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

Series makeSeries(const BenchConfig& config, const std::string& transport,
                  const std::string& benchmark) {
  Series s;
  s.transport = transport;
  s.benchmark = benchmark;
  if (benchmark != "latency") s.params["window"] = std::to_string(config.window);
  s.params["pairs"] = config.pairs ? "all" : "0-1";
  if (config.check) s.params["check"] = "on";
  s.complete = false;
  return s;
}

}  // namespace

void runSweep(const BenchConfig& config, store::Bootstrap& bootstrap, Report& report,
              const SweepEvents& events) {
  const int rank = bootstrap.rank();
  if (bootstrap.size() < 2)
    throwUsage(fmt::format("point-to-point benchmarks need at least 2 ranks, this run has {}",
                           bootstrap.size()),
               "start 2 or more ranks (--np 2 in local mode)");
  int steps = 0;
  for (const auto& name : config.transports) {
    // Only the engine's transports sweep protocol parameters; the others run once.
    bool engine = transport::transportInfo(name).engine;
    steps += static_cast<int>(config.benchmarks.size() * config.sizes.size() *
                              (engine ? config.protocols.size() : 1));
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
    for (const auto& benchmark : config.benchmarks) {
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
          auto series = makeSeries(config, name, benchmark);
          if (device.hasEngine()) {
            for (auto& [k, v] : transport::engine::describe(config.protocols[pi]))
              series.params[k] = v;
            series.details["switch_point"] = config.protocols[pi].switchPoint();
            series.details["inject_size"] = config.protocols[pi].inject_size;
          }
          report.series.push_back(std::move(series));
        }
        for (auto size : config.sizes) {
          ++step;
          std::vector<Row> trials;
          for (int trial = 1; trial <= config.repeat; ++trial) {
            if (events.progress)
              events.progress(
                  step, steps,
                  fmt::format(
                      "{} {} {}{}", name, benchmark, formatSize(size),
                      config.repeat > 1 ? fmt::format(" trial {}/{}", trial, config.repeat) : ""));
            auto measured = runPointToPoint(context, config, benchmark, size);
            device.drain(Deadline::afterSeconds(config.timeout));
            auto gathered = bootstrap.gather(fmt::format("{}/result/{}/{}", tag, size, trial),
                                             store::toBytes(nlohmann::json(measured).dump()),
                                             Deadline::afterSeconds(config.timeout));
            if (rank != 0) continue;
            std::vector<Measurement> all;
            for (const auto& bytes : gathered)
              all.push_back(nlohmann::json::parse(store::toString(bytes)).get<Measurement>());
            trials.push_back(aggregate(size, all));
          }
          if (rank != 0) continue;
          auto& series = report.series.back();
          series.rows.push_back(combineTrials(trials));
          if (events.row) events.row(series, series.rows.back());
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
}

}  // namespace rdzv::bench
