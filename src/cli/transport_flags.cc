#include "cli/transport_flags.h"

#include <fmt/format.h>

#include "lib/error.h"
#include "lib/size.h"

namespace rdzv::cli {

void addTransportOptions(CLI::App& cmd, TransportFlags& flags) {
  cmd.add_option("--progress", flags.progress,
                 "poll (busy-poll, yields when oversubscribed) or epoll (block)")
      ->capture_default_str();
  cmd.add_option("--socket-buffer", flags.socket_buffer,
                 "SO_SNDBUF/SO_RCVBUF for tcp sockets, e.g. 4M (0: kernel autotuning)")
      ->capture_default_str();
  cmd.add_option("--provider", flags.provider,
                 "ofi: libfabric provider (tcp, shm, sockets, cxi…; default: cxi if present, "
                 "else the first RDM provider); with --iface, the domain (e.g. lo)");
  cmd.add_option("--ofi-mode", flags.ofi_mode,
                 "ofi: native (tagged messages, the provider decides eager or rendezvous) or "
                 "engine (rdzvbench's protocol engine over fi_send, the Get as fi_read)")
      ->capture_default_str();
  cmd.add_option("--sysfs-root", flags.sysfs_root,
                 "Where NUMA nodes (for the report's placement) and, for ofi, CXI NICs' "
                 "telemetry are read")
      ->capture_default_str();
  auto* ib = "ibverbs transport";
  cmd.add_option("--ib-device", flags.ib_device,
                 "RDMA device, e.g. mlx5_0 (default: the first with an active --ib-port)")
      ->group(ib);
  cmd.add_option("--ib-port", flags.ib_port, "Port of the RDMA device")
      ->capture_default_str()
      ->group(ib);
  cmd.add_option("--gid-index", flags.gid_index,
                 "GID table index (RoCE, or InfiniBand across subnets); -1: none on InfiniBand, "
                 "the first RoCE v2 IPv4 GID on RoCE")
      ->capture_default_str()
      ->group(ib);
}

void applyTransportFlags(const TransportFlags& f, const LaunchFlags& launch,
                         transport::TransportOptions& out) {
  out.addr = launch.addr;
  out.iface = launch.iface;
  out.timeout = launch.timeout;
  out.provider = f.provider;
  out.sysfs_root = f.sysfs_root;
  if (f.ofi_mode != "native" && f.ofi_mode != "engine")
    throwUsage(fmt::format("invalid --ofi-mode \"{}\"", f.ofi_mode), "use native or engine");
  out.ofi_mode = f.ofi_mode;
  if (f.ib_port < 1 || f.ib_port > 255)
    throwUsage(fmt::format("invalid --ib-port {}", f.ib_port), "ports are numbered from 1");
  if (f.gid_index < -1 || f.gid_index > 255)
    throwUsage(fmt::format("invalid --gid-index {}", f.gid_index),
               "use a GID table index from 0 to 255 (`show_gids` lists them), or -1 to choose");
  out.ib_device = f.ib_device;
  out.ib_port = f.ib_port;
  out.gid_index = f.gid_index;
  if (f.progress == "poll")
    out.progress = transport::ProgressMode::Poll;
  else if (f.progress == "epoll")
    out.progress = transport::ProgressMode::Epoll;
  else
    throwUsage(fmt::format("invalid --progress \"{}\"", f.progress), "use poll or epoll");
  if (f.socket_buffer != "0") {
    auto bytes = parseSize(f.socket_buffer);
    if (bytes > (1u << 30))
      throwUsage(fmt::format("--socket-buffer {} is too large", f.socket_buffer), "use at most 1G");
    out.socket_buffer = static_cast<int>(bytes);
  }
}

}  // namespace rdzv::cli
