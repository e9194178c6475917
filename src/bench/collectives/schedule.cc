#include "bench/collectives/schedule.h"

#include <algorithm>

namespace rdzv::bench::sched {
namespace {

// Start of block b of `count` elements in `parts` blocks: floor(count * b / parts), computed
// without forming count * b, which could overflow.
std::size_t blockStart(std::size_t count, int parts, int b) {
  auto p = static_cast<std::size_t>(parts), i = static_cast<std::size_t>(b);
  return count / p * i + count % p * i / p;
}

void addSend(Step& step, int peer, const Range& range) {
  if (range.count > 0) step.sends.push_back({peer, range, 0});
}

void addRecv(Step& step, int peer, const Range& range, std::size_t scratch = 0) {
  if (range.count > 0) step.recvs.push_back({peer, range, scratch});
}

void addStep(Plan& plan, Step step) {
  if (!step.sends.empty() || !step.recvs.empty()) plan.push_back(std::move(step));
}

}  // namespace

Range blocks(std::size_t count, int parts, int first, int last) {
  auto begin = blockStart(count, parts, first);
  return {begin, blockStart(count, parts, last) - begin};
}

int mod(int a, int n) { return ((a % n) + n) % n; }

std::size_t scratchNeeded(const Plan& plan) {
  std::size_t most = 0;
  for (const auto& step : plan) {
    if (!step.reduce) continue;
    for (const auto& t : step.recvs) most = std::max(most, t.scratch + t.range.count);
  }
  return most;
}

std::size_t maxRecvsPerStep(const Plan& plan) {
  std::size_t most = 0;
  for (const auto& step : plan) most = std::max(most, step.recvs.size());
  return most;
}

Plan halvingDoubling(int rank, int n, std::size_t count) {
  Plan plan;
  int p = 1;
  while (p * 2 <= n) p *= 2;
  const int extra = n - p;
  const Range all{0, count};
  // The rank that plays virtual rank v among the p.
  auto real = [&](int v) { return v < extra ? 2 * v + 1 : v + extra; };
  int v = -1;
  if (rank < 2 * extra) {
    if (rank % 2 == 0) {
      Step give;
      addSend(give, rank + 1, all);
      addStep(plan, std::move(give));
      Step take;
      addRecv(take, rank + 1, all);
      addStep(plan, std::move(take));
      return plan;
    }
    Step fold;
    fold.reduce = true;
    addRecv(fold, rank - 1, all);
    addStep(plan, std::move(fold));
    v = rank / 2;
  } else {
    v = rank - extra;
  }
  // Reduce-scatter: keep the half of the current block range that v's bit names.
  int lo = 0, hi = p;
  for (int mask = p / 2; mask >= 1; mask /= 2) {
    int partner = real(v ^ mask);
    int mid = (lo + hi) / 2;
    bool upper = (v & mask) != 0;
    Step step;
    step.reduce = true;
    addSend(step, partner, upper ? blocks(count, p, lo, mid) : blocks(count, p, mid, hi));
    addRecv(step, partner, upper ? blocks(count, p, mid, hi) : blocks(count, p, lo, mid));
    addStep(plan, std::move(step));
    (upper ? lo : hi) = mid;
  }
  // Allgather: exchange the owned range with the partner's sibling range, doubling it.
  for (int mask = 1; mask < p; mask *= 2) {
    int partner = real(v ^ mask);
    bool upper = (v & mask) != 0;
    int width = hi - lo;
    Step step;
    addSend(step, partner, blocks(count, p, lo, hi));
    if (upper) {
      addRecv(step, partner, blocks(count, p, lo - width, lo));
      lo -= width;
    } else {
      addRecv(step, partner, blocks(count, p, hi, hi + width));
      hi += width;
    }
    addStep(plan, std::move(step));
  }
  if (rank < 2 * extra) {
    Step back;
    addSend(back, rank - 1, all);
    addStep(plan, std::move(back));
  }
  return plan;
}

std::vector<int> bcubeRadices(int n) {
  std::vector<int> radices;
  int left = n;
  while (left > 1) {
    int pick = 0;
    for (int d = 4; d >= 2; --d)
      if (left % d == 0) {
        pick = d;
        break;
      }
    if (pick == 0) {
      pick = 5;
      while (left % pick != 0) ++pick;  // the smallest prime factor, above 4
    }
    radices.push_back(pick);
    left /= pick;
  }
  return radices;
}

Plan bcube(int rank, int n, std::size_t count, Phases phases) {
  Plan plan;
  const auto radices = bcubeRadices(n);
  const int k = static_cast<int>(radices.size());
  std::vector<int> stride(k), digit(k);
  int s = 1;
  for (int i = k - 1; i >= 0; --i) {
    stride[i] = s;
    digit[i] = (rank / s) % radices[i];
    s *= radices[i];
  }
  const bool reduce_scatter = phases != Phases::Allgather;
  const bool allgather = phases != Phases::ReduceScatter;
  int lo = 0, hi = n;  // in blocks
  if (reduce_scatter) {
    for (int i = 0; i < k; ++i) {
      int part = (hi - lo) / radices[i];
      Step step;
      step.reduce = true;
      Range mine = blocks(count, n, lo + digit[i] * part, lo + (digit[i] + 1) * part);
      std::size_t slot = 0;
      for (int j = 0; j < radices[i]; ++j) {
        if (j == digit[i]) continue;
        int peer = rank + (j - digit[i]) * stride[i];
        addSend(step, peer, blocks(count, n, lo + j * part, lo + (j + 1) * part));
        addRecv(step, peer, mine, slot);
        slot += mine.count;
      }
      addStep(plan, std::move(step));
      lo += digit[i] * part;
      hi = lo + part;
    }
  } else {
    lo = rank;
    hi = rank + 1;
  }
  if (allgather) {
    for (int i = k - 1; i >= 0; --i) {
      int part = hi - lo;
      int base = lo - digit[i] * part;
      Step step;
      for (int j = 0; j < radices[i]; ++j) {
        if (j == digit[i]) continue;
        int peer = rank + (j - digit[i]) * stride[i];
        addSend(step, peer, blocks(count, n, lo, hi));
        addRecv(step, peer, blocks(count, n, base + j * part, base + (j + 1) * part));
      }
      addStep(plan, std::move(step));
      lo = base;
      hi = base + radices[i] * part;
    }
  }
  return plan;
}

Plan binomialBroadcast(int rank, int n, int root, std::size_t count) {
  Plan plan;
  const Range all{0, count};
  int v = mod(rank - root, n);
  int mask = 1;
  while (mask < n) {
    if (v & mask) {
      Step take;
      addRecv(take, mod(rank - mask, n), all);
      addStep(plan, std::move(take));
      break;
    }
    mask *= 2;
  }
  Step give;
  for (mask /= 2; mask > 0; mask /= 2)
    if (v + mask < n) addSend(give, mod(rank + mask, n), all);
  addStep(plan, std::move(give));
  return plan;
}

Plan dissemination(int rank, int n) {
  Plan plan;
  for (int k = 1; k < n; k *= 2) {
    Step step;  // empty messages: added directly, as addSend/addRecv skip those
    step.sends.push_back({mod(rank + k, n), {}, 0});
    step.recvs.push_back({mod(rank - k, n), {}, 0});
    plan.push_back(std::move(step));
  }
  return plan;
}

Plan pairwiseAlltoall(int rank, int n, std::size_t block) {
  Plan plan;
  for (int s = 1; s < n; ++s) {
    int to = mod(rank + s, n), from = mod(rank - s, n);
    Step step;
    addSend(step, to, {static_cast<std::size_t>(to) * block, block});
    addRecv(step, from, {static_cast<std::size_t>(from) * block, block});
    addStep(plan, std::move(step));
  }
  return plan;
}

namespace {

std::vector<Hop> ringHops(int rank, int n, std::size_t count, int first_send, bool reduce) {
  std::vector<Hop> hops;
  const int right = mod(rank + 1, n), left = mod(rank - 1, n);
  for (int h = 0; h < n - 1; ++h) {
    int out = mod(first_send - h, n), in = mod(first_send - h - 1, n);
    hops.push_back(
        {right, blocks(count, n, out, out + 1), left, blocks(count, n, in, in + 1), reduce});
  }
  return hops;
}

}  // namespace

std::vector<Hop> ringAllreduce(int rank, int n, std::size_t count) {
  auto hops = ringHops(rank, n, count, rank, true);
  auto gather = ringHops(rank, n, count, rank + 1, false);
  hops.insert(hops.end(), gather.begin(), gather.end());
  return hops;
}

std::vector<Hop> ringReduceScatter(int rank, int n, std::size_t count) {
  return ringHops(rank, n, count, rank - 1, true);
}

std::vector<Hop> ringAllgather(int rank, int n, std::size_t count) {
  return ringHops(rank, n, count, rank, false);
}

std::vector<Hop> chainBroadcast(int rank, int n, int root, std::size_t count) {
  const Range all{0, count};
  int position = mod(rank - root, n);
  std::vector<Hop> hops;
  if (position > 0) hops.push_back({-1, {}, mod(rank - 1, n), all, false});
  if (position < n - 1) hops.push_back({mod(rank + 1, n), all, -1, {}, false});
  return hops;
}

Range segment(const Range& range, int segments, int k) {
  auto part = blocks(range.count, segments, k, k + 1);
  return {range.offset + part.offset, part.count};
}

int segmentsFor(const std::vector<Hop>& hops, std::size_t segment_elements) {
  std::size_t largest = 0;
  for (const auto& hop : hops) largest = std::max({largest, hop.send.count, hop.recv.count});
  segment_elements = std::max<std::size_t>(segment_elements, 1);
  return static_cast<int>(
      std::max<std::size_t>(1, (largest + segment_elements - 1) / segment_elements));
}

Pipeline flatten(const std::vector<Hop>& hops, int segments) {
  Pipeline out;
  const auto parts = static_cast<std::size_t>(segments);
  std::vector<int> received(parts, -1);  // per segment: its receive in the previous hop
  for (const auto& hop : hops) {
    std::vector<int> now(parts, -1);
    for (int k = 0; k < segments; ++k) {
      auto i = static_cast<std::size_t>(k);
      if (hop.send_peer >= 0) {
        auto range = segment(hop.send, segments, k);
        if (range.count > 0) out.sends.push_back({hop.send_peer, range, received[i]});
      }
      if (hop.recv_peer >= 0) {
        auto range = segment(hop.recv, segments, k);
        if (range.count > 0) {
          now[i] = static_cast<int>(out.recvs.size());
          out.recvs.push_back({hop.recv_peer, range, hop.reduce});
        }
      }
    }
    received = now;
  }
  return out;
}

}  // namespace rdzv::bench::sched
