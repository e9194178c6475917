#include "transport/ibverbs/frames.h"

#include <algorithm>

namespace rdzv::transport::ibverbs {

std::uint64_t frameCount(std::uint64_t carried, std::size_t capacity) {
  return carried == 0 ? 1 : (carried + capacity - 1) / capacity;
}

std::uint32_t frameBytes(std::uint64_t carried, std::uint64_t index, std::size_t capacity) {
  std::uint64_t start = index * capacity;
  if (start >= carried) return 0;
  return static_cast<std::uint32_t>(std::min<std::uint64_t>(capacity, carried - start));
}

std::uint64_t readCount(std::uint64_t length, std::uint64_t eager, std::uint64_t max_read) {
  if (length <= eager) return 0;
  return (length - eager + max_read - 1) / max_read;
}

ReadChunk readChunk(std::uint64_t length, std::uint64_t eager, std::uint64_t max_read,
                    std::uint64_t index) {
  std::uint64_t offset = eager + index * max_read;
  return {offset, std::min(max_read, length - offset)};
}

GetTiming getTiming(engine::RdzvProto proto) {
  return proto == engine::RdzvProto::AltRead ? GetTiming::AfterFrames : GetTiming::AtMatch;
}

FrameKind completionFrame(bool alt_read) { return alt_read ? kDone : kReadDone; }

bool fitsInline(std::uint64_t payload, std::uint32_t max_inline) {
  return sizeof(Frame) + payload <= max_inline;
}

}  // namespace rdzv::transport::ibverbs
