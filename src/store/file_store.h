#pragma once
// A store in a directory that every rank can reach (a shared file system), one file per key.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "store/store.h"

namespace rdzv::store {

// Safe for many processes on many hosts at once: a value appears by rename(), so readers see it
// whole or not at all, and counters are updated under flock() on a per-key lock file. File names
// are the keys percent-encoded ("run1/rank/0" -> "k.run1%2Frank%2F0"), so keys may hold any byte.
class FileStore final : public Store {
 public:
  // Creates `dir` (mkdir -p) when missing; throws Runtime naming it when it cannot be written.
  explicit FileStore(std::string dir);

  void set(const std::string& key, const Bytes& value) override;
  Bytes get(const std::string& key, Deadline deadline) override;
  void wait(const std::vector<std::string>& keys, Deadline deadline) override;
  bool check(const std::vector<std::string>& keys) override;
  std::int64_t add(const std::string& key, std::int64_t delta) override;
  bool remove(const std::string& key) override;
  // Deletes the value, lock and stale temporary files of every key starting with `prefix`.
  std::size_t removePrefix(const std::string& prefix) override;
  std::string describe() const override;

  const std::string& dir() const { return dir_; }

 private:
  // Path of the file holding `key` ('k'), or of its lock file ('l').
  std::string pathOf(char kind, const std::string& key) const;
  std::optional<Bytes> tryRead(const std::string& key) const;
  void writeAtomically(const std::string& key, const Bytes& value) const;

  std::string dir_;
};

}  // namespace rdzv::store
