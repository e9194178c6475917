#pragma once
// Progress of a long run or survey on stderr, from rank 0: one line rewritten in place on a
// terminal; plain lines otherwise (a batch job's log), at the first step and then at most every
// 10 s, so logs stay short.

#include <cstdint>
#include <string>

namespace rdzv::cli {

class Progress {
 public:
  // Silent unless `enabled`; `terminal`: stderr is one.
  Progress(bool enabled, bool terminal);
  // Step k of n (1-based) begins; `what` names it. Adds the time so far and an estimate left.
  void step(int k, int n, const std::string& what);
  // Clears the line on a terminal before other output.
  void done();

 private:
  bool enabled_;
  bool terminal_;
  std::int64_t start_;
  std::int64_t last_ = 0;
};

}  // namespace rdzv::cli
