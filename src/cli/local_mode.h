#pragma once
// Local mode: with no launcher and no store, `rdzvbench run` starts its own ranks on this
// host, serves them a tcp store, and waits for them.

#include <string>
#include <vector>

namespace rdzv::cli {

// Re-executes this binary `np` times with `args` (the original command line without the
// program name) plus --rank/--size/--store/--run-id. Returns the exit code of the run: 0,
// or the first failing rank's code. `timeout` bounds how long the others may linger after
// one failed. A stop signal (lib/interrupt.h, installed by the caller) is passed on to every
// rank; the run then exits 128 + its number once the ranks are gone (killed if they take
// longer than 4 s).
int runLocal(int np, const std::vector<std::string>& args, bool add_addr, double timeout);

}  // namespace rdzv::cli
