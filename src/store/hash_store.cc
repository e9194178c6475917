#include "store/hash_store.h"

#include <fmt/format.h>

#include <charconv>
#include <limits>

#include "lib/error.h"

namespace rdzv::store {

namespace detail {

void throwWaitExpired(const std::string& where, const std::vector<std::string>& missing,
                      std::chrono::nanoseconds waited) {
  // A thousand-rank job can miss hundreds of keys; the first few say enough.
  constexpr std::size_t kShown = 8;
  std::string list;
  for (std::size_t i = 0; i < missing.size() && i < kShown; ++i) {
    if (i > 0) list += ", ";
    list += missing[i];
  }
  if (missing.size() > kShown) list += fmt::format(" and {} more", missing.size() - kShown);
  throwRuntime(fmt::format("store {}: timed out after {:.1f}s waiting for {} {}", where,
                           std::chrono::duration<double>(waited).count(),
                           missing.size() == 1 ? "key" : "keys", list),
               "the rank that sets it did not start or failed; check its output, or raise "
               "--timeout");
}

Bytes encodeCounter(std::int64_t value) { return toBytes(std::to_string(value)); }

std::int64_t decodeCounter(const std::string& where, const std::string& key, const Bytes& value) {
  std::int64_t out = 0;
  const char* begin = reinterpret_cast<const char*>(value.data());
  const char* end = begin + value.size();
  auto [ptr, ec] = std::from_chars(begin, end, out);
  if (value.empty() || ec != std::errc() || ptr != end) {
    throwRuntime(fmt::format("store {}: key {} holds a value that is not a counter", where, key),
                 "use a key for add() that set() never writes");
  }
  return out;
}

std::int64_t addCounter(const std::string& where, const std::string& key, std::int64_t value,
                        std::int64_t delta) {
  std::int64_t out = 0;
  if (__builtin_add_overflow(value, delta, &out)) {
    throwRuntime(fmt::format("store {}: counter {} overflows ({} + {})", where, key, value, delta),
                 "remove the counter or use a fresh run prefix");
  }
  return out;
}

}  // namespace detail

void HashStore::set(const std::string& key, const Bytes& value) {
  {
    std::lock_guard lock(mu_);
    data_[key] = value;
  }
  changed_.notify_all();
}

Bytes HashStore::get(const std::string& key, Deadline deadline) {
  const auto start = Clock::now();
  std::unique_lock lock(mu_);
  if (!changed_.wait_until(lock, deadline.at(), [&] { return data_.contains(key); })) {
    detail::throwWaitExpired(describe(), {key}, Clock::now() - start);
  }
  return data_.at(key);
}

void HashStore::wait(const std::vector<std::string>& keys, Deadline deadline) {
  const auto start = Clock::now();
  std::unique_lock lock(mu_);
  if (!changed_.wait_until(lock, deadline.at(), [&] { return missingLocked(keys).empty(); })) {
    detail::throwWaitExpired(describe(), missingLocked(keys), Clock::now() - start);
  }
}

bool HashStore::check(const std::vector<std::string>& keys) {
  std::lock_guard lock(mu_);
  return missingLocked(keys).empty();
}

std::int64_t HashStore::add(const std::string& key, std::int64_t delta) {
  std::int64_t value = 0;
  {
    std::lock_guard lock(mu_);
    auto it = data_.find(key);
    std::int64_t old = it == data_.end() ? 0 : detail::decodeCounter(describe(), key, it->second);
    value = detail::addCounter(describe(), key, old, delta);
    data_[key] = detail::encodeCounter(value);
  }
  changed_.notify_all();
  return value;
}

bool HashStore::remove(const std::string& key) {
  std::lock_guard lock(mu_);
  return data_.erase(key) > 0;
}

std::vector<std::string> HashStore::missingLocked(const std::vector<std::string>& keys) const {
  std::vector<std::string> missing;
  for (const auto& key : keys) {
    if (!data_.contains(key)) missing.push_back(key);
  }
  return missing;
}

}  // namespace rdzv::store
