#pragma once
// Ending a run early on SIGTERM, SIGINT or SIGUSR1 (scancel, a Slurm time limit, Ctrl-C,
// `srun --signal=USR1@N`). The handler only records the signal; the sweep stops at its next
// safe point, where the ranks agree on it. A rank still waiting kStopGraceSeconds after the
// signal (a long row, or a peer that already stopped) sees every Deadline expire (clock.h).

#include <string>

namespace rdzv::interrupt {

// How long after a stop signal waits keep their own deadlines.
inline constexpr double kStopGraceSeconds = 2.0;

// Installs the handlers for SIGTERM, SIGINT and SIGUSR1. Later signals of the three are ignored:
// the first one decides the exit code.
void install();
// The first stop signal received, or 0.
int pending();
// Ends the grace period's cut: from now on waits keep their own deadlines again. Called once
// the stop is being handled (the ranks agreed, or the error path is writing the report), so
// that the last exchanges are not cut short.
void holdWaits();
// Records `signal` as if it had been received (tests, and ranks told by their peers).
void request(int signal);
// Forgets any stop signal (tests only).
void reset();
// "SIGTERM", "SIGINT", "SIGUSR1", or "signal N".
std::string signalName(int signal);
// 128 + the pending signal when there is one, else `code`: the exit code of a run that ends
// with `code` while a stop signal may be pending.
int exitCode(int code);

}  // namespace rdzv::interrupt
