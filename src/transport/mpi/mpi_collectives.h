#pragma once
// The MPI library's own collectives on MPI_COMM_WORLD (the mpi transport's native()).

#include <mpi.h>

#include "transport/native.h"

namespace rdzv::transport::mpi {

class MpiCollectives : public NativeCollectives {
 public:
  void allreduce(void* data, std::size_t count, DataType type, ReduceOp op) override;
  void broadcast(void* data, std::size_t count, DataType type, int root) override;
  void allgather(void* data, std::size_t block, DataType type) override;
  void reduceScatter(const void* input, void* output, std::size_t block, DataType type,
                     ReduceOp op) override;
  void alltoall(const void* input, void* output, std::size_t block, DataType type) override;
  void barrier() override;
};

}  // namespace rdzv::transport::mpi
