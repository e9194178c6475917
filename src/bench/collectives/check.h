#pragma once
// --check for collectives: every rank fills its input with values that depend on its rank,
// the iteration and the element's index, so each rank can compute the exact expected result
// locally and compare it with what the collective produced.
//
// Layouts (count = elements of the vector, or of one block for the n-block collectives):
//   allreduce, broadcast: one vector of count elements, in place;
//   allgather: n blocks in place, this rank's own at block `rank`;
//   reduce_scatter: n blocks in; the result is this rank's block (count elements);
//   alltoall: n blocks in (block d goes to rank d), n blocks out (block s came from rank s).

#include <cstddef>
#include <cstdint>
#include <string>

#include "transport/native.h"

namespace rdzv::bench {

// One collective at one size, as --check sees it.
struct CollectiveCase {
  std::string benchmark;
  std::string algorithm;
  transport::DataType type = transport::DataType::Float32;
  transport::ReduceOp op = transport::ReduceOp::Sum;
  int root = 0;
  int ranks = 0;
  std::size_t count = 0;    // elements of the vector, or of one block
  std::uint64_t bytes = 0;  // the size a row reports
};

// Elements of the input this rank fills.
std::size_t inputElements(const CollectiveCase& c);
// Elements of the result this rank verifies.
std::size_t resultElements(const CollectiveCase& c);

// Fills `input` (inputElements) for `rank` and `iteration`.
void fillInput(const CollectiveCase& c, int rank, std::uint64_t iteration, void* input);
// Compares `result` (resultElements) with the expected one: exactly for integers and for
// min, max and data that is only moved; a float sum may differ from the exact sum of the
// ranks' values by 2 n eps sum|x| (n ranks, eps the type's machine epsilon), the bound of
// summing n terms in any order. Throws a Check error naming the size and the first bad
// element, with the value found and the value expected.
void verifyResult(const CollectiveCase& c, int rank, std::uint64_t iteration, const void* result);
// Test hook for --inject-corruption: spoils the middle element of `result`.
void corruptResult(const CollectiveCase& c, void* result);

}  // namespace rdzv::bench
