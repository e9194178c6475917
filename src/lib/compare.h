#pragma once
// Regression checks between two reports (`rdzvbench compare BASE NEW`): series are matched by
// (transport, benchmark, algorithm, params, env), rows by size, and every metric both rows
// carry is judged against a tolerance and against the spread of the rows' repeated trials.
// Pure report analysis, so it lives beside the report model and needs no transport.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lib/report.h"

namespace rdzv {

inline constexpr int kCompareSchemaVersion = 1;

// How one metric moved from BASE to NEW, worst first.
enum class Verdict {
  Regressed,  // worse by more than the tolerance and more than the trials' spread
  Improved,   // better by more than the tolerance and more than the trials' spread
  Noise,      // beyond the tolerance, but no larger than the trials' own spread
  Same,       // within the tolerance
};
// "regressed", "improved", "noise", "same".
const char* verdictName(Verdict verdict);

// A number of a report row that compare judges.
struct MetricInfo {
  std::string name;           // its name in compare's output and in a row's `trials` entries
  std::string pointer;        // JSON pointer to it inside a row, e.g. "/latency_us/p50"
  std::string label;          // for tables, e.g. "latency p50 (us)"
  std::string tolerance_key;  // which --tolerance entry applies: latency, bw, algbw, busbw
  bool lower_is_better = false;
};
// Every metric compare knows, in table order. Rows without one (algbw/busbw outside
// collectives, or reports written before they existed) simply skip it.
const std::vector<MetricInfo>& comparedMetrics();

// Allowed relative change per tolerance key, as fractions (0.05 is 5%).
struct Tolerances {
  double latency = 0.05;
  double bw = 0.05;
  double algbw = -1;  // negative: same as bw
  double busbw = -1;  // negative: same as bw

  // The tolerance for `key` (a MetricInfo::tolerance_key).
  double of(const std::string& key) const;
};
// Parses --tolerance: "10%" (every metric) or "latency=10%,bw=5%" (keys latency, bw, algbw,
// busbw; algbw and busbw follow bw unless given). Numbers are percentages, "%" optional.
// Throws Usage naming the bad item.
Tolerances parseTolerances(const std::string& spec);

// What one metric did at one size.
struct MetricChange {
  std::string metric;  // MetricInfo::name
  double base = 0;     // the rows' headline values (medians over trials when repeated)
  double now = 0;
  double change = 0;     // (now - base) / base
  double tolerance = 0;  // fraction
  double noise = 0;      // larger of the two rows' trial spreads, as a fraction (see judgeMetric)
  int base_trials = 0;   // 0 when the row was measured once
  int new_trials = 0;
  Verdict verdict = Verdict::Same;
};

// Judges one metric. `base_trials`/`new_trials` are the per-trial values (may be empty). A
// change counts only when it exceeds the tolerance and the larger of the two rows' trial
// spreads, because a difference the trials of one build show among themselves is no
// evidence. A row's spread is 3 median absolute deviations of the logarithms of its trials
// (about two standard deviations, on the ratio scale latency and bandwidth vary on), so one
// stalled trial does not hide a real change; it is 0 for fewer than two trials.
MetricChange judgeMetric(const MetricInfo& metric, double base, double now,
                         const std::vector<double>& base_trials,
                         const std::vector<double>& new_trials, double tolerance);

// One size of a matched series.
struct RowComparison {
  std::uint64_t size = 0;
  std::vector<MetricChange> metrics;  // the metrics both rows carry with positive values

  // The worst verdict of its metrics; Same when none was compared.
  Verdict verdict() const;
};

// Compares two rows in their JSON form, so fields this build's Row does not know (added by a
// newer rdzvbench) are still compared when both sides have them.
RowComparison compareRows(const nlohmann::json& base, const nlohmann::json& now,
                          const Tolerances& tolerances);

// The identity of a series across reports.
struct SeriesKey {
  std::string transport;
  std::string benchmark;
  std::string algorithm;
  std::map<std::string, std::string> params;
  std::map<std::string, std::string> env;

  auto operator<=>(const SeriesKey&) const = default;
};
// The key of `series`.
SeriesKey keyOf(const Series& series);
// "tcp latency pairs=0-1 FI_X=1": what tables, JUnit and messages call a series.
std::string describe(const SeriesKey& key);

// A series found in both reports.
struct SeriesComparison {
  SeriesKey key;
  bool base_complete = true;
  bool new_complete = true;
  std::vector<RowComparison> rows;          // sizes in both, in NEW's order
  std::vector<std::uint64_t> only_in_base;  // sizes BASE measured and NEW did not
  std::vector<std::uint64_t> only_in_new;   // sizes NEW measured and BASE did not
};

// Where a side of the comparison came from.
struct ReportRef {
  std::string path;  // the file read (for a directory BASE, the report chosen in it)
  std::string tool_version;
  std::string git_revision;
  std::string start_time;
  std::string host;
  bool complete = true;
};
// The reference to `report`, read from `path`.
ReportRef refOf(const Report& report, const std::string& path);

struct Comparison {
  ReportRef base;
  ReportRef now;
  Tolerances tolerances;
  std::vector<SeriesComparison> series;  // matched series, in NEW's order
  std::vector<SeriesKey> only_in_base;   // series NEW lacks
  std::vector<SeriesKey> only_in_new;    // series BASE lacks
  std::map<SeriesKey, std::vector<std::uint64_t>> unmatched_sizes;  // sizes of unmatched series

  // Metric comparisons with verdict `v`.
  int count(Verdict v) const;
  // All metric comparisons made.
  int compared() const;
  // True when any metric regressed: compare then exits 1.
  bool regressed() const;
};

// Matches series and sizes of two reports and judges every common metric. Throws Usage when
// a report holds a series or a size twice, or when the two have nothing to compare (the
// message says what each holds).
Comparison compareReports(const Report& base, const std::string& base_path, const Report& now,
                          const std::string& new_path, const Tolerances& tolerances);

// Reads BASE: a report file, or a directory of reports of which the newest (by start_time,
// then file name) is used, so a CI job can keep every baseline it accepted in one place.
// `chosen` receives the file read. Throws Usage as readReport does, or for an empty directory.
Report readBaseline(const std::string& path, std::string& chosen);

// The --json document, results-schema/compare.schema.json.
void to_json(nlohmann::json& j, const Comparison& c);

}  // namespace rdzv
