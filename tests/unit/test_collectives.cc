// The collectives' pure parts: reduction kernels, the schedules of every algorithm (simulated
// for n = 2..9 by passing messages between in-memory ranks), the size rounding, the
// algorithm lists and the nccl-tests bandwidth factors.

#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "bench/collectives/collectives.h"
#include "bench/collectives/reduce.h"
#include "bench/collectives/schedule.h"
#include "lib/error.h"

namespace rdzv::bench {
namespace {

using sched::Range;
using transport::DataType;
using transport::ReduceOp;

// ---------------------------------------------------------------------------------------
// Reduction kernels

template <typename T>
void expectKernel(DataType type, ReduceOp op) {
  // 37 elements at an odd element offset: a vector loop's prologue, body and tail all run.
  std::vector<T> dst(40), src(40), want(40);
  for (int i = 0; i < 40; ++i) {
    dst[i] = static_cast<T>((i * 7) % 13 - 6);
    src[i] = static_cast<T>((i * 5) % 11 - 5);
  }
  want = dst;
  for (int i = 1; i < 38; ++i) {
    T a = dst[i], b = src[i];
    want[i] = op == ReduceOp::Sum   ? static_cast<T>(a + b)
              : op == ReduceOp::Min ? std::min(a, b)
                                    : std::max(a, b);
  }
  reduceInto(dst.data() + 1, src.data() + 1, 37, type, op);
  EXPECT_EQ(dst, want) << transport::toString(type) << " " << transport::toString(op);
}

TEST(ReduceKernels, EveryTypeAndOperator) {
  for (auto op : {ReduceOp::Sum, ReduceOp::Min, ReduceOp::Max}) {
    expectKernel<float>(DataType::Float32, op);
    expectKernel<double>(DataType::Float64, op);
    expectKernel<std::int32_t>(DataType::Int32, op);
    expectKernel<std::int64_t>(DataType::Int64, op);
  }
}

TEST(ReduceKernels, IntegerSumsWrap) {
  std::int32_t a = std::numeric_limits<std::int32_t>::max(), b = 1;
  reduceInto(&a, &b, 1, DataType::Int32, ReduceOp::Sum);
  EXPECT_EQ(a, std::numeric_limits<std::int32_t>::min());
  std::int64_t c = std::numeric_limits<std::int64_t>::min(), d = -1;
  reduceInto(&c, &d, 1, DataType::Int64, ReduceOp::Sum);
  EXPECT_EQ(c, std::numeric_limits<std::int64_t>::max());
}

TEST(ReduceKernels, FloatsKeepFractions) {
  std::vector<float> a{0.5f, -1.25f, 3.0f}, b{0.25f, -1.0f, -3.5f};
  reduceInto(a.data(), b.data(), 3, DataType::Float32, ReduceOp::Sum);
  EXPECT_EQ(a, (std::vector<float>{0.75f, -2.25f, -0.5f}));
  std::vector<double> c{0.5, -1.25}, d{0.25, -1.0};
  reduceInto(c.data(), d.data(), 2, DataType::Float64, ReduceOp::Min);
  EXPECT_EQ(c, (std::vector<double>{0.25, -1.25}));
}

TEST(ReduceKernels, ZeroCountTouchesNothing) {
  int a = 3, b = 4;
  reduceInto(&a, &b, 0, DataType::Int32, ReduceOp::Sum);
  EXPECT_EQ(a, 3);
}

// ---------------------------------------------------------------------------------------
// Simulation. An element's value is the count of each rank's contribution it holds; after an
// allreduce every element of every rank must hold exactly one of each.

using Value = std::vector<int>;  // one count per rank
using Memory = std::vector<Value>;

Value one(int n, int rank) {
  Value v(n, 0);
  v[rank] = 1;
  return v;
}

Value allOnes(int n) { return Value(n, 1); }

void reduceValues(Value& into, const Value& from) {
  for (std::size_t i = 0; i < into.size(); ++i) into[i] += from[i];
}

// Messages between ranks, matched per (from, to) in the order posted, as Buffers do.
class Network {
 public:
  void post(int from, int to, std::vector<Value> payload) {
    queues_[{from, to}].push_back(std::move(payload));
  }
  std::size_t waiting(int from, int to) const {
    auto it = queues_.find({from, to});
    return it == queues_.end() ? 0 : it->second.size();
  }
  std::vector<Value> take(int from, int to) {
    auto& q = queues_[{from, to}];
    auto out = std::move(q.front());
    q.pop_front();
    return out;
  }
  bool empty() const {
    for (const auto& [key, q] : queues_)
      if (!q.empty()) return false;
    return true;
  }

 private:
  std::map<std::pair<int, int>, std::deque<std::vector<Value>>> queues_;
};

std::vector<Value> slice(const Memory& m, const Range& r) {
  return {m.begin() + static_cast<std::ptrdiff_t>(r.offset),
          m.begin() + static_cast<std::ptrdiff_t>(r.end())};
}

// Within a step, nothing a receive writes may be read by a send or written by another
// receive of the step (reducing receives may share a target: they land in distinct scratch).
void expectStepIsSafe(const sched::Step& step, bool in_place, const std::string& where) {
  for (std::size_t i = 0; i < step.recvs.size(); ++i) {
    const auto& r = step.recvs[i];
    if (in_place) {
      for (const auto& s : step.sends)
        EXPECT_FALSE(r.range.overlaps(s.range)) << where << ": receive overwrites a send";
    }
    for (std::size_t j = i + 1; j < step.recvs.size(); ++j) {
      const auto& o = step.recvs[j];
      if (step.reduce) {
        Range a{r.scratch, r.range.count}, b{o.scratch, o.range.count};
        EXPECT_FALSE(a.overlaps(b)) << where << ": receives share scratch";
      } else {
        EXPECT_FALSE(r.range.overlaps(o.range)) << where << ": receives overlap";
      }
    }
  }
}

// Runs every rank's Plan step by step (a step's sends are posted at once, then its receives
// awaited), failing on a size mismatch, a deadlock or a message left over. `send_mem` and
// `recv_mem` are each rank's memories (the same object for in-place collectives).
void simulatePlans(const std::vector<sched::Plan>& plans, std::vector<Memory>& send_mem,
                   std::vector<Memory>& recv_mem, const std::string& what) {
  const int n = static_cast<int>(plans.size());
  const bool in_place = &send_mem == &recv_mem;
  Network net;
  std::vector<std::size_t> at(n, 0);
  std::vector<bool> posted(n, false);
  for (int r = 0; r < n; ++r)
    for (std::size_t s = 0; s < plans[r].size(); ++s)
      expectStepIsSafe(plans[r][s], in_place,
                       what + " rank " + std::to_string(r) + " step " + std::to_string(s));
  bool progress = true;
  while (progress) {
    progress = false;
    for (int r = 0; r < n; ++r) {
      if (at[r] == plans[r].size()) continue;
      const auto& step = plans[r][at[r]];
      if (!posted[r]) {
        for (const auto& t : step.sends) {
          ASSERT_NE(t.peer, r) << what << ": rank " << r << " sends to itself";
          net.post(r, t.peer, slice(send_mem[r], t.range));
        }
        posted[r] = true;
        progress = true;
      }
      std::map<int, std::size_t> needed;
      for (const auto& t : step.recvs) ++needed[t.peer];
      bool ready = std::all_of(needed.begin(), needed.end(),
                               [&](const auto& e) { return net.waiting(e.first, r) >= e.second; });
      if (!ready) continue;
      for (const auto& t : step.recvs) {
        auto payload = net.take(t.peer, r);
        ASSERT_EQ(payload.size(), t.range.count)
            << what << ": rank " << r << " step " << at[r] << " from " << t.peer;
        for (std::size_t i = 0; i < payload.size(); ++i) {
          auto& dst = recv_mem[r][t.range.offset + i];
          if (step.reduce)
            reduceValues(dst, payload[i]);
          else
            dst = payload[i];
        }
      }
      ++at[r];
      posted[r] = false;
      progress = true;
    }
  }
  for (int r = 0; r < n; ++r)
    ASSERT_EQ(at[r], plans[r].size()) << what << ": deadlock, rank " << r << " stuck";
  EXPECT_TRUE(net.empty()) << what << ": messages left unreceived";
}

// Runs every rank's Pipeline: receives applied in order as their messages arrive, each send
// posted (in order) once the receive it forwards has been applied.
void simulatePipelines(const std::vector<sched::Pipeline>& pipes, std::vector<Memory>& mem,
                       const std::string& what) {
  const int n = static_cast<int>(pipes.size());
  Network net;
  std::vector<std::size_t> sent(n, 0), received(n, 0);
  bool progress = true;
  while (progress) {
    progress = false;
    for (int r = 0; r < n; ++r) {
      const auto& p = pipes[r];
      while (sent[r] < p.sends.size() &&
             (p.sends[sent[r]].after < 0 ||
              static_cast<std::size_t>(p.sends[sent[r]].after) < received[r])) {
        const auto& s = p.sends[sent[r]++];
        ASSERT_NE(s.peer, r) << what;
        net.post(r, s.peer, slice(mem[r], s.range));
        progress = true;
      }
      while (received[r] < p.recvs.size() && net.waiting(p.recvs[received[r]].peer, r) > 0) {
        const auto& t = p.recvs[received[r]++];
        auto payload = net.take(t.peer, r);
        ASSERT_EQ(payload.size(), t.range.count) << what << ": rank " << r;
        for (std::size_t i = 0; i < payload.size(); ++i) {
          auto& dst = mem[r][t.range.offset + i];
          if (t.reduce)
            reduceValues(dst, payload[i]);
          else
            dst = payload[i];
        }
        progress = true;
      }
    }
  }
  for (int r = 0; r < n; ++r) {
    ASSERT_EQ(sent[r], pipes[r].sends.size()) << what << ": rank " << r << " stuck sending";
    ASSERT_EQ(received[r], pipes[r].recvs.size()) << what << ": rank " << r << " stuck";
  }
  EXPECT_TRUE(net.empty()) << what << ": messages left unreceived";
}

std::vector<Memory> contributions(int n, std::size_t count) {
  std::vector<Memory> mem(n);
  for (int r = 0; r < n; ++r) mem[r].assign(count, one(n, r));
  return mem;
}

void expectAllReduced(const std::vector<Memory>& mem, int n, const std::string& what) {
  for (int r = 0; r < n; ++r)
    for (std::size_t i = 0; i < mem[r].size(); ++i)
      ASSERT_EQ(mem[r][i], allOnes(n)) << what << ": rank " << r << " element " << i;
}

// Element counts that exercise empty blocks (fewer elements than ranks), uneven blocks and
// even ones.
std::vector<std::size_t> countsFor(int n) {
  return {1, static_cast<std::size_t>(n) - 1, static_cast<std::size_t>(n),
          static_cast<std::size_t>(2 * n + 3), 100};
}

std::string label(const char* name, int n, std::size_t count) {
  return std::string(name) + " n=" + std::to_string(n) + " count=" + std::to_string(count);
}

TEST(Schedules, AllreduceHalvingDoublingAndBcube) {
  for (int n = 2; n <= 9; ++n)
    for (auto count : countsFor(n)) {
      if (count == 0) continue;
      for (int which = 0; which < 2; ++which) {
        std::vector<sched::Plan> plans;
        for (int r = 0; r < n; ++r)
          plans.push_back(which == 0 ? sched::halvingDoubling(r, n, count)
                                     : sched::bcube(r, n, count, sched::Phases::Both));
        auto what = label(which == 0 ? "halving_doubling" : "bcube", n, count);
        auto mem = contributions(n, count);
        simulatePlans(plans, mem, mem, what);
        expectAllReduced(mem, n, what);
      }
    }
}

TEST(Schedules, AllreduceRingPipeline) {
  for (int n = 2; n <= 9; ++n)
    for (auto count : countsFor(n))
      for (int segments : {1, 2, 3}) {
        if (count == 0) continue;
        std::vector<sched::Pipeline> pipes;
        for (int r = 0; r < n; ++r)
          pipes.push_back(sched::flatten(sched::ringAllreduce(r, n, count), segments));
        auto what = label("ring_chunked", n, count) + " segments=" + std::to_string(segments);
        auto mem = contributions(n, count);
        simulatePipelines(pipes, mem, what);
        expectAllReduced(mem, n, what);
      }
}

TEST(Schedules, ReduceScatterLeavesBlockRankOnRankRank) {
  for (int n = 2; n <= 9; ++n)
    for (std::size_t block : {1, 3}) {
      std::size_t count = block * static_cast<std::size_t>(n);
      for (int which = 0; which < 2; ++which) {
        auto mem = contributions(n, count);
        auto what = label(which == 0 ? "reduce_scatter ring" : "reduce_scatter bcube", n, count);
        if (which == 0) {
          std::vector<sched::Pipeline> pipes;
          for (int r = 0; r < n; ++r)
            pipes.push_back(sched::flatten(sched::ringReduceScatter(r, n, count), 2));
          simulatePipelines(pipes, mem, what);
        } else {
          std::vector<sched::Plan> plans;
          for (int r = 0; r < n; ++r)
            plans.push_back(sched::bcube(r, n, count, sched::Phases::ReduceScatter));
          simulatePlans(plans, mem, mem, what);
        }
        for (int r = 0; r < n; ++r)
          for (std::size_t j = 0; j < block; ++j)
            ASSERT_EQ(mem[r][static_cast<std::size_t>(r) * block + j], allOnes(n))
                << what << ": rank " << r;
      }
    }
}

TEST(Schedules, AllgatherPutsBlockBFromRankB) {
  for (int n = 2; n <= 9; ++n)
    for (std::size_t block : {1, 3}) {
      std::size_t count = block * static_cast<std::size_t>(n);
      for (int which = 0; which < 2; ++which) {
        // Each rank holds only its own block; the rest is empty until gathered.
        std::vector<Memory> mem(n, Memory(count, Value(n, 0)));
        for (int r = 0; r < n; ++r)
          for (std::size_t j = 0; j < block; ++j)
            mem[r][static_cast<std::size_t>(r) * block + j] = one(n, r);
        auto what = label(which == 0 ? "allgather ring" : "allgather bcube", n, count);
        if (which == 0) {
          std::vector<sched::Pipeline> pipes;
          for (int r = 0; r < n; ++r)
            pipes.push_back(sched::flatten(sched::ringAllgather(r, n, count), 2));
          simulatePipelines(pipes, mem, what);
        } else {
          std::vector<sched::Plan> plans;
          for (int r = 0; r < n; ++r)
            plans.push_back(sched::bcube(r, n, count, sched::Phases::Allgather));
          simulatePlans(plans, mem, mem, what);
        }
        for (int r = 0; r < n; ++r)
          for (std::size_t i = 0; i < count; ++i)
            ASSERT_EQ(mem[r][i], one(n, static_cast<int>(i / block))) << what << " rank " << r;
      }
    }
}

TEST(Schedules, BroadcastFromEveryRoot) {
  for (int n = 2; n <= 9; ++n)
    for (int root = 0; root < n; ++root)
      for (int which = 0; which < 2; ++which) {
        const std::size_t count = 7;
        auto mem = contributions(n, count);
        auto what = label(which == 0 ? "binomial" : "broadcast ring_chunked", n, count) +
                    " root=" + std::to_string(root);
        if (which == 0) {
          std::vector<sched::Plan> plans;
          for (int r = 0; r < n; ++r) plans.push_back(sched::binomialBroadcast(r, n, root, count));
          simulatePlans(plans, mem, mem, what);
        } else {
          std::vector<sched::Pipeline> pipes;
          for (int r = 0; r < n; ++r)
            pipes.push_back(sched::flatten(sched::chainBroadcast(r, n, root, count), 3));
          simulatePipelines(pipes, mem, what);
        }
        for (int r = 0; r < n; ++r)
          for (std::size_t i = 0; i < count; ++i) ASSERT_EQ(mem[r][i], one(n, root)) << what;
      }
}

TEST(Schedules, AlltoallPairwise) {
  for (int n = 2; n <= 9; ++n) {
    const std::size_t block = 2, count = block * static_cast<std::size_t>(n);
    // Element i of rank r's input: (r, i) encoded as r * count + i in the sender's slot.
    std::vector<Memory> in(n, Memory(count, Value(n, 0))), out = in;
    for (int r = 0; r < n; ++r)
      for (std::size_t i = 0; i < count; ++i) in[r][i][r] = static_cast<int>(i) + 1;
    std::vector<sched::Plan> plans;
    for (int r = 0; r < n; ++r) plans.push_back(sched::pairwiseAlltoall(r, n, block));
    simulatePlans(plans, in, out, label("alltoall", n, count));
    for (int r = 0; r < n; ++r)
      for (int s = 0; s < n; ++s) {
        if (s == r) continue;  // the own block is a local copy, not in the plan
        for (std::size_t j = 0; j < block; ++j) {
          Value want(n, 0);
          want[s] = static_cast<int>(static_cast<std::size_t>(r) * block + j) + 1;
          ASSERT_EQ(out[r][static_cast<std::size_t>(s) * block + j], want)
              << "n=" << n << " rank " << r << " block from " << s;
        }
      }
  }
}

TEST(Schedules, DisseminationBarrierHearsFromEveryone) {
  for (int n = 2; n <= 9; ++n) {
    std::vector<std::set<int>> known(n);
    for (int r = 0; r < n; ++r) known[r] = {r};
    std::vector<sched::Plan> plans;
    for (int r = 0; r < n; ++r) plans.push_back(sched::dissemination(r, n));
    // Rounds are synchronous: what each rank sends in round k is what it knew before it.
    for (std::size_t k = 0; k < plans[0].size(); ++k) {
      auto before = known;
      for (int r = 0; r < n; ++r) {
        ASSERT_EQ(plans[r].size(), plans[0].size());
        const auto& step = plans[r][k];
        ASSERT_EQ(step.sends.size(), 1u);
        ASSERT_EQ(step.recvs.size(), 1u);
        EXPECT_EQ(step.sends[0].range.count, 0u);
        int from = step.recvs[0].peer;
        // The sender's plan must name this rank as its destination in the same round.
        EXPECT_EQ(plans[from][k].sends[0].peer, r);
        known[r].insert(before[from].begin(), before[from].end());
      }
    }
    for (int r = 0; r < n; ++r) EXPECT_EQ(known[r].size(), static_cast<std::size_t>(n));
  }
}

// ---------------------------------------------------------------------------------------
// Which peer, which offset: spot checks against hand-worked schedules.

TEST(Schedules, BlocksSplitEvenly) {
  EXPECT_EQ(sched::blocks(10, 4, 0, 1), (Range{0, 2}));
  EXPECT_EQ(sched::blocks(10, 4, 1, 2), (Range{2, 3}));
  EXPECT_EQ(sched::blocks(10, 4, 2, 4), (Range{5, 5}));
  EXPECT_EQ(sched::blocks(3, 5, 0, 1), (Range{0, 0}));
  std::size_t total = 0;
  for (int b = 0; b < 7; ++b) total += sched::blocks(1000, 7, b, b + 1).count;
  EXPECT_EQ(total, 1000u);
  EXPECT_EQ(sched::mod(-1, 4), 3);
  EXPECT_EQ(sched::mod(9, 4), 1);
}

TEST(Schedules, RingHopsNameNeighboursAndBlocks) {
  // n = 4, rank 1, 8 elements (blocks of 2): reduce-scatter sends blocks 1, 0, 3 to rank 2
  // and reduces blocks 0, 3, 2 from rank 0; the allgather sends 2, 1, 0 and receives 1, 0, 3.
  auto hops = sched::ringAllreduce(1, 4, 8);
  ASSERT_EQ(hops.size(), 6u);
  int sent[] = {1, 0, 3, 2, 1, 0}, got[] = {0, 3, 2, 1, 0, 3};
  for (int h = 0; h < 6; ++h) {
    EXPECT_EQ(hops[h].send_peer, 2);
    EXPECT_EQ(hops[h].recv_peer, 0);
    EXPECT_EQ(hops[h].send, (Range{static_cast<std::size_t>(sent[h]) * 2, 2})) << h;
    EXPECT_EQ(hops[h].recv, (Range{static_cast<std::size_t>(got[h]) * 2, 2})) << h;
    EXPECT_EQ(hops[h].reduce, h < 3);
  }
  // Reduce-scatter for block `rank` sends block rank-1 first.
  EXPECT_EQ(sched::ringReduceScatter(1, 4, 8)[0].send, (Range{0, 2}));
  EXPECT_EQ(sched::ringReduceScatter(1, 4, 8)[2].recv, (Range{2, 2}));
  // The chain from root 2 of 5: rank 2 only sends to 3, rank 1 (last) only receives from 0.
  auto root = sched::chainBroadcast(2, 5, 2, 10);
  ASSERT_EQ(root.size(), 1u);
  EXPECT_EQ(root[0].send_peer, 3);
  EXPECT_EQ(root[0].recv_peer, -1);
  auto last = sched::chainBroadcast(1, 5, 2, 10);
  ASSERT_EQ(last.size(), 1u);
  EXPECT_EQ(last[0].recv_peer, 0);
  EXPECT_EQ(last[0].send_peer, -1);
}

TEST(Schedules, PipelineSegmentsAndDependencies) {
  // 2 ranks, 12 elements: blocks of 6, cut into 3 segments of 2.
  auto p = sched::flatten(sched::ringAllreduce(0, 2, 12), 3);
  ASSERT_EQ(p.sends.size(), 6u);
  ASSERT_EQ(p.recvs.size(), 6u);
  EXPECT_EQ(p.sends[0].range, (Range{0, 2}));
  EXPECT_EQ(p.sends[0].after, -1);  // the rank's own data: nothing to wait for
  EXPECT_EQ(p.recvs[0].range, (Range{6, 2}));
  EXPECT_TRUE(p.recvs[0].reduce);
  // The allgather's first segment forwards the first reduced segment.
  EXPECT_EQ(p.sends[3].range, (Range{6, 2}));
  EXPECT_EQ(p.sends[3].after, 0);
  EXPECT_FALSE(p.recvs[3].reduce);
  EXPECT_EQ(sched::segmentsFor(sched::ringAllreduce(0, 4, 100), 10), 3);  // blocks of 25
  EXPECT_EQ(sched::segmentsFor(sched::ringAllreduce(0, 4, 100), 1000), 1);
  EXPECT_EQ(sched::segment(Range{10, 7}, 3, 2), (Range{14, 3}));
}

TEST(Schedules, HalvingDoublingPeersAndHalves) {
  // n = 4, rank 1 (16 elements): halving with 3 (keep the lower half, send 8..16), then with 0
  // (keep block 1: elements 4..8); doubling back with 0, then 3.
  auto plan = sched::halvingDoubling(1, 4, 16);
  ASSERT_EQ(plan.size(), 4u);
  EXPECT_EQ(plan[0].sends[0].peer, 3);
  EXPECT_EQ(plan[0].sends[0].range, (Range{8, 8}));
  EXPECT_EQ(plan[0].recvs[0].range, (Range{0, 8}));
  EXPECT_TRUE(plan[0].reduce);
  EXPECT_EQ(plan[1].sends[0].peer, 0);
  EXPECT_EQ(plan[1].recvs[0].range, (Range{4, 4}));
  EXPECT_EQ(plan[2].recvs[0].peer, 0);
  EXPECT_EQ(plan[2].recvs[0].range, (Range{0, 4}));
  EXPECT_FALSE(plan[2].reduce);
  EXPECT_EQ(plan[3].recvs[0].peer, 3);
  EXPECT_EQ(plan[3].recvs[0].range, (Range{8, 8}));
  // n = 6 (p = 4, two extra): rank 0 folds into 1 and gets the result back; rank 5 plays
  // virtual rank 3 and pairs with virtual 1, which is rank 3.
  auto folded = sched::halvingDoubling(0, 6, 16);
  ASSERT_EQ(folded.size(), 2u);
  EXPECT_EQ(folded[0].sends[0].peer, 1);
  EXPECT_EQ(folded[1].recvs[0].peer, 1);
  EXPECT_EQ(sched::halvingDoubling(5, 6, 16)[0].sends[0].peer, 3);
  EXPECT_EQ(sched::halvingDoubling(1, 6, 16)[0].recvs[0].peer, 0);  // the fold
}

TEST(Schedules, BcubeRadicesAndGroups) {
  using V = std::vector<int>;
  EXPECT_EQ(sched::bcubeRadices(2), V{2});
  EXPECT_EQ(sched::bcubeRadices(4), V{4});
  EXPECT_EQ(sched::bcubeRadices(6), (V{3, 2}));
  EXPECT_EQ(sched::bcubeRadices(7), V{7});
  EXPECT_EQ(sched::bcubeRadices(8), (V{4, 2}));
  EXPECT_EQ(sched::bcubeRadices(9), (V{3, 3}));
  EXPECT_EQ(sched::bcubeRadices(10), (V{2, 5}));
  EXPECT_EQ(sched::bcubeRadices(16), (V{4, 4}));
  // n = 8 = 4 x 2, rank 5 = digits (2, 1): step 0 with 1, 3, 7 (stride 2), step 1 with 4.
  auto plan = sched::bcube(5, 8, 16, sched::Phases::Both);
  ASSERT_EQ(plan.size(), 4u);
  std::vector<int> peers;
  for (const auto& t : plan[0].sends) peers.push_back(t.peer);
  EXPECT_EQ(peers, (V{1, 3, 7}));
  for (const auto& t : plan[0].recvs) EXPECT_EQ(t.range, (Range{8, 4}));  // part 2 of 4
  EXPECT_EQ(plan[0].recvs[1].scratch, 4u);
  EXPECT_EQ(plan[1].sends[0].peer, 4);
  EXPECT_EQ(plan[1].recvs[0].range, (Range{10, 2}));  // ends owning block 5
  EXPECT_EQ(sched::scratchNeeded(plan), 12u);
}

TEST(Schedules, BinomialTreeFromRootThree) {
  // n = 6, root 3: relative ranks 0..5 are ranks 3, 4, 5, 0, 1, 2. Rank 3 sends to relative
  // 4 and 2 and 1 (ranks 1, 5, 4); rank 1 (relative 4) receives from relative 0 (rank 3)
  // and sends to relative 5 (rank 2).
  auto root = sched::binomialBroadcast(3, 6, 3, 5);
  ASSERT_EQ(root.size(), 1u);
  std::vector<int> peers;
  for (const auto& t : root[0].sends) peers.push_back(t.peer);
  EXPECT_EQ(peers, (std::vector<int>{1, 5, 4}));
  auto leaf = sched::binomialBroadcast(1, 6, 3, 5);
  ASSERT_EQ(leaf.size(), 2u);
  EXPECT_EQ(leaf[0].recvs[0].peer, 3);
  EXPECT_EQ(leaf[1].sends[0].peer, 2);
}

TEST(Schedules, AlltoallAndDisseminationPeers) {
  auto plan = sched::pairwiseAlltoall(1, 4, 3);
  ASSERT_EQ(plan.size(), 3u);
  EXPECT_EQ(plan[0].sends[0].peer, 2);
  EXPECT_EQ(plan[0].sends[0].range, (Range{6, 3}));
  EXPECT_EQ(plan[0].recvs[0].peer, 0);
  EXPECT_EQ(plan[0].recvs[0].range, (Range{0, 3}));
  auto barrier = sched::dissemination(0, 5);
  ASSERT_EQ(barrier.size(), 3u);
  EXPECT_EQ(barrier[2].sends[0].peer, 4);
  EXPECT_EQ(barrier[2].recvs[0].peer, 1);
}

// ---------------------------------------------------------------------------------------
// Sizes, algorithm lists, bandwidth

TEST(CollectiveSizes, RoundToWholeElementsAndBlocks) {
  auto s = collectiveShape("allreduce", 8, 4, DataType::Float32);
  EXPECT_EQ(s.count, 2u);
  EXPECT_EQ(s.bytes, 8u);
  s = collectiveShape("allreduce", 1, 4, DataType::Float64);
  EXPECT_EQ(s.count, 1u);
  EXPECT_EQ(s.bytes, 8u);
  s = collectiveShape("allgather", 100, 4, DataType::Float32);  // 25 elements, 6 per rank
  EXPECT_EQ(s.count, 6u);
  EXPECT_EQ(s.bytes, 96u);
  s = collectiveShape("alltoall", 8, 4, DataType::Int32);  // at least one element per block
  EXPECT_EQ(s.count, 1u);
  EXPECT_EQ(s.bytes, 16u);
  s = collectiveShape("barrier", 1 << 20, 4, DataType::Float32);
  EXPECT_EQ(s.bytes, 0u);
}

TEST(CollectiveBandwidth, NcclTestsFactors) {
  EXPECT_DOUBLE_EQ(busBandwidthFactor("allreduce", 4), 1.5);
  EXPECT_DOUBLE_EQ(busBandwidthFactor("allreduce", 8), 1.75);
  EXPECT_DOUBLE_EQ(busBandwidthFactor("allreduce", 2), 1.0);
  EXPECT_DOUBLE_EQ(busBandwidthFactor("allgather", 4), 0.75);
  EXPECT_DOUBLE_EQ(busBandwidthFactor("reduce_scatter", 5), 0.8);
  EXPECT_DOUBLE_EQ(busBandwidthFactor("alltoall", 2), 0.5);
  EXPECT_DOUBLE_EQ(busBandwidthFactor("broadcast", 7), 1.0);
  EXPECT_DOUBLE_EQ(busBandwidthFactor("barrier", 4), 0.0);
}

TEST(CollectiveBandwidth, AggregateAcrossRanks) {
  // 4 ranks, 1 MB allreduce, 10 calls; ranks' mean times 100, 200, 300, 400 us.
  std::vector<Measurement> ms;
  for (int r = 1; r <= 4; ++r) {
    Measurement m;
    m.measured = true;
    m.iterations = 10;
    m.samples_us.assign(10, 100.0 * r);
    m.seconds = 10 * 100e-6 * r;
    m.bytes = 1e6 * 10;
    m.messages = 10;
    ms.push_back(m);
  }
  Row row = aggregateCollective("allreduce", ms);
  EXPECT_EQ(row.size, 1000000u);
  EXPECT_EQ(row.iterations, 10u);
  EXPECT_EQ(row.pairs, 4);
  ASSERT_TRUE(row.rank_time_us.has_value());
  EXPECT_NEAR(row.rank_time_us->min, 100, 1e-9);
  EXPECT_NEAR(row.rank_time_us->mean, 250, 1e-9);
  EXPECT_NEAR(row.rank_time_us->max, 400, 1e-9);
  ASSERT_TRUE(row.algbw_gbps.has_value());
  EXPECT_NEAR(*row.algbw_gbps, 4.0, 1e-9);  // 1e6 B / 250 us
  EXPECT_NEAR(*row.busbw_gbps, 6.0, 1e-9);  // x 2(n-1)/n = 1.5
  EXPECT_NEAR(row.bandwidth_mbps, 4000, 1e-6);
  EXPECT_NEAR(row.message_rate, 4000, 1e-6);
  EXPECT_EQ(row.latency_us.count, 40u);

  for (auto& m : ms) m.bytes = 0;
  Row barrier = aggregateCollective("barrier", ms);
  EXPECT_EQ(barrier.size, 0u);
  EXPECT_TRUE(barrier.rank_time_us.has_value());
  EXPECT_FALSE(barrier.algbw_gbps.has_value());
  EXPECT_FALSE(barrier.busbw_gbps.has_value());
}

TEST(CollectiveAlgorithms, ListsAndNative) {
  using V = std::vector<std::string>;
  EXPECT_EQ(algorithmsFor("allreduce", {"all"}, false),
            (V{"ring", "ring_chunked", "halving_doubling", "bcube"}));
  EXPECT_EQ(algorithmsFor("allreduce", {"bcube", "ring", "bcube"}, false), (V{"bcube", "ring"}));
  EXPECT_EQ(algorithmsFor("broadcast", {"ring_chunked", "halving_doubling"}, false),
            V{"ring_chunked"});
  EXPECT_EQ(algorithmsFor("allreduce", {"ring_chunked"}, true), V{"native"});
  EXPECT_EQ(algorithmsFor("latency", {"all"}, false), V{""});
  EXPECT_EQ(algorithmsFor("barrier", {"native"}, false), V{});
  EXPECT_TRUE(isCollective("reduce_scatter"));
  EXPECT_FALSE(isCollective("bw"));
}

ErrorKind kindOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.kind();
  }
  return ErrorKind::Check;  // "no error" for these tests
}

TEST(CollectiveAlgorithms, RequireNamesUsageErrors) {
  using V = std::vector<std::string>;
  EXPECT_NO_THROW(requireAlgorithms(V{"allreduce", "broadcast"}, V{"all"}, true));
  EXPECT_NO_THROW(requireAlgorithms(V{"allreduce", "latency"}, V{"ring_chunked"}, true));
  EXPECT_NO_THROW(requireAlgorithms(V{"latency"}, V{"all"}, true));
  // Only the mpi transport: every collective runs native, whatever was asked.
  EXPECT_NO_THROW(requireAlgorithms(V{"broadcast"}, V{"native"}, false));
  EXPECT_EQ(kindOf([] { requireAlgorithms(V{"allreduce"}, V{"fastest"}, true); }),
            ErrorKind::Usage);
  EXPECT_EQ(kindOf([] { requireAlgorithms(V{"latency"}, V{"ring"}, true); }), ErrorKind::Usage);
  EXPECT_EQ(kindOf([] {
              requireAlgorithms(V{"allreduce", "broadcast"}, V{"bcube"}, true);
            }),
            ErrorKind::Usage);
  EXPECT_EQ(kindOf([] { requireAlgorithms(V{"allreduce"}, V{"native"}, true); }), ErrorKind::Usage);
}

}  // namespace
}  // namespace rdzv::bench
