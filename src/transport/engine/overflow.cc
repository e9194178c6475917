#include "transport/engine/overflow.h"

#include <algorithm>

#include "lib/error.h"

namespace rdzv::transport::engine {

OverflowPool::OverflowPool(std::size_t buffer_size, std::size_t posted)
    : buffer_size_(buffer_size), posted_(posted) {}

OverflowPool::Slot OverflowPool::allocate(std::size_t length) {
  if (length > buffer_size_)
    throwRuntime("unexpected message of " + std::to_string(length) +
                 " bytes is larger than an overflow buffer (" + std::to_string(buffer_size_) + ")");
  auto fits = [&](const Buffer& b) { return b.memory && buffer_size_ - b.used >= length; };
  if (buffers_.empty() || !fits(buffers_[current_])) {
    // Move on to an idle buffer (reset) or grow; a partly used busy buffer is not revisited,
    // as the provider unlinks a buffer once it is too full for another message.
    auto idle = std::find_if(buffers_.begin(), buffers_.end(),
                             [](const Buffer& b) { return b.messages == 0; });
    if (idle == buffers_.end()) {
      buffers_.push_back(Buffer{std::make_unique<std::uint8_t[]>(buffer_size_), 0, 0});
      idle = std::prev(buffers_.end());
    }
    idle->used = 0;
    current_ = static_cast<std::size_t>(idle - buffers_.begin());
  }
  Buffer& b = buffers_[current_];
  Slot slot{b.memory.get() + b.used, length, current_};
  b.used += length;
  ++b.messages;
  in_use_ += length;
  peak_ = std::max(peak_, in_use_);
  return slot;
}

void OverflowPool::release(const Slot& slot) {
  Buffer& b = buffers_.at(slot.buffer);
  --b.messages;
  in_use_ -= slot.length;
  if (b.messages == 0 && slot.buffer != current_) b.used = 0;
}

void EngineState::apply(const ProtocolParams& p, bool in_flight) {
  validate(p);
  if (in_flight || (overflow && overflow->bytesInUse() > 0))
    throwRuntime("protocol parameters changed while messages are in flight");
  params = p;
  overflow = std::make_unique<OverflowPool>(p.oflow_buf_size, p.oflow_buf_count);
}

EngineCounters EngineState::snapshot() const {
  auto c = counters;
  c.peak_overflow_bytes = overflow ? overflow->peakBytesInUse() : 0;
  return c;
}

}  // namespace rdzv::transport::engine
