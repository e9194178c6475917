#include "bench/stop.h"

#include <algorithm>
#include <cstdlib>

#include "lib/interrupt.h"

namespace rdzv::bench {

int agreeOnStop(store::Bootstrap& bootstrap, const std::string& name, Deadline deadline) {
  return agreeOnStopWith(bootstrap, name, {}, deadline).stop;
}

StopVote agreeOnStopWith(store::Bootstrap& bootstrap, const std::string& name,
                         const store::Bytes& news, Deadline deadline) {
  // "<signal>\n<news>". Gather then broadcast rather than allgather: 2n store reads, not n².
  auto say = store::toBytes(std::to_string(interrupt::pending()) + "\n");
  say.insert(say.end(), news.begin(), news.end());
  StopVote vote;
  auto said = bootstrap.gather(name + "/say", say, deadline);
  for (auto& bytes : said) {
    auto newline = std::find(bytes.begin(), bytes.end(), std::uint8_t{'\n'});
    if (vote.stop == 0) vote.stop = std::atoi(std::string(bytes.begin(), newline).c_str());
    vote.heard.emplace_back(newline == bytes.end() ? newline : newline + 1, bytes.end());
  }
  auto decided =
      bootstrap.broadcast(name + "/decided", store::toBytes(std::to_string(vote.stop)), deadline);
  vote.stop = std::atoi(store::toString(decided).c_str());
  if (vote.stop != 0) {
    // A rank without a signal of its own stops as the one that got it.
    interrupt::request(vote.stop);
    interrupt::holdWaits();
  }
  return vote;
}

}  // namespace rdzv::bench
