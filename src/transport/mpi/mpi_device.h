#pragma once
// The mpi transport: MPI_Isend/MPI_Irecv on MPI_COMM_WORLD, measured by the same harness
// as the built-in transports so their numbers sit side by side. Needs MPI to be initialised
// (an MpiSession) and rdzvbench ranks equal to MPI_COMM_WORLD ranks.

#include <mpi.h>

#include <vector>

#include "transport/mpi/mpi_collectives.h"
#include "transport/transport.h"

namespace rdzv::transport::mpi {

class MpiDevice : public Device {
 public:
  explicit MpiDevice(const TransportOptions& options);
  std::string name() const override { return "mpi"; }
  Bytes address() const override { return {}; }
  void connect(int rank, const std::vector<Bytes>& addresses, const std::vector<std::string>& hosts,
               Deadline deadline) override;
  std::unique_ptr<Buffer> createBuffer(void* ptr, std::size_t size) override;
  nlohmann::json details() const override;
  NativeCollectives* native() override { return &collectives_; }
  bool yieldWhenIdle() const { return yield_; }
  int tagUpperBound() const { return tag_ub_; }

 private:
  TransportOptions options_;
  bool yield_ = false;
  int tag_ub_ = 32767;
  MpiCollectives collectives_;
};

class MpiBuffer : public Buffer {
 public:
  MpiBuffer(MpiDevice& device, void* ptr, std::size_t size);
  ~MpiBuffer() override;
  void send(int peer, std::size_t offset, std::size_t length, std::uint64_t tag) override;
  void recv(int peer, std::size_t offset, std::size_t length, std::uint64_t tag) override;
  void waitSend(Deadline deadline) override;
  void waitRecv(Deadline deadline) override;

 private:
  void waitOne(std::vector<MPI_Request>& requests, Deadline deadline, const char* what);
  int mpiTag(std::uint64_t tag) const;
  MpiDevice& device_;
  std::vector<MPI_Request> sends_;
  std::vector<MPI_Request> recvs_;
};

}  // namespace rdzv::transport::mpi
