#include "lib/time_left.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <charconv>
#include <cmath>

#include <fmt/format.h>

#include "lib/clock.h"
#include "lib/error.h"

namespace rdzv {
namespace {

bool number(std::string_view text, long long& out) {
  if (text.empty()) return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && ptr == text.data() + text.size() && out >= 0;
}

std::vector<std::string_view> split(std::string_view text, char sep) {
  std::vector<std::string_view> parts;
  while (true) {
    auto at = text.find(sep);
    parts.push_back(text.substr(0, at));
    if (at == std::string_view::npos) return parts;
    text.remove_prefix(at + 1);
  }
}

}  // namespace

std::optional<double> parseTimeLeft(const std::string& text) {
  std::string_view t = text;
  while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.remove_suffix(1);
  while (!t.empty() && t.front() == ' ') t.remove_prefix(1);
  if (t.empty() || t == "UNLIMITED" || t == "INVALID" || t == "NOT_SET") return std::nullopt;
  auto bad = [&]() -> std::optional<double> {
    throwUsage(fmt::format("unreadable Slurm time \"{}\"", text),
               "expected days-hours:minutes:seconds, hours:minutes:seconds or minutes:seconds");
  };
  long long days = 0;
  auto dash = t.find('-');
  bool with_days = dash != std::string_view::npos;
  if (with_days) {
    if (!number(t.substr(0, dash), days)) return bad();
    t.remove_prefix(dash + 1);
  }
  auto parts = split(t, ':');
  if (parts.size() > 3) return bad();
  long long v[3] = {0, 0, 0};
  for (std::size_t i = 0; i < parts.size(); ++i)
    if (!number(parts[i], v[i])) return bad();
  long long h = 0, m = 0, s = 0;
  if (with_days) {
    // days-hours, days-hours:minutes, days-hours:minutes:seconds
    h = v[0];
    m = parts.size() > 1 ? v[1] : 0;
    s = parts.size() > 2 ? v[2] : 0;
  } else if (parts.size() == 1) {
    m = v[0];  // minutes
  } else if (parts.size() == 2) {
    m = v[0];  // minutes:seconds
    s = v[1];
  } else {
    h = v[0];
    m = v[1];
    s = v[2];
  }
  if (days > 100000 || h > 1000000 || m > 100000000 || s > 1000000000) return bad();
  return static_cast<double>(((days * 24 + h) * 60 + m) * 60 + s);
}

std::optional<CommandResult> runCommand(const std::vector<std::string>& command, double timeout_s) {
  if (command.empty()) return std::nullopt;
  // Built before fork: the child of a threaded process may only make async-signal-safe calls.
  std::vector<char*> argv;
  for (const auto& a : command) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return std::nullopt;
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return std::nullopt;
  }
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
      dup2(null, STDIN_FILENO);
      dup2(null, STDERR_FILENO);
    }
    execvp(argv[0], argv.data());
    _exit(127);
  }
  close(fds[1]);
  std::string out;
  auto deadline = Deadline::afterSeconds(timeout_s);
  bool timed_out = false;
  while (true) {
    if (deadline.expired()) {
      timed_out = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    int n = ::poll(&p, 1, deadline.remainingMs(100));
    if (n < 0 && errno != EINTR) break;
    if (n <= 0) continue;
    char buf[4096];
    auto got = ::read(fds[0], buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    out.append(buf, static_cast<std::size_t>(got));
    if (out.size() > (1 << 20)) break;  // not what we asked for
  }
  close(fds[0]);
  if (timed_out) kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out || !WIFEXITED(status) || WEXITSTATUS(status) == 127) return std::nullopt;
  return CommandResult{WEXITSTATUS(status), std::move(out)};
}

std::optional<std::string> captureCommand(const std::vector<std::string>& command,
                                          double timeout_s) {
  auto result = runCommand(command, timeout_s);
  if (!result || result->exit_code != 0) return std::nullopt;
  return std::move(result->out);
}

std::optional<double> slurmTimeLeft(const std::string& job_id, double timeout_s) {
  auto out = captureCommand({"squeue", "-h", "-j", job_id, "-o", "%L"}, timeout_s);
  if (!out) return std::nullopt;
  try {
    return parseTimeLeft(*out);
  } catch (const Error&) {
    return std::nullopt;  // a squeue that prints something else: no warning rather than a failure
  }
}

std::string formatDuration(double seconds) {
  auto total = static_cast<long long>(std::llround(std::max(seconds, 0.0)));
  long long h = total / 3600, m = total / 60 % 60, s = total % 60;
  if (h > 0) return fmt::format("{} h {:02} min", h, m);
  if (m > 0) return fmt::format("{} min {:02} s", m, s);
  return fmt::format("{} s", s);
}

}  // namespace rdzv
