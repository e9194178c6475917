#pragma once
// Receive matching of the protocol engine, for the transports that match in software (tcp,
// ibverbs, ofi engine): per peer, the receives posted and the arrivals nobody had posted a receive
// for. A receive takes the oldest arrival with its tag, else waits; a first frame takes the oldest
// posted receive with its tag, else becomes an unexpected arrival whose carried bytes go to
// overflow space. An unexpected arrival whose frames are still coming when its receive is
// posted is claimed, and delivered when its last byte is in. A transport whose first frames
// arrive whole (ofi) calls arrived() right after arrive() and copying the bytes: never claimed.
//
// The transport keeps what differs: how frames are read, how a Get is issued and how a
// buffer completes. It passes a `deliver(header, op)` callable (a lambda, inlined) that runs
// once the carried bytes of an unexpected arrival are in the receive's memory: a message
// then completes; for a rendezvous the Get is issued by software whatever the protocol
// (cxi-reference.md §2.2).
//
// Op needs `data`, `capacity` and `tag`; Header (the transport's first frame, kept whole
// with an unexpected arrival) needs `tag` and `length` (the whole message).

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <deque>
#include <iterator>
#include <list>

#include "transport/engine/overflow.h"

namespace rdzv::transport::engine {

// "rank P sent N bytes with tag T, but the receive holds only C", as a runtime error.
[[noreturn]] void throwTooLong(int peer, std::uint64_t length, std::uint64_t tag,
                               std::uint64_t capacity);

template <typename Op, typename Header>
class Matcher {
 public:
  struct Unexpected {
    Header header{};
    OverflowPool::Slot slot;  // the carried bytes
    bool complete = false;    // all carried bytes are in the slot
    bool claimed = false;     // a receive waits for the rest of its bytes
    Op claim{};
  };
  using Arrival = typename std::list<Unexpected>::iterator;

  // Where a first frame's carried bytes go.
  struct Sink {
    bool matched = false;
    Op op{};               // the posted receive, when matched
    Arrival unexpected{};  // the new unexpected arrival, otherwise
    std::uint8_t* dst = nullptr;
  };

  // A receive posted for messages from `peer`: delivered at once from a complete unexpected
  // arrival, claimed from one still arriving, or queued. Throws when the arrival is longer
  // than the receive.
  template <typename Deliver>
  void post(const Op& op, int peer, EngineState& engine, Deliver&& deliver) {
    for (auto it = unexpected_.begin(); it != unexpected_.end(); ++it) {
      if (it->claimed || it->header.tag != op.tag) continue;
      if (it->header.length > op.capacity)
        throwTooLong(peer, it->header.length, op.tag, op.capacity);
      if (!it->complete) {
        it->claimed = true;
        it->claim = op;
      } else {
        deliverUnexpected(it, op, engine, deliver);
      }
      return;
    }
    posted_.push_back(op);
  }

  // The first frame of a message from `peer`, carrying `carried` bytes: matched with the
  // oldest posted receive of its tag (throws when the message is longer than it), or kept
  // as an unexpected arrival in overflow space.
  Sink arrive(const Header& h, std::uint64_t carried, int peer, EngineState& engine) {
    Sink sink;
    auto match =
        std::find_if(posted_.begin(), posted_.end(), [&](const Op& op) { return op.tag == h.tag; });
    if (match != posted_.end()) {
      if (h.length > match->capacity) throwTooLong(peer, h.length, h.tag, match->capacity);
      sink.matched = true;
      sink.op = *match;
      sink.dst = match->data;
      posted_.erase(match);
      return sink;
    }
    ++engine.counters.unexpected;
    auto slot = engine.overflow->allocate(carried);
    unexpected_.push_back(Unexpected{h, slot});
    sink.unexpected = std::prev(unexpected_.end());
    sink.dst = slot.data;
    return sink;
  }

  // The carried bytes of unexpected arrival `it` are all in: delivered if claimed.
  template <typename Deliver>
  void arrived(Arrival it, EngineState& engine, Deliver&& deliver) {
    it->complete = true;
    if (it->claimed) deliverUnexpected(it, it->claim, engine, deliver);
  }

  bool hasPosted() const { return !posted_.empty(); }
  std::size_t postedCount() const { return posted_.size(); }
  std::size_t unexpectedCount() const { return unexpected_.size(); }

 private:
  template <typename Deliver>
  void deliverUnexpected(Arrival it, const Op& op, EngineState& engine, Deliver& deliver) {
    if (it->slot.length > 0) std::memcpy(op.data, it->slot.data, it->slot.length);
    engine.counters.overflow_bytes_copied += it->slot.length;
    engine.overflow->release(it->slot);
    deliver(static_cast<const Header&>(it->header), op);
    unexpected_.erase(it);
  }

  std::deque<Op> posted_;
  std::list<Unexpected> unexpected_;
};

}  // namespace rdzv::transport::engine
