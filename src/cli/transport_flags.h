#pragma once
// The flags that configure the transports themselves, shared by every subcommand that measures
// (`run`, `survey`): progress, socket buffers, the libfabric provider, the RDMA device.

#include <string>

#include <CLI/CLI.hpp>

#include "cli/launch.h"
#include "transport/transport.h"

namespace rdzv::cli {

struct TransportFlags {
  std::string progress = "poll";  // poll or epoll
  std::string socket_buffer = "0";
  std::string provider;
  std::string ofi_mode = "native";
  std::string sysfs_root = "/sys";
  std::string ib_device;
  int ib_port = 1;
  int gid_index = -1;
};

// Registers --progress, --socket-buffer, --provider, --ofi-mode, --sysfs-root, --ib-device,
// --ib-port and --gid-index on `cmd`.
void addTransportOptions(CLI::App& cmd, TransportFlags& flags);

// Checks the flags (Usage errors naming the bad value) and fills `out`, with the address,
// interface and timeout of the launch flags.
void applyTransportFlags(const TransportFlags& flags, const LaunchFlags& launch,
                         transport::TransportOptions& out);

}  // namespace rdzv::cli
