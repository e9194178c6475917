#pragma once
// The safe point where ranks stop together on a stop signal (lib/interrupt.h): each rank says
// whether it got one and every rank learns the same answer, so that none goes on to wait for
// a peer that has stopped. Used between the sizes of `run` and the slots of `survey`.

#include <string>
#include <vector>

#include "lib/clock.h"
#include "store/bootstrap.h"

namespace rdzv::bench {

// Every rank calls it at the same point with the same `name` (unique per call within a run).
// Returns the same on every rank: the stop signal of the lowest rank that got one, or 0. Once a
// signal is agreed, every rank records it as its own and its waits keep their own deadlines
// again (interrupt::holdWaits), so that the exchanges of what was measured are not cut short.
int agreeOnStop(store::Bootstrap& bootstrap, const std::string& name, Deadline deadline);

struct StopVote {
  int stop = 0;                     // as agreeOnStop returns
  std::vector<store::Bytes> heard;  // on rank 0, every rank's `news` by rank; elsewhere empty
};

// agreeOnStop with each rank's `news` riding along with its vote to rank 0: results collected
// at every safe point, in the same exchange, survive a rank lost later.
StopVote agreeOnStopWith(store::Bootstrap& bootstrap, const std::string& name,
                         const store::Bytes& news, Deadline deadline);

}  // namespace rdzv::bench
