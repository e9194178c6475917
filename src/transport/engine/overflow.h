#pragma once
// Overflow space: where the payload of unexpected messages waits for its receive. Like the
// CXI provider's overflow buffers, it is a set of fixed-size buffers filled front to back;
// a buffer is reused once every message in it has been copied out, and more buffers are
// allocated when all are busy (the pool grows without bound, as the provider's does).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "transport/engine/protocol.h"

namespace rdzv::transport::engine {

class OverflowPool {
 public:
  // Buffers are allocated on first use; `posted` is the count the provider keeps posted and
  // only matters for reporting growth beyond it.
  OverflowPool(std::size_t buffer_size, std::size_t posted);

  struct Slot {
    std::uint8_t* data = nullptr;
    std::size_t length = 0;
    std::size_t buffer = 0;  // which buffer holds it
  };
  // Space for `length` bytes (at most buffer_size).
  Slot allocate(std::size_t length);
  // The message in `slot` has been copied out.
  void release(const Slot& slot);

  std::size_t bufferSize() const { return buffer_size_; }
  std::uint64_t bytesInUse() const { return in_use_; }
  std::uint64_t peakBytesInUse() const { return peak_; }
  std::size_t buffersAllocated() const { return buffers_.size(); }
  // Buffers allocated beyond the posted count: the growth a sweep should notice.
  std::size_t buffersBeyondPosted() const {
    return buffers_.size() > posted_ ? buffers_.size() - posted_ : 0;
  }

 private:
  struct Buffer {
    std::unique_ptr<std::uint8_t[]> memory;
    std::size_t used = 0;      // bytes handed out since the buffer was last empty
    std::size_t messages = 0;  // messages not yet released
  };
  std::size_t buffer_size_;
  std::size_t posted_;
  std::vector<Buffer> buffers_;
  std::size_t current_ = 0;
  std::uint64_t in_use_ = 0;
  std::uint64_t peak_ = 0;
};

// What the engine did, for the report: the evidence of which path each message took.
struct EngineCounters {
  std::uint64_t inline_sent = 0;
  std::uint64_t eager_sent = 0;
  std::uint64_t rendezvous_sent = 0;
  std::uint64_t unexpected = 0;             // first frames that arrived before their receive
  std::uint64_t overflow_bytes_copied = 0;  // copied out of overflow space into receives
  std::uint64_t gets = 0;                   // rendezvous pulls issued
  std::uint64_t done_sent = 0;              // alt_read "done" notifications
  std::uint64_t peak_overflow_bytes = 0;
};

// What a transport running the engine keeps: the parameters in force, the overflow space
// they size, and what the engine did with them.
struct EngineState {
  ProtocolParams params;
  std::unique_ptr<OverflowPool> overflow;
  EngineCounters counters;

  // Validates `p` and applies it with a fresh overflow pool; refused while messages are in
  // flight (`in_flight`, or unexpected data still waiting).
  void apply(const ProtocolParams& p, bool in_flight);
  // The counters, with the overflow pool's peak.
  EngineCounters snapshot() const;
};

}  // namespace rdzv::transport::engine
