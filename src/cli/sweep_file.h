#pragma once
// Sweep files (configs/*.json): JSON with // and /* */ comments, an object whose keys are the
// long flag names of a subcommand without the dashes and whose values are strings, numbers,
// booleans, or arrays of those (an array is a comma list). Flags on the command line win.

#include <string>

#include <CLI/CLI.hpp>

namespace rdzv::cli {

// Sets every option of `command` named in the file that the command line did not give.
// Usage error naming the file for an unreadable file, malformed JSON (with its position),
// an unknown key or a value of the wrong type.
void applySweepFile(CLI::App& command, const std::string& path);

}  // namespace rdzv::cli
