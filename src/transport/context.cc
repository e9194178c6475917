#include "transport/context.h"

#include <unistd.h>

#include <climits>
#include <cstring>

#include "lib/error.h"
#include "lib/sysinfo.h"

namespace rdzv::transport {

void Buffer::checkRange(std::size_t offset, std::size_t length) const {
  if (offset > size_ || length > size_ - offset)
    throwRuntime("message range [" + std::to_string(offset) + ", +" + std::to_string(length) +
                 ") is outside a buffer of " + std::to_string(size_) + " bytes");
}

void CountedBuffer::waitSend(Deadline deadline) {
  if (sends_done_ == 0 && sends_pending_ == 0) throwRuntime("waitSend with no send posted");
  while (sends_done_ == 0) progress(deadline, "a send to complete");
  --sends_done_;
}

void CountedBuffer::waitRecv(Deadline deadline) {
  if (recvs_done_ == 0 && recvs_pending_ == 0) throwRuntime("waitRecv with no receive posted");
  while (recvs_done_ == 0) progress(deadline, "a message to arrive");
  --recvs_done_;
}

Bytes encodeEndpoint(const std::string& host, const Bytes& address) {
  Bytes out(4 + host.size() + address.size());
  auto n = static_cast<std::uint32_t>(host.size());
  std::memcpy(out.data(), &n, 4);
  std::memcpy(out.data() + 4, host.data(), host.size());
  std::memcpy(out.data() + 4 + host.size(), address.data(), address.size());
  return out;
}

void decodeEndpoint(const Bytes& bytes, std::string& host, Bytes& address) {
  std::uint32_t n = 0;
  if (bytes.size() < 4) throwRuntime("malformed endpoint record in the store (too short)");
  std::memcpy(&n, bytes.data(), 4);
  if (bytes.size() < 4 + static_cast<std::size_t>(n))
    throwRuntime("malformed endpoint record in the store (host name overruns)");
  host.assign(reinterpret_cast<const char*>(bytes.data()) + 4, n);
  address.assign(bytes.begin() + 4 + n, bytes.end());
}

Context::Context(std::unique_ptr<Device> device, store::Bootstrap& bootstrap)
    : device_(std::move(device)), bootstrap_(bootstrap) {}

void Context::connectFullMesh(const std::string& tag, Deadline deadline) {
  const std::string host = hostName();
  device_->prepare(rank(), size());
  auto all =
      bootstrap_.allgather(tag + "/rank", encodeEndpoint(host, device_->address()), deadline);
  std::vector<Bytes> addresses(all.size());
  hosts_.assign(all.size(), {});
  for (std::size_t r = 0; r < all.size(); ++r) decodeEndpoint(all[r], hosts_[r], addresses[r]);
  device_->connect(rank(), addresses, hosts_, deadline);
  bootstrap_.barrier(tag + "/connected", deadline);
}

}  // namespace rdzv::transport
