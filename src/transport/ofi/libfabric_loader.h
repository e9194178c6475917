#pragma once
// libfabric is opened on first use (dlopen of its soname), not linked: Debian's libfabric links
// the psm and psm2 provider libraries, whose constructors sleep ~0.2 s to estimate the CPU
// clock, and every rdzvbench process paid that at start (--help, local ranks, tcp runs)
// whether it used libfabric or not. libfabric_loader.cc defines the few functions libfabric
// exports (fi_getinfo, fi_freeinfo, fi_dupinfo, fi_fabric, fi_version, fi_strerror,
// fi_getparams, fi_freeparams) and forwards them to the library; everything else in its API
// goes through the function tables of the objects these return. Without the library they fail
// as libfabric would for a missing feature (-FI_ENOSYS, null), and the two functions below say
// why.

#include <string>

namespace rdzv::transport::ofi {

// Opens libfabric if not done yet (the file RDZV_LIBFABRIC names, else the soname the build
// found); true when it is loaded.
bool libfabricLoaded();
// Why it could not be loaded ("libfabric.so.1: cannot open shared object file: ..."), else "".
std::string libfabricLoadError();
// The file it was loaded from, "" when not loaded.
std::string libraryPath();

}  // namespace rdzv::transport::ofi
