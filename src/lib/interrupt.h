#pragma once
// Ending a run early on SIGTERM, SIGINT or SIGUSR1 (scancel, a Slurm time limit, Ctrl-C,
// `srun --signal=USR1@N`). The handler only records the signal; the sweep stops at its next
// safe point, where the ranks agree on it. A rank still waiting kStopGraceSeconds after the
// signal (a long row, or a peer that already stopped) sees every Deadline expire (clock.h).

#include <string>

namespace rdzv::interrupt {

// How long after a stop signal waits keep their own deadlines, by default.
inline constexpr double kStopGraceSeconds = 2.0;
// Under mpirun: OpenMPI 4.1's mpirun answers SIGTERM or SIGINT by sending the ranks SIGTERM and
// SIGKILL 1 s later (odls_base_sigkill_timeout), so the ranks must be quicker.
inline constexpr double kMpirunGraceSeconds = 0.3;

// Installs the handlers for SIGTERM, SIGINT and SIGUSR1. Later signals of the three are ignored:
// the first one decides the exit code.
void install();
// Sets how long waits keep their own deadlines after a stop signal (for signals to come).
void setGrace(double seconds);
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
// Once a stop is handled, ends the process with `code` after `seconds` unless it has ended by
// then: a teardown that waits on a launcher which is itself going away (MPI_Finalize after
// mpirun got the signal) must not keep the rank alive.
void exitAfter(double seconds, int code);
// How long a stopped rank may take from the stop to its exit (the report written, the
// launcher told).
inline constexpr double kTeardownSeconds = 1.5;
// "SIGTERM", "SIGINT", "SIGUSR1", or "signal N".
std::string signalName(int signal);
// 128 + the pending signal when there is one, else `code`: the exit code of a run that ends
// with `code` while a stop signal may be pending.
int exitCode(int code);

}  // namespace rdzv::interrupt
