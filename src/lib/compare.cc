#include "lib/compare.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <optional>
#include <set>
#include <tuple>

#include <fmt/format.h>

#include "lib/error.h"
#include "lib/size.h"
#include "lib/stats.h"

namespace rdzv {

using nlohmann::json;

namespace {

// Relative comparisons against a tolerance: (1.05 - 1) / 1 is 0.0500000000000000444, which
// must not count as "more than 5%".
constexpr double kEpsilon = 1e-9;

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

// Median absolute deviations that make a row's spread: 3 MAD is about 2 standard deviations
// for normal noise, and unlike the range it ignores one outlying trial.
constexpr double kSpreadMads = 3;

// The spread of one row's trials on a log scale (see judgeMetric); 0 for fewer than two.
double logSpread(const std::vector<double>& trials) {
  std::vector<double> logs;
  for (double v : trials)
    if (std::isfinite(v) && v > 0) logs.push_back(std::log(v));
  if (logs.size() < 2) return 0;
  const double center = median(logs);
  std::vector<double> deviations;
  for (double l : logs) deviations.push_back(std::abs(l - center));
  return kSpreadMads * median(std::move(deviations));
}

// A positive finite number at `pointer` in `row`, or nothing: absent fields and rows that
// measured nothing are not comparable.
std::optional<double> numberAt(const json& row, const json::json_pointer& pointer) {
  if (!row.contains(pointer)) return std::nullopt;
  const json& value = row.at(pointer);
  if (!value.is_number()) return std::nullopt;
  const double v = value.get<double>();
  if (!std::isfinite(v) || v <= 0) return std::nullopt;
  return v;
}

std::vector<double> trialValues(const json& row, const std::string& name) {
  std::vector<double> values;
  const auto trials = row.find("trials");
  if (trials == row.end() || !trials->is_array()) return values;
  for (const auto& trial : *trials) {
    const auto v = trial.find(name);
    if (v != trial.end() && v->is_number()) values.push_back(v->get<double>());
  }
  return values;
}

std::string sizeList(const std::vector<std::uint64_t>& sizes) {
  std::string out;
  for (auto s : sizes) out += (out.empty() ? "" : ",") + formatSize(s);
  return out;
}

// "tcp latency pairs=0-1 (8,1K), mpi bw ... and 3 more": what a report holds, for errors.
std::string holdings(const Report& report) {
  if (report.series.empty()) return "no series";
  std::string out;
  constexpr std::size_t kShown = 4;
  for (std::size_t i = 0; i < report.series.size() && i < kShown; ++i) {
    const auto& s = report.series[i];
    std::vector<std::uint64_t> sizes;
    for (const auto& r : s.rows) sizes.push_back(r.size);
    out += fmt::format("{}{} ({})", i ? "; " : "", describe(keyOf(s)),
                       sizes.empty() ? "no rows" : sizeList(sizes));
  }
  if (report.series.size() > kShown)
    out += fmt::format("; and {} more", report.series.size() - kShown);
  return out;
}

// Series of `report` by key, refusing one key twice (which would make matching ambiguous).
std::map<SeriesKey, const Series*> indexSeries(const Report& report, const std::string& path) {
  std::map<SeriesKey, const Series*> index;
  for (const auto& s : report.series) {
    if (!index.emplace(keyOf(s), &s).second)
      throwUsage(
          fmt::format("report {} holds series \"{}\" twice", quoted(path), describe(keyOf(s))),
          "compare reports written by one rdzvbench run each, or merge them first");
    std::set<std::uint64_t> sizes;
    for (const auto& r : s.rows)
      if (!sizes.insert(r.size).second)
        throwUsage(fmt::format("report {} holds size {} twice in series \"{}\"", quoted(path),
                               formatSize(r.size), describe(keyOf(s))),
                   "compare reports written by one rdzvbench run each");
  }
  return index;
}

double parsePercent(const std::string& item, const std::string& text) {
  std::string number = text;
  if (!number.empty() && number.back() == '%') number.pop_back();
  std::size_t used = 0;
  double value = -1;
  try {
    value = std::stod(number, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (number.empty() || used != number.size() || !std::isfinite(value) || value < 0 || value > 1000)
    throwUsage(fmt::format("invalid --tolerance item \"{}\"", item),
               "give a percentage from 0 to 1000, e.g. 5% or latency=10%,bw=5%");
  return value / 100;
}

}  // namespace

const char* verdictName(Verdict verdict) {
  switch (verdict) {
    case Verdict::Regressed:
      return "regressed";
    case Verdict::Improved:
      return "improved";
    case Verdict::Noise:
      return "noise";
    case Verdict::Same:
      return "same";
  }
  return "same";
}

const std::vector<MetricInfo>& comparedMetrics() {
  // algbw/busbw are the collectives' figures (nccl-tests' definitions); point-to-point rows
  // do not carry them.
  static const std::vector<MetricInfo> metrics{
      {"latency_p50_us", "/latency_us/p50", "latency p50 (us)", "latency", true},
      {"bandwidth_mbps", "/bandwidth_mbps", "bandwidth (MB/s)", "bw", false},
      {"algbw_gbps", "/algbw_gbps", "algbw (GB/s)", "algbw", false},
      {"busbw_gbps", "/busbw_gbps", "busbw (GB/s)", "busbw", false},
  };
  return metrics;
}

double Tolerances::of(const std::string& key) const {
  if (key == "latency") return latency;
  if (key == "algbw") return algbw >= 0 ? algbw : bw;
  if (key == "busbw") return busbw >= 0 ? busbw : bw;
  return bw;
}

Tolerances parseTolerances(const std::string& spec) {
  Tolerances t;
  std::size_t start = 0;
  while (start <= spec.size()) {
    auto end = spec.find(',', start);
    if (end == std::string::npos) end = spec.size();
    const std::string item = spec.substr(start, end - start);
    start = end + 1;
    const auto eq = item.find('=');
    if (eq == std::string::npos) {
      const double all = parsePercent(item, item);
      t.latency = t.bw = t.algbw = t.busbw = all;
      continue;
    }
    const std::string key = item.substr(0, eq);
    const double value = parsePercent(item, item.substr(eq + 1));
    if (key == "latency")
      t.latency = value;
    else if (key == "bw")
      t.bw = value;
    else if (key == "algbw")
      t.algbw = value;
    else if (key == "busbw")
      t.busbw = value;
    else
      throwUsage(fmt::format("unknown metric \"{}\" in --tolerance \"{}\"", key, spec),
                 "use latency, bw, algbw or busbw, e.g. latency=10%,bw=5%");
  }
  return t;
}

MetricChange judgeMetric(const MetricInfo& metric, double base, double now,
                         const std::vector<double>& base_trials,
                         const std::vector<double>& new_trials, double tolerance) {
  MetricChange c;
  c.metric = metric.name;
  c.base = base;
  c.now = now;
  c.tolerance = tolerance;
  c.base_trials = static_cast<int>(base_trials.size());
  c.new_trials = static_cast<int>(new_trials.size());
  c.change = base > 0 ? (now - base) / base : 0;
  // On a log scale a halving and a doubling weigh the same, for latency and bandwidth alike.
  const double spread = std::max(logSpread(base_trials), logSpread(new_trials));
  c.noise = std::expm1(spread);
  const double magnitude = base > 0 && now > 0 ? std::abs(std::log(now / base))
                                               : std::numeric_limits<double>::infinity();
  const double worse = metric.lower_is_better ? c.change : -c.change;
  if (std::abs(c.change) <= tolerance + kEpsilon)
    c.verdict = Verdict::Same;
  else if (magnitude <= spread + kEpsilon)
    c.verdict = Verdict::Noise;
  else
    c.verdict = worse > 0 ? Verdict::Regressed : Verdict::Improved;
  return c;
}

Verdict RowComparison::verdict() const {
  Verdict worst = Verdict::Same;
  for (const auto& m : metrics) worst = std::min(worst, m.verdict);
  return worst;
}

RowComparison compareRows(const json& base, const json& now, const Tolerances& tolerances) {
  RowComparison out;
  if (const auto size = now.find("size"); size != now.end() && size->is_number_unsigned())
    out.size = size->get<std::uint64_t>();
  for (const auto& metric : comparedMetrics()) {
    const json::json_pointer pointer(metric.pointer);
    const auto b = numberAt(base, pointer);
    const auto n = numberAt(now, pointer);
    if (!b || !n) continue;
    out.metrics.push_back(judgeMetric(metric, *b, *n, trialValues(base, metric.name),
                                      trialValues(now, metric.name),
                                      tolerances.of(metric.tolerance_key)));
  }
  return out;
}

SeriesKey keyOf(const Series& series) {
  return {series.transport, series.benchmark, series.algorithm, series.params, series.env};
}

std::string describe(const SeriesKey& key) {
  std::string out = key.transport + " " + key.benchmark;
  if (!key.algorithm.empty()) out += " " + key.algorithm;
  for (const auto& [k, v] : key.params) out += fmt::format(" {}={}", k, v);
  for (const auto& [k, v] : key.env) out += fmt::format(" {}={}", k, v);
  return out;
}

ReportRef refOf(const Report& report, const std::string& path) {
  return {path,
          report.tool_version,
          report.git_revision,
          report.start_time,
          report.host.hostname,
          report.complete};
}

int Comparison::count(Verdict v) const {
  int n = 0;
  for (const auto& s : series)
    for (const auto& r : s.rows)
      for (const auto& m : r.metrics) n += m.verdict == v ? 1 : 0;
  return n;
}

int Comparison::compared() const {
  int n = 0;
  for (const auto& s : series)
    for (const auto& r : s.rows) n += static_cast<int>(r.metrics.size());
  return n;
}

bool Comparison::regressed() const { return count(Verdict::Regressed) > 0; }

Comparison compareReports(const Report& base, const std::string& base_path, const Report& now,
                          const std::string& new_path, const Tolerances& tolerances) {
  Comparison c;
  c.base = refOf(base, base_path);
  c.now = refOf(now, new_path);
  c.tolerances = tolerances;
  const auto base_index = indexSeries(base, base_path);
  const auto new_index = indexSeries(now, new_path);

  auto sizesOf = [](const Series& s) {
    std::vector<std::uint64_t> sizes;
    for (const auto& r : s.rows) sizes.push_back(r.size);
    return sizes;
  };
  for (const auto& s : base.series) {
    if (!new_index.count(keyOf(s))) {
      c.only_in_base.push_back(keyOf(s));
      c.unmatched_sizes[keyOf(s)] = sizesOf(s);
    }
  }
  std::string no_common_sizes;
  for (const auto& s : now.series) {
    const auto key = keyOf(s);
    const auto found = base_index.find(key);
    if (found == base_index.end()) {
      c.only_in_new.push_back(key);
      c.unmatched_sizes[key] = sizesOf(s);
      continue;
    }
    const Series& b = *found->second;
    SeriesComparison sc;
    sc.key = key;
    sc.base_complete = b.complete;
    sc.new_complete = s.complete;
    std::map<std::uint64_t, const Row*> base_rows;
    for (const auto& r : b.rows) base_rows[r.size] = &r;
    std::set<std::uint64_t> new_sizes;
    for (const auto& r : s.rows) {
      new_sizes.insert(r.size);
      const auto match = base_rows.find(r.size);
      if (match == base_rows.end()) {
        sc.only_in_new.push_back(r.size);
        continue;
      }
      sc.rows.push_back(compareRows(json(*match->second), json(r), tolerances));
      sc.rows.back().size = r.size;
    }
    for (const auto& r : b.rows)
      if (!new_sizes.count(r.size)) sc.only_in_base.push_back(r.size);
    if (sc.rows.empty())
      no_common_sizes += fmt::format("; \"{}\" has sizes {} in BASE and {} in NEW", describe(key),
                                     b.rows.empty() ? "none" : sizeList(sizesOf(b)),
                                     s.rows.empty() ? "none" : sizeList(sizesOf(s)));
    c.series.push_back(std::move(sc));
  }

  if (c.compared() == 0) {
    if (c.series.empty())
      throwUsage(fmt::format("BASE {} and NEW {} have no series in common: BASE has {}; NEW has {}",
                             quoted(base_path), quoted(new_path), holdings(base), holdings(now)),
                 "compare reports of the same sweep (transport, benchmark, algorithm, "
                 "parameters and environment must match)");
    throwUsage(fmt::format("BASE {} and NEW {} have no size with comparable values in common{}",
                           quoted(base_path), quoted(new_path), no_common_sizes),
               "compare reports of the same sweep, with the same --sizes");
  }
  return c;
}

Report readBaseline(const std::string& path, std::string& chosen) {
  namespace fs = std::filesystem;
  chosen.clear();
  std::error_code ec;
  if (!fs::is_directory(path, ec)) {
    chosen = path;
    return readReport(path);
  }
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(path, ec)) {
    if (entry.path().extension() == ".json" && entry.is_regular_file(ec))
      files.push_back(entry.path().string());
  }
  if (ec)
    throwUsage(fmt::format("cannot list baseline directory {}: {}", quoted(path), ec.message()),
               "pass a report file or a readable directory of reports");
  if (files.empty())
    throwUsage(fmt::format("baseline directory {} holds no reports (*.json)", quoted(path)),
               "put a report written by rdzvbench run --output there, or pass the file");
  std::sort(files.begin(), files.end());
  // Every file is read, so a broken one is reported rather than silently skipped.
  Report newest;
  for (const auto& file : files) {
    Report r = readReport(file);
    if (chosen.empty() || r.start_time >= newest.start_time) {
      newest = std::move(r);
      chosen = file;
    }
  }
  return newest;
}

void to_json(json& j, const Comparison& c) {
  auto ref = [](const ReportRef& r) {
    return json{{"path", r.path},
                {"tool_version", r.tool_version},
                {"git_revision", r.git_revision},
                {"start_time", r.start_time},
                {"host", r.host},
                {"complete", r.complete}};
  };
  auto key = [](const SeriesKey& k) {
    return json{{"transport", k.transport},
                {"benchmark", k.benchmark},
                {"algorithm", k.algorithm},
                {"params", k.params},
                {"env", k.env},
                {"label", describe(k)}};
  };
  auto pct = [](double fraction) { return fraction * 100; };
  json series = json::array();
  for (const auto& s : c.series) {
    json rows = json::array();
    for (const auto& r : s.rows) {
      json metrics = json::array();
      for (const auto& m : r.metrics)
        metrics.push_back({{"metric", m.metric},
                           {"base", m.base},
                           {"new", m.now},
                           {"change_pct", pct(m.change)},
                           {"tolerance_pct", pct(m.tolerance)},
                           {"noise_pct", pct(m.noise)},
                           {"base_trials", m.base_trials},
                           {"new_trials", m.new_trials},
                           {"verdict", verdictName(m.verdict)}});
      rows.push_back(
          {{"size", r.size}, {"verdict", verdictName(r.verdict())}, {"metrics", metrics}});
    }
    json entry = key(s.key);
    entry["base_complete"] = s.base_complete;
    entry["new_complete"] = s.new_complete;
    entry["rows"] = rows;
    entry["sizes_only_in_base"] = s.only_in_base;
    entry["sizes_only_in_new"] = s.only_in_new;
    series.push_back(entry);
  }
  auto unmatched = [&](const std::vector<SeriesKey>& keys) {
    json out = json::array();
    for (const auto& k : keys) {
      json entry = key(k);
      const auto sizes = c.unmatched_sizes.find(k);
      entry["sizes"] =
          sizes == c.unmatched_sizes.end() ? std::vector<std::uint64_t>{} : sizes->second;
      out.push_back(entry);
    }
    return out;
  };
  j = json{{"schema_version", kCompareSchemaVersion},
           {"base", ref(c.base)},
           {"new", ref(c.now)},
           {"tolerances_pct",
            {{"latency", pct(c.tolerances.of("latency"))},
             {"bw", pct(c.tolerances.of("bw"))},
             {"algbw", pct(c.tolerances.of("algbw"))},
             {"busbw", pct(c.tolerances.of("busbw"))}}},
           {"result", c.regressed() ? "regressed" : "pass"},
           {"counts",
            {{"compared", c.compared()},
             {"regressed", c.count(Verdict::Regressed)},
             {"improved", c.count(Verdict::Improved)},
             {"noise", c.count(Verdict::Noise)},
             {"same", c.count(Verdict::Same)}}},
           {"series", series},
           {"series_only_in_base", unmatched(c.only_in_base)},
           {"series_only_in_new", unmatched(c.only_in_new)}};
}

}  // namespace rdzv
