#pragma once
// An in-process store for tests that run ranks as threads.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "store/store.h"

namespace rdzv::store {

class HashStore final : public Store {
 public:
  HashStore() = default;
  HashStore(const HashStore&) = delete;
  HashStore& operator=(const HashStore&) = delete;

  void set(const std::string& key, const Bytes& value) override;
  Bytes get(const std::string& key, Deadline deadline) override;
  void wait(const std::vector<std::string>& keys, Deadline deadline) override;
  bool check(const std::vector<std::string>& keys) override;
  std::int64_t add(const std::string& key, std::int64_t delta) override;
  bool remove(const std::string& key) override;
  std::string describe() const override { return "hash:"; }

 private:
  std::vector<std::string> missingLocked(const std::vector<std::string>& keys) const;

  mutable std::mutex mu_;
  std::condition_variable changed_;
  std::unordered_map<std::string, Bytes> data_;
};

// Helpers shared by the Store implementations, so that every store words its errors alike and
// keeps counters in the same format.
namespace detail {

// Throws the Runtime error for a wait that expired: names the store, how long it waited and the
// keys still missing.
[[noreturn]] void throwWaitExpired(const std::string& where,
                                   const std::vector<std::string>& missing,
                                   std::chrono::nanoseconds waited);

// Counters are stored as decimal text, so that get() on a counter reads naturally.
Bytes encodeCounter(std::int64_t value);
// Throws Runtime naming the key when `value` is not a counter written by add().
std::int64_t decodeCounter(const std::string& where, const std::string& key, const Bytes& value);
// Adds without signed overflow (undefined behaviour); throws Runtime naming the key instead.
std::int64_t addCounter(const std::string& where, const std::string& key, std::int64_t value,
                        std::int64_t delta);

}  // namespace detail
}  // namespace rdzv::store
