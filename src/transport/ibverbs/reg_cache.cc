#include "transport/ibverbs/reg_cache.h"

#include <algorithm>

#include "lib/error.h"

namespace rdzv::transport::ibverbs {

RegistrationCache::RegistrationCache(Registrar registrar, std::size_t page)
    : registrar_(std::move(registrar)), page_(page ? page : 1) {}

const RegistrationCache::Region& RegistrationCache::acquire(const void* ptr, std::size_t length) {
  if (length == 0) throwRuntime("registration of an empty range");
  auto begin = reinterpret_cast<std::uintptr_t>(ptr);
  auto end = begin + length;
  for (auto& r : regions_)
    if (r.begin <= begin && end <= r.begin + r.length) {
      ++r.holders;
      ++hits_;
      return r;
    }
  auto first = begin / page_ * page_;
  auto last = (end + page_ - 1) / page_ * page_;
  auto made = registrar_(first, last - first);
  regions_.push_back(Region{first, last - first, made.lkey, made.rkey, 1, std::move(made.owner)});
  ++registrations_;
  bytes_ += last - first;
  peak_ = std::max(peak_, bytes_);
  return regions_.back();
}

void RegistrationCache::release(const Region& region) {
  auto it = std::find_if(regions_.begin(), regions_.end(),
                         [&](const Region& r) { return &r == &region; });
  if (it == regions_.end()) throwRuntime("release of a registration this cache does not hold");
  if (--it->holders > 0) return;
  bytes_ -= it->length;
  regions_.erase(it);  // drops the owner: deregisters
}

}  // namespace rdzv::transport::ibverbs
