#include "transport/ofi/ofi_engine.h"

#include <rdma/fi_rma.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "lib/error.h"

namespace rdzv::transport::ofi {
namespace {

constexpr int kRecvSlots = 64;
constexpr int kSendSlots = 64;
constexpr std::uint64_t kDefaultFirstFrame = 64 * 1024;

}  // namespace

OfiEngineDevice::OfiEngineDevice(const TransportOptions& options)
    : options_(options), endpoint_(options, FI_MSG | FI_RMA | FI_READ | FI_REMOTE_READ) {
  auto first = std::max(options_.max_first_frame, kDefaultFirstFrame);
  slot_size_ = (sizeof(Frame) + first + 63) / 64 * 64;
  recv_memory_.resize(slot_size_ * kRecvSlots);
  send_memory_.resize(slot_size_ * kSendSlots);
  recv_mr_ = endpoint_.registerMemory(recv_memory_.data(), recv_memory_.size(), FI_RECV);
  send_mr_ = endpoint_.registerMemory(send_memory_.data(), send_memory_.size(), FI_SEND);
  for (int s = kSendSlots - 1; s >= 0; --s) free_send_slots_.push_back(s);
  setProtocol(engine::ProtocolParams{});
}

void OfiEngineDevice::connect(int rank, const std::vector<Bytes>& addresses,
                              const std::vector<std::string>& hosts, Deadline) {
  self_ = rank;
  endpoint_.insertPeers(addresses, hosts);
  peers_.resize(addresses.size());
  pending_.resize(static_cast<int>(addresses.size()));
  long local = std::count(hosts.begin(), hosts.end(), hosts[rank]);
  yield_ = local > sysconf(_SC_NPROCESSORS_ONLN);
  for (int s = 0; s < kRecvSlots; ++s) postSlot(s);
}

void OfiEngineDevice::setProtocol(const engine::ProtocolParams& params) {
  auto first = std::max({params.switchPoint(), params.rdzv_eager_size, params.inject_size});
  if (sizeof(Frame) + first > slot_size_)
    throwUsage(fmt::format("first frames of {} bytes do not fit the ofi engine's receive slots "
                           "({} bytes)",
                           first, slot_size_ - sizeof(Frame)),
               "the slots are sized from the run's protocol sets; this is a bug if you see it");
  engine_.apply(params, !exposures_.empty());
}

engine::EngineCounters OfiEngineDevice::engineCounters() const { return engine_.snapshot(); }

nlohmann::json OfiEngineDevice::details() const {
  auto d = endpoint_.details();
  d["ofi_mode"] = "engine";
  d["receive_slots"] = kRecvSlots;
  d["slot_size"] = slot_size_;
  d["yield_when_idle"] = yield_;
  // Without FI_RMA_EVENT the source never sees a remote read, so under the default protocol
  // the receiver tells it with a message as well; only alt_read's are counted as "done".
  d["source_notified_by_message"] = true;
  return d;
}

std::unique_ptr<Buffer> OfiEngineDevice::createBuffer(void* ptr, std::size_t size) {
  return std::make_unique<EngineBuffer>(*this, ptr, size);
}

void OfiEngineDevice::postSlot(int slot) {
  Op* op = ops_.acquire();
  *op = Op{};
  op->what = Op::Slot;
  op->slot = slot;
  auto deadline = Deadline::afterSeconds(options_.timeout);
  while (true) {
    ssize_t rc =
        fi_recv(endpoint_.ep(), slotData(recv_memory_, slot), slot_size_,
                recv_mr_ ? fi_mr_desc(recv_mr_.get()) : nullptr, FI_ADDR_UNSPEC, &op->context);
    if (rc == 0) return;
    if (rc != -FI_EAGAIN) throwFi("fi_recv", static_cast<int>(rc), endpoint_.where());
    progress(deadline, "room to post a receive slot");
  }
}

int OfiEngineDevice::acquireSendSlot(Deadline deadline) {
  while (free_send_slots_.empty()) progress(deadline, "a free send slot");
  int slot = free_send_slots_.back();
  free_send_slots_.pop_back();
  return slot;
}

void OfiEngineDevice::sendFrame(int peer, const Frame& frame, const std::uint8_t* payload,
                                std::size_t length, EngineBuffer* complete_when_sent) {
  auto deadline = Deadline::afterSeconds(options_.timeout);
  int slot = acquireSendSlot(deadline);
  auto* bytes = slotData(send_memory_, slot);
  std::memcpy(bytes, &frame, sizeof frame);
  if (length > 0) std::memcpy(bytes + sizeof frame, payload, length);
  Op* op = ops_.acquire();
  *op = Op{};
  op->what = Op::Send;
  op->slot = slot;
  op->buffer = complete_when_sent;
  op->peer = peer;
  pending_.add(peer, true, 1);
  while (true) {
    ssize_t rc = fi_send(endpoint_.ep(), bytes, sizeof frame + length,
                         send_mr_ ? fi_mr_desc(send_mr_.get()) : nullptr, endpoint_.peer(peer),
                         &op->context);
    if (rc == 0) return;
    if (rc != -FI_EAGAIN)
      throwFi(fmt::format("fi_send to rank {}", peer), static_cast<int>(rc), endpoint_.where());
    progress(deadline, "room to post a send");
  }
}

void OfiEngineDevice::postSend(EngineBuffer& buffer, int peer, const std::uint8_t* data,
                               std::size_t length, std::uint64_t tag) {
  if (peer == self_ || peer < 0 || peer >= static_cast<int>(peers_.size()))
    throwRuntime(fmt::format("send to invalid peer {} (this is rank {})", peer, self_));
  buffer.sendPosted();
  Frame frame{kMessage, 0, static_cast<std::uint32_t>(self_), tag, length, 0, 0, 0, 0};
  switch (engine::choosePath(engine_.params, length)) {
    case engine::Path::Inline:
      // Copied into a send slot: the caller may reuse its memory at once.
      ++engine_.counters.inline_sent;
      sendFrame(peer, frame, data, length, nullptr);
      buffer.sendCompleted();
      return;
    case engine::Path::Eager:
      ++engine_.counters.eager_sent;
      sendFrame(peer, frame, data, length, &buffer);
      return;
    case engine::Path::Rendezvous: {
      ++engine_.counters.rendezvous_sent;
      frame.kind = kRendezvous;
      frame.flags = engine_.params.rdzv_proto == engine::RdzvProto::AltRead ? 1 : 0;
      frame.id = next_exposure_++;
      frame.addr = endpoint_.remoteAddress(buffer.data(), data);
      frame.key = buffer.key_;
      frame.eager = engine_.params.rdzv_eager_size;
      exposures_[frame.id] = Exposure{&buffer, peer};
      sendFrame(peer, frame, data, frame.eager, nullptr);
      return;
    }
  }
}

void OfiEngineDevice::postRecv(EngineBuffer& buffer, int peer, std::uint8_t* data,
                               std::size_t capacity, std::uint64_t tag) {
  if (peer == self_ || peer < 0 || peer >= static_cast<int>(peers_.size()))
    throwRuntime(fmt::format("receive from invalid peer {} (this is rank {})", peer, self_));
  buffer.recvPosted();
  pending_.add(peer, false, 1);
  peers_[peer].matcher.post(RecvOp{&buffer, data, capacity, tag}, peer, engine_,
                            [this](const Frame& f, const RecvOp& op) { deliver(f, op); });
}

void OfiEngineDevice::onFirstFrame(const Frame& frame, const std::uint8_t* payload) {
  auto& p = peers_.at(frame.source);
  std::size_t carried = frame.kind == kRendezvous ? frame.eager : frame.length;
  auto sink = p.matcher.arrive(frame, carried, static_cast<int>(frame.source), engine_);
  if (carried > 0) std::memcpy(sink.dst, payload, carried);
  if (sink.matched)
    deliver(frame, sink.op);
  else  // nothing can claim it before this: it stays unexpected
    p.matcher.arrived(sink.unexpected, engine_,
                      [this](const Frame& f, const RecvOp& op) { deliver(f, op); });
}

void OfiEngineDevice::deliver(const Frame& frame, const RecvOp& op) {
  if (frame.kind == kMessage) {
    op.buffer->recvCompleted();
    pending_.add(static_cast<int>(frame.source), false, -1);
    return;
  }
  // Default: the Get goes out as the first frame matches, or, for an unexpected rendezvous, as
  // its receive is posted (by software, cxi-reference.md §2.2); alt_read: once processed.
  if (frame.flags & 1)
    deferred_gets_.emplace_back(frame, op);
  else
    issueGet(frame, op);
}

void OfiEngineDevice::issueGet(const Frame& frame, const RecvOp& op) {
  ++engine_.counters.gets;
  int peer = static_cast<int>(frame.source);
  peers_[peer].pulls[frame.id] = Pull{op.buffer, (frame.flags & 1) != 0};
  Op* read = ops_.acquire();
  *read = Op{};
  read->what = Op::Read;
  read->peer = peer;
  read->pull = frame.id;
  read->buffer = op.buffer;
  auto deadline = Deadline::afterSeconds(options_.timeout);
  while (true) {
    ssize_t rc =
        fi_read(endpoint_.ep(), op.data + frame.eager, frame.length - frame.eager, op.buffer->desc_,
                endpoint_.peer(peer), frame.addr + frame.eager, frame.key, &read->context);
    if (rc == 0) return;
    if (rc != -FI_EAGAIN)
      throwFi(fmt::format("fi_read of {} bytes from rank {}", frame.length - frame.eager, peer),
              static_cast<int>(rc), endpoint_.where());
    progress(deadline, "room to post a read");
  }
}

void OfiEngineDevice::onRead(Op* op) {
  auto& p = peers_[op->peer];
  auto it = p.pulls.find(op->pull);
  Pull pull = it->second;
  p.pulls.erase(it);
  pull.buffer->recvCompleted();
  pending_.add(op->peer, false, -1);
  if (pull.alt_read) ++engine_.counters.done_sent;
  Frame done{kDone, 0, static_cast<std::uint32_t>(self_), 0, 0, op->pull, 0, 0, 0};
  sendFrame(op->peer, done, nullptr, 0, nullptr);
}

void OfiEngineDevice::onSlot(int slot) {
  const auto* bytes = slotData(recv_memory_, slot);
  Frame frame;
  std::memcpy(&frame, bytes, sizeof frame);
  if (frame.kind == kDone) {
    auto it = exposures_.find(frame.id);
    if (it == exposures_.end())
      throwRuntime(fmt::format("protocol error: done for unknown rendezvous {} from rank {}",
                               frame.id, frame.source));
    it->second.buffer->sendCompleted();
    exposures_.erase(it);
  } else {
    onFirstFrame(frame, bytes + sizeof frame);
  }
  postSlot(slot);  // its bytes have been copied out
}

void OfiEngineDevice::complete(Op* op) {
  switch (op->what) {
    case Op::Slot:
      onSlot(op->slot);
      break;
    case Op::Send:
      free_send_slots_.push_back(op->slot);
      pending_.add(op->peer, true, -1);
      if (op->buffer) {
        op->buffer->sendCompleted();
      }
      break;
    case Op::Read:
      onRead(op);
      break;
  }
  ops_.release(op);
}

void OfiEngineDevice::progress(Deadline deadline, const char* what) {
  int n = readCompletions(
      endpoint_.cq(), [&](void* context) { complete(static_cast<Op*>(context)); },
      [](void* context) { return static_cast<Op*>(context)->peer; }, endpoint_.where());
  while (!deferred_gets_.empty()) {
    auto [frame, op] = deferred_gets_.front();
    deferred_gets_.pop_front();
    issueGet(frame, op);
  }
  if (n > 0) return;
  if ((++spins_ & 255) == 0 && deadline.expired())
    throwRuntime(fmt::format("timed out waiting for {} over {} ({})", what, endpoint_.where(),
                             pending_.describe()),
                 "a peer is stuck, dead or far slower than expected; raise --timeout if it is "
                 "only slow");
  if (yield_) sched_yield();
}

void OfiEngineDevice::drain(Deadline deadline) {
  while (free_send_slots_.size() < static_cast<std::size_t>(kSendSlots) || !deferred_gets_.empty())
    progress(deadline, "queued frames to be sent");
}

EngineBuffer::EngineBuffer(OfiEngineDevice& device, void* ptr, std::size_t size)
    : CountedBuffer(ptr, size), device_(device) {
  // Any buffer may be the source of a rendezvous (read remotely) or the target of a Get.
  mr_ = device_.endpoint().registerMemory(ptr, size, FI_SEND | FI_RECV | FI_READ | FI_REMOTE_READ);
  desc_ = fi_mr_desc(mr_.get());
  key_ = fi_mr_key(mr_.get());
}

void EngineBuffer::send(int peer, std::size_t offset, std::size_t length, std::uint64_t tag) {
  checkRange(offset, length);
  device_.postSend(*this, peer, data() + offset, length, tag);
}

void EngineBuffer::recv(int peer, std::size_t offset, std::size_t length, std::uint64_t tag) {
  checkRange(offset, length);
  device_.postRecv(*this, peer, data() + offset, length, tag);
}

}  // namespace rdzv::transport::ofi
