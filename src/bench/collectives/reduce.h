#pragma once
// Reduction kernels of the built-in collectives: dst[i] = op(dst[i], src[i]), in place.

#include <cstddef>

#include "transport/native.h"

namespace rdzv::bench {

using transport::DataType;
using transport::ReduceOp;

// Reduces `count` elements of `src` into `dst`; the two must not overlap.
void reduceInto(void* dst, const void* src, std::size_t count, DataType type, ReduceOp op);

}  // namespace rdzv::bench
