#pragma once
// The protocol engine's rules: which path a message takes (inline, eager, rendezvous) and
// how many bytes travel with its first frame. They mirror the CXI provider (see
// docs/cxi-reference.md §2.1), with parameters named after its FI_CXI_* variables, so a
// sweep means the same on every transport.

#include <cstdint>
#include <map>
#include <string>

namespace rdzv::transport::engine {

enum class RdzvProto {
  Default,  // the Get is issued as soon as the first frame matches; the sender completes
            // when its data has been pulled
  AltRead,  // the Get is issued when the receive is processed; the receiver then sends a
            // zero-byte "done" on which the sender completes
};

struct ProtocolParams {
  std::uint64_t inject_size = 192;       // up to this, the payload travels inline
  std::uint64_t rdzv_threshold = 16384;  // T
  std::uint64_t rdzv_get_min = 2049;     // G: up to T + G bytes go eager
  std::uint64_t rdzv_eager_size = 2048;  // E: payload carried by the first rendezvous frame
  RdzvProto rdzv_proto = RdzvProto::Default;
  std::uint64_t oflow_buf_size = 12u << 20;  // each overflow buffer, for unexpected data
  std::uint64_t oflow_buf_count = 3;         // overflow buffers kept posted

  // The largest message that still goes eager: T + G.
  std::uint64_t switchPoint() const { return rdzv_threshold + rdzv_get_min; }
  bool operator==(const ProtocolParams&) const = default;
};

enum class Path { Inline, Eager, Rendezvous };

// The provider's decision (hpc.c _cxip_send_req): 0 bytes and up to inject_size inline,
// up to T + G eager, above that rendezvous.
Path choosePath(const ProtocolParams& params, std::uint64_t length);
// Payload bytes carried by the first frame: all of it, except E for a rendezvous.
std::uint64_t firstFrameBytes(const ProtocolParams& params, std::uint64_t length);

// Refuses, with a Usage error, every combination the CXI provider would silently clamp or
// reset, saying what the provider would have done instead.
void validate(const ProtocolParams& params);

const char* protoName(RdzvProto proto);
// "default" or "alt_read" ("alt-read" accepted, as the provider does); Usage error otherwise.
RdzvProto parseProto(const std::string& text);
// The parameters as report/table labels: {"rdzv_threshold": "16K", ...}.
std::map<std::string, std::string> describe(const ProtocolParams& params);

}  // namespace rdzv::transport::engine
