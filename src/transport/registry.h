#pragma once
// Which transports this binary has, and how to make one by name.

#include <memory>
#include <string>
#include <vector>

#include "transport/transport.h"

namespace rdzv::transport {

struct TransportInfo {
  std::string name;
  bool built = false;
  std::string why;      // why it is not built, or what it needs at run time
  bool engine = false;  // runs rdzvbench's protocol engine (sweeps its parameters)
};

// The entry for `name`; Usage error for an unknown one.
TransportInfo transportInfo(const std::string& name);

// Every transport rdzvbench knows, built or not, in a stable order.
std::vector<TransportInfo> listTransports();
// What `rdzvbench info` adds about a built transport on this host (e.g. the libfabric
// providers found); empty when there is nothing to say. May query libraries: not for hot paths.
std::string hostNotes(const std::string& name);
// Usage error for an unknown name (listing the known ones) or one not built (saying why).
std::unique_ptr<Device> createDevice(const std::string& name, const TransportOptions& options);
// Throws the same errors as createDevice without creating anything: for checking flags early.
void requireTransport(const std::string& name);
// Also checks what can be checked on this host without peers (a libfabric provider exists).
void probeTransport(const std::string& name, const TransportOptions& options);

}  // namespace rdzv::transport
