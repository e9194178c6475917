// `rdzvbench sweep`: one launch of `rdzvbench run` per combination of a sweep file's
// environment axes (directly, or behind --launcher "srun -N2 -n2"), merged into one report.

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bench/env_sweep.h"
#include "cli/commands.h"
#include "lib/clock.h"
#include "lib/error.h"
#include "lib/interrupt.h"
#include "lib/report.h"

namespace rdzv::cli {
namespace {

namespace fs = std::filesystem;

struct SweepFlags {
  std::string config;
  std::string launcher;
  std::string output;
  bool resume = false;
  bool dry_run = false;
  double combination_timeout = 3600;
  std::vector<std::string> run_args;
};

// How long a launch may take to end after the stop signal is passed on, before its process
// group is killed: `rdzvbench run` stops at its next size or gives up the size under way 2 s
// after the signal (interrupt.h), and in local mode kills ranks still running 4 s after it. So
// that the sweep too is gone within about 5 s of the signal.
constexpr double kStopSeconds = 4.5;

nlohmann::json readSweepFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) throwUsage(fmt::format("cannot read sweep file {}", path), "check the --config path");
  std::stringstream text;
  text << in.rdbuf();
  try {
    auto doc = nlohmann::json::parse(text.str(), nullptr, true, /*ignore_comments=*/true);
    if (!doc.is_object()) throwUsage(fmt::format("sweep file {} is not a JSON object", path));
    return doc;
  } catch (const nlohmann::json::parse_error& e) {
    throwUsage(fmt::format("malformed sweep file {} at byte {}: {}", path, e.byte, e.what()),
               "fix the JSON (comments are allowed)");
  }
}

std::vector<std::string> splitWords(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

std::string selfPath() {
  char path[PATH_MAX] = {};
  auto n = readlink("/proc/self/exe", path, sizeof path - 1);
  if (n <= 0) throwSystem("readlink /proc/self/exe", errno);
  return std::string(path, static_cast<std::size_t>(n));
}

std::string tail(const std::string& path, std::size_t lines) {
  std::ifstream in(path);
  std::vector<std::string> all;
  for (std::string line; std::getline(in, line);) all.push_back(line);
  std::string out;
  for (std::size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i)
    out += all[i] + "\n";
  return out;
}

// The argv of one launch: the launcher's words (with mpirun told to export each variable,
// as it does not pass the environment on by itself), then `rdzvbench run`.
std::vector<std::string> launchCommand(const SweepFlags& f, const bench::EnvCombination& env,
                                       const std::string& run_config, const std::string& part) {
  auto words = splitWords(f.launcher);
  std::vector<std::string> argv;
  if (!words.empty()) {
    argv.push_back(words[0]);
    auto base = fs::path(words[0]).filename().string();
    if (base == "mpirun" || base == "mpiexec" || base == "orterun")
      for (const auto& [k, v] : env) argv.insert(argv.end(), {"-x", k});
    argv.insert(argv.end(), words.begin() + 1, words.end());
  }
  argv.insert(argv.end(), {selfPath(), "run", "--config", run_config, "-o", part, "-q"});
  argv.insert(argv.end(), f.run_args.begin(), f.run_args.end());
  return argv;
}

// Passes a stop signal on to a launch's process group. srun gets SIGUSR1 instead, the one of
// the three it forwards to the tasks as it is: it answers SIGTERM (and a second SIGINT) by
// killing them with SIGKILL, before they can write what they measured, and a first SIGINT
// only by printing their status.
void forwardStop(pid_t group, int signal, bool srun) { kill(-group, srun ? SIGUSR1 : signal); }

// Runs one launch; returns its exit code (128 + signal when killed). On a stop signal
// (interrupt::pending) passes it on and waits for the launch to end, at most kStopSeconds.
int launch(const std::vector<std::string>& argv, const bench::EnvCombination& env,
           const std::string& stderr_path, double timeout) {
  pid_t pid = fork();
  if (pid < 0) throwSystem("fork", errno);
  if (pid == 0) {
    setpgid(0, 0);  // its own group, so a timeout can stop the launcher and all it started
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    int fd = open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) dup2(fd, STDERR_FILENO);
    std::vector<char*> cargv;
    for (const auto& s : argv) cargv.push_back(const_cast<char*>(s.c_str()));
    cargv.push_back(nullptr);
    execvp(cargv[0], cargv.data());
    std::fprintf(stderr, "rdzvbench sweep: cannot start %s: %s\n", cargv[0], std::strerror(errno));
    _exit(127);
  }
  setpgid(pid, pid);
  const bool srun = fs::path(argv.at(0)).filename() == "srun";
  auto deadline = Deadline::afterSeconds(timeout);
  int forwarded = 0;
  auto stop_by = Deadline::afterSeconds(0);
  while (true) {
    int status = 0;
    pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (int signal = interrupt::pending(); signal != 0 && forwarded == 0) {
      forwarded = signal;
      interrupt::holdWaits();  // the deadlines of this loop must hold
      forwardStop(pid, signal, srun);
      stop_by = Deadline::afterSeconds(kStopSeconds);
    }
    if (forwarded != 0 && stop_by.expired()) {
      kill(-pid, SIGKILL);
      waitpid(pid, &status, 0);
      std::ofstream(stderr_path, std::ios::app)
          << fmt::format("rdzvbench sweep: killed, still running {} s after {}\n", kStopSeconds,
                         interrupt::signalName(forwarded));
      return 128 + SIGKILL;
    }
    if (forwarded == 0 && deadline.expired()) {
      kill(-pid, SIGTERM);
      std::this_thread::sleep_for(std::chrono::seconds(2));
      kill(-pid, SIGKILL);
      waitpid(pid, &status, 0);
      std::ofstream(stderr_path, std::ios::app)
          << fmt::format("rdzvbench sweep: stopped after --combination-timeout {} s\n", timeout);
      return static_cast<int>(ErrorKind::Runtime);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::string describe(const bench::EnvCombination& env) {
  std::string out;
  for (const auto& [k, v] : env) out += fmt::format("{}{}={}", out.empty() ? "" : " ", k, v);
  return out.empty() ? "(no environment axes)" : out;
}

int runSweep(const SweepFlags& f, const std::vector<std::string>& argv) {
  auto doc = readSweepFile(f.config);
  std::vector<bench::EnvAxis> axes;
  if (doc.contains("env")) {
    axes = bench::parseEnvAxes(doc["env"], f.config);
    doc.erase("env");
  }
  auto combinations = bench::expandAxes(axes);
  auto output = f.output.empty() ? timestampedFileName("rdzvbench-sweep") : f.output;
  fs::path parts = fs::path(output).replace_extension(".parts");
  auto run_config = (parts / "run-config.json").string();
  if (!f.dry_run) {
    std::error_code ec;
    fs::create_directories(parts, ec);
    if (ec) throwRuntime(fmt::format("cannot create {}: {}", parts.string(), ec.message()));
    std::ofstream(run_config) << doc.dump(2) << "\n";
  }

  Report merged;
  merged.complete = false;
  merged.start_time = utcTimestamp();
  interrupt::install();
  int failed = 0;
  auto update = [&](std::size_t finished) {
    merged.command_line = argv;
    merged.end_time = utcTimestamp();
    merged.complete = failed == 0 && finished == combinations.size();
    merged.error =
        failed ? fmt::format("{} of {} combinations failed", failed, finished) : std::string();
    merged.interrupted.reset();  // a first part's own, when it was stopped
  };
  // Ends the sweep on a stop signal: the merged report marked interrupted, exit 128 + signal.
  auto stop = [&](int signal, std::size_t k) {
    auto name = interrupt::signalName(signal);
    update(k);
    merged.complete = false;
    merged.interrupted = Interruption{signal, name};
    merged.error = fmt::format(
        "interrupted by {} (signal {}) {} combination {} of {}{}; rerun with --resume for the "
        "rest",
        name, signal, k < merged.combinations.size() ? "during" : "before", k + 1,
        combinations.size(), merged.error.empty() ? "" : "; " + merged.error);
    writeReport(merged, output);
    fmt::print(stderr, "rdzvbench sweep: {}; partial report {}\n", merged.error, output);
    return 128 + signal;
  };
  for (std::size_t k = 0; k < combinations.size(); ++k) {
    if (!f.dry_run)
      if (int signal = interrupt::pending(); signal != 0) return stop(signal, k);
    const auto& env = combinations[k];
    auto base = fmt::format("combo-{:03}-{}", k, bench::combinationKey(env));
    auto part = (parts / (base + ".json")).string();
    auto err_path = (parts / (base + ".stderr")).string();
    auto command = launchCommand(f, env, run_config, part);
    fmt::print(stderr, "rdzvbench sweep: [{}/{}] {}\n", k + 1, combinations.size(), describe(env));
    if (f.dry_run) {
      std::string line;
      for (const auto& [kk, v] : env) line += fmt::format("{}={} ", kk, v);
      for (const auto& w : command) line += w + " ";
      fmt::print("{}\n", line);
      continue;
    }
    Combination record{env, "ok", 0, "", part};
    bool reused = false;
    if (f.resume && fs::exists(part)) {
      try {
        auto previous = readReport(part);
        if (previous.complete) {
          bench::mergePart(merged, previous, env);
          reused = true;
          fmt::print(stderr, "rdzvbench sweep:   kept from the earlier run ({})\n", part);
        }
      } catch (const Error&) {
        // An unreadable part is simply run again.
      }
    }
    if (!reused) {
      std::fflush(stdout);
      // An earlier, incomplete part must not pass for what this launch wrote.
      std::error_code ec;
      fs::remove(part, ec);
      int code = launch(command, env, err_path, f.combination_timeout);
      record.exit_code = code;
      if (code != 0 && interrupt::pending() != 0) {
        // Stopped under way: keep what its report holds (the rows it finished).
        record.status = "interrupted";
        record.stderr_tail = tail(err_path, 20);
        try {
          if (fs::exists(part)) bench::mergePart(merged, readReport(part), env);
        } catch (const Error&) {
          // Not written, or cut short: the combination runs again with --resume anyway.
        }
        merged.combinations.push_back(record);
        return stop(interrupt::pending(), k);
      }
      if (code == 0) {
        try {
          bench::mergePart(merged, readReport(part), env);
        } catch (const Error& e) {
          code = record.exit_code = static_cast<int>(ErrorKind::Runtime);
          std::ofstream(err_path, std::ios::app) << e.message() << "\n";
        }
      }
      if (code != 0) {
        ++failed;
        record.status = "failed";
        record.stderr_tail = tail(err_path, 20);
        fmt::print(stderr, "rdzvbench sweep:   failed with exit {}:\n{}", code, record.stderr_tail);
      }
    }
    merged.combinations.push_back(record);
    // Rewritten after every combination: an interrupted sweep still leaves its results.
    update(k + 1);
    writeReport(merged, output);
  }
  if (f.dry_run) return 0;
  fmt::print(stderr, "rdzvbench sweep: {} combination(s), {} failed; report {}\n",
             combinations.size(), failed, output);
  return failed ? static_cast<int>(ErrorKind::Runtime) : 0;
}

}  // namespace

Action addSweepCommand(CLI::App& app, const std::vector<std::string>& argv) {
  auto flags = std::make_shared<SweepFlags>();
  auto* sweep = app.add_subcommand(
      "sweep",
      "Run `rdzvbench run` once per combination of a sweep file's environment axes (\"env\": "
      "{\"FI_CXI_RDZV_THRESHOLD\": [\"2K\", \"16K\"]}) and merge the reports; arguments after "
      "-- go to every run");
  sweep->add_option("--config", flags->config, "Sweep file (configs/*.json)")->required();
  sweep->add_option("--launcher", flags->launcher,
                    "Command that starts the ranks of one run, e.g. \"srun -N2 -n2\" or "
                    "\"mpirun -np 2\" (default: local mode)");
  sweep->add_option("-o,--output", flags->output,
                    "Merged report (default rdzvbench-sweep-<timestamp>.json); each launch's "
                    "own report and stderr go to <output>.parts/");
  sweep->add_flag("--resume", flags->resume,
                  "Keep the combinations an earlier, interrupted sweep to the same --output "
                  "finished; run the rest");
  sweep->add_flag("--dry-run", flags->dry_run, "Print each launch's environment and command");
  sweep
      ->add_option("--combination-timeout", flags->combination_timeout,
                   "Seconds one launch may take before it is stopped and recorded as failed")
      ->capture_default_str();
  sweep->add_option("run_args", flags->run_args, "Flags for every `rdzvbench run` (after --)");
  return [flags, argv]() -> int {
    if (!(flags->combination_timeout > 0))
      throwUsage(fmt::format("invalid --combination-timeout {}", flags->combination_timeout),
                 "use a number of seconds > 0");
    return runSweep(*flags, argv);
  };
}

}  // namespace rdzv::cli
