#include "bench/survey/schedule.h"

#include <algorithm>

namespace rdzv::bench::survey {

std::vector<std::vector<Pair>> tournamentRounds(int n) {
  if (n < 2) return {};
  // Odd n: a phantom participant m-1 = n; whoever meets it sits the round out.
  const int m = n % 2 == 0 ? n : n + 1;
  std::vector<std::vector<Pair>> rounds;
  for (int r = 0; r < m - 1; ++r) {
    std::vector<Pair> round;
    // Participant m-1 stays fixed; the others turn around a circle of m-1 places.
    auto add = [&](int a, int b) {
      if (a >= n || b >= n) return;
      round.emplace_back(std::min(a, b), std::max(a, b));
    };
    add(m - 1, r);
    for (int k = 1; k < m / 2; ++k) add((r + k) % (m - 1), (r - k + (m - 1)) % (m - 1));
    rounds.push_back(std::move(round));
  }
  return rounds;
}

}  // namespace rdzv::bench::survey
