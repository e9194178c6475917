#pragma once
// A communication context: this rank, the others, and one connection to each, wired by
// exchanging addresses through the bootstrap.

#include <memory>
#include <string>
#include <vector>

#include "store/bootstrap.h"
#include "transport/transport.h"

namespace rdzv::transport {

class Context {
 public:
  Context(std::unique_ptr<Device> device, store::Bootstrap& bootstrap);

  // Publishes this rank's address and host, waits for every other rank's, connects every
  // pair, and ends with a barrier. `tag` scopes the exchange (one per context in a run).
  void connectFullMesh(const std::string& tag, Deadline deadline);

  int rank() const { return bootstrap_.rank(); }
  int size() const { return bootstrap_.size(); }
  Device& device() { return *device_; }
  store::Bootstrap& bootstrap() { return bootstrap_; }
  // Host name of every rank, known after connectFullMesh.
  const std::vector<std::string>& hosts() const { return hosts_; }
  std::unique_ptr<Buffer> createBuffer(void* ptr, std::size_t size) {
    return device_->createBuffer(ptr, size);
  }

 private:
  std::unique_ptr<Device> device_;
  store::Bootstrap& bootstrap_;
  std::vector<std::string> hosts_;
};

// Encoding of what a rank publishes: its host name and its device address.
Bytes encodeEndpoint(const std::string& host, const Bytes& address);
void decodeEndpoint(const Bytes& bytes, std::string& host, Bytes& address);

}  // namespace rdzv::transport
