#include "transport/ofi/fid.h"

#include <rdma/fi_domain.h>

#include <fmt/format.h>

#include "lib/error.h"

namespace rdzv::transport::ofi {

void throwFi(const std::string& call, int rc, const std::string& where) {
  throwRuntime(fmt::format("{} failed: {} ({})", call, fi_strerror(rc < 0 ? -rc : rc), where));
}

std::string runtimeVersion() {
  auto v = fi_version();
  return fmt::format("{}.{}", FI_MAJOR(v), FI_MINOR(v));
}

}  // namespace rdzv::transport::ofi
