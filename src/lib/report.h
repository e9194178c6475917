#pragma once
// The report data model: what one run measured, and its JSON form
// (results-schema/report.schema.json). Times are UTC ISO 8601 strings, latencies in
// microseconds, bandwidth in MB/s (10^6 bytes per second, as OSU).

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lib/stats.h"
#include "lib/sysinfo.h"

namespace rdzv {

inline constexpr int kReportSchemaVersion = 1;

// Least, mean and greatest of one value per rank.
struct Spread {
  double min = 0, mean = 0, max = 0;
};

// One of the trials of a row measured with `run --repeat N`: that trial's headline numbers.
struct Trial {
  double latency_p50_us = 0;
  double bandwidth_mbps = 0;
};

// One message size of one series.
struct Row {
  std::uint64_t size = 0;        // bytes per message
  std::uint64_t iterations = 0;  // timed iterations per measuring rank
  Summary latency_us;            // per-message latency across iterations and measuring ranks
  double bandwidth_mbps = 0;     // aggregate over all measuring pairs
  double message_rate = 0;       // messages per second, aggregate
  int pairs = 1;                 // measuring pairs that contributed (ranks, for collectives)
  // Collectives only (absent from point-to-point rows): each rank's mean time per call,
  // spread across ranks; algbw = size / mean time and busbw = algbw x the nccl-tests factor
  // of the collective, both in GB/s (10^9 B/s) and absent for barrier, which moves no data.
  std::optional<Spread> rank_time_us;
  std::optional<double> algbw_gbps;
  std::optional<double> busbw_gbps;
  // With --repeat N > 1, each trial's numbers, in order; the row's numbers are then their
  // medians. Empty (and absent from the JSON) for a single trial.
  std::vector<Trial> trials;
};

// One (transport, benchmark, algorithm, parameters, environment) combination.
struct Series {
  std::string transport;                      // "tcp", "mpi", ...
  std::string benchmark;                      // "latency", "bw", "bibw", ...
  std::string algorithm;                      // "" for point-to-point
  std::map<std::string, std::string> params;  // window, protocol parameters, ...
  std::map<std::string, std::string> env;     // environment axis values of this series
  std::vector<Row> rows;
  bool complete = true;                               // false when the run failed inside it
  nlohmann::json details = nlohmann::json::object();  // transport details and counters
  // Point-to-point only (empty and absent for collectives): the (initiator, partner) rank pairs
  // that measured, and whether they were all on one node each ("intra"), all across nodes
  // ("inter") or both ("mixed"). Nodes are told apart by host name.
  std::vector<std::array<int, 2>> measured_pairs;
  std::string pair_locality;
};

struct RankInfo {
  int rank = 0;
  std::string host;
  int pid = 0;
  // Placement (lib/placement.h). Optional in the JSON so that older reports still read. The
  // initializers let RankInfo{rank, host, pid} stay warning-free.
  std::optional<int> node_id{};   // SLURM_NODEID under srun
  std::optional<int> local_id{};  // the launcher's local rank, else the place among its host's
  std::string cpus{};             // affinity as a cpulist, "0-3,8"; empty when unknown
  int cpu_count = 0;              // CPUs in `cpus`
  std::vector<int> numa_nodes{};  // NUMA nodes holding those CPUs; empty when unknown
};

// The Slurm job and step a run belongs to: the raw values of Slurm's variables ("" when unset).
struct SlurmRun {
  std::string job_id;          // SLURM_JOB_ID
  std::string step_id;         // SLURM_STEP_ID, inside a step
  std::string nodelist;        // SLURM_STEP_NODELIST, else SLURM_JOB_NODELIST (compressed)
  std::string tasks_per_node;  // SLURM_STEP_TASKS_PER_NODE, else SLURM_TASKS_PER_NODE: "2(x3),1"
  std::string partition;       // SLURM_JOB_PARTITION
};

// A run ended early by a signal (lib/interrupt.h).
struct Interruption {
  int signal = 0;    // e.g. 15
  std::string name;  // e.g. "SIGTERM"
};

// One environment combination of `rdzvbench sweep`: what ran, and how it ended.
struct Combination {
  std::map<std::string, std::string> env;
  std::string status;  // "ok", "failed", or "interrupted" (a stop signal ended the sweep in it)
  int exit_code = 0;
  std::string stderr_tail;  // the last lines a failed launch printed
  std::string part;         // the launch's own report file
};

struct Report {
  int schema_version = kReportSchemaVersion;
  std::string tool_version;
  std::string git_revision;
  std::vector<std::string> command_line;
  std::string start_time;
  std::string end_time;
  std::string launcher;   // "local", "mpirun", "srun", "manual"
  std::string bootstrap;  // "store" or "mpi"
  std::string store;      // store URI, empty with the mpi bootstrap
  std::string run_id;
  int size = 0;  // number of ranks
  std::vector<RankInfo> ranks;
  std::optional<SlurmRun> slurm;                   // under Slurm only (SLURM_JOB_ID set)
  HostInfo host;                                   // rank 0's host
  std::map<std::string, std::string> environment;  // captureEnvironment() of rank 0
  std::vector<Series> series;
  bool complete = true;
  std::string error;  // why the run is incomplete; empty when complete
  // Set when a stop signal ended the run early (complete is then false).
  std::optional<Interruption> interrupted;
  // Seconds from rank 0's start to the end of each start-up phase it saw: "store" (opened),
  // "ranks" (every rank arrived), "mesh/<transport>" (full mesh connected). Empty with MPI.
  std::map<std::string, double> phase_seconds;
  // Only in reports merged by `rdzvbench sweep`: one entry per environment combination.
  std::vector<Combination> combinations;
};

void to_json(nlohmann::json& j, const Spread& s);
void from_json(const nlohmann::json& j, Spread& s);
void to_json(nlohmann::json& j, const Trial& t);
void from_json(const nlohmann::json& j, Trial& t);
void to_json(nlohmann::json& j, const Row& r);
void from_json(const nlohmann::json& j, Row& r);
void to_json(nlohmann::json& j, const Series& s);
void from_json(const nlohmann::json& j, Series& s);
void to_json(nlohmann::json& j, const RankInfo& r);
void from_json(const nlohmann::json& j, RankInfo& r);
void to_json(nlohmann::json& j, const SlurmRun& s);
void from_json(const nlohmann::json& j, SlurmRun& s);
void to_json(nlohmann::json& j, const Combination& c);
void from_json(const nlohmann::json& j, Combination& c);
void to_json(nlohmann::json& j, const Report& r);
void from_json(const nlohmann::json& j, Report& r);

// Writes atomically (temporary file + rename), so a reader never sees half a report. `durable`:
// fsync before the rename, so that a machine crash leaves the old file or the new one; a
// checkpoint that only has to outlive this process (SIGKILL) skips it.
void writeReport(const Report& report, const std::string& path, bool durable = true);
// The same for any JSON document (the survey report).
void writeJsonFile(const nlohmann::json& document, const std::string& path, bool durable = true);
// Throws Usage naming the file (and the JSON position) when it is unreadable or malformed,
// or when its schema_version is not kReportSchemaVersion.
Report readReport(const std::string& path);

// Current UTC time as "2026-11-23T21:30:00.123Z".
std::string utcTimestamp();

// "<stem>-<UTC time>.json" with the time's colons as dashes: a default report file name.
std::string timestampedFileName(const std::string& stem);

}  // namespace rdzv
