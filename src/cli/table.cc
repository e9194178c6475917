#include "cli/table.h"

#include <fmt/format.h>

#include "lib/size.h"

namespace rdzv::cli {

void printSeriesHeader(std::FILE* out, const Series& series) {
  std::string params;
  for (const auto& [k, v] : series.params) params += fmt::format(" {}={}", k, v);
  for (const auto& [k, v] : series.env) params += fmt::format(" {}={}", k, v);
  fmt::print(out, "\n# {} {}{}\n", series.transport, series.benchmark, params);
  fmt::print(out, "{:>10} {:>7} {:>10} {:>10} {:>10} {:>10} {:>11} {:>5}\n", "size", "iters",
             "min(us)", "p50(us)", "p99(us)", "max(us)", "MB/s", "pairs");
  std::fflush(out);
}

void printRow(std::FILE* out, const Row& row) {
  fmt::print(out, "{:>10} {:>7} {:>10.2f} {:>10.2f} {:>10.2f} {:>10.2f} {:>11.2f} {:>5}\n",
             formatSize(row.size), row.iterations, row.latency_us.min, row.latency_us.p50,
             row.latency_us.p99, row.latency_us.max, row.bandwidth_mbps, row.pairs);
  std::fflush(out);
}

void printSeriesFooter(std::FILE* out, const Series& series) {
  if (!series.details.contains("counters")) return;
  const auto& c = series.details["counters"];
  auto n = [&](const char* key) { return c.value(key, std::uint64_t{0}); };
  fmt::print(out,
             "  switch point {} B | messages: inline {}, eager {}, rendezvous {} | unexpected {}, "
             "copied from overflow {} B, peak overflow {} B | gets {}, done {}\n",
             series.details.value("switch_point", std::uint64_t{0}), n("inline_sent"),
             n("eager_sent"), n("rendezvous_sent"), n("unexpected"), n("overflow_bytes_copied"),
             n("peak_overflow_bytes"), n("gets"), n("done_sent"));
  std::fflush(out);
}

}  // namespace rdzv::cli
