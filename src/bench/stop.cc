#include "bench/stop.h"

#include <cstdlib>

#include "lib/interrupt.h"

namespace rdzv::bench {

int agreeOnStop(store::Bootstrap& bootstrap, const std::string& name, Deadline deadline) {
  // Gather then broadcast rather than allgather: 2n store reads, not n².
  auto said = bootstrap.gather(name + "/say", store::toBytes(std::to_string(interrupt::pending())),
                               deadline);
  int stop = 0;
  for (const auto& bytes : said)
    if (stop == 0) stop = std::atoi(store::toString(bytes).c_str());
  auto decided =
      bootstrap.broadcast(name + "/decided", store::toBytes(std::to_string(stop)), deadline);
  stop = std::atoi(store::toString(decided).c_str());
  if (stop != 0) {
    interrupt::request(stop);  // a rank without a signal of its own stops as the one that got it
    interrupt::holdWaits();
  }
  return stop;
}

}  // namespace rdzv::bench
