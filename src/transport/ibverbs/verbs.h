#pragma once
// RAII for rdma-core's verbs objects, one way to report verbs errors, and the choice of the
// device and port a run uses.

#include <infiniband/verbs.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "transport/transport.h"

namespace rdzv::transport::ibverbs {

// Destroy-calls return an errno that nobody could act on in a destructor: ignored.
struct FreeDeviceList {
  void operator()(ibv_device** list) const { ibv_free_device_list(list); }
};
struct CloseDevice {
  void operator()(ibv_context* c) const { ibv_close_device(c); }
};
struct DeallocPd {
  void operator()(ibv_pd* pd) const { ibv_dealloc_pd(pd); }
};
struct DeregMr {
  void operator()(ibv_mr* mr) const { ibv_dereg_mr(mr); }
};
struct DestroyChannel {
  void operator()(ibv_comp_channel* c) const { ibv_destroy_comp_channel(c); }
};
// Every CQ event is acknowledged when it is read, so destroying the CQ never waits.
struct DestroyCq {
  void operator()(ibv_cq* cq) const { ibv_destroy_cq(cq); }
};
struct DestroySrq {
  void operator()(ibv_srq* srq) const { ibv_destroy_srq(srq); }
};
struct DestroyQp {
  void operator()(ibv_qp* qp) const { ibv_destroy_qp(qp); }
};
using DeviceListPtr = std::unique_ptr<ibv_device*, FreeDeviceList>;
using ContextPtr = std::unique_ptr<ibv_context, CloseDevice>;
using PdPtr = std::unique_ptr<ibv_pd, DeallocPd>;
using MrPtr = std::unique_ptr<ibv_mr, DeregMr>;
using ChannelPtr = std::unique_ptr<ibv_comp_channel, DestroyChannel>;
using CqPtr = std::unique_ptr<ibv_cq, DestroyCq>;
using SrqPtr = std::unique_ptr<ibv_srq, DestroySrq>;
using QpPtr = std::unique_ptr<ibv_qp, DestroyQp>;

// Throws a Runtime error naming the call, strerror(err) and `where` (device and port), e.g.
// "ibv_create_qp failed: Cannot allocate memory (mlx5_0 port 1)".
[[noreturn]] void throwVerbs(const std::string& call, int err, const std::string& where,
                             std::string hint = {});

// The first words of every "no device" error and of `rdzvbench info` on such a host.
inline constexpr const char* kNoDevice = "ibverbs: built, no RDMA device found";

// Names of this host's RDMA devices; empty when there are none or the kernel has no RDMA
// support (`err` then gets ibv_get_device_list's errno, else 0).
std::vector<std::string> deviceNames(int* err = nullptr);
// What `rdzvbench info` says about ibverbs here: "no RDMA device found" or "RDMA devices:
// mlx5_0, mlx5_1".
std::string hostStatus();

// The device and port a run uses, opened.
struct OpenedPort {
  ContextPtr context;
  std::string device;
  std::uint8_t port = 1;
  ibv_device_attr device_attr{};
  ibv_port_attr port_attr{};
  std::string where() const;  // "mlx5_0 port 1"
};
// Opens --ib-device (default: the first device whose --ib-port is ACTIVE). Runtime error
// starting with kNoDevice when the host has none; naming the devices there are when the
// named one is missing; naming the port state when it is not ACTIVE.
OpenedPort openPort(const TransportOptions& options);
// openPort, closed again: refuses a run before any rank starts.
void probe(const TransportOptions& options);

}  // namespace rdzv::transport::ibverbs
