#include "bench/doctor_ranks.h"

#include <algorithm>
#include <cctype>
#include <set>
#include <tuple>

#include <fmt/format.h>

#include "lib/error.h"
#include "rdzv/build_info.h"

namespace rdzv::bench {
namespace {

std::string valueText(const nlohmann::json& v) {
  if (v.is_null()) return "(none)";
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

constexpr const char* kUnset = "(unset)";

int severity(CheckStatus s) { return s == CheckStatus::Error ? 0 : 1; }

}  // namespace

RankDoctor rankDoctorOf(const DoctorReport& report, int rank) {
  RankDoctor r;
  r.rank = rank;
  r.host = report.host.hostname;
  r.settings["rdzvbench"] = fmt::format("{} ({})", build::kVersion, build::kGitRevision);
  r.settings["libfabric"] = report.fabric ? report.fabric->version() : std::string("(not probed)");
  // The values the provider will use, not the text asked for: "16384" and "0x4000" agree.
  const auto effective = transport::ofi::settingsToJson(report.cxi.effective, report.cxi.version);
  for (const auto& [name, value] : effective.items())
    r.settings["FI_CXI_" + upper(name)] = valueText(value);
  for (const auto& nic : report.sysfs.nics)
    r.settings[nic.name + " rdzv_get_en"] =
        nic.rdzv_get_en ? (*nic.rdzv_get_en ? "1" : "0") : "(unreadable)";
  if (report.sysfs.rdzv_get_en_default)
    r.settings["rdzv_get_en_default"] = *report.sysfs.rdzv_get_en_default ? "1" : "0";
  for (const auto& c : report.checks)
    if (c.status != CheckStatus::Ok) r.problems.push_back(c);
  r.exit_code = report.exitCode();
  return r;
}

void to_json(nlohmann::json& j, const RankDoctor& r) {
  j = {{"rank", r.rank},
       {"host", r.host},
       {"settings", r.settings},
       {"problems", r.problems},
       {"exit_code", r.exit_code}};
}

RankDoctor rankDoctorFrom(const nlohmann::json& j) {
  try {
    RankDoctor r;
    r.rank = j.at("rank").get<int>();
    r.host = j.at("host").get<std::string>();
    r.settings = j.at("settings").get<std::map<std::string, std::string>>();
    for (const auto& p : j.at("problems")) {
      DoctorCheck c;
      c.id = p.at("id").get<std::string>();
      c.subject = p.at("subject").get<std::string>();
      c.message = p.at("message").get<std::string>();
      c.status =
          p.at("status").get<std::string>() == "error" ? CheckStatus::Error : CheckStatus::Warning;
      r.problems.push_back(std::move(c));
    }
    r.exit_code = j.at("exit_code").get<int>();
    return r;
  } catch (const nlohmann::json::exception& e) {
    throwRuntime(fmt::format("a rank sent a malformed doctor result: {}", e.what()),
                 "every rank must run the same rdzvbench");
  }
}

std::string describeRanks(const std::vector<int>& ranks, const std::vector<RankDoctor>& all) {
  std::vector<std::string> spans;
  for (std::size_t i = 0; i < ranks.size();) {
    std::size_t j = i;
    while (j + 1 < ranks.size() && ranks[j + 1] == ranks[j] + 1) ++j;
    spans.push_back(j == i ? std::to_string(ranks[i]) : fmt::format("{}-{}", ranks[i], ranks[j]));
    i = j + 1;
  }
  std::vector<std::string> hosts;
  for (int r : ranks) {
    auto it =
        std::find_if(all.begin(), all.end(), [&](const RankDoctor& d) { return d.rank == r; });
    if (it != all.end() && std::find(hosts.begin(), hosts.end(), it->host) == hosts.end())
      hosts.push_back(it->host);
  }
  std::string where;
  for (std::size_t i = 0; i < hosts.size() && i < 3; ++i) where += (i ? ", " : "") + hosts[i];
  if (hosts.size() > 3) where += fmt::format(" and {} more", hosts.size() - 3);
  return fmt::format("rank{} {} ({})", ranks.size() == 1 ? "" : "s", fmt::join(spans, ", "), where);
}

AcrossRanks compareRanks(const std::vector<RankDoctor>& all) {
  AcrossRanks out;
  out.size = static_cast<int>(all.size());
  std::set<std::string> hosts, names;
  for (const auto& r : all) {
    hosts.insert(r.host);
    for (const auto& [name, value] : r.settings) names.insert(name);
  }
  out.nodes = static_cast<int>(hosts.size());
  if (all.empty()) return out;
  const auto& first = all.front();
  auto valueOf = [](const RankDoctor& r, const std::string& name) {
    auto it = r.settings.find(name);
    return it == r.settings.end() ? std::string(kUnset) : it->second;
  };

  // E15: every setting that is not the same everywhere, rank 0's value as the reference.
  for (const auto& name : names) {
    std::map<std::string, std::vector<int>> by_value;
    for (const auto& r : all) by_value[valueOf(r, name)].push_back(r.rank);
    if (by_value.size() == 1) continue;
    const std::string reference = valueOf(first, name);
    std::vector<std::string> parts;
    std::vector<int> differ;
    for (const auto& [value, ranks] : by_value) {
      if (value == reference) continue;
      parts.push_back(fmt::format("{} {} {}", describeRanks(ranks, all),
                                  ranks.size() == 1 ? "has" : "have", value));
      differ.insert(differ.end(), ranks.begin(), ranks.end());
    }
    std::sort(differ.begin(), differ.end());
    out.checks.push_back(
        {{"E15", name, CheckStatus::Error,
          fmt::format("{}; {} has {}: give every rank the same environment, libfabric and "
                      "driver, or its results are not comparable",
                      fmt::join(parts, "; "), describeRanks({first.rank}, all), reference)},
         differ});
  }
  if (out.checks.empty()) {
    out.checks.push_back(
        {{"E15", "same settings", CheckStatus::Ok,
          fmt::format("{} ranks on {} node{} agree on {} settings (libfabric {}, FI_CXI_RDZV_"
                      "THRESHOLD={}, RDZV_GET_MIN={}, RDZV_EAGER_SIZE={}, RDZV_PROTO={})",
                      out.size, out.nodes, out.nodes == 1 ? "" : "s", names.size(),
                      valueOf(first, "libfabric"), valueOf(first, "FI_CXI_RDZV_THRESHOLD"),
                      valueOf(first, "FI_CXI_RDZV_GET_MIN"),
                      valueOf(first, "FI_CXI_RDZV_EAGER_SIZE"),
                      valueOf(first, "FI_CXI_RDZV_PROTO"))},
         {}});
  }

  // The other ranks' own problems that rank 0 has not, each once with the ranks that have it.
  auto key = [](const DoctorCheck& c) {
    return std::make_tuple(severity(c.status), c.id, c.subject, c.message);
  };
  std::set<decltype(key(DoctorCheck{}))> at_zero;
  for (const auto& c : first.problems) at_zero.insert(key(c));
  std::map<decltype(key(DoctorCheck{})), RanksCheck> others;
  for (const auto& r : all) {
    if (r.rank == first.rank) continue;
    for (const auto& c : r.problems) {
      auto k = key(c);
      if (at_zero.count(k)) continue;
      auto& entry = others[k];
      entry.check = c;
      if (entry.ranks.empty() || entry.ranks.back() != r.rank) entry.ranks.push_back(r.rank);
    }
  }
  for (auto& [k, entry] : others) out.checks.push_back(std::move(entry));  // errors first
  return out;
}

int AcrossRanks::exitCode() const {
  for (const auto& c : checks)
    if (c.check.status == CheckStatus::Error) return 1;
  return 0;
}

nlohmann::json acrossRanksJson(const AcrossRanks& across) {
  nlohmann::json checks = nlohmann::json::array();
  for (const auto& c : across.checks) {
    nlohmann::json j = c.check;
    j["ranks"] = c.ranks;
    checks.push_back(std::move(j));
  }
  return {{"size", across.size},
          {"nodes", across.nodes},
          {"checks", checks},
          {"exit_code", across.exitCode()}};
}

}  // namespace rdzv::bench
