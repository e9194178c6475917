#pragma once
// The doctor across the ranks of a job (docs/cxi-reference.md §4, E15): every rank runs its own
// checks; rank 0 gathers what must be the same everywhere (libfabric and rdzvbench versions,
// each effective FI_CXI_* value, FI_PROVIDER, each NIC's rdzv_get_en) and every rank's
// warnings and errors, names the ranks that differ from rank 0, and lists the problems rank 0
// does not have itself once, with the ranks that have them. Pure: the CLI does the gathering.

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/doctor.h"

namespace rdzv::bench {

// What one rank sends to rank 0.
struct RankDoctor {
  int rank = 0;
  std::string host;
  std::map<std::string, std::string> settings;  // name -> value; must agree on every rank
  std::vector<DoctorCheck> problems;            // its warnings and errors
  int exit_code = 0;
};

RankDoctor rankDoctorOf(const DoctorReport& report, int rank);
void to_json(nlohmann::json& j, const RankDoctor& r);
// Throws Runtime naming the rank when a peer sent something malformed.
RankDoctor rankDoctorFrom(const nlohmann::json& j);

// A check found on other ranks than 0 (E15 findings, or a rank's own problem rank 0 has not).
struct RanksCheck {
  DoctorCheck check;
  std::vector<int> ranks;  // where it holds; empty for a statement about all ranks
};

struct AcrossRanks {
  int size = 0;
  int nodes = 0;                   // distinct hosts
  std::vector<RanksCheck> checks;  // E15 first, then the other ranks' problems
  int exitCode() const;            // 1 when a check is an error, else 0
};

// `all` in rank order, rank 0 first.
AcrossRanks compareRanks(const std::vector<RankDoctor>& all);

// "rank 3 (nid002)", "ranks 1, 3 (nid001, nid002)", "ranks 4-7 (nid003)": where a finding holds.
std::string describeRanks(const std::vector<int>& ranks, const std::vector<RankDoctor>& all);

nlohmann::json acrossRanksJson(const AcrossRanks& across);

}  // namespace rdzv::bench
