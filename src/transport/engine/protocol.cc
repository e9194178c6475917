#include "transport/engine/protocol.h"

#include <fmt/format.h>

#include "lib/error.h"
#include "lib/size.h"

namespace rdzv::transport::engine {

Path choosePath(const ProtocolParams& p, std::uint64_t length) {
  if (length <= p.inject_size) return Path::Inline;
  if (length <= p.switchPoint()) return Path::Eager;
  return Path::Rendezvous;
}

std::uint64_t firstFrameBytes(const ProtocolParams& p, std::uint64_t length) {
  return choosePath(p, length) == Path::Rendezvous ? p.rdzv_eager_size : length;
}

void validate(const ProtocolParams& p) {
  const auto T = p.rdzv_threshold, G = p.rdzv_get_min, E = p.rdzv_eager_size;
  if (p.inject_size > 4096)
    throwUsage(fmt::format("--inject-size {} is too large", p.inject_size),
               "the CXI inject (IDC) size is 192; use at most 4096");
  if (T < p.inject_size)
    throwUsage(fmt::format("--rdzv-threshold {} is below the inject size {}", T, p.inject_size),
               fmt::format("the CXI provider would raise it to {} (\"Increased rdzv_threshold "
                           "size\"); ask for {} or more",
                           p.inject_size, p.inject_size));
  if (E > T)
    throwUsage(fmt::format("--rdzv-eager-size {} exceeds --rdzv-threshold {}", E, T),
               fmt::format("the CXI provider would clamp the eager size to {} (\"Invalid "
                           "rdzv_eager_size\"); use at most the threshold",
                           T));
  if (p.oflow_buf_count < 1)
    throwUsage("--oflow-buf-count 0 leaves no overflow space", "use 1 or more");
  if (T > p.oflow_buf_size)
    throwUsage(fmt::format("--rdzv-threshold {} exceeds --oflow-buf-size {}", T, p.oflow_buf_size),
               "the CXI provider would reset the threshold to its compiled default (16384, "
               "\"Invalid rdzv_threshold\"); raise --oflow-buf-size to at least threshold + "
               "get-min");
  if (T + G > p.oflow_buf_size)
    throwUsage(fmt::format("--rdzv-threshold {} + --rdzv-get-min {} exceeds --oflow-buf-size {}", T,
                           G, p.oflow_buf_size),
               "the CXI provider would set rdzv_get_min to 0 (\"Invalid rdzv_get_min\"); raise "
               "--oflow-buf-size or lower the threshold or get-min");
}

const char* protoName(RdzvProto proto) {
  return proto == RdzvProto::Default ? "default" : "alt_read";
}

RdzvProto parseProto(const std::string& text) {
  if (text == "default") return RdzvProto::Default;
  if (text == "alt_read" || text == "alt-read") return RdzvProto::AltRead;
  throwUsage(fmt::format("unknown --rdzv-proto \"{}\"", text), "use default or alt_read");
}

std::map<std::string, std::string> describe(const ProtocolParams& p) {
  return {{"inject_size", formatSize(p.inject_size)},
          {"rdzv_threshold", formatSize(p.rdzv_threshold)},
          {"rdzv_get_min", formatSize(p.rdzv_get_min)},
          {"rdzv_eager_size", formatSize(p.rdzv_eager_size)},
          {"rdzv_proto", protoName(p.rdzv_proto)},
          {"oflow_buf_size", formatSize(p.oflow_buf_size)},
          {"oflow_buf_count", std::to_string(p.oflow_buf_count)}};
}

}  // namespace rdzv::transport::engine
