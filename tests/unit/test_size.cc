#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "lib/error.h"
#include "lib/size.h"

namespace rdzv {
namespace {

using Sizes = std::vector<std::uint64_t>;

// Returns the Usage error's message, failing the test when no Usage error is thrown.
std::string usageMessage(const std::string& text, bool list = false) {
  try {
    if (list) {
      parseSizeList(text);
    } else {
      parseSize(text);
    }
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Usage) << text;
    EXPECT_EQ(e.exitCode(), 2);
    EXPECT_EQ(e.message().find('\n'), std::string::npos) << "one line: " << e.message();
    EXPECT_FALSE(e.hint().empty()) << "a fix for " << text;
    return e.message();
  }
  ADD_FAILURE() << "no error for \"" << text << "\"";
  return {};
}

TEST(ParseSize, AcceptsPlainBytes) {
  EXPECT_EQ(parseSize("8"), 8u);
  EXPECT_EQ(parseSize("1"), 1u);
  EXPECT_EQ(parseSize("193"), 193u);
  EXPECT_EQ(parseSize(" 64 "), 64u);
}

TEST(ParseSize, AcceptsEverySuffixSpellingAsBinary) {
  for (const char* text : {"4K", "4k", "4KB", "4KiB", "4kb", "4kib"}) {
    EXPECT_EQ(parseSize(text), 4096u) << text;
  }
  EXPECT_EQ(parseSize("1M"), 1u << 20);
  EXPECT_EQ(parseSize("1MiB"), 1u << 20);
  EXPECT_EQ(parseSize("1MB"), 1u << 20);
  EXPECT_EQ(parseSize("2G"), 2ull << 30);
  EXPECT_EQ(parseSize("1GiB"), 1ull << 30);
}

TEST(ParseSize, AcceptsTheLargestSize) {
  EXPECT_EQ(parseSize("4611686018427387904"), kMaxSize);
  EXPECT_EQ(parseSize("4294967296G"), kMaxSize);
}

TEST(ParseSize, RejectsJunkNamingTheInput) {
  for (const char* text : {"", " ", "0", "0K", "-4", "-4K", "4X", "K", "KiB", "1.5K", "4KBB", "4Ki",
                           "4 K", "+8", "0x10", "4T", "8B"}) {
    const std::string msg = usageMessage(text);
    EXPECT_NE(msg.find("\"" + std::string(text) + "\""), std::string::npos) << msg;
  }
}

TEST(ParseSize, JunkMessageSaysWhatToWrite) {
  EXPECT_EQ(usageMessage("4X"),
            "invalid size \"4X\" (use a number with an optional K, M or G suffix (e.g. 8, 4K, "
            "1MiB))");
}

TEST(ParseSize, RejectsOverflow) {
  for (const char* text :
       {"4611686018427387905", "4294967297G", "4503599627370497M", "4503599627370497K",
        "18446744073709551616", "99999999999999999999999999"}) {
    const std::string msg = usageMessage(text);
    EXPECT_NE(msg.find(text), std::string::npos) << msg;
  }
  EXPECT_NE(usageMessage("4294967297G").find("too large"), std::string::npos);
}

TEST(ParseSizeList, SingleAndCommaSeparated) {
  EXPECT_EQ(parseSizeList("8"), Sizes({8}));
  EXPECT_EQ(parseSizeList("8,4K,1M"), Sizes({8, 4096, 1 << 20}));
  EXPECT_EQ(parseSizeList(" 8 , 16 "), Sizes({8, 16}));
}

TEST(ParseSizeList, SortsAndDeduplicates) {
  EXPECT_EQ(parseSizeList("1K,8,1024,8,4"), Sizes({4, 8, 1024}));
  EXPECT_EQ(parseSizeList("1:8,4:16"), Sizes({1, 2, 4, 8, 16}));
}

TEST(ParseSizeList, DoublingRange) {
  EXPECT_EQ(parseSizeList("1:16"), Sizes({1, 2, 4, 8, 16}));
  EXPECT_EQ(parseSizeList("8:1K"), Sizes({8, 16, 32, 64, 128, 256, 512, 1024}));
  EXPECT_EQ(parseSizeList("4:4"), Sizes({4}));
  // The end is included only when reached exactly; doubling starts at A, whatever A is.
  EXPECT_EQ(parseSizeList("1:20"), Sizes({1, 2, 4, 8, 16}));
  EXPECT_EQ(parseSizeList("3:24"), Sizes({3, 6, 12, 24}));
  EXPECT_EQ(parseSizeList("3:23"), Sizes({3, 6, 12}));
}

TEST(ParseSizeList, DoublingUpToTheLargestSizeDoesNotOverflow) {
  const Sizes all = parseSizeList("1:4294967296G");
  ASSERT_EQ(all.size(), 63u);
  EXPECT_EQ(all.back(), kMaxSize);
  EXPECT_EQ(parseSizeList("3:4294967296G").back(), 3ull << 60);
}

TEST(ParseSizeList, FactorRange) {
  EXPECT_EQ(parseSizeList("1:1K:x4"), Sizes({1, 4, 16, 64, 256, 1024}));
  EXPECT_EQ(parseSizeList("1:1000:x10"), Sizes({1, 10, 100, 1000}));
  EXPECT_EQ(parseSizeList("1:999:x10"), Sizes({1, 10, 100}));
  EXPECT_EQ(parseSizeList("8:64:x2"), Sizes({8, 16, 32, 64}));
  EXPECT_EQ(parseSizeList("8:64:X2"), Sizes({8, 16, 32, 64}));
  EXPECT_EQ(parseSizeList("2:4G:x1000000000000").size(), 1u);
}

TEST(ParseSizeList, StepRange) {
  EXPECT_EQ(parseSizeList("1K:4K:+1K"), Sizes({1024, 2048, 3072, 4096}));
  EXPECT_EQ(parseSizeList("1:10:+3"), Sizes({1, 4, 7, 10}));
  EXPECT_EQ(parseSizeList("1:9:+3"), Sizes({1, 4, 7}));
  EXPECT_EQ(parseSizeList("5:5:+100"), Sizes({5}));
  EXPECT_EQ(parseSizeList("1:4294967296G:+2147483648G"), Sizes({1, (1ull << 61) + 1}));
}

TEST(ParseSizeList, RejectsBadItemsNamingThem) {
  struct Case {
    const char* text;
    const char* named;
  };
  for (const Case& c : {Case{"", "\"\""},
                        Case{",", "\",\""},
                        Case{"8,", "\"8,\""},
                        Case{"8,,16", "\"8,,16\""},
                        Case{",8", "\",8\""},
                        Case{"64:8", "\"64:8\""},
                        Case{"8:4X", "\"4X\""},
                        Case{"8:", "\"8:\""},
                        Case{":8", "\":8\""},
                        Case{"1:8:", "\"1:8:\""},
                        Case{"1:8:2", "\"1:8:2\""},
                        Case{"1:8:x", "\"1:8:x\""},
                        Case{"1:8:x1", "\"1:8:x1\""},
                        Case{"1:8:x0", "\"1:8:x0\""},
                        Case{"1:8:x2K", "\"1:8:x2K\""},
                        Case{"1:8:x-2", "\"1:8:x-2\""},
                        Case{"1:8:+", "\"1:8:+\""},
                        Case{"1:8:+0", "\"0\""},
                        Case{"1:8:+X", "\"X\""},
                        Case{"1:8:x2:4", "\"1:8:x2:4\""},
                        Case{"0:8", "\"0\""}}) {
    const std::string msg = usageMessage(c.text, true);
    EXPECT_NE(msg.find(c.named), std::string::npos) << c.text << " -> " << msg;
  }
}

TEST(ParseSizeList, FactorBelowTwoSaysSo) {
  EXPECT_NE(usageMessage("1:8:x1", true).find("at least 2"), std::string::npos);
}

TEST(ParseSizeList, RejectsMoreThanTheLimit) {
  EXPECT_EQ(parseSizeList("1:100000:+1").size(), kMaxSizeListValues);
  const std::string msg = usageMessage("1:100001:+1", true);
  EXPECT_NE(msg.find("\"1:100001:+1\""), std::string::npos) << msg;
  EXPECT_NE(msg.find("100000"), std::string::npos) << msg;
  // Must fail fast rather than materialise four billion values.
  usageMessage("1:4G:+1", true);
  // The limit counts values before deduplication, across items.
  usageMessage("1:60000:+1,1:60000:+1", true);
}

TEST(FormatSize, ExactSuffixWhenDivisible) {
  EXPECT_EQ(formatSize(8), "8");
  EXPECT_EQ(formatSize(192), "192");
  EXPECT_EQ(formatSize(193), "193");
  EXPECT_EQ(formatSize(1024), "1K");
  EXPECT_EQ(formatSize(4096), "4K");
  EXPECT_EQ(formatSize(1536), "1536");
  EXPECT_EQ(formatSize(18432), "18K");
  EXPECT_EQ(formatSize(18433), "18433");
  EXPECT_EQ(formatSize(1 << 20), "1M");
  EXPECT_EQ(formatSize(16 << 20), "16M");
  EXPECT_EQ(formatSize(3ull << 19), "1536K");
  EXPECT_EQ(formatSize(1ull << 30), "1G");
  EXPECT_EQ(formatSize(1ull << 40), "1024G");
  EXPECT_EQ(formatSize(kMaxSize), "4294967296G");
}

TEST(FormatSize, RoundTripsThroughParseSize) {
  Sizes samples = {1, 2, 3, 7, 8, 193, 1000, 1023, 1024, 1025, 18433, kMaxSize, kMaxSize - 1};
  for (std::uint64_t v = 1; v <= kMaxSize; v *= 2) {
    samples.push_back(v);
    samples.push_back(v + 1);
    samples.push_back(v * 3);
    samples.push_back(v - 1 > 0 ? v - 1 : 1);
  }
  for (std::uint64_t v : samples) {
    if (v > kMaxSize) continue;
    EXPECT_EQ(parseSize(formatSize(v)), v) << formatSize(v);
  }
}

}  // namespace
}  // namespace rdzv
