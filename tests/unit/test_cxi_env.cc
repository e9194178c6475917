// The FI_CXI_* recomputation against every rule of docs/cxi-reference.md §1.1: libfabric's
// number and boolean parsing traps, the version-dependent defaults, every clamp and reset in
// cxip_info.c's order (including the eager-size ordering quirk and the size_t wrap), aliases,
// match-mode rules, unknown names and libfabric.conf.

#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <limits>
#include <map>
#include <string>

#include <gtest/gtest.h>

#include "transport/ofi/cxi_env.h"

namespace rdzv::transport::ofi {
namespace {

constexpr std::uint64_t kSizeMax = std::numeric_limits<std::uint64_t>::max();

LibfabricVersion version(const char* text) { return *LibfabricVersion::parse(text); }

CxiEnvResult analyze(std::map<std::string, std::string> env, const char* v = "2.4.0",
                     unsigned cacheline = 64) {
  CxiEnvInput in;
  in.env = std::move(env);
  in.version = version(v);
  in.cacheline_size = cacheline;
  return analyzeCxiEnv(in);
}

// The findings about `variable` with `severity`.
std::vector<Finding> findings(const CxiEnvResult& r, const std::string& variable,
                              Severity severity) {
  std::vector<Finding> out;
  for (const auto& f : r.findings)
    if (f.variable == variable && f.severity == severity) out.push_back(f);
  return out;
}

bool mentions(const CxiEnvResult& r, const std::string& variable, Severity severity,
              const std::string& text) {
  for (const auto& f : findings(r, variable, severity))
    if (f.message.find(text) != std::string::npos) return true;
  return false;
}

int problems(const CxiEnvResult& r) {
  int n = 0;
  for (const auto& f : r.findings) n += f.severity != Severity::Info;
  return n;
}

// --- libfabric's parsing -------------------------------------------------------------------

TEST(CxiParse, NumbersAreStrtolBaseZero) {
  EXPECT_EQ(libfabricSizeT("16384"), 16384u);
  EXPECT_EQ(libfabricSizeT("16K"), 16u);  // no unit suffixes
  EXPECT_EQ(libfabricSizeT("1M"), 1u);
  EXPECT_EQ(libfabricSizeT("12M"), 12u);
  EXPECT_EQ(libfabricSizeT("016384"), 115u);  // octal 0163, stops at the 8
  EXPECT_EQ(libfabricSizeT("020000"), 8192u);
  EXPECT_EQ(libfabricSizeT("0x4000"), 16384u);
  EXPECT_EQ(libfabricSizeT("0X10"), 16u);
  EXPECT_EQ(libfabricSizeT("0x"), 0u);
  EXPECT_EQ(libfabricSizeT("abc"), 0u);
  EXPECT_EQ(libfabricSizeT(""), 0u);
  EXPECT_EQ(libfabricSizeT("1.5M"), 1u);
  EXPECT_EQ(libfabricSizeT("  42"), 42u);
  EXPECT_EQ(libfabricSizeT("+7"), 7u);
  EXPECT_EQ(libfabricSizeT("-1"), kSizeMax);
  EXPECT_EQ(libfabricSizeT("-2"), kSizeMax - 1);
  EXPECT_EQ(libfabricSizeT("99999999999999999999"),
            static_cast<std::uint64_t>(std::numeric_limits<long>::max()));
}

TEST(CxiParse, StrtolReportsWhatItConsumed) {
  auto r = libfabricStrtol("12M");
  EXPECT_EQ(r.value, 12);
  EXPECT_EQ(r.consumed, 2u);
  EXPECT_FALSE(r.out_of_range);
  EXPECT_TRUE(libfabricStrtol("99999999999999999999").out_of_range);
  EXPECT_EQ(libfabricStrtol("garbage").consumed, 0u);
}

TEST(CxiParse, IntsAreTruncatedLongs) {
  EXPECT_EQ(libfabricInt("-1"), -1);
  EXPECT_EQ(libfabricInt("0x10"), 16);
  EXPECT_EQ(libfabricInt("4294967297"), 1);
  EXPECT_EQ(libfabricInt("64K"), 64);
}

TEST(CxiParse, Booleans) {
  for (const char* t : {"1", "true", "TRUE", "True", "yes", "YES", "on", "On"})
    EXPECT_EQ(libfabricBool(t), std::optional<bool>(true)) << t;
  for (const char* t : {"0", "false", "FALSE", "no", "No", "off", "OFF"})
    EXPECT_EQ(libfabricBool(t), std::optional<bool>(false)) << t;
  for (const char* t : {"2", "01", " 1", "1 ", "enabled", "y", "n", "", "-1"})
    EXPECT_EQ(libfabricBool(t), std::nullopt) << t;
}

TEST(CxiParse, DeviceNames) {
  for (const char* ok : {"cxi0", "cxi9", "cxi10", "cxi99", "cxi0,cxi1", "cxi0,,cxi3,", ""})
    EXPECT_TRUE(validCxiDeviceName(ok)) << ok;
  for (const char* bad :
       {"cxi", "cxi05", "cxi100", "hsn0", "cxi1a", "cxi0 ", "CXI0", "cxi0,hsn0", "cxi+1", "cxix"})
    EXPECT_FALSE(validCxiDeviceName(bad)) << bad;
  // sscanf("%u") accepts a sign and wraps it: "-1" becomes 4294967295, which passes the
  // "five characters need an index of 10 or more" test. Mirrored, not endorsed.
  EXPECT_TRUE(validCxiDeviceName("cxi-1"));
}

TEST(CxiParse, Versions) {
  auto v = LibfabricVersion::parse("2.3.1");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->major, 2);
  EXPECT_EQ(v->minor, 3);
  EXPECT_EQ(v->patch, 1);
  EXPECT_EQ(v->str(), "2.3.1");
  EXPECT_EQ(LibfabricVersion::parse("v1.22.0")->str(), "1.22.0");
  EXPECT_EQ(LibfabricVersion::parse("2.3")->str(), "2.3");
  EXPECT_EQ(LibfabricVersion::parse("1.15.2.0")->str(), "1.15.2");
  for (const char* bad : {"", "2", "2.", "2.3.", "x.y", "2.3.1a", "2..3", "1.2.3.4.5.x"})
    EXPECT_FALSE(LibfabricVersion::parse(bad)) << bad;
  EXPECT_TRUE(version("2.4").atLeast(2, 4));
  EXPECT_TRUE(version("2.10").atLeast(2, 4));
  EXPECT_FALSE(version("2.3.9").atLeast(2, 4));
  EXPECT_TRUE(version("3.0").atLeast(2, 9));
}

// --- version-dependent defaults ------------------------------------------------------------

TEST(CxiDefaults, UpTo21) {
  for (const char* v : {"1.21.0", "1.22.0", "2.0.0", "2.1.0"}) {
    auto r = analyze({}, v);
    const auto& s = r.effective;
    EXPECT_EQ(s.rdzv_threshold, 2048u) << v;
    EXPECT_EQ(s.rdzv_get_min, 2049u) << v;
    EXPECT_EQ(s.rdzv_eager_size, 2048u) << v;
    EXPECT_EQ(s.oflow_buf_size, 2u << 20) << v;
    EXPECT_EQ(s.oflow_buf_min_posted, 3u) << v;
    EXPECT_EQ(s.oflow_buf_max_cached, 9u) << v;
    EXPECT_EQ(s.req_buf_size, 2u << 20) << v;
    EXPECT_EQ(s.req_buf_min_posted, 4u) << v;
    EXPECT_EQ(s.default_cq_size, 1024u) << v;
    EXPECT_EQ(s.default_tx_size, 512u) << v;
    EXPECT_EQ(s.default_rx_size, 512u) << v;
    EXPECT_EQ(r.eagerMax(), 4097u) << v;  // "eager up to 4097 B, rendezvous eager part 2048 B"
    EXPECT_EQ(r.rdzvEagerBytes(), 2048u) << v;
    EXPECT_EQ(problems(r), 0) << v;
  }
}

TEST(CxiDefaults, From22To23) {
  for (const char* v : {"2.2.0", "2.3.1"}) {
    auto r = analyze({}, v);
    const auto& s = r.effective;
    EXPECT_EQ(s.rdzv_threshold, 16384u) << v;
    EXPECT_EQ(s.rdzv_eager_size, 16384u) << v;  // the compiled threshold, not the user's
    EXPECT_EQ(s.oflow_buf_size, 12u << 20) << v;
    EXPECT_EQ(s.req_buf_size, 12u << 20) << v;
    EXPECT_EQ(s.req_buf_min_posted, 6u) << v;
    EXPECT_EQ(s.default_cq_size, 131072u) << v;
    EXPECT_EQ(s.default_tx_size, 1024u) << v;
    EXPECT_EQ(s.default_rx_size, 1024u) << v;
    EXPECT_EQ(r.eagerMax(), 18433u) << v;
    EXPECT_EQ(r.rdzvEagerBytes(), 16384u) << v;
    EXPECT_EQ(problems(r), 0) << v;
  }
  // The HPE 2.3.x backport of the 2 KiB eager size is pointed out.
  EXPECT_TRUE(mentions(analyze({}, "2.3.1"), "FI_CXI_RDZV_EAGER_SIZE", Severity::Info, "2048"));
}

TEST(CxiDefaults, From24) {
  for (const char* v : {"2.4.0", "2.6.0", "3.0"}) {
    auto r = analyze({}, v);
    EXPECT_EQ(r.effective.rdzv_threshold, 16384u) << v;
    EXPECT_EQ(r.effective.rdzv_eager_size, 2048u) << v;
    EXPECT_EQ(r.eagerMax(), 18433u) << v;
    EXPECT_EQ(problems(r), 0) << v;
  }
}

TEST(CxiDefaults, OlderThanUpstreamUsesThe21RulesAndSaysSo) {
  auto r = analyze({}, "1.17.0");
  EXPECT_EQ(r.effective.rdzv_threshold, 2048u);
  EXPECT_TRUE(mentions(r, "", Severity::Info, "predates the upstream cxi provider"));
}

TEST(CxiDefaults, SummaryNamesTheCutOver) {
  auto r = analyze({});
  EXPECT_NE(r.summary().find("eager up to T + G = 18433 B"), std::string::npos) << r.summary();
  EXPECT_NE(r.summary().find("2048 B in the first packet"), std::string::npos);
}

// --- threshold, get_min, eager size, overflow buffer ---------------------------------------

TEST(CxiThreshold, BelowInjectSizeIsRaisedTo192) {
  // ≥2.4: THRESHOLD=0 alone → T=192 and E (default 2048) clamped to 192, with the warning.
  auto r = analyze({{"FI_CXI_RDZV_THRESHOLD", "0"}});
  EXPECT_EQ(r.effective.rdzv_threshold, 192u);
  EXPECT_EQ(r.effective.rdzv_eager_size, 192u);
  EXPECT_EQ(r.eagerMax(), 2241u);  // 192 + 2049
  EXPECT_TRUE(
      mentions(r, "FI_CXI_RDZV_THRESHOLD", Severity::Warning, "RDZV_THRESHOLD=0 → effective 192"));
  EXPECT_TRUE(mentions(r, "FI_CXI_RDZV_EAGER_SIZE", Severity::Warning, "the default"));
  EXPECT_EQ(analyze({{"FI_CXI_RDZV_THRESHOLD", "191"}}).effective.rdzv_threshold, 192u);
  EXPECT_EQ(analyze({{"FI_CXI_RDZV_THRESHOLD", "192"}}).effective.rdzv_threshold, 192u);
  EXPECT_EQ(problems(analyze({{"FI_CXI_RDZV_THRESHOLD", "193"}, {"FI_CXI_RDZV_EAGER_SIZE", "0"}})),
            0);
}

TEST(CxiThreshold, HpeRecipeIsAllRendezvous) {
  auto r = analyze({{"FI_CXI_RDZV_THRESHOLD", "0"},
                    {"FI_CXI_RDZV_GET_MIN", "0"},
                    {"FI_CXI_RDZV_EAGER_SIZE", "0"},
                    {"FI_CXI_RDZV_PROTO", "alt_read"}});
  EXPECT_EQ(r.effective.rdzv_threshold, 192u);
  EXPECT_EQ(r.effective.rdzv_get_min, 0u);
  EXPECT_EQ(r.effective.rdzv_eager_size, 0u);
  EXPECT_EQ(r.eagerMax(), 192u);
  EXPECT_EQ(r.effective.rdzv_proto, engine::RdzvProto::AltRead);
  EXPECT_FALSE(r.hasError());
}

TEST(CxiThreshold, CacheLineClampOnlyWithAlignedGets) {
  auto r =
      analyze({{"FI_CXI_RDZV_THRESHOLD", "200"}, {"FI_CXI_RDZV_EAGER_SIZE", "0"}}, "2.4.0", 256);
  EXPECT_EQ(r.effective.rdzv_threshold, 256u);
  EXPECT_TRUE(mentions(r, "FI_CXI_RDZV_THRESHOLD", Severity::Warning, "cache line (256 B)"));
  auto off = analyze({{"FI_CXI_RDZV_THRESHOLD", "200"},
                      {"FI_CXI_RDZV_EAGER_SIZE", "0"},
                      {"FI_CXI_RDZV_ALIGNED_SW_RGET", "0"}},
                     "2.4.0", 256);
  EXPECT_EQ(off.effective.rdzv_threshold, 200u);
  EXPECT_FALSE(off.effective.rdzv_aligned_sw_rget);
  // With 64-byte lines the inject-size raise already covers it.
  EXPECT_EQ(analyze({{"FI_CXI_RDZV_THRESHOLD", "0"}}, "2.4.0", 64).effective.rdzv_threshold, 192u);
}

TEST(CxiThreshold, EagerSizeClampedToThreshold) {
  auto r = analyze({{"FI_CXI_RDZV_THRESHOLD", "4096"}, {"FI_CXI_RDZV_EAGER_SIZE", "8192"}});
  EXPECT_EQ(r.effective.rdzv_eager_size, 4096u);
  EXPECT_TRUE(mentions(r, "FI_CXI_RDZV_EAGER_SIZE", Severity::Warning,
                       "RDZV_EAGER_SIZE (8192) > RDZV_THRESHOLD (4096)"));
  // Pre-2.4 the default E is the compiled threshold: lowering only T clamps it, with a warning.
  auto pre = analyze({{"FI_CXI_RDZV_THRESHOLD", "4096"}}, "2.3.0");
  EXPECT_EQ(pre.effective.rdzv_eager_size, 4096u);
  EXPECT_TRUE(mentions(pre, "FI_CXI_RDZV_EAGER_SIZE", Severity::Warning, "16384, the default"));
  // Raising only the threshold leaves E at its default.
  auto up = analyze({{"FI_CXI_RDZV_THRESHOLD", "65536"}});
  EXPECT_EQ(up.effective.rdzv_eager_size, 2048u);
  EXPECT_EQ(up.eagerMax(), 65536u + 2049u);
  EXPECT_EQ(problems(up), 0);
  EXPECT_EQ(analyze({{"FI_CXI_RDZV_THRESHOLD", "65536"}}, "2.3.0").effective.rdzv_eager_size,
            16384u);
}

TEST(CxiThreshold, AboveOverflowBufferIsResetToTheCompiledDefault) {
  auto r = analyze({{"FI_CXI_RDZV_THRESHOLD", "16777216"}});
  EXPECT_EQ(r.effective.rdzv_threshold, 16384u);  // not the buffer size
  EXPECT_TRUE(mentions(r, "FI_CXI_RDZV_THRESHOLD", Severity::Warning,
                       "RDZV_THRESHOLD(16777216) > OFLOW_BUF_SIZE(12582912): provider resets "
                       "threshold to 16384"));
  EXPECT_TRUE(mentions(r, "FI_CXI_RDZV_THRESHOLD", Severity::Warning,
                       "set FI_CXI_OFLOW_BUF_SIZE to at least 16779265"));
  EXPECT_FALSE(r.hasError());
  // ≤2.1 resets to 2048 (and the default buffer is 2 MiB).
  auto old = analyze({{"FI_CXI_RDZV_THRESHOLD", "4194304"}}, "2.1.0");
  EXPECT_EQ(old.effective.rdzv_threshold, 2048u);
  // Equal to the buffer is allowed: then GET_MIN no longer fits.
  auto equal = analyze({{"FI_CXI_RDZV_THRESHOLD", "65536"}, {"FI_CXI_OFLOW_BUF_SIZE", "65536"}});
  EXPECT_EQ(equal.effective.rdzv_threshold, 65536u);
  EXPECT_EQ(equal.effective.rdzv_get_min, 0u);
  // A buffer big enough keeps the threshold (uccl's 1 GiB threshold needs a 1 GiB buffer).
  auto big = analyze({{"FI_CXI_RDZV_THRESHOLD", "1073741824"},
                      {"FI_CXI_OFLOW_BUF_SIZE", std::to_string(1073741824 + 2049)}});
  EXPECT_EQ(big.effective.rdzv_threshold, 1073741824u);
  EXPECT_EQ(big.effective.rdzv_get_min, 2049u);
  EXPECT_EQ(problems(big), 0);
}

TEST(CxiThreshold, GetMinResetWhenItDoesNotFit) {
  auto r = analyze({{"FI_CXI_RDZV_THRESHOLD", "16384"}, {"FI_CXI_OFLOW_BUF_SIZE", "17000"}});
  EXPECT_EQ(r.effective.rdzv_threshold, 16384u);
  EXPECT_EQ(r.effective.rdzv_get_min, 0u);  // 2049 > 17000 - 16384
  EXPECT_EQ(r.eagerMax(), 16384u);
  EXPECT_TRUE(mentions(r, "FI_CXI_RDZV_GET_MIN", Severity::Warning,
                       "RDZV_GET_MIN(2049) > OFLOW_BUF_SIZE(17000) − RDZV_THRESHOLD(16384) = 616"));
  // Exactly fitting is fine.
  auto fit = analyze({{"FI_CXI_OFLOW_BUF_SIZE", "18433"}});
  EXPECT_EQ(fit.effective.rdzv_get_min, 2049u);
  EXPECT_EQ(problems(fit), 0);
  // "-1" is SIZE_MAX and never fits.
  EXPECT_EQ(analyze({{"FI_CXI_RDZV_GET_MIN", "-1"}}).effective.rdzv_get_min, 0u);
}

TEST(CxiThreshold, OrderingQuirkEagerClampBeforeThresholdReset) {
  // 2.3: T=1M, E=1M, buffer 512K. E ≤ T when the clamp runs; then T is reset to 16384 and E
  // stays 1M, above the final threshold and above the buffer.
  auto r = analyze({{"FI_CXI_RDZV_THRESHOLD", "1048576"},
                    {"FI_CXI_RDZV_EAGER_SIZE", "1048576"},
                    {"FI_CXI_OFLOW_BUF_SIZE", "524288"}},
                   "2.3.0");
  EXPECT_EQ(r.effective.rdzv_threshold, 16384u);
  EXPECT_EQ(r.effective.rdzv_eager_size, 1048576u);
  EXPECT_TRUE(mentions(r, "FI_CXI_RDZV_EAGER_SIZE", Severity::Warning,
                       "the eager-size clamp runs before the threshold reset"));
  EXPECT_TRUE(
      mentions(r, "FI_CXI_RDZV_EAGER_SIZE", Severity::Warning, "above OFLOW_BUF_SIZE (524288)"));
  // 2.4: E=2M is first clamped to the user's T (1M), not to the final 16384.
  auto r24 = analyze({{"FI_CXI_RDZV_THRESHOLD", "1048576"},
                      {"FI_CXI_RDZV_EAGER_SIZE", "2097152"},
                      {"FI_CXI_OFLOW_BUF_SIZE", "524288"}});
  EXPECT_EQ(r24.effective.rdzv_eager_size, 1048576u);
  EXPECT_EQ(r24.effective.rdzv_threshold, 16384u);
}

TEST(CxiThreshold, SizeTWrapLetsGetMinSurvive) {
  // Buffer 8192 < the default threshold 16384: the reset keeps 16384, 8192 − 16384 wraps, the
  // GET_MIN check passes and T + G = 18433 exceeds the buffer.
  auto r = analyze({{"FI_CXI_OFLOW_BUF_SIZE", "8192"}});
  EXPECT_EQ(r.effective.rdzv_threshold, 16384u);
  EXPECT_EQ(r.effective.rdzv_get_min, 2049u);
  EXPECT_EQ(r.eagerMax(), 18433u);
  EXPECT_TRUE(r.hasError());
  EXPECT_TRUE(mentions(r, "FI_CXI_OFLOW_BUF_SIZE", Severity::Error, "wraps around in size_t"));
  EXPECT_TRUE(findings(r, "FI_CXI_RDZV_GET_MIN", Severity::Warning).empty());
  // The same with "12M", which libfabric reads as 12.
  auto m = analyze({{"FI_CXI_OFLOW_BUF_SIZE", "12M"}});
  EXPECT_EQ(m.effective.oflow_buf_size, 12u);
  EXPECT_EQ(m.effective.rdzv_get_min, 2049u);
  EXPECT_TRUE(mentions(m, "FI_CXI_OFLOW_BUF_SIZE", Severity::Error,
                       "FI_CXI_OFLOW_BUF_SIZE=\"12M\" is parsed by libfabric as 12"));
  EXPECT_TRUE(mentions(m, "FI_CXI_OFLOW_BUF_SIZE", Severity::Error, "wraps around"));
  // A huge surviving GET_MIN wraps T + G itself, as size_t does in the provider.
  auto wrap =
      analyze({{"FI_CXI_OFLOW_BUF_SIZE", "8192"}, {"FI_CXI_RDZV_GET_MIN", std::to_string(-8192L)}});
  EXPECT_EQ(wrap.effective.rdzv_get_min, kSizeMax - 8191);
  EXPECT_EQ(wrap.eagerMax(), 16384u + (kSizeMax - 8191));
}

// --- overflow and request buffers ----------------------------------------------------------

TEST(CxiBuffers, CountAndMinPostedAlias) {
  auto count = analyze({{"FI_CXI_OFLOW_BUF_COUNT", "5"}});
  EXPECT_EQ(count.effective.oflow_buf_min_posted, 5u);
  EXPECT_EQ(count.effective.oflow_buf_max_cached, 15u);  // default recomputed: 3 × min_posted
  auto both = analyze({{"FI_CXI_OFLOW_BUF_COUNT", "5"}, {"FI_CXI_OFLOW_BUF_MIN_POSTED", "4"}});
  EXPECT_EQ(both.effective.oflow_buf_min_posted, 4u);  // read second, wins
  EXPECT_EQ(both.effective.oflow_buf_max_cached, 12u);
  EXPECT_TRUE(
      mentions(both, "FI_CXI_OFLOW_BUF_COUNT", Severity::Warning, "MIN_POSTED is read second"));
  EXPECT_EQ(analyze({{"FI_CXI_OFLOW_BUF_MIN_POSTED", "7"}}).effective.oflow_buf_max_cached, 21u);
}

TEST(CxiBuffers, MaxCachedRaisedToMinPosted) {
  auto r = analyze({{"FI_CXI_OFLOW_BUF_MIN_POSTED", "4"}, {"FI_CXI_OFLOW_BUF_MAX_CACHED", "2"}});
  EXPECT_EQ(r.effective.oflow_buf_max_cached, 4u);
  EXPECT_TRUE(mentions(r, "FI_CXI_OFLOW_BUF_MAX_CACHED", Severity::Warning,
                       "OFLOW_BUF_MAX_CACHED(2) < OFLOW_BUF_MIN_POSTED(4)"));
  auto zero = analyze({{"FI_CXI_OFLOW_BUF_MAX_CACHED", "0"}});  // 0 = keep all
  EXPECT_EQ(zero.effective.oflow_buf_max_cached, 0u);
  EXPECT_EQ(problems(zero), 0);
}

TEST(CxiBuffers, MemoryIsSpelledOut) {
  auto r = analyze({});
  EXPECT_TRUE(mentions(r, "FI_CXI_OFLOW_BUF_SIZE", Severity::Info, "3 × 12582912 (12M)"));
  auto sw = analyze({{"FI_CXI_RX_MATCH_MODE", "software"}});
  EXPECT_TRUE(mentions(sw, "FI_CXI_OFLOW_BUF_SIZE", Severity::Info, "request buffers: 6 ×"));
}

TEST(CxiBuffers, RequestBufferRulesInSoftwareAndHybridMode) {
  for (const char* mode : {"software", "hybrid"}) {
    auto r = analyze({{"FI_CXI_RX_MATCH_MODE", mode},
                      {"FI_CXI_REQ_BUF_SIZE", "1024"},
                      {"FI_CXI_REQ_BUF_MIN_POSTED", "1"},
                      {"FI_CXI_REQ_BUF_MAX_CACHED", "1"}});
    EXPECT_EQ(r.effective.req_buf_size, 63u + 16384u + 2049u) << mode;  // header + T + G
    EXPECT_EQ(r.effective.req_buf_min_posted, 2u) << mode;
    EXPECT_EQ(r.effective.req_buf_max_cached, 2u) << mode;  // compared with the raised min
    EXPECT_TRUE(mentions(r, "FI_CXI_REQ_BUF_SIZE", Severity::Warning, "raises it to 18496"));
  }
  // The size check uses the final T and G (after the overflow-buffer rules).
  auto t = analyze({{"FI_CXI_RX_MATCH_MODE", "software"},
                    {"FI_CXI_RDZV_THRESHOLD", "0"},
                    {"FI_CXI_RDZV_GET_MIN", "0"},
                    {"FI_CXI_REQ_BUF_SIZE", "0"}});
  EXPECT_EQ(t.effective.req_buf_size, 63u + 192u);
  // Hardware mode: no request-buffer rule runs, and setting them is pointed out.
  auto hw = analyze({{"FI_CXI_REQ_BUF_SIZE", "1024"}, {"FI_CXI_REQ_BUF_MIN_POSTED", "1"}});
  EXPECT_EQ(hw.effective.req_buf_size, 1024u);
  EXPECT_EQ(hw.effective.req_buf_min_posted, 1u);
  EXPECT_TRUE(mentions(hw, "FI_CXI_REQ_BUF_SIZE", Severity::Info, "software or hybrid"));
}

TEST(CxiBuffers, RequestBufferMaxCountAlias) {
  auto r = analyze({{"FI_CXI_REQ_BUF_MAX_COUNT", "8"}, {"FI_CXI_REQ_BUF_MAX_CACHED", "10"}});
  EXPECT_EQ(r.effective.req_buf_max_cached, 10u);
  EXPECT_TRUE(
      mentions(r, "FI_CXI_REQ_BUF_MAX_COUNT", Severity::Warning, "MAX_CACHED is read second"));
  EXPECT_EQ(analyze({{"FI_CXI_REQ_BUF_MAX_COUNT", "8"}}).effective.req_buf_max_cached, 8u);
}

// --- match mode --------------------------------------------------------------------------------

TEST(CxiMatchMode, CaseRules) {
  EXPECT_EQ(analyze({{"FI_CXI_RX_MATCH_MODE", "HARDWARE"}}).effective.rx_match_mode,
            RxMatchMode::Hardware);
  EXPECT_EQ(analyze({{"FI_CXI_RX_MATCH_MODE", "software"}}).effective.rx_match_mode,
            RxMatchMode::Software);
  EXPECT_EQ(analyze({{"FI_CXI_RX_MATCH_MODE", "hybrid"}}).effective.rx_match_mode,
            RxMatchMode::Hybrid);
  EXPECT_EQ(problems(analyze({{"FI_CXI_RX_MATCH_MODE", "Hardware"}})), 0);
  auto r = analyze({{"FI_CXI_RX_MATCH_MODE", "Software"}});
  EXPECT_EQ(r.effective.rx_match_mode, RxMatchMode::Hardware);
  EXPECT_TRUE(mentions(r, "FI_CXI_RX_MATCH_MODE", Severity::Warning,
                       "RX_MATCH_MODE=Software is not recognized → hardware"));
  EXPECT_TRUE(mentions(r, "FI_CXI_RX_MATCH_MODE", Severity::Warning, "case-sensitive"));
  EXPECT_EQ(analyze({{"FI_CXI_RX_MATCH_MODE", "HYBRID"}}).effective.rx_match_mode,
            RxMatchMode::Hardware);
  EXPECT_EQ(analyze({{"FI_CXI_RX_MATCH_MODE", ""}}).effective.rx_match_mode, RxMatchMode::Hardware);
}

TEST(CxiMatchMode, HybridOptionsForcedOffOutsideHybrid) {
  const std::map<std::string, std::string> all = {{"FI_CXI_HYBRID_PREEMPTIVE", "1"},
                                                  {"FI_CXI_HYBRID_RECV_PREEMPTIVE", "1"},
                                                  {"FI_CXI_HYBRID_POSTED_RECV_PREEMPTIVE", "1"},
                                                  {"FI_CXI_HYBRID_UNEXPECTED_MSG_PREEMPTIVE", "1"}};
  auto hw = analyze(all);
  EXPECT_FALSE(hw.effective.hybrid_preemptive);
  EXPECT_FALSE(hw.effective.hybrid_recv_preemptive);
  EXPECT_FALSE(hw.effective.hybrid_posted_recv_preemptive);
  EXPECT_FALSE(hw.effective.hybrid_unexpected_msg_preemptive);
  EXPECT_TRUE(mentions(hw, "FI_CXI_HYBRID_PREEMPTIVE", Severity::Warning,
                       "FI_CXI_HYBRID_PREEMPTIVE ignored: RX_MATCH_MODE=hardware"));
  EXPECT_EQ(problems(hw), 4);
  auto with_sw = all;
  with_sw["FI_CXI_RX_MATCH_MODE"] = "software";
  EXPECT_FALSE(analyze(with_sw).effective.hybrid_preemptive);
  auto hybrid = all;
  hybrid["FI_CXI_RX_MATCH_MODE"] = "hybrid";
  auto h = analyze(hybrid);
  EXPECT_TRUE(h.effective.hybrid_preemptive);
  EXPECT_TRUE(h.effective.hybrid_recv_preemptive);
  EXPECT_TRUE(h.effective.hybrid_posted_recv_preemptive);
  EXPECT_TRUE(h.effective.hybrid_unexpected_msg_preemptive);
  EXPECT_EQ(problems(h), 0);
  // Explicitly off outside hybrid mode is no problem.
  EXPECT_EQ(problems(analyze({{"FI_CXI_HYBRID_PREEMPTIVE", "0"}})), 0);
}

// --- the other ranges --------------------------------------------------------------------------

TEST(CxiRanges, TxAndRxSizes) {
  EXPECT_EQ(analyze({{"FI_CXI_DEFAULT_TX_SIZE", "16"}}).effective.default_tx_size, 16u);
  EXPECT_EQ(analyze({{"FI_CXI_DEFAULT_TX_SIZE", "16384"}}).effective.default_tx_size, 16384u);
  EXPECT_EQ(analyze({{"FI_CXI_DEFAULT_TX_SIZE", "15"}}).effective.default_tx_size, 1024u);
  EXPECT_EQ(analyze({{"FI_CXI_DEFAULT_TX_SIZE", "16385"}}).effective.default_tx_size, 1024u);
  EXPECT_EQ(analyze({{"FI_CXI_DEFAULT_TX_SIZE", "16385"}}, "2.1.0").effective.default_tx_size,
            512u);
  EXPECT_EQ(analyze({{"FI_CXI_DEFAULT_RX_SIZE", "15360"}}).effective.default_rx_size, 15360u);
  EXPECT_EQ(analyze({{"FI_CXI_DEFAULT_RX_SIZE", "15361"}}).effective.default_rx_size, 1024u);
  EXPECT_EQ(analyze({{"FI_CXI_DEFAULT_RX_SIZE", "8"}}, "2.0.0").effective.default_rx_size, 512u);
  EXPECT_TRUE(mentions(analyze({{"FI_CXI_DEFAULT_TX_SIZE", "32768"}}), "FI_CXI_DEFAULT_TX_SIZE",
                       Severity::Warning, "outside 16..16384"));
}

TEST(CxiRanges, CqSizeFillPercentAndEqBatch) {
  EXPECT_EQ(analyze({{"FI_CXI_DEFAULT_CQ_SIZE", "0"}}).effective.default_cq_size, 131072u);
  EXPECT_EQ(analyze({{"FI_CXI_DEFAULT_CQ_SIZE", "0"}}, "2.1.0").effective.default_cq_size, 1024u);
  EXPECT_EQ(analyze({{"FI_CXI_DEFAULT_CQ_SIZE", "7"}}).effective.default_cq_size, 7u);
  EXPECT_EQ(analyze({{"FI_CXI_CQ_FILL_PERCENT", "0"}}).effective.cq_fill_percent, 50u);
  EXPECT_EQ(analyze({{"FI_CXI_CQ_FILL_PERCENT", "101"}}).effective.cq_fill_percent, 50u);
  EXPECT_EQ(analyze({{"FI_CXI_CQ_FILL_PERCENT", "100"}}).effective.cq_fill_percent, 100u);
  EXPECT_EQ(analyze({{"FI_CXI_CQ_FILL_PERCENT", "1"}}).effective.cq_fill_percent, 1u);
  auto ack = analyze({{"FI_CXI_EQ_ACK_BATCH_SIZE", "0"}});
  EXPECT_EQ(ack.effective.eq_ack_batch_size, 1u);
  EXPECT_TRUE(mentions(ack, "FI_CXI_EQ_ACK_BATCH_SIZE", Severity::Warning, "without logging"));
}

TEST(CxiRanges, ControlEqCapZero) {
  EXPECT_EQ(analyze({{"FI_CXI_CTRL_RX_EQ_MAX_SIZE", "0"}}, "2.6.0").effective.ctrl_rx_eq_max_size,
            64u << 20);
  auto old = analyze({{"FI_CXI_CTRL_RX_EQ_MAX_SIZE", "0"}}, "2.5.0");
  EXPECT_EQ(old.effective.ctrl_rx_eq_max_size, 0u);
  EXPECT_TRUE(mentions(old, "FI_CXI_CTRL_RX_EQ_MAX_SIZE", Severity::Warning, "used as is"));
}

TEST(CxiRanges, IntegerClamps) {
  EXPECT_EQ(analyze({{"FI_CXI_SW_RX_TX_INIT_MAX", "10"}}).effective.sw_rx_tx_init_max, 64);
  EXPECT_EQ(analyze({{"FI_CXI_SW_RX_TX_INIT_MAX", "64"}}).effective.sw_rx_tx_init_max, 64);
  EXPECT_EQ(analyze({{"FI_CXI_SW_RX_TX_INIT_MAX", "4096"}}).effective.sw_rx_tx_init_max, 4096);
  EXPECT_EQ(analyze({{"FI_CXI_FC_RETRY_USEC_DELAY", "-5"}}).effective.fc_retry_usec_delay, 0);
  EXPECT_EQ(analyze({{"FI_CXI_RNR_MAX_TIMEOUT_US", "-1"}}).effective.rnr_max_timeout_us, 500000);
  EXPECT_EQ(analyze({{"FI_CXI_TELEMETRY_RGID", "-1"}}).effective.telemetry_rgid, -1);
  EXPECT_EQ(problems(analyze({{"FI_CXI_TELEMETRY_RGID", "-1"}})), 0);
}

// --- strings ----------------------------------------------------------------------------------

TEST(CxiStrings, RdzvProto) {
  EXPECT_EQ(analyze({{"FI_CXI_RDZV_PROTO", "alt_read"}}).effective.rdzv_proto,
            engine::RdzvProto::AltRead);
  EXPECT_EQ(analyze({{"FI_CXI_RDZV_PROTO", "alt-read"}}).effective.rdzv_proto,
            engine::RdzvProto::AltRead);  // '-' → '_' in the first 8 characters
  EXPECT_EQ(analyze({{"FI_CXI_RDZV_PROTO", "default"}}).effective.rdzv_proto,
            engine::RdzvProto::Default);
  for (const char* bad : {"alt_write", "ALT_READ", "altread", "alt_read-", "alt_read "}) {
    auto r = analyze({{"FI_CXI_RDZV_PROTO", bad}});
    EXPECT_EQ(r.effective.rdzv_proto, engine::RdzvProto::Default) << bad;
    EXPECT_TRUE(mentions(r, "FI_CXI_RDZV_PROTO", Severity::Warning, "not recognized → default"))
        << bad;
  }
}

TEST(CxiStrings, TrafficClassRingAndPolicy) {
  EXPECT_EQ(analyze({{"FI_CXI_RGET_TC", "BULK_DATA"}}).effective.rget_tc, "BULK_DATA");
  auto tc = analyze({{"FI_CXI_RGET_TC", "bulk_data"}});
  EXPECT_EQ(tc.effective.rget_tc, "");
  EXPECT_TRUE(mentions(tc, "FI_CXI_RGET_TC", Severity::Warning, "case-sensitive"));
  EXPECT_EQ(analyze({{"FI_CXI_LLRING_MODE", "never"}}).effective.llring_mode, "never");
  EXPECT_EQ(analyze({{"FI_CXI_LLRING_MODE", "Never"}}).effective.llring_mode, "idle");
  EXPECT_EQ(analyze({{"FI_CXI_CQ_POLICY", "high_empty"}}).effective.cq_policy, "high_empty");
  EXPECT_EQ(analyze({{"FI_CXI_CQ_POLICY", "sometimes"}}).effective.cq_policy, "low_empty");
  EXPECT_EQ(analyze({{"FI_CXI_ATS_MLOCK_MODE", "some"}}).effective.ats_mlock_mode, "all");
}

TEST(CxiStrings, DeviceNameIgnoredWhenInvalid) {
  EXPECT_EQ(analyze({{"FI_CXI_DEVICE_NAME", "cxi0,cxi1"}}).effective.device_name, "cxi0,cxi1");
  auto r = analyze({{"FI_CXI_DEVICE_NAME", "cxi0,hsn0"}});
  EXPECT_EQ(r.effective.device_name, "");
  EXPECT_TRUE(
      mentions(r, "FI_CXI_DEVICE_NAME", Severity::Warning, "the whole variable is ignored"));
}

// --- booleans and aliases ------------------------------------------------------------------

TEST(CxiBooleans, UnparsableKeepsTheDefault) {
  auto r = analyze({{"FI_CXI_RX_MATCH_MODE", "hybrid"}, {"FI_CXI_HYBRID_PREEMPTIVE", "enabled"}});
  EXPECT_FALSE(r.effective.hybrid_preemptive);
  EXPECT_TRUE(mentions(r, "FI_CXI_HYBRID_PREEMPTIVE", Severity::Error, "failed to parse bool var"));
  auto keep = analyze({{"FI_CXI_OPTIMIZED_MRS", "2"}});
  EXPECT_TRUE(keep.effective.optimized_mrs);
  EXPECT_TRUE(mentions(keep, "FI_CXI_OPTIMIZED_MRS", Severity::Error, "keeps the default 1"));
  EXPECT_TRUE(analyze({{"FI_CXI_DISABLE_HOST_REGISTER", "yes"}}).effective.disable_host_register);
}

TEST(CxiBooleans, HugetlbAliasEqWins) {
  EXPECT_TRUE(analyze({{"FI_CXI_DISABLE_CQ_HUGETLB", "1"}}).effective.disable_eq_hugetlb);
  auto both = analyze({{"FI_CXI_DISABLE_CQ_HUGETLB", "1"}, {"FI_CXI_DISABLE_EQ_HUGETLB", "0"}});
  EXPECT_FALSE(both.effective.disable_eq_hugetlb);
  EXPECT_TRUE(
      mentions(both, "FI_CXI_DISABLE_CQ_HUGETLB", Severity::Warning, "EQ_ name is read second"));
  // An unparsable EQ_ value leaves the CQ_ one in force.
  EXPECT_TRUE(analyze({{"FI_CXI_DISABLE_CQ_HUGETLB", "1"}, {"FI_CXI_DISABLE_EQ_HUGETLB", "x"}})
                  .effective.disable_eq_hugetlb);
}

TEST(CxiBooleans, ForceOdpImpliesOdp) {
  auto r = analyze({{"FI_CXI_FORCE_ODP", "1"}});
  EXPECT_TRUE(r.effective.odp);
  EXPECT_TRUE(r.effective.force_odp);
}

// --- number syntax (E6) ----------------------------------------------------------------------

TEST(CxiSyntax, SuffixOctalGarbageNegative) {
  auto suffix = analyze({{"FI_CXI_RDZV_THRESHOLD", "16K"}});
  EXPECT_EQ(suffix.effective.rdzv_threshold, 192u);  // 16, then raised to the inject size
  EXPECT_TRUE(mentions(suffix, "FI_CXI_RDZV_THRESHOLD", Severity::Error,
                       "FI_CXI_RDZV_THRESHOLD=\"16K\" is parsed by libfabric as 16"));
  EXPECT_TRUE(mentions(suffix, "FI_CXI_RDZV_THRESHOLD", Severity::Error, "write 16384"));

  auto octal = analyze({{"FI_CXI_RDZV_THRESHOLD", "016384"}});
  EXPECT_EQ(octal.effective.rdzv_threshold, 192u);  // 115, then raised
  EXPECT_TRUE(mentions(octal, "FI_CXI_RDZV_THRESHOLD", Severity::Error,
                       "is parsed by libfabric as 115 (a leading 0 makes strtol read octal; "
                       "strtol stops at \"84\""));
  EXPECT_TRUE(mentions(octal, "FI_CXI_RDZV_THRESHOLD", Severity::Error, "write 16384"));

  auto whole_octal = analyze({{"FI_CXI_RDZV_THRESHOLD", "020000"}});
  EXPECT_EQ(whole_octal.effective.rdzv_threshold, 8192u);
  EXPECT_TRUE(mentions(whole_octal, "FI_CXI_RDZV_THRESHOLD", Severity::Error, "write 20000"));

  auto garbage = analyze({{"FI_CXI_OFLOW_BUF_SIZE", "big"}});
  EXPECT_EQ(garbage.effective.oflow_buf_size, 0u);
  EXPECT_TRUE(mentions(garbage, "FI_CXI_OFLOW_BUF_SIZE", Severity::Error,
                       "is not a number: libfabric parses it as 0"));

  auto negative = analyze({{"FI_CXI_OFLOW_BUF_MAX_CACHED", "-1"}});
  EXPECT_EQ(negative.effective.oflow_buf_max_cached, kSizeMax);
  EXPECT_TRUE(
      mentions(negative, "FI_CXI_OFLOW_BUF_MAX_CACHED", Severity::Error, "18446744073709551615"));

  auto huge = analyze({{"FI_CXI_OFLOW_BUF_SIZE", "99999999999999999999"}});
  EXPECT_TRUE(mentions(huge, "FI_CXI_OFLOW_BUF_SIZE", Severity::Error, "saturates"));
  auto narrow = analyze({{"FI_CXI_SW_RX_TX_INIT_MAX", "4294967297"}});
  EXPECT_EQ(narrow.effective.sw_rx_tx_init_max, 64);  // 1, then raised to the minimum
  EXPECT_TRUE(
      mentions(narrow, "FI_CXI_SW_RX_TX_INIT_MAX", Severity::Error, "does not fit in an int"));
}

TEST(CxiSyntax, ValidSpellingsAreQuiet) {
  for (const char* ok : {"16384", "0x4000", "0X4000", "0", "00", "07", "+16384", " 16384"}) {
    auto r = analyze({{"FI_CXI_RDZV_THRESHOLD", ok}, {"FI_CXI_RDZV_EAGER_SIZE", "0"}});
    EXPECT_TRUE(findings(r, "FI_CXI_RDZV_THRESHOLD", Severity::Error).empty()) << ok;
  }
  EXPECT_EQ(analyze({{"FI_CXI_RDZV_THRESHOLD", "0x8000"}}).effective.rdzv_threshold, 32768u);
}

TEST(CxiSyntax, ParametersWithoutRulesAreCheckedToo) {
  auto r = analyze({{"FI_CXI_COLL_RETRY_USEC", "1K"}, {"FI_CXI_TRUNC_OK", "maybe"}});
  EXPECT_TRUE(mentions(r, "FI_CXI_COLL_RETRY_USEC", Severity::Error, "parsed by libfabric as 1"));
  EXPECT_TRUE(mentions(r, "FI_CXI_TRUNC_OK", Severity::Error, "not a boolean"));
  EXPECT_EQ(r.requested.at("FI_CXI_TRUNC_OK"), "maybe");
}

TEST(CxiSyntax, GenericVariables) {
  EXPECT_EQ(problems(analyze({{"FI_MR_CACHE_MAX_SIZE", "-1"}})), 0);  // documented "unlimited"
  EXPECT_TRUE(mentions(analyze({{"FI_MR_CACHE_MAX_COUNT", "512K"}}), "FI_MR_CACHE_MAX_COUNT",
                       Severity::Error, "write 524288"));
  EXPECT_TRUE(mentions(analyze({{"FI_UNIVERSE_SIZE", "-4"}}), "FI_UNIVERSE_SIZE", Severity::Error,
                       "negative"));
  auto monitor = analyze({{"FI_MR_CACHE_MONITOR", "uffd_x"}});
  EXPECT_TRUE(mentions(monitor, "FI_MR_CACHE_MONITOR", Severity::Warning,
                       "FI_MR_CACHE_MONITOR=uffd_x is unknown and silently ignored"));
  EXPECT_EQ(problems(analyze({{"FI_MR_CACHE_MONITOR", "kdreg2"}})), 0);
}

// --- names (E4) ----------------------------------------------------------------------------

TEST(CxiNames, MisspeltNamesGetASuggestion) {
  auto r = analyze({{"FI_CXI_EAGER_SIZE", "0"}, {"FI_CXI_RDZV_THRESHHOLD", "0"}});
  EXPECT_TRUE(mentions(r, "FI_CXI_EAGER_SIZE", Severity::Warning,
                       "FI_CXI_EAGER_SIZE is not a parameter of libfabric 2.4.0 (ignored); did "
                       "you mean FI_CXI_RDZV_EAGER_SIZE?"));
  EXPECT_TRUE(mentions(r, "FI_CXI_RDZV_THRESHHOLD", Severity::Warning,
                       "did you mean FI_CXI_RDZV_THRESHOLD?"));
  EXPECT_EQ(r.effective.rdzv_threshold, 16384u);  // ignored, so the default stays
  auto far = analyze({{"FI_CXI_QWERTYUIOPASDF", "1"}});
  EXPECT_TRUE(mentions(far, "FI_CXI_QWERTYUIOPASDF", Severity::Warning, "(ignored)"));
  EXPECT_FALSE(mentions(far, "FI_CXI_QWERTYUIOPASDF", Severity::Warning, "did you mean"));
}

TEST(CxiNames, LegitimateNonParametersAreNotFlagged) {
  auto r = analyze({{"CXI_FORK_SAFE", "1"},
                    {"CXI_FORK_SAFE_HP", "1"},
                    {"FI_CXI_COLL_FABRIC_MGR_CACERT", "/etc/ca.pem"},
                    {"FI_CXI_COLL_SOMETHING_NEW", "x"},
                    {"FI_CXI_HWCOLL_ENABLE", "1"},
                    {"FI_PROVIDER", "cxi"},
                    {"HOME", "/root"}});
  EXPECT_EQ(problems(r), 0);
}

TEST(CxiNames, VersionAwareness) {
  auto added = analyze({{"FI_CXI_DISABLE_ALT_READ_CMDQ", "1"}}, "2.2.0");
  EXPECT_FALSE(added.effective.disable_alt_read_cmdq);
  EXPECT_TRUE(mentions(added, "FI_CXI_DISABLE_ALT_READ_CMDQ", Severity::Warning, "added in 2.3"));
  EXPECT_TRUE(
      analyze({{"FI_CXI_DISABLE_ALT_READ_CMDQ", "1"}}, "2.3.0").effective.disable_alt_read_cmdq);
  auto removed = analyze({{"FI_CXI_DISABLE_DMABUF_CUDA", "1"}}, "2.0.0");
  EXPECT_TRUE(mentions(removed, "FI_CXI_DISABLE_DMABUF_CUDA", Severity::Warning, "removed in 2.0"));
  EXPECT_EQ(problems(analyze({{"FI_CXI_DISABLE_DMABUF_CUDA", "1"}}, "1.22.0")), 0);
  EXPECT_TRUE(mentions(analyze({{"FI_CXI_ENABLE_WRITEDATA", "1"}}, "2.4.0"),
                       "FI_CXI_ENABLE_WRITEDATA", Severity::Warning, "added in 2.5"));
}

TEST(CxiNames, NamesAreCaseSensitive) {
  auto r = analyze({{"fi_cxi_rdzv_threshold", "0"}});
  EXPECT_EQ(r.effective.rdzv_threshold, 16384u);
  EXPECT_TRUE(mentions(r, "fi_cxi_rdzv_threshold", Severity::Warning,
                       "case-sensitive; write FI_CXI_RDZV_THRESHOLD"));
}

TEST(CxiNames, RegisteredListReplacesTheTable) {
  CxiEnvInput in;
  in.env = {{"FI_CXI_RDZV_PROTO", "alt_read"}, {"FI_CXI_RDZV_THRESHOLD", "4096"}};
  in.registered = {"FI_CXI_RDZV_THRESHOLD", "FI_CXI_RDZV_GET_MIN", "FI_PROVIDER"};
  auto r = analyzeCxiEnv(in);
  EXPECT_EQ(r.effective.rdzv_threshold, 4096u);
  EXPECT_EQ(r.effective.rdzv_proto, engine::RdzvProto::Default);  // never read by this build
  EXPECT_TRUE(mentions(r, "FI_CXI_RDZV_PROTO", Severity::Warning, "not registered"));
}

TEST(CxiNames, EditDistanceAndClosest) {
  EXPECT_EQ(editDistance("", "abc"), 3u);
  EXPECT_EQ(editDistance("kitten", "sitting"), 3u);
  EXPECT_EQ(editDistance("RDVZ", "RDZV"), 1u);  // a transposition is one edit
  EXPECT_EQ(closestCxiParameter("FI_CXI_OFLOW_BUFFER_SIZE"), "FI_CXI_OFLOW_BUF_SIZE");
  EXPECT_EQ(closestCxiParameter("FI_CXI_RDVZ_PROTO"), "FI_CXI_RDZV_PROTO");
  EXPECT_EQ(closestCxiParameter("FI_CXI_ZZZZZZZZZZZZZZZZ"), "");
}

// --- libfabric.conf (E5) -------------------------------------------------------------------

TEST(CxiConfigFile, Parse) {
  auto conf = parseLibfabricConf(
      "# site settings\n\nFI_CXI_RDZV_THRESHOLD=4096\n  FI_PROVIDER = cxi \nnot a line\n"
      "OTHER=1\n=x\nFI_CXI_RDZV_PROTO=alt_read");
  const std::map<std::string, std::string> expected = {
      {"FI_CXI_RDZV_THRESHOLD", "4096"}, {"FI_PROVIDER", "cxi"}, {"FI_CXI_RDZV_PROTO", "alt_read"}};
  EXPECT_EQ(conf, expected);
}

TEST(CxiConfigFile, PrecedenceAndVersion) {
  CxiEnvInput in;
  in.version = version("2.4.0");
  in.config_path = "/etc/libfabric.conf";
  in.config_file = {{"FI_CXI_RDZV_THRESHOLD", "4096"}, {"FI_CXI_RDZV_GET_MIN", "0"}};
  in.env = {{"FI_CXI_RDZV_GET_MIN", "100"}};
  auto r = analyzeCxiEnv(in);
  EXPECT_EQ(r.effective.rdzv_threshold, 4096u);  // only in the file: used
  EXPECT_EQ(r.sources.at("FI_CXI_RDZV_THRESHOLD"), "libfabric.conf");
  EXPECT_EQ(r.effective.rdzv_get_min, 100u);  // both: the environment wins
  EXPECT_EQ(r.sources.at("FI_CXI_RDZV_GET_MIN"), "env");
  EXPECT_TRUE(mentions(r, "FI_CXI_RDZV_GET_MIN", Severity::Warning, "the environment wins"));

  in.env["FI_PREFER_SYSCONFIG"] = "1";
  auto prefer = analyzeCxiEnv(in);
  EXPECT_EQ(prefer.effective.rdzv_get_min, 0u);
  EXPECT_EQ(prefer.sources.at("FI_CXI_RDZV_GET_MIN"), "libfabric.conf");

  in.version = version("1.17.0");  // before 1.18: the file is never read
  auto old = analyzeCxiEnv(in);
  EXPECT_EQ(old.effective.rdzv_threshold, 2048u);
  EXPECT_TRUE(mentions(old, "", Severity::Warning, "does not read libfabric.conf"));
}

TEST(CxiConfigFile, Candidates) {
  using P = std::vector<std::filesystem::path>;
  EXPECT_EQ(libfabricConfCandidates("/opt/cray/libfabric/2.3.1/lib64/libfabric.so.1"),
            (P{"/opt/cray/libfabric/2.3.1/etc/libfabric.conf", "/etc/libfabric.conf"}));
  EXPECT_EQ(libfabricConfCandidates("/usr/lib/x86_64-linux-gnu/libfabric.so.1"),
            (P{"/etc/libfabric.conf", "/usr/etc/libfabric.conf"}));
  EXPECT_EQ(libfabricConfCandidates("/lib/x86_64-linux-gnu/libfabric.so.1"),
            (P{"/etc/libfabric.conf"}));
  EXPECT_EQ(libfabricConfCandidates(""), (P{"/etc/libfabric.conf"}));
}

TEST(CxiConfigFile, ProcessInput) {
  ::setenv("FI_CXI_RDZV_THRESHOLD", "8192", 1);
  auto in = processCxiEnvInput(version("2.4.0"), "/nonexistent/lib/libfabric.so.1", "/nonexistent");
  ::unsetenv("FI_CXI_RDZV_THRESHOLD");
  EXPECT_EQ(in.env.at("FI_CXI_RDZV_THRESHOLD"), "8192");
  EXPECT_EQ(in.version.str(), "2.4.0");
  EXPECT_EQ(in.cacheline_size, 64u);
  EXPECT_EQ(analyzeCxiEnv(in).effective.rdzv_threshold, 8192u);
}

// --- outputs --------------------------------------------------------------------------------

TEST(CxiJson, CarriesEffectiveRequestedCutOverAndFindings) {
  auto r = analyze({{"FI_CXI_RDZV_THRESHOLD", "16777216"}, {"FI_CXI_RDZV_PROTO", "alt-read"}});
  nlohmann::json j = r;
  EXPECT_EQ(j["libfabric_version"], "2.4.0");
  EXPECT_EQ(j["effective"]["rdzv_threshold"], 16384);
  EXPECT_EQ(j["effective"]["rdzv_proto"], "alt_read");
  EXPECT_EQ(j["effective"]["rx_match_mode"], "hardware");
  EXPECT_TRUE(j["effective"]["rget_tc"].is_null());
  EXPECT_EQ(j["requested"]["FI_CXI_RDZV_THRESHOLD"]["value"], "16777216");
  EXPECT_EQ(j["requested"]["FI_CXI_RDZV_THRESHOLD"]["source"], "env");
  EXPECT_EQ(j["eager_max"], 18433);
  EXPECT_EQ(j["rdzv_eager_size"], 2048);
  ASSERT_TRUE(j["findings"].is_array());
  bool found = false;
  for (const auto& f : j["findings"])
    found |= f["severity"] == "warning" && f["variable"] == "FI_CXI_RDZV_THRESHOLD" &&
             f["check"] == "E7";
  EXPECT_TRUE(found) << j.dump(2);
}

TEST(CxiJson, OnlyTheVersionsParameters) {
  auto old = settingsToJson(cxiDefaults(version("2.2.0")), version("2.2.0"));
  EXPECT_FALSE(old.contains("disable_alt_read_cmdq"));
  EXPECT_FALSE(old.contains("rnr_append_retry_timeout_us"));
  auto now = settingsToJson(cxiDefaults(version("2.6.0")), version("2.6.0"));
  EXPECT_TRUE(now.contains("disable_alt_read_cmdq"));
  EXPECT_EQ(now["rnr_append_retry_timeout_us"], 2000000);
}

TEST(CxiEngine, ProtocolParamsMirrorTheEffectiveValues) {
  auto r = analyze({{"FI_CXI_RDZV_THRESHOLD", "0"},
                    {"FI_CXI_RDZV_GET_MIN", "0"},
                    {"FI_CXI_RDZV_EAGER_SIZE", "0"},
                    {"FI_CXI_RDZV_PROTO", "alt_read"},
                    {"FI_CXI_OFLOW_BUF_COUNT", "4"}});
  auto p = toProtocolParams(r.effective);
  EXPECT_EQ(p.inject_size, 192u);
  EXPECT_EQ(p.rdzv_threshold, 192u);
  EXPECT_EQ(p.rdzv_get_min, 0u);
  EXPECT_EQ(p.rdzv_eager_size, 0u);
  EXPECT_EQ(p.rdzv_proto, engine::RdzvProto::AltRead);
  EXPECT_EQ(p.oflow_buf_count, 4u);
  EXPECT_EQ(p.switchPoint(), r.eagerMax());
  EXPECT_NO_THROW(engine::validate(p));
}

}  // namespace
}  // namespace rdzv::transport::ofi
