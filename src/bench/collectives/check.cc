#include "bench/collectives/check.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include <fmt/format.h>

#include "lib/error.h"

namespace rdzv::bench {
namespace {

using transport::DataType;
using transport::ReduceOp;

// A value in -1000 .. 1000 mixing rank, iteration and index (splitmix64's finaliser), small
// enough that sums over any rank count stay exact in every integer type.
std::int64_t mixed(int rank, std::uint64_t iteration, std::size_t index) {
  std::uint64_t x = (static_cast<std::uint64_t>(rank) + 1) * 0x9e3779b97f4a7c15ull ^
                    (iteration + 1) * 0xc2b2ae3d27d4eb4full ^
                    (static_cast<std::uint64_t>(index) + 1) * 0x165667b19e3779f9ull;
  x ^= x >> 31;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 29;
  return static_cast<std::int64_t>(x % 2001) - 1000;
}

// Floats get sevenths, which no float represents exactly, so the order of a sum matters and
// the tolerance is exercised.
template <typename T>
T valueOf(int rank, std::uint64_t iteration, std::size_t index) {
  auto v = mixed(rank, iteration, index);
  if constexpr (std::is_floating_point_v<T>)
    return static_cast<T>(static_cast<double>(v) / 7.0);
  else
    return static_cast<T>(v);
}

bool reduces(const CollectiveCase& c) {
  return c.benchmark == "allreduce" || c.benchmark == "reduce_scatter";
}

std::size_t blocks(const CollectiveCase& c) {
  return c.benchmark == "allgather" || c.benchmark == "reduce_scatter" || c.benchmark == "alltoall"
             ? static_cast<std::size_t>(c.ranks)
             : 1;
}

std::string describe(const CollectiveCase& c) {
  std::string what = fmt::format("{} {}", c.benchmark, c.algorithm);
  std::string of = blocks(c) > 1 ? fmt::format("{} blocks of {} {}", blocks(c), c.count,
                                               transport::toString(c.type))
                                 : fmt::format("{} {}", c.count, transport::toString(c.type));
  if (reduces(c)) of += ", op " + transport::toString(c.op);
  return fmt::format("{} of size {} ({})", what, c.bytes, of);
}

template <typename T>
void fillTyped(const CollectiveCase& c, int rank, std::uint64_t iteration, T* input) {
  std::size_t n = inputElements(c);
  for (std::size_t i = 0; i < n; ++i) input[i] = valueOf<T>(rank, iteration, i);
}

// Expected element `i` of `rank`'s result, and the tolerance it is held to.
template <typename T>
std::pair<T, long double> expected(const CollectiveCase& c, int rank, std::uint64_t iteration,
                                   std::size_t i) {
  const auto& b = c.benchmark;
  if (b == "broadcast") return {valueOf<T>(c.root, iteration, i), 0};
  if (b == "allgather") return {valueOf<T>(static_cast<int>(i / c.count), iteration, i), 0};
  if (b == "alltoall")
    return {valueOf<T>(static_cast<int>(i / c.count), iteration,
                       static_cast<std::size_t>(rank) * c.count + i % c.count),
            0};
  // allreduce: element i of every rank; reduce_scatter: element i of this rank's block.
  std::size_t index = b == "reduce_scatter" ? static_cast<std::size_t>(rank) * c.count + i : i;
  T first = valueOf<T>(0, iteration, index);
  long double sum = first, magnitude = std::fabs(static_cast<long double>(first));
  T low = first, high = first;
  for (int r = 1; r < c.ranks; ++r) {
    T v = valueOf<T>(r, iteration, index);
    sum += v;
    magnitude += std::fabs(static_cast<long double>(v));
    low = v < low ? v : low;
    high = v > high ? v : high;
  }
  if (c.op == ReduceOp::Min) return {low, 0};
  if (c.op == ReduceOp::Max) return {high, 0};
  if constexpr (std::is_floating_point_v<T>) {
    long double eps = std::numeric_limits<T>::epsilon();
    return {static_cast<T>(sum), 2 * c.ranks * eps * magnitude};
  } else {
    return {static_cast<T>(sum), 0};
  }
}

template <typename T>
void verifyTyped(const CollectiveCase& c, int rank, std::uint64_t iteration, const T* result) {
  std::size_t n = resultElements(c);
  for (std::size_t i = 0; i < n; ++i) {
    auto [want, tolerance] = expected<T>(c, rank, iteration, i);
    T got = result[i];
    bool ok =
        tolerance > 0 ? std::fabs(static_cast<long double>(got) - want) <= tolerance : got == want;
    if (ok) continue;
    std::string bound = tolerance > 0
                            ? fmt::format(" (tolerance {:.3g})", static_cast<double>(tolerance))
                            : std::string();
    throw Error(ErrorKind::Check,
                fmt::format("--check failed: {}, iteration {}: first bad element is {}: {} "
                            "found, {} expected{}",
                            describe(c), iteration, i, got, want, bound),
                "the algorithm or the transport delivered wrong data");
  }
}

template <typename F>
void dispatch(DataType type, F&& f) {
  switch (type) {
    case DataType::Float32:
      return f(float{});
    case DataType::Float64:
      return f(double{});
    case DataType::Int32:
      return f(std::int32_t{});
    case DataType::Int64:
      return f(std::int64_t{});
  }
}

}  // namespace

std::size_t inputElements(const CollectiveCase& c) {
  if (c.benchmark == "barrier") return 0;
  return c.count * blocks(c);
}

std::size_t resultElements(const CollectiveCase& c) {
  if (c.benchmark == "barrier") return 0;
  if (c.benchmark == "reduce_scatter") return c.count;
  return c.count * blocks(c);
}

void fillInput(const CollectiveCase& c, int rank, std::uint64_t iteration, void* input) {
  dispatch(c.type, [&](auto zero) {
    using T = decltype(zero);
    fillTyped(c, rank, iteration, static_cast<T*>(input));
  });
}

void verifyResult(const CollectiveCase& c, int rank, std::uint64_t iteration, const void* result) {
  dispatch(c.type, [&](auto zero) {
    using T = decltype(zero);
    verifyTyped(c, rank, iteration, static_cast<const T*>(result));
  });
}

void corruptResult(const CollectiveCase& c, void* result) {
  std::size_t n = resultElements(c);
  if (n == 0) return;
  dispatch(c.type, [&](auto zero) {
    using T = decltype(zero);
    static_cast<T*>(result)[n / 2] += T(1000);
  });
}

}  // namespace rdzv::bench
