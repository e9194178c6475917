#include "transport/ofi/libfabric_loader.h"

#include <dlfcn.h>
#include <link.h>
#include <rdma/fabric.h>

#include <cstdlib>
#include <cstring>

namespace rdzv::transport::ofi {
namespace {

struct Library {
  void* handle = nullptr;
  std::string error;
  std::string path;
};

const Library& library() {
  static const Library lib = [] {
    Library l;
    // RDZV_LIBFABRIC picks another build (a vendor's, beside the distribution's) by path.
    const char* chosen = std::getenv("RDZV_LIBFABRIC");
    const std::string file = chosen != nullptr && *chosen != '\0' ? chosen : RDZV_LIBFABRIC_SONAME;
    l.handle = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (l.handle == nullptr) {
      const char* why = dlerror();
      l.error = why != nullptr ? why : file + ": cannot be opened";
      return l;
    }
    link_map* map = nullptr;
    if (dlinfo(l.handle, RTLD_DI_LINKMAP, &map) == 0 && map != nullptr && map->l_name != nullptr)
      l.path = map->l_name;
    return l;
  }();
  return lib;
}

// The library's `name` in the symbol version the build's headers were made for (what the
// linker would have bound: libfabric versions its exports, and a newer library may default to
// a newer ABI), or its default version when the build could not tell; null without the library.
template <typename Fn>
Fn symbol(const char* name, const char* version) {
  static_assert(sizeof(Fn) == sizeof(void*));
  const auto& lib = library();
  if (lib.handle == nullptr) return nullptr;
  void* found = version[0] != '\0' ? dlvsym(lib.handle, name, version) : nullptr;
  if (found == nullptr) found = dlsym(lib.handle, name);
  Fn fn = nullptr;
  std::memcpy(&fn, &found, sizeof fn);
  return fn;
}

}  // namespace

bool libfabricLoaded() { return library().handle != nullptr; }
std::string libfabricLoadError() { return library().error; }
std::string libraryPath() { return library().path; }

}  // namespace rdzv::transport::ofi

using rdzv::transport::ofi::symbol;

// Each resolved once; the versions come from the build (src/transport/CMakeLists.txt).
extern "C" {

int fi_getinfo(uint32_t version, const char* node, const char* service, uint64_t flags,
               const struct fi_info* hints, struct fi_info** info) {
  static const auto fn = symbol<decltype(&fi_getinfo)>("fi_getinfo", RDZV_FI_VERSION_fi_getinfo);
  return fn != nullptr ? fn(version, node, service, flags, hints, info) : -FI_ENOSYS;
}

void fi_freeinfo(struct fi_info* info) {
  static const auto fn = symbol<decltype(&fi_freeinfo)>("fi_freeinfo", RDZV_FI_VERSION_fi_freeinfo);
  if (fn != nullptr) fn(info);
}

struct fi_info* fi_dupinfo(const struct fi_info* info) {
  static const auto fn = symbol<decltype(&fi_dupinfo)>("fi_dupinfo", RDZV_FI_VERSION_fi_dupinfo);
  return fn != nullptr ? fn(info) : nullptr;
}

int fi_fabric(struct fi_fabric_attr* attr, struct fid_fabric** fabric, void* context) {
  static const auto fn = symbol<decltype(&fi_fabric)>("fi_fabric", RDZV_FI_VERSION_fi_fabric);
  return fn != nullptr ? fn(attr, fabric, context) : -FI_ENOSYS;
}

uint32_t fi_version(void) {
  static const auto fn = symbol<decltype(&fi_version)>("fi_version", RDZV_FI_VERSION_fi_version);
  return fn != nullptr ? fn() : 0;
}

const char* fi_strerror(int errnum) {
  static const auto fn = symbol<decltype(&fi_strerror)>("fi_strerror", RDZV_FI_VERSION_fi_strerror);
  if (fn != nullptr) return fn(errnum);
  return errnum == FI_ENOSYS || errnum == -FI_ENOSYS ? "libfabric could not be loaded"
                                                     : std::strerror(errnum < 0 ? -errnum : errnum);
}

int fi_getparams(struct fi_param** params, int* count) {
  static const auto fn =
      symbol<decltype(&fi_getparams)>("fi_getparams", RDZV_FI_VERSION_fi_getparams);
  return fn != nullptr ? fn(params, count) : -FI_ENOSYS;
}

void fi_freeparams(struct fi_param* params) {
  static const auto fn =
      symbol<decltype(&fi_freeparams)>("fi_freeparams", RDZV_FI_VERSION_fi_freeparams);
  if (fn != nullptr) fn(params);
}

}  // extern "C"
