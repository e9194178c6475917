#pragma once
// Scopes every key of another store under "<prefix>/", so concurrent runs sharing one store never
// see each other's keys.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "store/store.h"

namespace rdzv::store {

class PrefixStore final : public Store {
 public:
  // `inner` must outlive this store. Throws Usage for an empty prefix.
  PrefixStore(Store& inner, std::string prefix);
  // Owns `inner`, for a store that is handed around as one unique_ptr.
  PrefixStore(std::unique_ptr<Store> inner, std::string prefix);

  void set(const std::string& key, const Bytes& value) override;
  Bytes get(const std::string& key, Deadline deadline) override;
  void wait(const std::vector<std::string>& keys, Deadline deadline) override;
  bool check(const std::vector<std::string>& keys) override;
  std::int64_t add(const std::string& key, std::int64_t delta) override;
  bool remove(const std::string& key) override;
  // Removes the keys under "<prefix>/<prefix argument>" in the inner store.
  std::size_t removePrefix(const std::string& prefix) override;
  // The inner store with the prefix as a query, as in a store URI: "tcp://h:4000?prefix=run1".
  std::string describe() const override;

  const std::string& prefix() const { return prefix_; }

 private:
  std::string scoped(const std::string& key) const { return prefix_ + "/" + key; }
  std::vector<std::string> scoped(const std::vector<std::string>& keys) const;

  std::unique_ptr<Store> owned_;
  Store& inner_;
  std::string prefix_;
};

}  // namespace rdzv::store
