#include "transport/mpi/mpi_collectives.h"

#include <climits>

#include <fmt/format.h>

#include "lib/error.h"
#include "store/mpi_bootstrap.h"

namespace rdzv::transport::mpi {
namespace {

using store::checkMpi;

MPI_Datatype mpiType(DataType type) {
  switch (type) {
    case DataType::Float32:
      return MPI_FLOAT;
    case DataType::Float64:
      return MPI_DOUBLE;
    case DataType::Int32:
      return MPI_INT32_T;
    case DataType::Int64:
      return MPI_INT64_T;
  }
  return MPI_BYTE;
}

MPI_Op mpiOp(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum:
      return MPI_SUM;
    case ReduceOp::Min:
      return MPI_MIN;
    case ReduceOp::Max:
      return MPI_MAX;
  }
  return MPI_OP_NULL;
}

// MPI counts are ints; a larger count would silently wrap.
int mpiCount(std::size_t count) {
  if (count > static_cast<std::size_t>(INT_MAX))
    throwUsage(fmt::format("{} elements are too many for one MPI call", count),
               "use smaller sizes with the mpi transport");
  return static_cast<int>(count);
}

}  // namespace

void MpiCollectives::allreduce(void* data, std::size_t count, DataType type, ReduceOp op) {
  checkMpi(
      MPI_Allreduce(MPI_IN_PLACE, data, mpiCount(count), mpiType(type), mpiOp(op), MPI_COMM_WORLD),
      "MPI_Allreduce");
}

void MpiCollectives::broadcast(void* data, std::size_t count, DataType type, int root) {
  checkMpi(MPI_Bcast(data, mpiCount(count), mpiType(type), root, MPI_COMM_WORLD), "MPI_Bcast");
}

void MpiCollectives::allgather(void* data, std::size_t block, DataType type) {
  checkMpi(MPI_Allgather(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, data, mpiCount(block), mpiType(type),
                         MPI_COMM_WORLD),
           "MPI_Allgather");
}

void MpiCollectives::reduceScatter(const void* input, void* output, std::size_t block,
                                   DataType type, ReduceOp op) {
  checkMpi(MPI_Reduce_scatter_block(input, output, mpiCount(block), mpiType(type), mpiOp(op),
                                    MPI_COMM_WORLD),
           "MPI_Reduce_scatter_block");
}

void MpiCollectives::alltoall(const void* input, void* output, std::size_t block, DataType type) {
  checkMpi(MPI_Alltoall(input, mpiCount(block), mpiType(type), output, mpiCount(block),
                        mpiType(type), MPI_COMM_WORLD),
           "MPI_Alltoall");
}

void MpiCollectives::barrier() { checkMpi(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier"); }

}  // namespace rdzv::transport::mpi
