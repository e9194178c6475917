#pragma once
// How long the Slurm job around this process may still run, to warn before a sweep that
// would not fit.

#include <optional>
#include <string>
#include <vector>

namespace rdzv {

// Reads Slurm's time syntax as `squeue -o %L` prints it ("1-02:03:04", "2:03:04", "3:04") or
// as --time takes it ("45" minutes, "1-02" days-hours, "1-02:03"), in seconds. nullopt for the
// words Slurm uses when there is no figure: UNLIMITED, INVALID, NOT_SET (or empty). Throws
// Usage naming `text` when it is none of these.
std::optional<double> parseTimeLeft(const std::string& text);

// How a command that ran to the end finished.
struct CommandResult {
  int exit_code = 0;
  std::string out;  // its standard output
};

// Runs `command` (argv, looked up in PATH) and returns its exit code and standard output, or
// nullopt when it cannot be started (exit 127), is killed by a signal or takes longer than
// `timeout_s` (it is then killed). For commands whose non-zero exit still says something
// (`systemctl is-active` prints the state and exits 3 when it is not active).
std::optional<CommandResult> runCommand(const std::vector<std::string>& command, double timeout_s);

// runCommand's output, or nullopt also when the command exits non-zero.
std::optional<std::string> captureCommand(const std::vector<std::string>& command,
                                          double timeout_s);

// Seconds job `job_id` has left according to squeue, or nullopt when squeue is missing, fails,
// takes longer than `timeout_s` or gives no figure.
std::optional<double> slurmTimeLeft(const std::string& job_id, double timeout_s);

// "2 h 05 min", "3 min 04 s", "12 s": a duration for humans.
std::string formatDuration(double seconds);

}  // namespace rdzv
