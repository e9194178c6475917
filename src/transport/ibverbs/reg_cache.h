#pragma once
// Memory registrations shared by the buffers that use them. A buffer is registered the first
// time a message needs its keys (an eager send from it, either side of a rendezvous), and keeps
// the registration for every later message; buffers over the same pages share one.
//
// A registration lives only as long as a buffer holds it. Keeping it longer would need memory
// hooks: memory freed and mapped again at the same address would match the old entry, whose
// pinned pages are no longer the buffer's, and the NIC would move stale data without an error.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>

namespace rdzv::transport::ibverbs {

class RegistrationCache {
 public:
  // What registering produced: the keys, and an owner whose destruction deregisters.
  struct Registration {
    std::uint32_t lkey = 0;
    std::uint32_t rkey = 0;
    std::shared_ptr<void> owner;
  };
  // Registers [begin, begin + length); throws on failure.
  using Registrar = std::function<Registration(std::uintptr_t begin, std::size_t length)>;

  // A registered range and the number of buffers holding it.
  struct Region {
    std::uintptr_t begin = 0;
    std::size_t length = 0;
    std::uint32_t lkey = 0;
    std::uint32_t rkey = 0;
    std::size_t holders = 0;
    std::shared_ptr<void> owner;
  };

  // `page` rounds registrations out to whole pages, so buffers sharing pages share one.
  RegistrationCache(Registrar registrar, std::size_t page);

  // A region covering [ptr, ptr + length) (length > 0): a held one when one covers it,
  // otherwise a new registration. Stays valid until the matching release.
  const Region& acquire(const void* ptr, std::size_t length);
  // The holder of `region` no longer needs it; the last one deregisters it.
  void release(const Region& region);

  std::uint64_t registrations() const { return registrations_; }  // ever made
  std::uint64_t hits() const { return hits_; }              // acquisitions served by a held region
  std::uint64_t bytesRegistered() const { return bytes_; }  // currently pinned
  std::uint64_t peakBytesRegistered() const { return peak_; }
  std::size_t regions() const { return regions_.size(); }

 private:
  Registrar registrar_;
  std::size_t page_;
  // A few live buffers at a time: a scan is simpler than an interval tree and as fast.
  std::list<Region> regions_;
  std::uint64_t registrations_ = 0;
  std::uint64_t hits_ = 0;
  std::uint64_t bytes_ = 0;
  std::uint64_t peak_ = 0;
};

}  // namespace rdzv::transport::ibverbs
