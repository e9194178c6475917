#pragma once
// Executes the collective algorithms over a Context's Buffers (built-in) or through the
// transport's NativeCollectives (the mpi transport's "native"). Everything a call needs,
// memory and Buffers, is set up when the object is made, so run() is only the collective.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "lib/clock.h"
#include "transport/context.h"
#include "transport/native.h"

namespace rdzv::bench {

// One collective call on this rank, ready to run again and again.
class Collective {
 public:
  virtual ~Collective() = default;
  // One call; every wait inside ends by `deadline`.
  virtual void run(Deadline deadline) = 0;
};

// What to run and on which memory (owned by the caller, outliving the Collective).
struct CollectiveArgs {
  std::string benchmark;  // allreduce, broadcast, allgather, reduce_scatter, alltoall, barrier
  std::string algorithm;  // a built-in algorithm of the benchmark, or "native"
  transport::DataType type = transport::DataType::Float32;
  transport::ReduceOp op = transport::ReduceOp::Sum;
  int root = 0;                    // broadcast
  std::size_t count = 0;           // elements: of the vector (allreduce, broadcast) or of a block
  std::uint8_t* input = nullptr;   // the vector or the n blocks; in place where results land
  std::uint8_t* output = nullptr;  // alltoall's n blocks, native reduce_scatter's one block
  std::uint64_t tag = 0;           // of every message the collective sends
};

// The Collective for args.benchmark and args.algorithm; Usage error for an unknown pair.
std::unique_ptr<Collective> makeCollective(transport::Context& context, const CollectiveArgs& args);

}  // namespace rdzv::bench
