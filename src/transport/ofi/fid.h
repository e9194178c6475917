#pragma once
// RAII for libfabric objects and one way to report libfabric errors.

#include <rdma/fabric.h>
#include <rdma/fi_errno.h>

#include <memory>
#include <string>

#include "transport/ofi/libfabric_loader.h"

namespace rdzv::transport::ofi {

// Closes any fid-bearing libfabric object (fabric, domain, ep, cq, av, mr).
template <typename T>
struct FidCloser {
  void operator()(T* object) const {
    if (object) fi_close(&object->fid);
  }
};
template <typename T>
using Fid = std::unique_ptr<T, FidCloser<T>>;

struct InfoFree {
  void operator()(fi_info* info) const { fi_freeinfo(info); }
};
using InfoPtr = std::unique_ptr<fi_info, InfoFree>;

// Throws a Runtime error naming the call, fi_strerror of `rc` and `where` (provider and
// endpoint), e.g. "fi_tsend failed: Resource temporarily unavailable (tcp;ofi_rxm on lo)".
[[noreturn]] void throwFi(const std::string& call, int rc, const std::string& where);

// The libfabric runtime version "1.17" (fi_version()); the file is libraryPath()
// (libfabric_loader.h).
std::string runtimeVersion();

}  // namespace rdzv::transport::ofi
