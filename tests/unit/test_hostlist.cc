#include "lib/hostlist.h"

#include <gtest/gtest.h>

#include "lib/error.h"

namespace rdzv {
namespace {

using Hosts = std::vector<std::string>;

// Expects a Usage error naming the list, its source and `why`.
void expectBad(const std::string& list, const std::string& why) {
  try {
    auto hosts = expandHostlist(list, "SLURM_STEP_NODELIST");
    ADD_FAILURE() << list << " expanded to " << hosts.size() << " hosts; expected: " << why;
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Usage);
    std::string what = e.what();
    EXPECT_NE(what.find("SLURM_STEP_NODELIST \"" + list + "\""), std::string::npos) << what;
    EXPECT_NE(what.find(why), std::string::npos) << what;
  }
}

TEST(Hostlist, SingleHost) {
  EXPECT_EQ(expandHostlist("vm"), Hosts{"vm"});
  EXPECT_EQ(expandHostlist("node-1.cluster"), Hosts{"node-1.cluster"});
}

TEST(Hostlist, CommaSeparatedHosts) {
  EXPECT_EQ(expandHostlist("a,b,login2"), (Hosts{"a", "b", "login2"}));
}

TEST(Hostlist, RangesKeepLeadingZeros) {
  EXPECT_EQ(expandHostlist("nid[001-004,010],login2"),
            (Hosts{"nid001", "nid002", "nid003", "nid004", "nid010", "login2"}));
  EXPECT_EQ(expandHostlist("n[08-11]"), (Hosts{"n08", "n09", "n10", "n11"}));
  // The lower bound's width rules, as in Slurm: no padding when it has none.
  EXPECT_EQ(expandHostlist("n[9-11]"), (Hosts{"n9", "n10", "n11"}));
  EXPECT_EQ(expandHostlist("n[098-101]"), (Hosts{"n098", "n099", "n100", "n101"}));
  EXPECT_EQ(expandHostlist("n[7]"), Hosts{"n7"});
}

TEST(Hostlist, SeveralBracketGroupsFirstVariesSlowest) {
  EXPECT_EQ(expandHostlist("rack[1-2]-node[01-02]"),
            (Hosts{"rack1-node01", "rack1-node02", "rack2-node01", "rack2-node02"}));
  EXPECT_EQ(expandHostlist("c[0-1]s[3,5]n0,x"),
            (Hosts{"c0s3n0", "c0s5n0", "c1s3n0", "c1s5n0", "x"}));
}

TEST(Hostlist, SuffixAfterBrackets) {
  EXPECT_EQ(expandHostlist("nid[1-2].hsn"), (Hosts{"nid1.hsn", "nid2.hsn"}));
}

TEST(Hostlist, MalformedListsAreRejected) {
  expectBad("", "empty");
  expectBad("nid[1-3", "[ without ]");
  expectBad("nid1-3]", "] without [");
  expectBad("nid[1-[2]]", "nested [");
  expectBad("nid[5-3]", "range 5-3 is reversed");
  expectBad("a,,b", "empty item");
  expectBad("a,", "empty item");
  expectBad(",a", "empty item");
  expectBad("nid[]", "empty brackets");
  expectBad("nid[1,,2]", "empty range");
  expectBad("nid[a-c]", "\"a\" in [a-c] is not a number");
  expectBad("nid[1-]", "\"\" in [1-] is not a number");
  expectBad("nid[1-2-3]", "\"2-3\" in [1-2-3] is not a number");
  expectBad("nid[1, 2]", "whitespace");
  expectBad("nid[1234567890123456789]", "too many digits");
}

TEST(Hostlist, AbsurdExpansionsAreRejected) {
  expectBad("n[0-999999999]", "more than 1000000 hosts");
  // Each group is small; their product is not.
  expectBad("a[0-999]b[0-999]c[0-9]", "more than 1000000 hosts");
  expectBad("a[0-999999],b[0-999999]", "more than 1000000 hosts");
  EXPECT_EQ(expandHostlist("n[0-9]", "list", 10).size(), 10u);
  EXPECT_THROW(expandHostlist("n[0-10]", "list", 10), Error);
}

}  // namespace
}  // namespace rdzv
