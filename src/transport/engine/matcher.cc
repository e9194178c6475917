#include "transport/engine/matcher.h"

#include <fmt/format.h>

#include "lib/error.h"

namespace rdzv::transport::engine {

void throwTooLong(int peer, std::uint64_t length, std::uint64_t tag, std::uint64_t capacity) {
  throwRuntime(fmt::format("rank {} sent {} bytes with tag {}, but the receive holds only {}", peer,
                           length, tag, capacity));
}

}  // namespace rdzv::transport::engine
