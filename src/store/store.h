#pragma once
// The key/value store ranks rendezvous through. Keys are strings, values are bytes.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "lib/clock.h"

namespace rdzv::store {

using Bytes = std::vector<std::uint8_t>;

class Store {
 public:
  virtual ~Store() = default;
  virtual void set(const std::string& key, const Bytes& value) = 0;
  // Waits until `key` exists, then returns its value; throws Runtime naming the key on expiry.
  virtual Bytes get(const std::string& key, Deadline deadline) = 0;
  // Waits until every key exists; on expiry throws Runtime naming the keys still missing.
  virtual void wait(const std::vector<std::string>& keys, Deadline deadline) = 0;
  // True when every key exists, without waiting.
  virtual bool check(const std::vector<std::string>& keys) = 0;
  // Atomically adds `delta` to a counter (created at 0) and returns the new value.
  virtual std::int64_t add(const std::string& key, std::int64_t delta) = 0;
  // Removes `key`; returns whether it existed.
  virtual bool remove(const std::string& key) = 0;
  // Removes every key that starts with `prefix` and returns how many it removed; a run calls it
  // at its end so that a shared store keeps nothing of it. Stores whose data ends with the run
  // (tcp, hash) keep this default, which removes nothing.
  virtual std::size_t removePrefix(const std::string& prefix) {
    (void)prefix;
    return 0;
  }
  // Where this store lives, for error messages ("tcp://127.0.0.1:4000").
  virtual std::string describe() const = 0;
};

inline Bytes toBytes(const std::string& s) { return Bytes(s.begin(), s.end()); }
inline std::string toString(const Bytes& b) { return std::string(b.begin(), b.end()); }

}  // namespace rdzv::store
