#pragma once
// Page-aligned, zero-filled memory owned by RAII: what benchmarks send from and receive into
// (page alignment is what RDMA registration wants).

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

namespace rdzv {

class AlignedBuffer {
 public:
  explicit AlignedBuffer(std::size_t size) : size_(size) {
    std::size_t rounded = ((size ? size : 1) + 4095) / 4096 * 4096;
    void* p = std::aligned_alloc(4096, rounded);
    if (!p) throw std::bad_alloc();
    std::memset(p, 0, rounded);
    data_.reset(static_cast<std::uint8_t*>(p));
  }
  std::uint8_t* data() const { return data_.get(); }
  std::size_t size() const { return size_; }

 private:
  struct Free {
    void operator()(std::uint8_t* p) const { std::free(p); }
  };
  std::unique_ptr<std::uint8_t, Free> data_;
  std::size_t size_;
};

}  // namespace rdzv
