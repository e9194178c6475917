#include "bench/survey/inject.h"

#include <sched.h>

#include <algorithm>

#include "lib/clock.h"

namespace rdzv::bench::survey {
namespace {

constexpr std::int64_t kMaxBusyNs = 50'000'000;

class SlowBuffer : public transport::Buffer {
 public:
  SlowBuffer(std::unique_ptr<transport::Buffer> inner, std::shared_ptr<Slowdown> slowdown)
      : Buffer(inner->data(), inner->size()),
        inner_(std::move(inner)),
        slowdown_(std::move(slowdown)) {}
  void send(int peer, std::size_t offset, std::size_t length, std::uint64_t tag) override {
    inner_->send(peer, offset, length, tag);
  }
  void recv(int peer, std::size_t offset, std::size_t length, std::uint64_t tag) override {
    inner_->recv(peer, offset, length, tag);
  }
  void waitSend(Deadline deadline) override {
    inner_->waitSend(deadline);
    slowdown_->completed();
  }
  void waitRecv(Deadline deadline) override {
    inner_->waitRecv(deadline);
    slowdown_->completed();
  }

 private:
  std::unique_ptr<transport::Buffer> inner_;
  std::shared_ptr<Slowdown> slowdown_;
};

class SlowDevice : public transport::Device {
 public:
  SlowDevice(std::unique_ptr<transport::Device> inner, std::shared_ptr<Slowdown> slowdown)
      : inner_(std::move(inner)), slowdown_(std::move(slowdown)) {}
  std::string name() const override { return inner_->name(); }
  void prepare(int rank, int size) override { inner_->prepare(rank, size); }
  transport::Bytes address() const override { return inner_->address(); }
  void connect(int rank, const std::vector<transport::Bytes>& addresses,
               const std::vector<std::string>& hosts, Deadline deadline) override {
    inner_->connect(rank, addresses, hosts, deadline);
  }
  std::unique_ptr<transport::Buffer> createBuffer(void* ptr, std::size_t size) override {
    return std::make_unique<SlowBuffer>(inner_->createBuffer(ptr, size), slowdown_);
  }
  void drain(Deadline deadline) override { inner_->drain(deadline); }
  nlohmann::json details() const override { return inner_->details(); }
  void beginSeries() override { inner_->beginSeries(); }
  bool hasEngine() const override { return inner_->hasEngine(); }
  void setProtocol(const transport::engine::ProtocolParams& p) override { inner_->setProtocol(p); }
  transport::engine::EngineCounters engineCounters() const override {
    return inner_->engineCounters();
  }
  transport::NativeCollectives* native() override { return inner_->native(); }

 private:
  std::unique_ptr<transport::Device> inner_;
  std::shared_ptr<Slowdown> slowdown_;
};

}  // namespace

void Slowdown::completed() {
  auto now = nowNs();
  if (last_ns_ == 0) {
    last_ns_ = now;
    return;
  }
  auto busy = std::min(now - last_ns_, kMaxBusyNs);
  auto until = now + static_cast<std::int64_t>((factor_ - 1) * static_cast<double>(busy));
  // Yielding, not sleeping: a sleep rounds short pauses up to the timer slack (~50 µs).
  while (nowNs() < until) sched_yield();
  last_ns_ = nowNs();
}

std::unique_ptr<transport::Device> slowDevice(std::unique_ptr<transport::Device> inner,
                                              std::shared_ptr<Slowdown> slowdown) {
  return std::make_unique<SlowDevice>(std::move(inner), std::move(slowdown));
}

}  // namespace rdzv::bench::survey
