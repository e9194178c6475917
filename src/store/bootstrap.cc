#include "store/bootstrap.h"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "lib/error.h"

namespace rdzv::store {
namespace {

constexpr auto kAbortKey = "abort";

std::string rankKey(const std::string& name, int rank) { return fmt::format("{}/{}", name, rank); }

std::vector<int> allRanks(int size) {
  std::vector<int> ranks(size);
  for (int r = 0; r < size; ++r) ranks[r] = r;
  return ranks;
}

}  // namespace

StoreBootstrap::StoreBootstrap(Store& store, int rank, int size)
    : store_(store), rank_(rank), size_(size) {}

void StoreBootstrap::claimRank(const std::string& hint) {
  if (store_.add(fmt::format("claim/{}", rank_), 1) == 1) return;
  auto what = fmt::format(
      "rank {} of this run is already taken in {}: another job uses the same run id there, or "
      "a failed run with this id left its keys",
      rank_, describe());
  abort(fmt::format("rank {}: {}", rank_, what));
  throwUsage(what, hint);
}

void StoreBootstrap::waitRanks(const std::string& name, const std::vector<int>& ranks,
                               Deadline deadline) {
  std::vector<std::string> keys;
  for (int r : ranks) keys.push_back(rankKey(name, r));
  // Waits in short slices so that a failed rank's abort notice ends the wait early.
  while (true) {
    auto slice = Deadline::after(std::chrono::milliseconds(250));
    auto until = slice.at() < deadline.at() ? slice : deadline;
    try {
      store_.wait(keys, until);
      return;
    } catch (const Error&) {
      if (store_.check({kAbortKey})) {
        auto notice = toString(store_.get(kAbortKey, Deadline::after(std::chrono::seconds(1))));
        throwRuntime(fmt::format("run aborted by {}", notice));
      }
      if (!deadline.expired()) continue;
      std::vector<int> missing;
      for (int r : ranks)
        if (!store_.check({rankKey(name, r)})) missing.push_back(r);
      if (missing.empty()) return;
      throwRuntime(
          fmt::format("timed out waiting for rank{} {} at \"{}\" in {}",
                      missing.size() > 1 ? "s" : "", fmt::join(missing, ", "), name, describe()),
          "those ranks never started, crashed or cannot reach the store; check their "
          "output, or raise --timeout");
    }
  }
}

std::vector<Bytes> StoreBootstrap::allgather(const std::string& name, const Bytes& mine,
                                             Deadline deadline) {
  store_.set(rankKey(name, rank_), mine);
  waitRanks(name, allRanks(size_), deadline);
  std::vector<Bytes> all(size_);
  for (int r = 0; r < size_; ++r) all[r] = store_.get(rankKey(name, r), deadline);
  return all;
}

std::vector<Bytes> StoreBootstrap::gather(const std::string& name, const Bytes& mine,
                                          Deadline deadline) {
  store_.set(rankKey(name, rank_), mine);
  if (rank_ != 0) return {};
  waitRanks(name, allRanks(size_), deadline);
  std::vector<Bytes> all(size_);
  for (int r = 0; r < size_; ++r) {
    all[r] = store_.get(rankKey(name, r), deadline);
    store_.remove(rankKey(name, r));
  }
  return all;
}

void StoreBootstrap::barrier(const std::string& name, Deadline deadline) {
  store_.set(rankKey(name, rank_), {});
  waitRanks(name, allRanks(size_), deadline);
}

Bytes StoreBootstrap::broadcast(const std::string& name, const Bytes& value, Deadline deadline) {
  if (rank_ == 0) {
    store_.set(rankKey(name, 0), value);
    return value;
  }
  waitRanks(name, {0}, deadline);
  return store_.get(rankKey(name, 0), deadline);
}

void StoreBootstrap::abort(const std::string& message) noexcept {
  try {
    // Only the first failure is published: later ones are usually its echoes.
    if (store_.add("abort/count", 1) == 1) store_.set(kAbortKey, toBytes(message));
  } catch (...) {
    // The store may be what failed; the peers then learn it from their own timeouts.
  }
}

std::string StoreBootstrap::abortNotice() noexcept {
  try {
    if (store_.check({kAbortKey}))
      return toString(store_.get(kAbortKey, Deadline::after(std::chrono::seconds(1))));
  } catch (...) {
  }
  return {};
}

std::string StoreBootstrap::describe() const { return "store " + store_.describe(); }

}  // namespace rdzv::store
