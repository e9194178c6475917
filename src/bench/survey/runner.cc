#include "bench/survey/runner.h"

#include <algorithm>
#include <map>
#include <memory>
#include <set>

#include <fmt/format.h>

#include "bench/p2p.h"
#include "bench/stop.h"
#include "bench/survey/inject.h"
#include "bench/survey/schedule.h"
#include "lib/clock.h"
#include "lib/error.h"
#include "lib/stats.h"
#include "transport/context.h"
#include "transport/registry.h"

namespace rdzv::bench::survey {
namespace {

// What one rank measured as the initiator of one pair: latency of (a, b), or bandwidth from a
// to b.
struct Record {
  std::string what;  // "latency" or "bw"
  int a = 0, b = 0;
  int slot = 0;  // index of the slot it was measured in
  Measured value;
};

void to_json(nlohmann::json& j, const Record& r) {
  j = {{"what", r.what},
       {"a", r.a},
       {"b", r.b},
       {"slot", r.slot},
       {"median", r.value.median},
       {"spread", r.value.spread}};
}

Record recordFrom(const nlohmann::json& j) {
  Record r;
  r.what = j.at("what").get<std::string>();
  r.a = j.at("a").get<int>();
  r.b = j.at("b").get<int>();
  r.slot = j.at("slot").get<int>();
  // NaN travels as null.
  r.value.median = j.at("median").is_number() ? j.at("median").get<double>() : NAN;
  r.value.spread = j.at("spread").is_number() ? j.at("spread").get<double>() : NAN;
  return r;
}

Measured summarise(std::vector<double> samples) {
  auto s = statsOf(std::move(samples));
  if (s.count == 0) return {};
  return {s.median, s.mad};
}

class Runner {
 public:
  Runner(const SurveyConfig& config, store::Bootstrap& bootstrap, const SurveyEvents& events)
      : config_(config), bootstrap_(bootstrap), events_(events) {
    auto device = transport::createDevice(config.transport, config.bench.transport);
    if (config.inject_rank == bootstrap.rank()) {
      slowdown_ = std::make_shared<Slowdown>(config.inject_factor);
      device = slowDevice(std::move(device), slowdown_);
    }
    context_ = std::make_unique<transport::Context>(std::move(device), bootstrap);
  }

  void connect() {
    context_->connectFullMesh("mesh/" + config_.transport,
                              Deadline::afterSeconds(config_.bench.timeout));
  }

  // Runs each slot's pairs (of ranks) at the same time, slot after slot, until the ranks
  // agree on a stop after one (stopped(), slotsRun()). After each slot, every rank's records
  // of it (what it measured as an initiator) reach rank 0 with the stop vote and are appended
  // to `heard` there, so that when a rank is lost later rank 0 keeps every finished slot.
  void measure(const std::vector<std::vector<Pair>>& slots, const std::string& tag,
               const std::function<std::string(int)>& what, std::vector<Record>& heard) {
    stop_ = slots_run_ = 0;
    const int me = bootstrap_.rank();
    for (std::size_t k = 0; k < slots.size(); ++k) {
      if (events_.progress && me == 0)
        events_.progress(static_cast<int>(k) + 1, static_cast<int>(slots.size()),
                         what(static_cast<int>(k)));
      int peer = -1;
      for (const auto& [a, b] : slots[k]) {
        if (a == me) peer = b;
        if (b == me) peer = a;
      }
      std::vector<Record> mine;
      // Every pair of a slot runs each phase together: latency, then bandwidth low to high
      // rank, then high to low.
      for (int phase = 0; phase < 3; ++phase) {
        bootstrap_.barrier(fmt::format("{}/{}/{}", tag, k, phase),
                           Deadline::afterSeconds(config_.bench.timeout));
        if (peer < 0) continue;
        bool initiator = phase == 2 ? me > peer : me < peer;
        Partner partner{peer, initiator};
        if (slowdown_) slowdown_->reset();
        auto config = config_.bench;
        if (phase == 0) {
          config.iterations = config_.latency_iterations;
          auto m = runPointToPointWith(*context_, config, "latency", config_.latency_size, partner);
          if (initiator)
            mine.push_back(
                {"latency", me, peer, static_cast<int>(k), summarise(std::move(m.samples_us))});
        } else {
          config.iterations = config_.bandwidth_iterations;
          auto m = runPointToPointWith(*context_, config, "bw", config_.bandwidth_size, partner);
          if (initiator) {
            // samples_us: per-message µs of each window; bytes per µs is MB/s.
            std::vector<double> mbps;
            for (double us : m.samples_us)
              if (us > 0) mbps.push_back(static_cast<double>(config_.bandwidth_size) / us);
            mine.push_back({"bw", me, peer, static_cast<int>(k), summarise(std::move(mbps))});
          }
        }
        context_->device().drain(Deadline::afterSeconds(config_.bench.timeout));
      }
      auto vote = agreeOnStopWith(bootstrap_, fmt::format("{}/{}/stop", tag, k),
                                  store::toBytes(nlohmann::json(mine).dump()),
                                  Deadline::afterSeconds(config_.bench.timeout));
      for (const auto& bytes : vote.heard)
        for (const auto& j : nlohmann::json::parse(store::toString(bytes)))
          heard.push_back(recordFrom(j));
      slots_run_ = static_cast<int>(k) + 1;
      stop_ = vote.stop;
      if (stop_ != 0) break;
    }
  }

  // The stop signal agreed on in the last measure(), or 0.
  int stopped() const { return stop_; }
  // The slots the last measure() finished (their records heard on rank 0).
  int slotsRun() const { return slots_run_; }

  // Rank 0's `value` on every rank.
  nlohmann::json share(const std::string& tag, const nlohmann::json& value) {
    auto all = bootstrap_.allgather(
        tag, store::toBytes(bootstrap_.rank() == 0 ? value.dump() : std::string()),
        Deadline::afterSeconds(config_.bench.timeout));
    return nlohmann::json::parse(store::toString(all.at(0)));
  }

  transport::Device& device() { return context_->device(); }

 private:
  const SurveyConfig& config_;
  store::Bootstrap& bootstrap_;
  const SurveyEvents& events_;
  std::shared_ptr<Slowdown> slowdown_;
  std::unique_ptr<transport::Context> context_;
  int stop_ = 0;
  int slots_run_ = 0;
};

void judge(MetricResult& m, const JudgeParams& params) {
  m.baseline = baselineOf(m.cost, params);
  m.outlier_nodes = outlierNodes(m.cost, m.baseline);
  m.suspects = findSuspects(m.cost, m.baseline);
}

// Decides one metric from the re-tests; `latency` picks its latency or else its bandwidth cost.
void decideMetric(MetricResult& m, int nodes, const std::vector<Retest>& retests,
                  const JudgeParams& params, bool latency) {
  auto costs = [&](const Alone& alone, std::size_t passes) {
    std::vector<double> out(passes, NAN);
    for (std::size_t p = 0; p < passes; ++p) {
      if (latency) {
        if (p < alone.latency_us.size()) out[p] = alone.latency_us[p];
      } else if (p < alone.bandwidth_mbps.size()) {
        double low = std::min(alone.bandwidth_mbps[p][0], alone.bandwidth_mbps[p][1]);
        if (std::isfinite(low) && low > 0) out[p] = 1 / low;
      }
    }
    return out;
  };
  std::vector<RetestPasses> passes;
  for (const auto& s : m.suspects) {
    RetestPasses rp;
    for (const auto& r : retests)
      if (r.nodes == Pair{s.a, s.b}) {
        auto n = std::max(r.suspect.latency_us.size(), r.suspect.bandwidth_mbps.size());
        rp.suspect = costs(r.suspect, n);
        rp.reference = costs(r.reference, n);
      }
    passes.push_back(std::move(rp));
  }
  m.verdicts = decide(nodes, m.suspects, m.outlier_nodes, passes, m.baseline, params);
}

}  // namespace

Matrix latencyCost(const Placement& placement, const MeasuredMatrix& latency_us) {
  const auto nodes = placement.nodes.size();
  std::vector<std::vector<std::vector<double>>> values(nodes,
                                                       std::vector<std::vector<double>>(nodes));
  for (std::size_t i = 0; i < latency_us.size(); ++i)
    for (std::size_t j = i + 1; j < latency_us.size(); ++j) {
      auto a = static_cast<std::size_t>(placement.node_of[i]);
      auto b = static_cast<std::size_t>(placement.node_of[j]);
      double v = latency_us[i][j].median;
      if (a == b || !std::isfinite(v)) continue;  // inside a node: another path, not judged
      values[a][b].push_back(v);
      values[b][a].push_back(v);
    }
  Matrix cost(nodes, std::vector<double>(nodes, NAN));
  for (std::size_t a = 0; a < nodes; ++a)
    for (std::size_t b = 0; b < nodes; ++b)
      if (!values[a][b].empty()) cost[a][b] = median(values[a][b]);
  return cost;
}

Matrix bandwidthCost(const Placement& placement, const MeasuredMatrix& bandwidth_mbps) {
  // The slower direction of each rank pair, as time per byte, in a latency-shaped matrix.
  MeasuredMatrix slower(bandwidth_mbps.size(), std::vector<Measured>(bandwidth_mbps.size()));
  for (std::size_t i = 0; i < bandwidth_mbps.size(); ++i)
    for (std::size_t j = 0; j < bandwidth_mbps.size(); ++j) {
      double low = std::min(bandwidth_mbps[i][j].median, bandwidth_mbps[j][i].median);
      if (std::isfinite(low) && low > 0) slower[i][j].median = 1 / low;
    }
  return latencyCost(placement, slower);
}

SurveyResult runSurvey(const SurveyConfig& config, store::Bootstrap& bootstrap,
                       const std::vector<RankInfo>& ranks, const SurveyEvents& events) {
  SurveyResult result;
  result.placement = placeRanks(ranks, config.grouping, config.ranks_per_node);
  if (config.inject_rank >= bootstrap.size())
    throwUsage(fmt::format("--inject-slow rank {} is not in this job of {} ranks",
                           config.inject_rank, bootstrap.size()),
               "name a rank of 0 .. size-1");
  const auto& placement = result.placement;
  const auto& who = placement.participants;
  const int n = static_cast<int>(who.size());
  Runner runner(config, bootstrap, events);
  runner.connect();
  if (events.connected) events.connected();

  // The survey: tournament rounds of participant pairs, as rank pairs.
  std::vector<std::vector<Pair>> slots;
  for (const auto& round : tournamentRounds(n)) {
    std::vector<Pair> ranked;
    for (const auto& [i, j] : round)
      ranked.emplace_back(who[static_cast<std::size_t>(i)], who[static_cast<std::size_t>(j)]);
    if (config.serial)
      for (const auto& p : ranked) slots.push_back({p});
    else
      slots.push_back(std::move(ranked));
  }
  // From here a failure (a lost rank, a deadline) is kept in the result rather than thrown, with
  // every slot finished before it filled in on rank 0.
  std::vector<Record> records;
  auto start = Clock::now();
  try {
    runner.measure(
        slots, "survey",
        [&](int k) {
          return config.serial
                     ? fmt::format("pair {}-{}", slots[static_cast<std::size_t>(k)][0].first,
                                   slots[static_cast<std::size_t>(k)][0].second)
                     : fmt::format("round {} of {}", k + 1, slots.size());
        },
        records);
  } catch (const Error&) {
    result.failure = std::current_exception();
  }
  result.survey_seconds = secondsSince(start);
  result.rounds = runner.slotsRun();
  for (int k = 0; k < result.rounds; ++k)
    result.pairs += static_cast<int>(slots[static_cast<std::size_t>(k)].size());
  const int survey_stop = runner.stopped();
  result.interrupted = survey_stop;

  // Rank 0 judges and says what to re-measure.
  nlohmann::json plan = nlohmann::json::array();
  std::map<int, std::size_t> index_of;
  for (std::size_t i = 0; i < who.size(); ++i) index_of[who[i]] = i;
  if (bootstrap.rank() == 0) {
    result.latency_us.assign(who.size(), std::vector<Measured>(who.size()));
    result.bandwidth_mbps = result.latency_us;
    for (const auto& r : records) {
      auto a = index_of.at(r.a), b = index_of.at(r.b);
      if (r.what == "latency") {
        result.latency_us[a][b] = result.latency_us[b][a] = r.value;
      } else {
        result.bandwidth_mbps[a][b] = r.value;
      }
    }
    result.latency.cost = latencyCost(placement, result.latency_us);
    result.bandwidth.cost = bandwidthCost(placement, result.bandwidth_mbps);
  }
  const bool every_round = result.rounds == static_cast<int>(slots.size());
  if (bootstrap.rank() == 0 && !every_round) {
    // Some pairs unmeasured: a baseline and outliers over the others could name a node slow
    // only for the partners it happened to have. Nothing is judged.
    for (auto* m : {&result.latency, &result.bandwidth}) m->baseline = {NAN, NAN, NAN};
  } else if (bootstrap.rank() == 0) {
    judge(result.latency, config.judge);
    judge(result.bandwidth, config.judge);
    // Each suspect pair of either metric gets one reference, healthy in both.
    std::set<Pair> suspects;
    for (const auto* m : {&result.latency, &result.bandwidth})
      for (const auto& s : m->suspects) suspects.insert({s.a, s.b});
    auto far = deviation(result.latency.cost, result.latency.baseline);
    auto bw_far = deviation(result.bandwidth.cost, result.bandwidth.baseline);
    for (std::size_t a = 0; a < far.size(); ++a)
      for (std::size_t b = 0; b < far.size(); ++b)
        far[a][b] = std::isnan(bw_far[a][b]) ? NAN : std::max(far[a][b], bw_far[a][b]);
    for (const auto& p : suspects) {
      if (survey_stop != 0) break;  // stopped: nothing re-tested
      auto ref = referenceFor(p, suspects, far);
      plan.push_back({p.first, p.second,
                      ref ? nlohmann::json{ref->first, ref->second} : nlohmann::json(nullptr)});
    }
  }
  if (result.failure) return result;

  // Each suspect alone, then its reference alone, pass after pass: the two are compared from
  // the same stretch of time, under the same load, which two absolute times from different
  // moments are not (they drift 2-3x on a shared machine). The order flips each pass so that
  // neither side always comes first. Ranks outside the measured pair wait blocked in the
  // barrier (the store's wait), not spinning.
  struct SlotOf {
    std::size_t retest;
    std::size_t pass;
    bool reference;
  };
  std::vector<std::vector<Pair>> alone;
  std::vector<SlotOf> slot_of;
  std::vector<Record> retested;
  try {
    plan = runner.share("survey/plan", plan);
    auto ranksOf = [&](std::size_t a, std::size_t b) {
      return Pair{placement.nodes.at(a).surveyed.front(), placement.nodes.at(b).surveyed.front()};
    };
    for (const auto& item : plan) {
      Retest r;
      auto a = item[0].get<std::size_t>(), b = item[1].get<std::size_t>();
      r.nodes = {static_cast<int>(a), static_cast<int>(b)};
      r.ranks = ranksOf(a, b);
      if (!item[2].is_null()) {
        auto c = item[2][0].get<std::size_t>(), d = item[2][1].get<std::size_t>();
        r.reference_nodes = Pair{static_cast<int>(c), static_cast<int>(d)};
        r.reference_ranks = ranksOf(c, d);
      }
      result.retests.push_back(r);
    }
    for (int pass = 0; pass < config.retest_passes; ++pass)
      for (std::size_t i = 0; i < result.retests.size(); ++i) {
        const auto& r = result.retests[i];
        std::vector<bool> order{false};
        if (r.reference_nodes)
          order = pass % 2 == 0 ? std::vector{false, true} : std::vector{true, false};
        for (bool reference : order) {
          alone.push_back({reference ? r.reference_ranks : r.ranks});
          slot_of.push_back({i, static_cast<std::size_t>(pass), reference});
        }
      }
    start = Clock::now();
    runner.measure(
        alone, "retest",
        [&](int k) {
          const auto& s = slot_of[static_cast<std::size_t>(k)];
          const auto& r = result.retests[s.retest];
          auto pair = s.reference ? r.reference_ranks : r.ranks;
          return fmt::format("re-test pass {} {} {}-{}", s.pass + 1,
                             s.reference ? "reference" : "suspect", pair.first, pair.second);
        },
        retested);
    result.retest_seconds = secondsSince(start);
    if (survey_stop == 0) result.interrupted = runner.stopped();
    // No rank may close its connections while a partner still waits on them.
    bootstrap.barrier("survey/done", Deadline::afterSeconds(config.bench.timeout));
  } catch (const Error&) {
    result.failure = std::current_exception();
  }
  if (bootstrap.rank() != 0) return result;

  const auto passes = static_cast<std::size_t>(config.retest_passes);
  for (auto& r : result.retests)
    for (auto* side : {&r.suspect, &r.reference}) {
      side->latency_us.assign(passes, NAN);
      side->bandwidth_mbps.assign(passes, {NAN, NAN});
    }
  for (const auto& rec : retested) {
    const auto& s = slot_of.at(static_cast<std::size_t>(rec.slot));
    auto& r = result.retests[s.retest];
    auto& side = s.reference ? r.reference : r.suspect;
    auto pair = s.reference ? r.reference_ranks : r.ranks;
    if (rec.what == "latency")
      side.latency_us[s.pass] = rec.value.median;
    else
      side.bandwidth_mbps[s.pass][rec.a == pair.first ? 0 : 1] = rec.value.median;
  }
  result.details = runner.device().details();
  // Re-tests cut short or never run decide nothing: a suspect without its passes alone would
  // read as contention.
  if (result.failure || survey_stop != 0 || runner.slotsRun() != static_cast<int>(alone.size()))
    return result;
  const int nodes = static_cast<int>(placement.nodes.size());
  decideMetric(result.latency, nodes, result.retests, config.judge, true);
  decideMetric(result.bandwidth, nodes, result.retests, config.judge, false);
  attributeToSlowNodes({&result.latency.verdicts, &result.bandwidth.verdicts});
  return result;
}

}  // namespace rdzv::bench::survey
