#pragma once
// The ibverbs transport's frames and the protocol engine's decisions in verbs terms, as pure
// functions: how many frames a message's first part takes, how the rest is pulled with RDMA
// READs, and how the sender learns that its data was pulled.
//
// Every two-sided message lands in a pre-posted receive slot of fixed size (header and up to
// frameCapacity() payload bytes), because verbs cannot match tags: the receiver matches in
// software and copies. A first part larger than a slot (an eager message above the slot, or a
// rendezvous eager size E above it) goes as consecutive frames on the peer's queue pair,
// which delivers them in order.

#include <cstddef>
#include <cstdint>

#include "transport/engine/protocol.h"

namespace rdzv::transport::ibverbs {

enum FrameKind : std::uint8_t {
  kMessage = 0,     // inline or eager: `bytes` of the message at `offset`
  kRendezvous = 1,  // first part of a rendezvous: `eager` bytes travel in frames, the rest is
                    // read from `addr`/`rkey`; `id` names the sender's exposure
  kReadDone = 2,    // default protocol: the receiver's READ of exposure `id` has completed
  kDone = 3,        // alt_read: the receiver has pulled exposure `id`
};

inline constexpr std::uint8_t kFlagAltRead = 1;  // on kRendezvous: answer with kDone

struct Frame {
  std::uint8_t kind;
  std::uint8_t flags;
  std::uint16_t reserved;
  std::uint32_t bytes;  // payload bytes in this frame
  std::uint64_t tag;
  std::uint64_t length;  // the whole message
  std::uint64_t offset;  // of this frame's payload in the message
  std::uint64_t id;
  std::uint64_t addr;  // kRendezvous: the sender's buffer
  std::uint32_t rkey;
  std::uint32_t reserved2;  // to 64 bytes: payloads stay 8-byte aligned in slots
  std::uint64_t eager;      // kRendezvous: E, the bytes carried by frames
};
static_assert(sizeof(Frame) == 64);

// Receive slots: 32 KiB each, so that the default eager messages (up to T + G = 18433
// bytes) take one frame.
inline constexpr std::size_t kRecvSlotBytes = 32 * 1024;
// Payload bytes one frame carries.
constexpr std::size_t frameCapacity() { return kRecvSlotBytes - sizeof(Frame); }
// Send slots hold a header and an inline payload (inject_size is at most 4096).
inline constexpr std::size_t kSendSlotBytes = sizeof(Frame) + 4096;

// Frames needed for `carried` payload bytes: at least one (a header alone for 0 bytes).
std::uint64_t frameCount(std::uint64_t carried, std::size_t capacity = frameCapacity());
// Payload bytes of frame `index` out of frameCount(carried).
std::uint32_t frameBytes(std::uint64_t carried, std::uint64_t index,
                         std::size_t capacity = frameCapacity());

// RDMA READs that pull bytes [eager, length) of a rendezvous, each at most `max_read` (the
// port's largest message).
std::uint64_t readCount(std::uint64_t length, std::uint64_t eager, std::uint64_t max_read);
struct ReadChunk {
  std::uint64_t offset;
  std::uint64_t length;
};
ReadChunk readChunk(std::uint64_t length, std::uint64_t eager, std::uint64_t max_read,
                    std::uint64_t index);

// When the receiver issues the READ of a rendezvous whose first frame has matched a posted
// receive: default as soon as it matches (as the CXI NIC does), alt_read once the frames
// have been processed. An unexpected rendezvous is pulled when its receive is posted.
enum class GetTiming { AtMatch, AfterFrames };
GetTiming getTiming(engine::RdzvProto proto);

// The frame by which the sender of a rendezvous learns that its buffer has been read: a READ
// is invisible to its target, so under either protocol the receiver sends one once its READs
// have completed. Default: kReadDone, standing in for the completion the CXI NIC raises when
// the Get arrives (counted apart, as details.read_dones); alt_read: kDone, the provider's
// "done" message (counted as done_sent). A send fenced behind the READs would have left the
// receiving process out, but a fence stalls the send queue until every earlier READ is done,
// which serializes the READs of a window of messages.
FrameKind completionFrame(bool alt_read);

// Whether header and payload fit the queue pair's inline data (copied by the CPU at post
// time, no registration).
bool fitsInline(std::uint64_t payload, std::uint32_t max_inline);

}  // namespace rdzv::transport::ibverbs
