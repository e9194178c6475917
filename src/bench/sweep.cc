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
  const int steps =
      static_cast<int>(config.transports.size() * config.benchmarks.size() * config.sizes.size());
  int step = 0;
  for (const auto& name : config.transports) {
    auto timeout = Deadline::afterSeconds(config.timeout);
    transport::Context context(transport::createDevice(name, config.transport), bootstrap);
    context.connectFullMesh("mesh/" + name, timeout);
    for (const auto& benchmark : config.benchmarks) {
      if (rank == 0) report.series.push_back(makeSeries(config, name, benchmark));
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
          auto gathered =
              bootstrap.gather(fmt::format("result/{}/{}/{}/{}", name, benchmark, size, trial),
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
      if (rank == 0) {
        report.series.back().details = context.device().details();
        report.series.back().complete = true;
      }
    }
    bootstrap.barrier("done/" + name, Deadline::afterSeconds(config.timeout));
  }
}

}  // namespace rdzv::bench
