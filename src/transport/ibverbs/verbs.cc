#include "transport/ibverbs/verbs.h"

#include <cerrno>
#include <cstring>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "lib/error.h"

namespace rdzv::transport::ibverbs {
namespace {

struct DeviceList {
  DeviceListPtr list;
  int count = 0;
  int err = 0;
};

DeviceList listDevices() {
  DeviceList out;
  errno = 0;
  out.list.reset(ibv_get_device_list(&out.count));
  if (!out.list) {
    // No kernel RDMA support at all reads as ENOSYS; treat it like an empty list.
    out.err = errno ? errno : ENODEV;
    out.count = 0;
  }
  return out;
}

[[noreturn]] void throwNoDevice(int err) {
  throwRuntime(
      fmt::format("{} ({})", kNoDevice,
                  err ? fmt::format("ibv_get_device_list failed: {}{}", std::strerror(err),
                                    err == ENOSYS ? "; the kernel has no RDMA support loaded" : "")
                      : std::string("ibv_get_device_list returned no devices")),
      "run on a node with an InfiniBand or RoCE device (`ibv_devices` lists them), or choose "
      "another transport, e.g. -t tcp");
}

}  // namespace

void throwVerbs(const std::string& call, int err, const std::string& where, std::string hint) {
  if (hint.empty() && (err == ENOMEM || err == EAGAIN) &&
      (call.rfind("ibv_reg_mr", 0) == 0 || call.rfind("ibv_create", 0) == 0))
    hint =
        "the locked-memory limit may be too low: `ulimit -l unlimited` (under Slurm, "
        "PropagateResourceLimits or the node's limits.conf)";
  throwRuntime(fmt::format("{} failed: {} ({})", call, std::strerror(err), where), std::move(hint));
}

std::vector<std::string> deviceNames(int* err) {
  auto devices = listDevices();
  if (err) *err = devices.err;
  std::vector<std::string> names;
  for (int i = 0; i < devices.count; ++i)
    names.push_back(ibv_get_device_name(devices.list.get()[i]));
  return names;
}

std::string hostStatus() {
  auto names = deviceNames();
  if (names.empty()) return "no RDMA device found";
  return fmt::format("RDMA devices: {}", fmt::join(names, ", "));
}

std::string OpenedPort::where() const { return fmt::format("{} port {}", device, port); }

OpenedPort openPort(const TransportOptions& options) {
  auto devices = listDevices();
  if (devices.count == 0) throwNoDevice(devices.err);
  std::vector<std::string> names;
  for (int i = 0; i < devices.count; ++i)
    names.push_back(ibv_get_device_name(devices.list.get()[i]));
  auto port = static_cast<std::uint8_t>(options.ib_port);
  std::vector<std::string> states;  // why each candidate was passed over
  for (int i = 0; i < devices.count; ++i) {
    if (!options.ib_device.empty() && names[i] != options.ib_device) continue;
    OpenedPort opened;
    opened.device = names[i];
    opened.port = port;
    opened.context.reset(ibv_open_device(devices.list.get()[i]));
    if (!opened.context) throwVerbs("ibv_open_device", errno ? errno : ENODEV, opened.device);
    if (int rc = ibv_query_device(opened.context.get(), &opened.device_attr))
      throwVerbs("ibv_query_device", rc, opened.device);
    if (port < 1 || port > opened.device_attr.phys_port_cnt) {
      states.push_back(
          fmt::format("{} has {} port(s)", opened.device, opened.device_attr.phys_port_cnt));
      continue;
    }
    if (int rc = ibv_query_port(opened.context.get(), port, &opened.port_attr))
      throwVerbs("ibv_query_port", rc, opened.where());
    if (opened.port_attr.state != IBV_PORT_ACTIVE) {
      states.push_back(
          fmt::format("{} is {}", opened.where(), ibv_port_state_str(opened.port_attr.state)));
      continue;
    }
    return opened;
  }
  if (!options.ib_device.empty() && states.empty())
    throwRuntime(fmt::format("RDMA device {} not found on this host (it has: {})",
                             options.ib_device, fmt::join(names, ", ")),
                 "choose one of them with --ib-device");
  throwRuntime(fmt::format("no active RDMA port {}: {}", options.ib_port, fmt::join(states, "; ")),
               "choose an ACTIVE port with --ib-device/--ib-port (`ibstat` shows their states; "
               "an InfiniBand port needs a subnet manager, a RoCE port a link)");
}

void probe(const TransportOptions& options) { openPort(options); }

}  // namespace rdzv::transport::ibverbs
