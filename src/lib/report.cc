#include "lib/report.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "lib/error.h"

namespace rdzv {

using nlohmann::json;

void to_json(json& j, const Spread& s) {
  j = json{{"min", s.min}, {"mean", s.mean}, {"max", s.max}};
}

void from_json(const json& j, Spread& s) {
  j.at("min").get_to(s.min);
  j.at("mean").get_to(s.mean);
  j.at("max").get_to(s.max);
}

void to_json(json& j, const Trial& t) {
  j = json{{"latency_p50_us", t.latency_p50_us}, {"bandwidth_mbps", t.bandwidth_mbps}};
}

void from_json(const json& j, Trial& t) {
  j.at("latency_p50_us").get_to(t.latency_p50_us);
  j.at("bandwidth_mbps").get_to(t.bandwidth_mbps);
}

void to_json(json& j, const Row& r) {
  j = json{{"size", r.size},
           {"iterations", r.iterations},
           {"latency_us", r.latency_us},
           {"bandwidth_mbps", r.bandwidth_mbps},
           {"message_rate", r.message_rate},
           {"pairs", r.pairs}};
  // Collective fields only where they apply, so point-to-point rows stay as they were.
  if (r.rank_time_us) j["rank_time_us"] = *r.rank_time_us;
  if (r.algbw_gbps) j["algbw_gbps"] = *r.algbw_gbps;
  if (r.busbw_gbps) j["busbw_gbps"] = *r.busbw_gbps;
  // Optional, so reports of single-trial runs keep their shape.
  if (!r.trials.empty()) j["trials"] = r.trials;
}

void from_json(const json& j, Row& r) {
  j.at("size").get_to(r.size);
  j.at("iterations").get_to(r.iterations);
  j.at("latency_us").get_to(r.latency_us);
  j.at("bandwidth_mbps").get_to(r.bandwidth_mbps);
  j.at("message_rate").get_to(r.message_rate);
  j.at("pairs").get_to(r.pairs);
  r.rank_time_us.reset();
  r.algbw_gbps.reset();
  r.busbw_gbps.reset();
  if (j.contains("rank_time_us")) r.rank_time_us = j.at("rank_time_us").get<Spread>();
  if (j.contains("algbw_gbps")) r.algbw_gbps = j.at("algbw_gbps").get<double>();
  if (j.contains("busbw_gbps")) r.busbw_gbps = j.at("busbw_gbps").get<double>();
  if (const auto trials = j.find("trials"); trials != j.end()) trials->get_to(r.trials);
}

void to_json(json& j, const Series& s) {
  j = json{{"transport", s.transport},
           {"benchmark", s.benchmark},
           {"algorithm", s.algorithm},
           {"params", s.params},
           {"env", s.env},
           {"rows", s.rows},
           {"complete", s.complete},
           {"details", s.details}};
  if (!s.measured_pairs.empty()) j["measured_pairs"] = s.measured_pairs;
  if (!s.pair_locality.empty()) j["pair_locality"] = s.pair_locality;
}

void from_json(const json& j, Series& s) {
  j.at("transport").get_to(s.transport);
  j.at("benchmark").get_to(s.benchmark);
  j.at("algorithm").get_to(s.algorithm);
  j.at("params").get_to(s.params);
  j.at("env").get_to(s.env);
  j.at("rows").get_to(s.rows);
  j.at("complete").get_to(s.complete);
  s.details = j.at("details");
  s.measured_pairs.clear();
  if (j.contains("measured_pairs")) j.at("measured_pairs").get_to(s.measured_pairs);
  s.pair_locality = j.value("pair_locality", "");
}

void to_json(json& j, const RankInfo& r) {
  j = json{{"rank", r.rank}, {"host", r.host}, {"pid", r.pid}};
  if (r.node_id) j["node_id"] = *r.node_id;
  if (r.local_id) j["local_id"] = *r.local_id;
  if (!r.cpus.empty()) {
    j["cpus"] = r.cpus;
    j["cpu_count"] = r.cpu_count;
  }
  if (!r.numa_nodes.empty()) j["numa_nodes"] = r.numa_nodes;
}

void from_json(const json& j, RankInfo& r) {
  j.at("rank").get_to(r.rank);
  j.at("host").get_to(r.host);
  j.at("pid").get_to(r.pid);
  r.node_id.reset();
  r.local_id.reset();
  if (j.contains("node_id")) r.node_id = j.at("node_id").get<int>();
  if (j.contains("local_id")) r.local_id = j.at("local_id").get<int>();
  r.cpus = j.value("cpus", "");
  r.cpu_count = j.value("cpu_count", 0);
  r.numa_nodes.clear();
  if (j.contains("numa_nodes")) j.at("numa_nodes").get_to(r.numa_nodes);
}

void to_json(json& j, const SlurmRun& s) {
  j = json{{"job_id", s.job_id}};
  // Only what Slurm said: a batch shell has no step, a job may have no partition name.
  if (!s.step_id.empty()) j["step_id"] = s.step_id;
  if (!s.nodelist.empty()) j["nodelist"] = s.nodelist;
  if (!s.tasks_per_node.empty()) j["tasks_per_node"] = s.tasks_per_node;
  if (!s.partition.empty()) j["partition"] = s.partition;
}

void from_json(const json& j, SlurmRun& s) {
  j.at("job_id").get_to(s.job_id);
  s.step_id = j.value("step_id", "");
  s.nodelist = j.value("nodelist", "");
  s.tasks_per_node = j.value("tasks_per_node", "");
  s.partition = j.value("partition", "");
}

void to_json(json& j, const Combination& c) {
  j = {{"env", c.env},
       {"status", c.status},
       {"exit_code", c.exit_code},
       {"stderr_tail", c.stderr_tail},
       {"part", c.part}};
}

void from_json(const json& j, Combination& c) {
  j.at("env").get_to(c.env);
  j.at("status").get_to(c.status);
  j.at("exit_code").get_to(c.exit_code);
  j.at("stderr_tail").get_to(c.stderr_tail);
  j.at("part").get_to(c.part);
}

void to_json(json& j, const Report& r) {
  j = json{{"schema_version", r.schema_version},
           {"tool_version", r.tool_version},
           {"git_revision", r.git_revision},
           {"command_line", r.command_line},
           {"start_time", r.start_time},
           {"end_time", r.end_time},
           {"launcher", r.launcher},
           {"bootstrap", r.bootstrap},
           {"store", r.store},
           {"run_id", r.run_id},
           {"size", r.size},
           {"ranks", r.ranks},
           {"host", r.host},
           {"environment", r.environment},
           {"series", r.series},
           {"complete", r.complete},
           {"error", r.error}};
  // Optional, so that reports without start-up timings stay as they were.
  if (!r.phase_seconds.empty()) j["phase_seconds"] = r.phase_seconds;
  if (!r.combinations.empty()) j["combinations"] = r.combinations;
  if (r.slurm) j["slurm"] = *r.slurm;
  if (r.interrupted)
    j["interrupted"] = {{"signal", r.interrupted->signal}, {"name", r.interrupted->name}};
}

void from_json(const json& j, Report& r) {
  j.at("schema_version").get_to(r.schema_version);
  j.at("tool_version").get_to(r.tool_version);
  j.at("git_revision").get_to(r.git_revision);
  j.at("command_line").get_to(r.command_line);
  j.at("start_time").get_to(r.start_time);
  j.at("end_time").get_to(r.end_time);
  j.at("launcher").get_to(r.launcher);
  j.at("bootstrap").get_to(r.bootstrap);
  j.at("store").get_to(r.store);
  j.at("run_id").get_to(r.run_id);
  j.at("size").get_to(r.size);
  j.at("ranks").get_to(r.ranks);
  j.at("host").get_to(r.host);
  j.at("environment").get_to(r.environment);
  j.at("series").get_to(r.series);
  j.at("complete").get_to(r.complete);
  j.at("error").get_to(r.error);
  if (j.contains("phase_seconds")) j.at("phase_seconds").get_to(r.phase_seconds);
  if (j.contains("combinations")) j.at("combinations").get_to(r.combinations);
  r.slurm.reset();
  if (j.contains("slurm")) r.slurm = j.at("slurm").get<SlurmRun>();
  r.interrupted.reset();
  if (j.contains("interrupted")) {
    const auto& i = j.at("interrupted");
    r.interrupted = Interruption{i.at("signal").get<int>(), i.at("name").get<std::string>()};
  }
}

namespace {

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

// Drops nlohmann's "[json.exception.type_error.302] " prefix, which means nothing to users.
std::string jsonDetail(const json::exception& e) {
  std::string what = e.what();
  if (what.rfind("[json.exception.", 0) == 0) {
    const std::size_t end = what.find("] ");
    if (end != std::string::npos) what.erase(0, end + 2);
  }
  return what;
}

bool writeAll(int fd, const std::string& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

void writeReport(const Report& report, const std::string& path, bool durable) {
  writeJsonFile(json(report), path, durable);
}

void writeJsonFile(const nlohmann::json& document, const std::string& path, bool durable) {
  // Replacing invalid UTF-8 (possible in captured environment values or argv) keeps one
  // odd byte from losing a whole run's results.
  const std::string text = document.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());

  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    const int err = errno;
    throwRuntime("cannot write report " + quoted(path) + ": " + std::strerror(err),
                 "check that the directory exists and is writable");
  }
  // fsync before rename, so a crash leaves the old file or the new one, never an empty one.
  bool ok = writeAll(fd, text) && (!durable || ::fsync(fd) == 0);
  int err = ok ? 0 : errno;
  if (::close(fd) != 0 && ok) {
    ok = false;
    err = errno;
  }
  if (ok && ::rename(tmp.c_str(), path.c_str()) != 0) {
    ok = false;
    err = errno;
  }
  if (!ok) {
    ::unlink(tmp.c_str());
    throwRuntime("cannot write report " + quoted(path) + ": " + std::strerror(err),
                 "check free space and permissions of its directory");
  }
}

Report readReport(const std::string& path) {
  // POSIX reads give a precise errno (e.g. EISDIR), which ifstream would hide.
  std::string text;
  {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    int err = fd < 0 ? errno : 0;
    if (fd >= 0) {
      char buf[65536];
      while (true) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n > 0) {
          text.append(buf, static_cast<std::size_t>(n));
        } else if (n == 0) {
          break;
        } else if (errno != EINTR) {
          err = errno;
          break;
        }
      }
      ::close(fd);
    }
    if (err != 0) {
      throwUsage("cannot read report " + quoted(path) + ": " + std::strerror(err),
                 "pass the path of a report written by rdzvbench --output");
    }
  }

  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    throwUsage("malformed JSON in report " + quoted(path) + " at byte " + std::to_string(e.byte) +
                   ": " + jsonDetail(e),
               "the file is truncated or edited; regenerate it with rdzvbench --output");
  }

  if (!j.is_object()) {
    throwUsage("report " + quoted(path) + " is not a JSON object",
               "pass a report written by rdzvbench --output");
  }
  const auto version = j.find("schema_version");
  if (version == j.end() || !version->is_number_integer()) {
    throwUsage("report " + quoted(path) + " has no integer schema_version",
               "pass a report written by rdzvbench --output");
  }
  if (version->get<long long>() != kReportSchemaVersion) {
    throwUsage("report " + quoted(path) + " has schema_version " + version->dump() +
                   ", but this rdzvbench supports schema_version " +
                   std::to_string(kReportSchemaVersion),
               "read it with the rdzvbench version that wrote it, or rerun the benchmark");
  }

  try {
    return j.get<Report>();
  } catch (const json::exception& e) {
    throwUsage("invalid report " + quoted(path) + ": " + jsonDetail(e),
               "the file does not follow results-schema/report.schema.json");
  }
}

std::string timestampedFileName(const std::string& stem) {
  auto stamp = utcTimestamp();
  std::replace(stamp.begin(), stamp.end(), ':', '-');
  return stem + "-" + stamp + ".json";
}

std::string utcTimestamp() {
  const auto now = std::chrono::system_clock::now();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch());
  const std::time_t secs = static_cast<std::time_t>(ms.count() / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  const std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%.*s.%03dZ", static_cast<int>(n), buf,
                static_cast<int>(ms.count() % 1000));
  return out;
}

}  // namespace rdzv
