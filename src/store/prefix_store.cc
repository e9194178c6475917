#include "store/prefix_store.h"

#include "lib/error.h"

namespace rdzv::store {

PrefixStore::PrefixStore(Store& inner, std::string prefix)
    : inner_(inner), prefix_(std::move(prefix)) {
  if (prefix_.empty()) {
    throwUsage("store " + inner_.describe() + ": empty key prefix", "give a prefix such as run1");
  }
}

PrefixStore::PrefixStore(std::unique_ptr<Store> inner, std::string prefix)
    : PrefixStore(*inner, std::move(prefix)) {
  owned_ = std::move(inner);
}

std::vector<std::string> PrefixStore::scoped(const std::vector<std::string>& keys) const {
  std::vector<std::string> out;
  out.reserve(keys.size());
  for (const auto& key : keys) out.push_back(scoped(key));
  return out;
}

void PrefixStore::set(const std::string& key, const Bytes& value) {
  inner_.set(scoped(key), value);
}

Bytes PrefixStore::get(const std::string& key, Deadline deadline) {
  return inner_.get(scoped(key), deadline);
}

void PrefixStore::wait(const std::vector<std::string>& keys, Deadline deadline) {
  inner_.wait(scoped(keys), deadline);
}

bool PrefixStore::check(const std::vector<std::string>& keys) { return inner_.check(scoped(keys)); }

std::int64_t PrefixStore::add(const std::string& key, std::int64_t delta) {
  return inner_.add(scoped(key), delta);
}

bool PrefixStore::remove(const std::string& key) { return inner_.remove(scoped(key)); }

std::size_t PrefixStore::removePrefix(const std::string& prefix) {
  return inner_.removePrefix(scoped(prefix));
}

std::string PrefixStore::describe() const {
  // A prefix inside a prefix (a URI's ?prefix= and then the run's) reads as one longer prefix.
  auto inner = inner_.describe();
  if (inner.find("?prefix=") != std::string::npos) return inner + "/" + prefix_;
  return inner + "?prefix=" + prefix_;
}

}  // namespace rdzv::store
