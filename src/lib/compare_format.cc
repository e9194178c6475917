#include "lib/compare_format.h"

#include <fmt/format.h>

#include "lib/size.h"

namespace rdzv {
namespace {

const MetricInfo& infoOf(const std::string& name) {
  for (const auto& m : comparedMetrics())
    if (m.name == name) return m;
  static const MetricInfo unknown{};
  return unknown;
}

std::string signedPercent(double fraction) { return fmt::format("{:+.1f}%", fraction * 100); }

// "-" when the rows had no trials to estimate noise from.
std::string noiseText(const MetricChange& m) {
  if (m.base_trials == 0 && m.new_trials == 0) return "-";
  return fmt::format("{:.1f}%", m.noise * 100);
}

std::string tolerancesText(const Tolerances& t) {
  std::string out = fmt::format("latency {:g}%, bw {:g}%", t.latency * 100, t.bw * 100);
  if (t.algbw >= 0) out += fmt::format(", algbw {:g}%", t.algbw * 100);
  if (t.busbw >= 0) out += fmt::format(", busbw {:g}%", t.busbw * 100);
  return out;
}

std::string countsText(const Comparison& c) {
  return fmt::format("{} regressed, {} improved, {} within noise, {} same ({} comparisons)",
                     c.count(Verdict::Regressed), c.count(Verdict::Improved),
                     c.count(Verdict::Noise), c.count(Verdict::Same), c.compared());
}

// " (rev abc, 2026-11-23T21:30:00.123Z, host)": where a report came from, after its path.
std::string refAbout(const ReportRef& r) {
  std::string about;
  auto add = [&](const std::string& part) {
    if (!part.empty()) about += (about.empty() ? "" : ", ") + part;
  };
  add(r.git_revision.empty() ? "" : "rev " + r.git_revision);
  add(r.start_time);
  add(r.host);
  add(r.complete ? "" : "incomplete");
  return about.empty() ? about : " (" + about + ")";
}

std::string sizeList(const std::vector<std::uint64_t>& sizes) {
  std::string out;
  for (auto s : sizes) out += (out.empty() ? "" : ",") + formatSize(s);
  return out;
}

std::string markdownEscape(const std::string& text) {
  std::string out;
  for (char ch : text) {
    if (ch == '|' || ch == '*' || ch == '_' || ch == '`' || ch == '<' || ch == '>') out += '\\';
    out += ch;
  }
  return out;
}

std::string xmlEscape(const std::string& text) {
  std::string out;
  for (char ch : text) {
    switch (ch) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        // XML 1.0 forbids most control characters even when escaped.
        if (static_cast<unsigned char>(ch) < 0x20 && ch != '\n' && ch != '\t')
          out += '?';
        else
          out += ch;
    }
  }
  return out;
}

// "latency p50 (us) 10.20 -> 11.50 (+12.7%, tolerance 5%, noise 2.1%): regressed".
std::string metricLine(const MetricChange& m) {
  return fmt::format("{} {:.2f} -> {:.2f} ({}, tolerance {:g}%, noise {}): {}",
                     infoOf(m.metric).label, m.base, m.now, signedPercent(m.change),
                     m.tolerance * 100, noiseText(m), verdictName(m.verdict));
}

}  // namespace

std::string formatComparisonText(const Comparison& c) {
  std::string out;
  out += fmt::format("BASE {}{}\nNEW  {}{}\n", c.base.path, refAbout(c.base), c.now.path,
                     refAbout(c.now));
  for (const auto& s : c.series) {
    out += fmt::format("\n# {}{}\n", describe(s.key),
                       !s.base_complete || !s.new_complete ? " (incomplete)" : "");
    out += fmt::format("{:>10}  {:<18} {:>12} {:>12} {:>9} {:>7}  {}\n", "size", "metric", "base",
                       "new", "change", "noise", "verdict");
    for (const auto& r : s.rows) {
      for (const auto& m : r.metrics) {
        const std::string verdict =
            m.verdict == Verdict::Regressed ? "REGRESSED" : verdictName(m.verdict);
        out += fmt::format("{:>10}  {:<18} {:>12.2f} {:>12.2f} {:>9} {:>7}  {}\n",
                           formatSize(r.size), infoOf(m.metric).label, m.base, m.now,
                           signedPercent(m.change), noiseText(m), verdict);
      }
      if (r.metrics.empty())
        out += fmt::format("{:>10}  (no value both reports measured)\n", formatSize(r.size));
    }
    if (!s.only_in_base.empty())
      out += fmt::format("sizes only in BASE: {}\n", sizeList(s.only_in_base));
    if (!s.only_in_new.empty())
      out += fmt::format("sizes only in NEW: {}\n", sizeList(s.only_in_new));
  }
  if (!c.only_in_base.empty() || !c.only_in_new.empty()) out += "\n";
  for (const auto& k : c.only_in_base) out += fmt::format("series only in BASE: {}\n", describe(k));
  for (const auto& k : c.only_in_new) out += fmt::format("series only in NEW: {}\n", describe(k));
  out += fmt::format("\ncompare: {}; tolerance {}\n", countsText(c), tolerancesText(c.tolerances));
  return out;
}

std::string formatComparisonMarkdown(const Comparison& c) {
  const int regressed = c.count(Verdict::Regressed);
  const int improved = c.count(Verdict::Improved);
  std::string out;
  if (regressed > 0)
    out += fmt::format("### rdzvbench compare: {} regression{}\n\n", regressed,
                       regressed == 1 ? "" : "s");
  else
    out += "### rdzvbench compare: no regression\n\n";
  out += fmt::format(
      "- BASE: `{}`{}\n- NEW: `{}`{}\n- tolerance: {}; a change within the trials' own "
      "spread (noise) is not flagged\n- {}\n\n",
      c.base.path, refAbout(c.base), c.now.path, refAbout(c.now), tolerancesText(c.tolerances),
      countsText(c));

  const std::string header =
      "| series | size | metric | base | new | change | noise | verdict |\n"
      "| --- | ---: | --- | ---: | ---: | ---: | ---: | --- |\n";
  auto line = [](const SeriesComparison& s, const RowComparison& r, const MetricChange& m) {
    const std::string verdict = m.verdict == Verdict::Regressed
                                    ? std::string("**regressed**")
                                    : std::string(verdictName(m.verdict));
    return fmt::format("| {} | {} | {} | {:.2f} | {:.2f} | {} | {} | {} |\n",
                       markdownEscape(describe(s.key)), formatSize(r.size),
                       markdownEscape(infoOf(m.metric).label), m.base, m.now,
                       signedPercent(m.change), noiseText(m), verdict);
  };
  std::string changed;
  std::string all;
  for (const auto& s : c.series)
    for (const auto& r : s.rows)
      for (const auto& m : r.metrics) {
        all += line(s, r, m);
        if (m.verdict == Verdict::Regressed || m.verdict == Verdict::Improved)
          changed += line(s, r, m);
      }
  if (regressed + improved > 0)
    out += header + changed + "\n";
  else
    out += "No change beyond the tolerance.\n\n";
  out += fmt::format("<details><summary>All {} comparisons</summary>\n\n{}{}\n</details>\n",
                     c.compared(), header, all);

  std::string missing;
  for (const auto& s : c.series) {
    if (!s.only_in_base.empty())
      missing += fmt::format("- sizes only in BASE for {}: {}\n", markdownEscape(describe(s.key)),
                             sizeList(s.only_in_base));
    if (!s.only_in_new.empty())
      missing += fmt::format("- sizes only in NEW for {}: {}\n", markdownEscape(describe(s.key)),
                             sizeList(s.only_in_new));
  }
  for (const auto& k : c.only_in_base)
    missing += fmt::format("- series only in BASE: {}\n", markdownEscape(describe(k)));
  for (const auto& k : c.only_in_new)
    missing += fmt::format("- series only in NEW: {}\n", markdownEscape(describe(k)));
  if (!missing.empty()) out += "\nNot compared:\n\n" + missing;
  return out;
}

std::string formatComparisonJunit(const Comparison& c) {
  std::string suites;
  int tests = 0;
  int failures = 0;
  int skipped = 0;
  auto skippedCase = [](const std::string& classname, std::uint64_t size, const std::string& why) {
    return fmt::format(
        "    <testcase classname=\"{}\" name=\"size {}\" time=\"0\">\n"
        "      <skipped message=\"{}\"/>\n"
        "    </testcase>\n",
        xmlEscape(classname), xmlEscape(formatSize(size)), xmlEscape(why));
  };
  auto suite = [&](const std::string& name, int n, int failed, int skip, const std::string& body) {
    tests += n;
    failures += failed;
    skipped += skip;
    suites += fmt::format(
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" "
        "time=\"0\">\n{}  </testsuite>\n",
        xmlEscape(name), n, failed, skip, body);
  };

  for (const auto& s : c.series) {
    const std::string name = describe(s.key);
    std::string body;
    int failed = 0;
    for (const auto& r : s.rows) {
      std::string details;
      std::string failure;
      for (const auto& m : r.metrics) {
        details += metricLine(m) + "\n";
        if (m.verdict == Verdict::Regressed)
          failure +=
              fmt::format("{}{} {} (tolerance {:g}%)", failure.empty() ? "" : "; ",
                          infoOf(m.metric).label, signedPercent(m.change), m.tolerance * 100);
      }
      if (!s.base_complete || !s.new_complete)
        details += "note: the series is incomplete in one of the reports\n";
      body += fmt::format("    <testcase classname=\"{}\" name=\"size {}\" time=\"0\">\n",
                          xmlEscape(name), xmlEscape(formatSize(r.size)));
      if (!failure.empty()) {
        ++failed;
        body += fmt::format("      <failure type=\"regression\" message=\"{}\">{}</failure>\n",
                            xmlEscape(failure), xmlEscape(details));
      }
      body +=
          fmt::format("      <system-out>{}</system-out>\n    </testcase>\n", xmlEscape(details));
    }
    for (auto size : s.only_in_base) body += skippedCase(name, size, "size only in BASE");
    for (auto size : s.only_in_new) body += skippedCase(name, size, "size only in NEW");
    const int skip = static_cast<int>(s.only_in_base.size() + s.only_in_new.size());
    suite(name, static_cast<int>(s.rows.size()) + skip, failed, skip, body);
  }
  auto unmatched = [&](const SeriesKey& k, const std::string& why) {
    const std::string name = describe(k);
    std::string body;
    const auto found = c.unmatched_sizes.find(k);
    const auto sizes =
        found == c.unmatched_sizes.end() ? std::vector<std::uint64_t>{} : found->second;
    for (auto size : sizes) body += skippedCase(name, size, why);
    suite(name, static_cast<int>(sizes.size()), 0, static_cast<int>(sizes.size()), body);
  };
  for (const auto& k : c.only_in_base) unmatched(k, "series only in BASE");
  for (const auto& k : c.only_in_new) unmatched(k, "series only in NEW");

  return fmt::format(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<testsuites name=\"rdzvbench compare\" tests=\"{}\" failures=\"{}\" errors=\"0\" "
      "skipped=\"{}\" time=\"0\">\n{}</testsuites>\n",
      tests, failures, skipped, suites);
}

}  // namespace rdzv
