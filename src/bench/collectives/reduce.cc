// Built with -O3 (see CMakeLists.txt): GCC vectorizes these loops only at that level, and
// they run on every byte an allreduce receives.
#include "bench/collectives/reduce.h"

#include <cstdint>
#include <type_traits>

namespace rdzv::bench {
namespace {

// Plain indexed loops over restrict pointers, so the compiler may vectorize them. The min and
// max forms are the ones SSE's minps/maxps implement exactly (NaN handling included), which
// is what lets the compiler use them without -ffast-math.
template <typename T>
void sum(T* __restrict dst, const T* __restrict src, std::size_t n) {
  if constexpr (std::is_integral_v<T>) {
    // Integers add as unsigned: the same bits, but overflow wraps instead of being undefined.
    using U = std::make_unsigned_t<T>;
    for (std::size_t i = 0; i < n; ++i)
      dst[i] = static_cast<T>(static_cast<U>(dst[i]) + static_cast<U>(src[i]));
  } else {
    for (std::size_t i = 0; i < n; ++i) dst[i] = dst[i] + src[i];
  }
}

template <typename T>
void min(T* __restrict dst, const T* __restrict src, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) dst[i] = src[i] < dst[i] ? src[i] : dst[i];
}

template <typename T>
void max(T* __restrict dst, const T* __restrict src, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) dst[i] = src[i] > dst[i] ? src[i] : dst[i];
}

template <typename T>
void reduceTyped(void* dst, const void* src, std::size_t n, ReduceOp op) {
  auto* d = static_cast<T*>(dst);
  const auto* s = static_cast<const T*>(src);
  switch (op) {
    case ReduceOp::Sum:
      sum(d, s, n);
      return;
    case ReduceOp::Min:
      min(d, s, n);
      return;
    case ReduceOp::Max:
      max(d, s, n);
      return;
  }
}

}  // namespace

void reduceInto(void* dst, const void* src, std::size_t count, DataType type, ReduceOp op) {
  switch (type) {
    case DataType::Float32:
      return reduceTyped<float>(dst, src, count, op);
    case DataType::Float64:
      return reduceTyped<double>(dst, src, count, op);
    case DataType::Int32:
      return reduceTyped<std::int32_t>(dst, src, count, op);
    case DataType::Int64:
      return reduceTyped<std::int64_t>(dst, src, count, op);
  }
}

}  // namespace rdzv::bench
