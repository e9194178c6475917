// Slurm's time-left syntax (squeue -o %L) and running squeue with a deadline.

#include <gtest/gtest.h>

#include "lib/clock.h"
#include "lib/error.h"
#include "lib/time_left.h"

namespace rdzv {
namespace {

TEST(TimeLeft, ReadsSqueueFormats) {
  EXPECT_EQ(parseTimeLeft("1-02:03:04"), 86400 + 2 * 3600 + 3 * 60 + 4);
  EXPECT_EQ(parseTimeLeft("2:03:04"), 2 * 3600 + 3 * 60 + 4);
  EXPECT_EQ(parseTimeLeft("3:04"), 3 * 60 + 4);
  EXPECT_EQ(parseTimeLeft("0:00"), 0);
  EXPECT_EQ(parseTimeLeft("12-00:00:00\n"), 12 * 86400);  // squeue ends its line
  EXPECT_EQ(parseTimeLeft("  59:59 "), 59 * 60 + 59);
}

TEST(TimeLeft, ReadsTimeLimitFormats) {
  EXPECT_EQ(parseTimeLeft("45"), 45 * 60);  // minutes
  EXPECT_EQ(parseTimeLeft("1-02"), 86400 + 2 * 3600);
  EXPECT_EQ(parseTimeLeft("1-02:03"), 86400 + 2 * 3600 + 3 * 60);
}

TEST(TimeLeft, WordsMeanNoFigure) {
  for (const char* word : {"UNLIMITED", "INVALID", "NOT_SET", "", "\n"})
    EXPECT_EQ(parseTimeLeft(word), std::nullopt) << word;
}

TEST(TimeLeft, MalformedIsAUsageErrorNamingIt) {
  for (const char* bad : {"abc", "1:2:3:4", "1-", "-1:00", "1:-2", "1-2-3", "1::2", "1:00x",
                          "99999999999999999999"}) {
    try {
      parseTimeLeft(bad);
      ADD_FAILURE() << "accepted " << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::Usage);
      EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
    }
  }
}

TEST(TimeLeft, CaptureCommandReturnsStdoutOfASuccess) {
  EXPECT_EQ(captureCommand({"sh", "-c", "echo 3:04; echo noise >&2"}, 10), "3:04\n");
  EXPECT_EQ(captureCommand({"sh", "-c", "echo 1:00; exit 1"}, 10), std::nullopt);
  EXPECT_EQ(captureCommand({"rdzv-no-such-command-here"}, 10), std::nullopt);
  EXPECT_EQ(captureCommand({}, 10), std::nullopt);
}

TEST(TimeLeft, RunCommandKeepsTheOutputOfAFailure) {
  auto r = runCommand({"sh", "-c", "echo inactive; exit 3"}, 10);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_EQ(r->out, "inactive\n");
  EXPECT_FALSE(runCommand({"rdzv-no-such-command-here"}, 10).has_value());
  EXPECT_FALSE(runCommand({"sleep", "30"}, 0.3).has_value());
}

TEST(TimeLeft, CaptureCommandKillsWhatOverstays) {
  auto start = Clock::now();
  EXPECT_EQ(captureCommand({"sleep", "30"}, 0.3), std::nullopt);
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - start).count(), 5);
}

TEST(TimeLeft, SlurmTimeLeftIsQuietWithoutAnAnswer) {
  // No such job (or no squeue, or no controller): no figure, no error.
  EXPECT_EQ(slurmTimeLeft("999999999", 5), std::nullopt);
}

TEST(TimeLeft, FormatsDurations) {
  EXPECT_EQ(formatDuration(12.4), "12 s");
  EXPECT_EQ(formatDuration(184), "3 min 04 s");
  EXPECT_EQ(formatDuration(7500), "2 h 05 min");
  EXPECT_EQ(formatDuration(-3), "0 s");
}

}  // namespace
}  // namespace rdzv
