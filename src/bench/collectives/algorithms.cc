#include "bench/collectives/algorithms.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "bench/collectives/reduce.h"
#include "bench/collectives/schedule.h"
#include "lib/aligned_buffer.h"
#include "lib/error.h"

namespace rdzv::bench {
namespace {

using sched::Hop;
using sched::Plan;
using sched::Range;
using transport::Buffer;
using transport::Context;

// Pipelines cut messages into segments of at most this size: big enough that per-message
// overhead (a rendezvous round trip on tcp, which needs the sender scheduled to answer) stays
// small against the transfer, small enough that large vectors still overlap the transfer of
// one segment with the reduction of the one before. On 4 oversubscribed local ranks over
// tcp, 256 KiB segments were slower than 1 MiB ones; 2 MiB were no faster.
constexpr std::size_t kSegmentBytes = 1 << 20;
// Receives a pipeline keeps posted ahead. Posted receives let the transport place data
// straight into its destination instead of overflow space.
constexpr std::size_t kDepth = 4;

// Steps of a Plan, each posted whole and awaited whole. Sends read `send_base`, receives write
// `recv_base` (the same memory for in-place collectives) or land in scratch to be reduced.
class StepCollective : public Collective {
 public:
  StepCollective(Context& ctx, Plan plan, std::uint8_t* send_base, std::uint8_t* recv_base,
                 std::size_t bytes, const CollectiveArgs& args)
      : plan_(std::move(plan)),
        send_base_(send_base),
        recv_base_(recv_base),
        esize_(transport::elementSize(args.type)),
        type_(args.type),
        op_(args.op),
        tag_(args.tag),
        scratch_(sched::scratchNeeded(plan_) * esize_) {
    // A Buffer per concurrent receive, so each wait is for one known message.
    send_ = ctx.createBuffer(send_base_, std::max<std::size_t>(bytes, 1));
    for (std::size_t i = 0; i < sched::maxRecvsPerStep(plan_); ++i) {
      recv_.push_back(ctx.createBuffer(recv_base_, std::max<std::size_t>(bytes, 1)));
      scratch_recv_.push_back(ctx.createBuffer(scratch_.data(), scratch_.size()));
    }
  }

  // A local copy done first in every call (alltoall's own block).
  void copyFirst(const std::uint8_t* from, std::uint8_t* to, std::size_t bytes) {
    copy_from_ = from;
    copy_to_ = to;
    copy_bytes_ = bytes;
  }

  void run(Deadline deadline) override {
    if (copy_bytes_ > 0) std::memcpy(copy_to_, copy_from_, copy_bytes_);
    for (const auto& step : plan_) {
      for (std::size_t i = 0; i < step.recvs.size(); ++i) {
        const auto& t = step.recvs[i];
        if (step.reduce)
          scratch_recv_[i]->recv(t.peer, t.scratch * esize_, t.range.count * esize_, tag_);
        else
          recv_[i]->recv(t.peer, t.range.offset * esize_, t.range.count * esize_, tag_);
      }
      for (const auto& t : step.sends)
        send_->send(t.peer, t.range.offset * esize_, t.range.count * esize_, tag_);
      for (std::size_t i = 0; i < step.recvs.size(); ++i) {
        const auto& t = step.recvs[i];
        if (step.reduce) {
          scratch_recv_[i]->waitRecv(deadline);
          reduceInto(recv_base_ + t.range.offset * esize_, scratch_.data() + t.scratch * esize_,
                     t.range.count, type_, op_);
        } else {
          recv_[i]->waitRecv(deadline);
        }
      }
      for (std::size_t i = 0; i < step.sends.size(); ++i) send_->waitSend(deadline);
    }
  }

 private:
  Plan plan_;
  std::uint8_t* send_base_;
  std::uint8_t* recv_base_;
  std::size_t esize_;
  transport::DataType type_;
  transport::ReduceOp op_;
  std::uint64_t tag_;
  AlignedBuffer scratch_;
  std::unique_ptr<Buffer> send_;
  std::vector<std::unique_ptr<Buffer>> recv_;
  std::vector<std::unique_ptr<Buffer>> scratch_recv_;
  const std::uint8_t* copy_from_ = nullptr;
  std::uint8_t* copy_to_ = nullptr;
  std::size_t copy_bytes_ = 0;
};

// A ring pipeline (sched::Hop) over one vector, in place: hops cut into segments, receives
// posted kDepth ahead, each segment sent on as soon as it has arrived and been reduced. No
// copies: reduced segments land in a scratch slot and are reduced straight into the vector,
// the others land in the vector itself.
//
// Only waits on receives (in order) and waits for a send that still reads memory about to be
// overwritten may block, and each depends only on units earlier in the common order, so the
// ring cannot deadlock. Sends are therefore never held back: a bounded send window that
// blocks would let every rank wait on its right neighbour, which waits on its own.
class PipelineCollective : public Collective {
 public:
  PipelineCollective(Context& ctx, const std::vector<Hop>& hops, int segments, std::uint8_t* data,
                     std::size_t bytes, const CollectiveArgs& args)
      : data_(data),
        esize_(transport::elementSize(args.type)),
        type_(args.type),
        op_(args.op),
        tag_(args.tag) {
    auto pipeline = sched::flatten(hops, segments);
    sends_ = std::move(pipeline.sends);
    recvs_ = std::move(pipeline.recvs);
    std::size_t slot_elements = 0;
    for (const auto& r : recvs_)
      if (r.reduce) slot_elements = std::max(slot_elements, r.range.count);
    unlocks_.assign(recvs_.size(), {});
    for (std::size_t i = 0; i < sends_.size(); ++i)
      if (sends_[i].after >= 0) unlocks_[static_cast<std::size_t>(sends_[i].after)].push_back(i);
    slot_bytes_ = slot_elements * esize_;
    scratch_ = std::make_unique<AlignedBuffer>(std::max<std::size_t>(slot_bytes_ * kDepth, 1));
    // Buffer waits complete in any order, so each message that is awaited on its own gets a
    // Buffer of its own: one per send, one per receive slot.
    for (std::size_t i = 0; i < sends_.size(); ++i)
      send_.push_back(ctx.createBuffer(data_, std::max<std::size_t>(bytes, 1)));
    for (std::size_t s = 0; s < kDepth; ++s) {
      recv_.push_back(ctx.createBuffer(data_, std::max<std::size_t>(bytes, 1)));
      slot_.push_back(ctx.createBuffer(scratch_->data() + s * slot_bytes_,
                                       std::max<std::size_t>(slot_bytes_, 1)));
    }
    state_.assign(sends_.size(), SendState::Blocked);
  }

  void run(Deadline deadline) override {
    for (std::size_t i = 0; i < sends_.size(); ++i)
      state_[i] = sends_[i].after < 0 ? SendState::Ready : SendState::Blocked;
    posted_recvs_ = waited_recvs_ = posted_sends_ = oldest_send_ = 0;
    // Receives first, so the first segments land in place rather than in overflow space.
    postRecvs(deadline);
    postSends();
    while (waited_recvs_ < recvs_.size()) {
      std::size_t j = waited_recvs_;
      const auto& r = recvs_[j];
      if (r.reduce) {
        slot_[j % kDepth]->waitRecv(deadline);
        waitSendsReading(r.range, deadline);
        reduceInto(data_ + r.range.offset * esize_, scratch_->data() + (j % kDepth) * slot_bytes_,
                   r.range.count, type_, op_);
      } else {
        recv_[j % kDepth]->waitRecv(deadline);
      }
      ++waited_recvs_;
      for (auto i : unlocks_[j]) state_[i] = SendState::Ready;
      // Forward first: the next rank is waiting for it; our own receives are posted ahead.
      postSends();
      postRecvs(deadline);
    }
    for (std::size_t i = oldest_send_; i < posted_sends_; ++i) waitSend(i, deadline);
  }

 private:
  enum class SendState : std::uint8_t { Blocked, Ready, Posted, Done };

  // Posts, in order, every send whose segment is ready. Never blocks.
  void postSends() {
    while (posted_sends_ < sends_.size() && state_[posted_sends_] == SendState::Ready) {
      const auto& s = sends_[posted_sends_];
      send_[posted_sends_]->send(s.peer, s.range.offset * esize_, s.range.count * esize_, tag_);
      state_[posted_sends_++] = SendState::Posted;
    }
  }

  void postRecvs(Deadline deadline) {
    while (posted_recvs_ < recvs_.size() && posted_recvs_ - waited_recvs_ < kDepth) {
      std::size_t j = posted_recvs_;
      const auto& r = recvs_[j];
      if (r.reduce) {
        slot_[j % kDepth]->recv(r.peer, 0, r.range.count * esize_, tag_);
      } else {
        // Landing in the vector: no send of that range may still be reading it.
        waitSendsReading(r.range, deadline);
        recv_[j % kDepth]->recv(r.peer, r.range.offset * esize_, r.range.count * esize_, tag_);
      }
      ++posted_recvs_;
    }
  }

  void waitSend(std::size_t i, Deadline deadline) {
    if (state_[i] != SendState::Posted) return;
    send_[i]->waitSend(deadline);
    state_[i] = SendState::Done;
  }

  // Waits for every posted send that reads `range`, before the range is overwritten.
  void waitSendsReading(const Range& range, Deadline deadline) {
    for (std::size_t i = oldest_send_; i < posted_sends_; ++i)
      if (sends_[i].range.overlaps(range)) waitSend(i, deadline);
    while (oldest_send_ < posted_sends_ && state_[oldest_send_] == SendState::Done) ++oldest_send_;
  }

  std::uint8_t* data_;
  std::size_t esize_;
  transport::DataType type_;
  transport::ReduceOp op_;
  std::uint64_t tag_;
  std::vector<sched::Pipeline::Send> sends_;
  std::vector<sched::Pipeline::Recv> recvs_;
  std::vector<std::vector<std::size_t>> unlocks_;  // per receive: the sends it makes ready
  std::vector<SendState> state_;
  std::size_t slot_bytes_ = 0;
  std::unique_ptr<AlignedBuffer> scratch_;
  std::vector<std::unique_ptr<Buffer>> send_;
  std::vector<std::unique_ptr<Buffer>> recv_;
  std::vector<std::unique_ptr<Buffer>> slot_;
  std::size_t posted_recvs_ = 0, waited_recvs_ = 0, posted_sends_ = 0;
  std::size_t oldest_send_ = 0;  // sends before it are all done
};

// Gloo's ring: the whole vector goes around the ring n-1 times, each rank reducing what it
// receives and passing it on. n-1 messages per rank (fewest of all, for small vectors), but
// (n-1) times the vector's bytes. What arrives alternates between two inboxes, so nothing is
// copied: round r forwards the inbox filled in round r-1.
class RingCollective : public Collective {
 public:
  RingCollective(Context& ctx, std::uint8_t* data, std::size_t bytes, const CollectiveArgs& args)
      : data_(data),
        bytes_(bytes),
        count_(args.count),
        type_(args.type),
        op_(args.op),
        tag_(args.tag),
        rounds_(ctx.size() - 1),
        left_(sched::mod(ctx.rank() - 1, ctx.size())),
        right_(sched::mod(ctx.rank() + 1, ctx.size())),
        inboxes_(2 * std::max<std::size_t>(bytes, 1)) {
    send_data_ = ctx.createBuffer(data_, std::max<std::size_t>(bytes, 1));
    for (int i = 0; i < 2; ++i) {
      auto* inbox = inboxes_.data() + static_cast<std::size_t>(i) * std::max<std::size_t>(bytes, 1);
      inbox_[i] = inbox;
      inbox_send_[i] = ctx.createBuffer(inbox, std::max<std::size_t>(bytes, 1));
      inbox_recv_[i] = ctx.createBuffer(inbox, std::max<std::size_t>(bytes, 1));
    }
  }

  void run(Deadline deadline) override {
    for (int r = 0; r < rounds_; ++r) {
      int in = r % 2, out = 1 - in;
      inbox_recv_[in]->recv(left_, 0, bytes_, tag_);
      // Round 0 sends this rank's own vector; it must be sent before it is reduced into.
      auto& sender = r == 0 ? send_data_ : inbox_send_[out];
      sender->send(right_, 0, bytes_, tag_);
      inbox_recv_[in]->waitRecv(deadline);
      if (r == 0) sender->waitSend(deadline);
      reduceInto(data_, inbox_[in], count_, type_, op_);
      if (r > 0) sender->waitSend(deadline);
    }
  }

 private:
  std::uint8_t* data_;
  std::size_t bytes_;
  std::size_t count_;
  transport::DataType type_;
  transport::ReduceOp op_;
  std::uint64_t tag_;
  int rounds_, left_, right_;
  AlignedBuffer inboxes_;
  std::uint8_t* inbox_[2] = {};
  std::unique_ptr<Buffer> send_data_;
  std::unique_ptr<Buffer> inbox_send_[2];
  std::unique_ptr<Buffer> inbox_recv_[2];
};

// The transport library's own call.
class NativeCollective : public Collective {
 public:
  NativeCollective(transport::NativeCollectives& native, const CollectiveArgs& args)
      : native_(native), args_(args) {}

  void run(Deadline) override {
    const auto& a = args_;
    if (a.benchmark == "allreduce")
      native_.allreduce(a.input, a.count, a.type, a.op);
    else if (a.benchmark == "broadcast")
      native_.broadcast(a.input, a.count, a.type, a.root);
    else if (a.benchmark == "allgather")
      native_.allgather(a.input, a.count, a.type);
    else if (a.benchmark == "reduce_scatter")
      native_.reduceScatter(a.input, a.output, a.count, a.type, a.op);
    else if (a.benchmark == "alltoall")
      native_.alltoall(a.input, a.output, a.count, a.type);
    else
      native_.barrier();
  }

 private:
  transport::NativeCollectives& native_;
  CollectiveArgs args_;
};

std::unique_ptr<Collective> pipeline(Context& ctx, const CollectiveArgs& args, std::size_t count,
                                     std::vector<Hop> (*make)(int, int, std::size_t)) {
  const int n = ctx.size();
  std::size_t esize = transport::elementSize(args.type);
  // Rank 0's hops span every block, as every rank's do: all cut segments alike.
  int segments = sched::segmentsFor(make(0, n, count), kSegmentBytes / esize);
  return std::make_unique<PipelineCollective>(ctx, make(ctx.rank(), n, count), segments, args.input,
                                              count * esize, args);
}

}  // namespace

std::unique_ptr<Collective> makeCollective(Context& ctx, const CollectiveArgs& args) {
  const int n = ctx.size(), rank = ctx.rank();
  const std::size_t esize = transport::elementSize(args.type);
  const auto& b = args.benchmark;
  const auto& a = args.algorithm;
  if (a == "native") {
    auto* native = ctx.device().native();
    if (!native)
      throwUsage(fmt::format("transport {} has no native collectives", ctx.device().name()),
                 "use a built-in algorithm (ring, ring_chunked, ...) with it");
    return std::make_unique<NativeCollective>(*native, args);
  }
  // Vector (allreduce, broadcast) or n blocks (the others), in elements and bytes.
  const std::size_t total =
      b == "allreduce" || b == "broadcast" ? args.count : args.count * static_cast<std::size_t>(n);
  const std::size_t bytes = total * esize;
  if (b == "allreduce") {
    if (a == "ring") return std::make_unique<RingCollective>(ctx, args.input, bytes, args);
    if (a == "ring_chunked") return pipeline(ctx, args, total, sched::ringAllreduce);
    if (a == "halving_doubling")
      return std::make_unique<StepCollective>(ctx, sched::halvingDoubling(rank, n, total),
                                              args.input, args.input, bytes, args);
    if (a == "bcube")
      return std::make_unique<StepCollective>(ctx,
                                              sched::bcube(rank, n, total, sched::Phases::Both),
                                              args.input, args.input, bytes, args);
  } else if (b == "broadcast") {
    if (a == "binomial")
      return std::make_unique<StepCollective>(ctx,
                                              sched::binomialBroadcast(rank, n, args.root, total),
                                              args.input, args.input, bytes, args);
    if (a == "ring_chunked") {
      auto hops = sched::chainBroadcast(rank, n, args.root, total);
      int segments = sched::segmentsFor(hops, kSegmentBytes / esize);
      return std::make_unique<PipelineCollective>(ctx, hops, segments, args.input, bytes, args);
    }
  } else if (b == "allgather") {
    if (a == "ring") return pipeline(ctx, args, total, sched::ringAllgather);
    if (a == "bcube")
      return std::make_unique<StepCollective>(
          ctx, sched::bcube(rank, n, total, sched::Phases::Allgather), args.input, args.input,
          bytes, args);
  } else if (b == "reduce_scatter") {
    if (a == "ring") return pipeline(ctx, args, total, sched::ringReduceScatter);
    if (a == "bcube")
      return std::make_unique<StepCollective>(
          ctx, sched::bcube(rank, n, total, sched::Phases::ReduceScatter), args.input, args.input,
          bytes, args);
  } else if (b == "alltoall") {
    if (a == "pairwise") {
      auto step = std::make_unique<StepCollective>(
          ctx, sched::pairwiseAlltoall(rank, n, args.count), args.input, args.output, bytes, args);
      std::size_t block = args.count * esize;
      auto own = static_cast<std::size_t>(rank) * block;
      step->copyFirst(args.input + own, args.output + own, block);
      return step;
    }
  } else if (b == "barrier") {
    if (a == "dissemination")
      return std::make_unique<StepCollective>(ctx, sched::dissemination(rank, n), args.input,
                                              args.input, 1, args);
  }
  throwUsage(fmt::format("{} has no algorithm \"{}\"", b, a));
}

}  // namespace rdzv::bench
