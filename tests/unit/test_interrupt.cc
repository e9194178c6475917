// Stop signals (lib/interrupt.h): the handler records the first, waits give up after the grace
// period, and a sweep stops at its next size on every rank with the finished rows kept.

#include <signal.h>

#include <thread>

#include <gtest/gtest.h>

#include "bench/stop.h"
#include "bench/sweep.h"
#include "lib/clock.h"
#include "lib/interrupt.h"
#include "store/bootstrap.h"
#include "store/hash_store.h"

namespace rdzv {
namespace {

// Installs the handlers for one test and puts the previous ones back after it.
class Interrupt : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 3; ++i) sigaction(kSignals[i], nullptr, &saved_[i]);
    interrupt::reset();
    interrupt::install();
  }
  void TearDown() override {
    interrupt::reset();
    for (int i = 0; i < 3; ++i) sigaction(kSignals[i], &saved_[i], nullptr);
  }
  static constexpr int kSignals[3] = {SIGTERM, SIGINT, SIGUSR1};
  struct sigaction saved_[3]{};
};

TEST_F(Interrupt, TheFirstSignalIsKept) {
  EXPECT_EQ(interrupt::pending(), 0);
  EXPECT_EQ(interrupt::exitCode(3), 3);
  raise(SIGUSR1);
  EXPECT_EQ(interrupt::pending(), SIGUSR1);
  raise(SIGTERM);
  EXPECT_EQ(interrupt::pending(), SIGUSR1);
  EXPECT_EQ(interrupt::exitCode(3), 128 + SIGUSR1);
  EXPECT_EQ(interrupt::signalName(SIGUSR1), "SIGUSR1");
  EXPECT_EQ(interrupt::signalName(SIGINT), "SIGINT");
  EXPECT_EQ(interrupt::signalName(SIGTERM), "SIGTERM");
  EXPECT_EQ(interrupt::signalName(99), "signal 99");
}

TEST_F(Interrupt, WaitsEndAfterTheGraceUntilHeld) {
  auto long_wait = Deadline::afterSeconds(600);
  raise(SIGINT);
  EXPECT_FALSE(long_wait.expired()) << "the grace period lets the current size finish";
  EXPECT_GT(long_wait.remaining().count(), 0);
  // The grace is over: every wait ends now, whatever its own deadline.
  interrupt::detail::waits_end_ns.store(nowNs() - 1);
  EXPECT_TRUE(long_wait.expired());
  EXPECT_TRUE(Deadline::afterSeconds(600).expired());
  EXPECT_EQ(long_wait.remaining().count(), 0);
  EXPECT_EQ(long_wait.remainingMs(), 0);
  // Once the stop is being handled, waits keep their own deadlines again.
  interrupt::holdWaits();
  EXPECT_FALSE(long_wait.expired());
  EXPECT_EQ(interrupt::pending(), SIGINT);
}

TEST_F(Interrupt, GraceEndsWaitsOnItsOwn) {
  auto start = Clock::now();
  interrupt::request(SIGTERM);
  auto wait = Deadline::afterSeconds(600);
  while (!wait.expired() && Clock::now() - start < std::chrono::seconds(10))
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  double took = std::chrono::duration<double>(Clock::now() - start).count();
  EXPECT_GE(took, interrupt::kStopGraceSeconds - 0.1);
  EXPECT_LT(took, interrupt::kStopGraceSeconds + 1);
}

// Two ranks (threads, tcp on loopback, a HashStore) run a sweep; the signal arrives while the
// second size is measured. Both ranks stop after it, rank 0's report has the two rows.
TEST_F(Interrupt, SweepStopsAtTheNextSizeOnEveryRank) {
  store::HashStore store;
  bench::BenchConfig config;
  config.transports = {"tcp"};
  config.benchmarks = {"latency", "bw"};
  config.sizes = {8, 16, 32, 64};
  config.iterations = 20;
  config.timeout = 20;
  config.transport.addr = "127.0.0.1";
  config.transport.run_id = "unit-stop";
  std::vector<int> stops(2, -1);
  std::vector<Report> reports(2);
  std::vector<std::string> errors(2);
  std::vector<std::thread> threads;
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back([&, r] {
      try {
        store::StoreBootstrap bootstrap(store, r, 2);
        bench::SweepEvents events;
        events.progress = [&](int step, int, const std::string&) {
          if (step == 2 && r == 1) interrupt::request(SIGTERM);
        };
        stops[r] = bench::runSweep(config, bootstrap, reports[r], events);
      } catch (const std::exception& e) {
        errors[r] = e.what();
        store::StoreBootstrap(store, r, 2).abort(e.what());
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors, (std::vector<std::string>{"", ""}));
  EXPECT_EQ(stops, (std::vector<int>{SIGTERM, SIGTERM}));
  ASSERT_EQ(reports[0].series.size(), 1u);  // bw never started
  const auto& series = reports[0].series[0];
  EXPECT_EQ(series.benchmark, "latency");
  EXPECT_FALSE(series.complete);
  ASSERT_EQ(series.rows.size(), 2u);
  EXPECT_EQ(series.rows[0].size, 8u);
  EXPECT_EQ(series.rows[1].size, 16u);
  EXPECT_EQ(series.measured_pairs, (std::vector<std::array<int, 2>>{{0, 1}}));
  EXPECT_EQ(series.pair_locality, "intra");
}

// The survey's results ride with its stop votes to rank 0, and arrive whole: news holding
// newlines and bytes of every value, beside a vote for a signal.
TEST_F(Interrupt, NewsRidesWithTheStopVoteToRankZero) {
  store::HashStore store;
  constexpr int kRanks = 3;
  std::vector<bench::StopVote> votes(kRanks);
  std::vector<std::thread> threads;
  for (int round = 0; round < 2; ++round) {
    if (round == 1) interrupt::request(SIGUSR1);
    threads.clear();
    for (int r = 0; r < kRanks; ++r)
      threads.emplace_back([&, r] {
        store::StoreBootstrap bootstrap(store, r, kRanks);
        auto news = store::toBytes(r == 1 ? "" : "rank " + std::to_string(r) + "\nsaid\n");
        if (r == 2) news.push_back(0xff);
        votes[r] = bench::agreeOnStopWith(bootstrap, "stop/" + std::to_string(round), news,
                                          Deadline::afterSeconds(10));
      });
    for (auto& t : threads) t.join();
    const int expected = round == 0 ? 0 : SIGUSR1;
    for (const auto& v : votes) EXPECT_EQ(v.stop, expected);
    ASSERT_EQ(votes[0].heard.size(), 3u);
    EXPECT_EQ(store::toString(votes[0].heard[0]), "rank 0\nsaid\n");
    EXPECT_EQ(store::toString(votes[0].heard[1]), "");
    EXPECT_EQ(store::toString(votes[0].heard[2]), "rank 2\nsaid\n\xff");
    EXPECT_TRUE(votes[1].heard.empty());
    EXPECT_TRUE(votes[2].heard.empty());
  }
}

}  // namespace
}  // namespace rdzv
