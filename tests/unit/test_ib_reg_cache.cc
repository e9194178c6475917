// The ibverbs registration cache with a registrar that only counts: sharing among buffers
// over the same pages, page rounding, and deregistration when the last holder lets go.

#ifdef RDZV_HAVE_IBVERBS

#include <gtest/gtest.h>

#include <vector>

#include "lib/error.h"
#include "transport/ibverbs/reg_cache.h"

namespace rdzv::transport::ibverbs {
namespace {

struct Log {
  std::vector<std::pair<std::uintptr_t, std::size_t>> registered;
  int deregistered = 0;
};

RegistrationCache makeCache(Log& log, std::size_t page = 4096) {
  return RegistrationCache(
      [&log](std::uintptr_t begin, std::size_t length) {
        log.registered.emplace_back(begin, length);
        auto key = static_cast<std::uint32_t>(log.registered.size());
        return RegistrationCache::Registration{
            key, key + 1000, std::shared_ptr<void>(nullptr, [&log](void*) { ++log.deregistered; })};
      },
      page);
}

auto at(std::uintptr_t address) { return reinterpret_cast<const void*>(address); }

TEST(IbRegCache, RoundsToPagesAndSharesCoveredRanges) {
  Log log;
  auto cache = makeCache(log);
  const auto& a = cache.acquire(at(0x10010), 0x2000);
  ASSERT_EQ(log.registered.size(), 1u);
  EXPECT_EQ(log.registered[0].first, 0x10000u);
  EXPECT_EQ(log.registered[0].second, 0x3000u);  // 0x10000 .. 0x13000
  EXPECT_EQ(a.lkey, 1u);
  EXPECT_EQ(a.rkey, 1001u);
  // Another buffer inside the same pages: no new registration.
  const auto& b = cache.acquire(at(0x12000), 0x1000);
  EXPECT_EQ(&a, &b);
  EXPECT_EQ(log.registered.size(), 1u);
  EXPECT_EQ(cache.hits(), 1u);
  EXPECT_EQ(a.holders, 2u);
  EXPECT_EQ(cache.bytesRegistered(), 0x3000u);
}

TEST(IbRegCache, RangesNotCoveredGetTheirOwn) {
  Log log;
  auto cache = makeCache(log);
  const auto& a = cache.acquire(at(0x10000), 0x1000);
  const auto& b = cache.acquire(at(0x10800), 0x1000);  // overlaps a, but runs past it
  EXPECT_NE(&a, &b);
  EXPECT_EQ(log.registered.size(), 2u);
  EXPECT_EQ(log.registered[1].first, 0x10000u);
  EXPECT_EQ(log.registered[1].second, 0x2000u);
  EXPECT_EQ(cache.regions(), 2u);
  EXPECT_EQ(cache.registrations(), 2u);
  EXPECT_EQ(cache.peakBytesRegistered(), 0x3000u);
}

TEST(IbRegCache, LastHolderDeregisters) {
  Log log;
  auto cache = makeCache(log);
  const auto& a = cache.acquire(at(0x20000), 100);
  const auto& b = cache.acquire(at(0x20000), 100);
  cache.release(a);
  EXPECT_EQ(log.deregistered, 0);
  cache.release(b);
  EXPECT_EQ(log.deregistered, 1);
  EXPECT_EQ(cache.regions(), 0u);
  EXPECT_EQ(cache.bytesRegistered(), 0u);
  // Memory at the same address later is registered afresh, never served by a stale entry.
  cache.acquire(at(0x20000), 100);
  EXPECT_EQ(log.registered.size(), 2u);
  EXPECT_EQ(cache.peakBytesRegistered(), 4096u);
}

TEST(IbRegCache, ReferencesStayValidWhileOthersComeAndGo) {
  Log log;
  auto cache = makeCache(log);
  const auto& a = cache.acquire(at(0x30000), 10);
  for (int i = 0; i < 50; ++i) {
    const auto& other = cache.acquire(at(0x100000 + 0x10000 * i), 10);
    if (i % 2) cache.release(other);
  }
  EXPECT_EQ(a.begin, 0x30000u);
  EXPECT_EQ(a.lkey, 1u);
  cache.release(a);
  EXPECT_EQ(cache.regions(), 25u);
}

TEST(IbRegCache, FailuresPropagateAndLeaveNothing) {
  RegistrationCache cache(
      [](std::uintptr_t, std::size_t) -> RegistrationCache::Registration {
        throwRuntime("ibv_reg_mr of 4096 bytes failed: Cannot allocate memory (mlx5_0 port 1)");
      },
      4096);
  EXPECT_THROW(cache.acquire(at(0x1000), 1), Error);
  EXPECT_EQ(cache.regions(), 0u);
  EXPECT_EQ(cache.bytesRegistered(), 0u);
}

TEST(IbRegCache, EmptyRangesAndForeignReleasesAreErrors) {
  Log log;
  auto cache = makeCache(log);
  EXPECT_THROW(cache.acquire(at(0x1000), 0), Error);
  RegistrationCache::Region foreign;
  EXPECT_THROW(cache.release(foreign), Error);
}

}  // namespace
}  // namespace rdzv::transport::ibverbs

#endif  // RDZV_HAVE_IBVERBS
