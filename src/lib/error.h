#pragma once
// The one error type of rdzvbench. Thrown at layer boundaries, turned into an exit code by
// src/cli only.

#include <optional>
#include <stdexcept>
#include <string>

namespace rdzv {

// Exit codes, as documented in DESIGN.md.
enum class ErrorKind {
  Check = 1,    // a check failed: regression, validation mismatch
  Usage = 2,    // bad flags, values or configuration
  Runtime = 3,  // peer lost, timeout, store unreachable, system call failed
};

class Error : public std::runtime_error {
 public:
  // `what` says what failed; `hint` says what to do about it (may be empty).
  Error(ErrorKind kind, std::string what, std::string hint = {});

  ErrorKind kind() const { return kind_; }
  int exitCode() const { return static_cast<int>(kind_); }
  const std::string& hint() const { return hint_; }
  const std::optional<int>& rank() const { return rank_; }
  // Attaches the rank that raised it; the message then starts with "rank N: ".
  Error& onRank(int rank);
  // One line for humans: "[rank N: ]what[ (hint)]".
  std::string message() const;

 private:
  ErrorKind kind_;
  std::string hint_;
  std::optional<int> rank_;
};

[[noreturn]] void throwUsage(std::string what, std::string hint = {});
[[noreturn]] void throwRuntime(std::string what, std::string hint = {});
// Throws a Runtime error for a failed system call, with strerror(err).
[[noreturn]] void throwSystem(const std::string& call, int err, std::string hint = {});

}  // namespace rdzv
