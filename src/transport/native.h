#pragma once
// Collectives that a transport's own library implements (MPI_Allreduce and friends), so the
// benchmark can put the library's algorithms beside rdzvbench's built-in ones. src/bench
// reaches them through this interface only and never includes a library's headers.

#include <cstddef>
#include <string>

namespace rdzv::transport {

// Element types of reductions.
enum class DataType { Float32, Float64, Int32, Int64 };
// Reduction operators.
enum class ReduceOp { Sum, Min, Max };

// Bytes of one element of `type`.
std::size_t elementSize(DataType type);
// "float32", "float64", "int32", "int64".
std::string toString(DataType type);
// "sum", "min", "max".
std::string toString(ReduceOp op);
// Usage error naming `text` and the known names when it is none of them.
DataType parseDataType(const std::string& text);
// Usage error naming `text` and the known names when it is none of them.
ReduceOp parseReduceOp(const std::string& text);

// The library's collectives over every rank of the run. Counts are elements; calls block
// until this rank's part is done. They take no deadline: a library's blocking collective
// cannot be interrupted from outside, and a rank that dies ends the job through the launcher.
class NativeCollectives {
 public:
  virtual ~NativeCollectives() = default;
  // In place: `data` holds this rank's `count` elements before, the reduction after.
  virtual void allreduce(void* data, std::size_t count, DataType type, ReduceOp op) = 0;
  // `data` holds `count` elements of `root`'s vector after the call on every rank.
  virtual void broadcast(void* data, std::size_t count, DataType type, int root) = 0;
  // In place: `data` holds n blocks of `block` elements, this rank's own at its rank.
  virtual void allgather(void* data, std::size_t block, DataType type) = 0;
  // `input` holds n blocks of `block` elements; `output` gets block `rank` of the reduction.
  virtual void reduceScatter(const void* input, void* output, std::size_t block, DataType type,
                             ReduceOp op) = 0;
  // Block d of `input` goes to rank d; block s of `output` comes from rank s.
  virtual void alltoall(const void* input, void* output, std::size_t block, DataType type) = 0;
  // Returns once every rank has entered it.
  virtual void barrier() = 0;
};

}  // namespace rdzv::transport
