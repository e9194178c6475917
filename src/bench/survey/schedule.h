#pragma once
// The survey's schedule: a round-robin tournament (circle method) over n participants, so every
// pair meets exactly once in n-1 rounds (n rounds for odd n, one participant idle in each) with
// n/2 disjoint pairs per round.

#include <utility>
#include <vector>

namespace rdzv::bench::survey {

// A pair of participant indices, first < second.
using Pair = std::pair<int, int>;

// The rounds for `n` >= 2 participants, each a list of disjoint pairs. Deterministic: every rank
// computes the same schedule.
std::vector<std::vector<Pair>> tournamentRounds(int n);

}  // namespace rdzv::bench::survey
