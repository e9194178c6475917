#include "transport/ibverbs/ib_device.h"

#include <poll.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "lib/error.h"

namespace rdzv::transport::ibverbs {
namespace {

// Receive slots in the shared receive queue: 8 MiB of 32 KiB slots, shared by every peer.
constexpr std::uint32_t kRecvSlots = 256;
// Send slots (a header and an inline payload each) and send-queue requests in flight over all
// queue pairs; more wait in software queues.
constexpr std::uint32_t kSendSlots = 256;
constexpr std::uint32_t kSendCredits = 512;
constexpr std::uint32_t kSendDepth = 128;   // per queue pair
constexpr std::uint32_t kWantInline = 256;  // header and the default inject size
constexpr std::uint32_t kMaxRdAtomic = 16;
constexpr std::uint64_t kMaxRead = 1ull << 30;
constexpr int kPollBatch = 32;
// wr_id of a receive: this bit and the slot index; of a send: the index in ops_.
constexpr std::uint64_t kRecvBit = 1ull << 63;

std::uint8_t clampRdAtomic(int device_max) {
  return static_cast<std::uint8_t>(std::clamp<int>(device_max, 1, static_cast<int>(kMaxRdAtomic)));
}

const char* completionHint(ibv_wc_status status) {
  switch (status) {
    case IBV_WC_RETRY_EXC_ERR:
      return "the peer stopped answering: it exited, or the path to it failed; see its own "
             "output";
    case IBV_WC_RNR_RETRY_EXC_ERR:
      return "the peer stopped reposting receives";
    case IBV_WC_REM_ACCESS_ERR:
    case IBV_WC_LOC_PROT_ERR:
      return "a registration did not cover the memory used: a bug in rdzvbench";
    case IBV_WC_LOC_LEN_ERR:
    case IBV_WC_REM_INV_REQ_ERR:
      return "a frame did not fit a receive slot: do all ranks run the same rdzvbench build?";
    case IBV_WC_WR_FLUSH_ERR:
      return "the queue pair had failed before; an earlier error says why";
    default:
      return "`ibv_devinfo` and the port's error counters may say more";
  }
}

}  // namespace

IbDevice::IbDevice(const TransportOptions& options) : options_(options) {
  auto opened = openPort(options_);
  where_ = opened.where();
  device_attr_ = opened.device_attr;
  port_attr_ = opened.port_attr;
  context_ = std::move(opened.context);
  local_.device = opened.device;
  local_.port = opened.port;
  local_.link = port_attr_.link_layer == IBV_LINK_LAYER_ETHERNET ? LinkLayer::Ethernet
                                                                 : LinkLayer::InfiniBand;
  local_.lid = port_attr_.lid;
  local_.mtu = static_cast<std::uint8_t>(port_attr_.active_mtu);
  local_.rd_atomic_init = clampRdAtomic(device_attr_.max_qp_init_rd_atom);
  local_.rd_atomic_dest = clampRdAtomic(device_attr_.max_qp_rd_atom);
  // A random first PSN, so that packets of an earlier run's queue pair that happen to carry
  // the same numbers are not taken for ours.
  local_.psn = std::random_device{}() & 0xffffff;
  if (local_.link == LinkLayer::Ethernet || options_.gid_index >= 0) {
    // The table call returns the valid entries of every port of the device.
    std::vector<ibv_gid_entry> raw(std::size_t(std::max(1, port_attr_.gid_tbl_len)) *
                                   std::max<std::size_t>(1, device_attr_.phys_port_cnt));
    ssize_t n = ibv_query_gid_table(context_.get(), raw.data(), raw.size(), 0);
    if (n < 0) throwVerbs("ibv_query_gid_table", static_cast<int>(-n), where_);
    std::vector<GidEntry> table;
    for (ssize_t i = 0; i < n; ++i) {
      if (raw[i].port_num != local_.port) continue;
      GidEntry e;
      e.index = raw[i].gid_index;
      std::copy(std::begin(raw[i].gid.raw), std::end(raw[i].gid.raw), e.gid.begin());
      e.type = raw[i].gid_type;
      table.push_back(e);
    }
    local_.gid_index = chooseGidIndex(local_.link, options_.gid_index, table, where_);
    for (const auto& e : table)
      if (static_cast<int>(e.index) == local_.gid_index) local_.gid = e.gid;
  }
  max_read_ =
      std::min<std::uint64_t>(kMaxRead, port_attr_.max_msg_sz ? port_attr_.max_msg_sz : kMaxRead);

  pd_.reset(ibv_alloc_pd(context_.get()));
  if (!pd_) throwVerbs("ibv_alloc_pd", errno, where_);
  cache_ = std::make_unique<RegistrationCache>(
      [this](std::uintptr_t begin, std::size_t length) {
        auto* mr = ibv_reg_mr(pd_.get(), reinterpret_cast<void*>(begin), length,
                              IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_READ);
        if (!mr) throwVerbs(fmt::format("ibv_reg_mr of {} bytes", length), errno, where_);
        return RegistrationCache::Registration{
            mr->lkey, mr->rkey,
            std::shared_ptr<void>(mr, [](void* m) { ibv_dereg_mr(static_cast<ibv_mr*>(m)); })};
      },
      static_cast<std::size_t>(sysconf(_SC_PAGESIZE)));

  if (device_attr_.max_srq_wr <= 0)
    throwRuntime(
        fmt::format("{} has no shared receive queues, which the ibverbs transport needs", where_),
        "choose another device with --ib-device, or another transport");
  recv_slots_ =
      std::min<std::uint32_t>(kRecvSlots, static_cast<std::uint32_t>(device_attr_.max_srq_wr));
  sq_depth_ =
      std::min<std::uint32_t>(kSendDepth, static_cast<std::uint32_t>(device_attr_.max_qp_wr));
  send_slots_ = kSendSlots;
  send_credits_ = kSendCredits;
  // Every posted request may complete before we poll: the CQ must hold them all, or it
  // overruns and the queue pairs fail.
  auto max_cqe = static_cast<std::uint32_t>(std::max(device_attr_.max_cqe, 2));
  if (recv_slots_ + send_credits_ > max_cqe) {
    recv_slots_ = std::min(recv_slots_, max_cqe / 2);
    send_credits_ = max_cqe - recv_slots_;
  }

  recv_memory_.emplace(std::size_t{recv_slots_} * kRecvSlotBytes);
  recv_mr_.reset(
      ibv_reg_mr(pd_.get(), recv_memory_->data(), recv_memory_->size(), IBV_ACCESS_LOCAL_WRITE));
  if (!recv_mr_)
    throwVerbs(fmt::format("ibv_reg_mr of {} bytes (receive slots)", recv_memory_->size()), errno,
               where_);
  send_memory_.emplace(std::size_t{send_slots_} * kSendSlotBytes);
  send_mr_.reset(ibv_reg_mr(pd_.get(), send_memory_->data(), send_memory_->size(), 0));
  if (!send_mr_)
    throwVerbs(fmt::format("ibv_reg_mr of {} bytes (send slots)", send_memory_->size()), errno,
               where_);
  for (std::uint32_t s = send_slots_; s-- > 0;) free_send_slots_.push_back(s);

  if (options_.progress == ProgressMode::Epoll) {
    channel_.reset(ibv_create_comp_channel(context_.get()));
    if (!channel_) throwVerbs("ibv_create_comp_channel", errno, where_);
  }
  cq_.reset(ibv_create_cq(context_.get(), static_cast<int>(recv_slots_ + send_credits_), nullptr,
                          channel_.get(), 0));
  if (!cq_) throwVerbs("ibv_create_cq", errno, where_);
  ibv_srq_init_attr srq_attr{};
  srq_attr.attr.max_wr = recv_slots_;
  srq_attr.attr.max_sge = 1;
  srq_.reset(ibv_create_srq(pd_.get(), &srq_attr));
  if (!srq_) throwVerbs("ibv_create_srq", errno, where_);
  std::vector<std::uint32_t> all(recv_slots_);
  for (std::uint32_t s = 0; s < recv_slots_; ++s) all[s] = s;
  postRecvSlots(all.data(), all.size());
  setProtocol(engine::ProtocolParams{});
}

IbDevice::~IbDevice() = default;

void IbDevice::postRecvSlots(const std::uint32_t* slots, std::size_t count) {
  // Chained in batches: one doorbell for many slots.
  constexpr std::size_t kChain = 64;
  ibv_recv_wr wrs[kChain];
  ibv_sge sges[kChain];
  for (std::size_t start = 0; start < count; start += kChain) {
    std::size_t n = std::min(kChain, count - start);
    for (std::size_t i = 0; i < n; ++i) {
      auto slot = slots[start + i];
      sges[i].addr = reinterpret_cast<std::uintptr_t>(recv_memory_->data()) +
                     std::uint64_t{slot} * kRecvSlotBytes;
      sges[i].length = static_cast<std::uint32_t>(kRecvSlotBytes);
      sges[i].lkey = recv_mr_->lkey;
      wrs[i] = ibv_recv_wr{};
      wrs[i].wr_id = kRecvBit | slot;
      wrs[i].sg_list = &sges[i];
      wrs[i].num_sge = 1;
      wrs[i].next = i + 1 < n ? &wrs[i + 1] : nullptr;
    }
    ibv_recv_wr* bad = nullptr;
    if (int rc = ibv_post_srq_recv(srq_.get(), wrs, &bad))
      throwVerbs("ibv_post_srq_recv", rc, where_);
  }
}

void IbDevice::prepare(int rank, int size) {
  self_ = rank;
  peers_.clear();
  peers_.resize(static_cast<std::size_t>(size));
  qp_peer_.clear();
  std::vector<std::uint32_t> qpns(static_cast<std::size_t>(size), 0);
  max_inline_ = kWantInline;
  for (int r = 0; r < size; ++r) {
    Peer& p = peers_[r];
    p.rank = r;
    if (r == rank) continue;
    ibv_qp_init_attr init{};
    init.send_cq = cq_.get();
    init.recv_cq = cq_.get();
    init.srq = srq_.get();
    init.qp_type = IBV_QPT_RC;
    init.cap.max_send_wr = sq_depth_;
    init.cap.max_send_sge = 2;
    init.cap.max_inline_data = kWantInline;
    ibv_qp* qp = ibv_create_qp(pd_.get(), &init);
    if (!qp && errno == EINVAL) {
      // Some devices have less inline space (or none): inline sends then use the send slots.
      init.cap.max_inline_data = 0;
      qp = ibv_create_qp(pd_.get(), &init);
    }
    if (!qp) throwVerbs(fmt::format("ibv_create_qp for rank {}", r), errno, where_);
    p.qp.reset(qp);
    max_inline_ = std::min(max_inline_, init.cap.max_inline_data);
    auto t = initTransition(local_);
    if (int rc = ibv_modify_qp(qp, &t.attr, t.mask))
      throwVerbs(fmt::format("ibv_modify_qp to INIT (queue pair for rank {})", r), rc, where_);
    qpns[r] = qp->qp_num;
    qp_peer_[qp->qp_num] = r;
  }
  auto published = publishedAddress(local_, local_.device);
  published.qpns = std::move(qpns);
  address_ = encodeAddress(published);
}

Bytes IbDevice::address() const {
  if (address_.empty()) throwRuntime("ibverbs: address() before prepare()");
  return address_;
}

void IbDevice::connect(int rank, const std::vector<Bytes>& addresses,
                       const std::vector<std::string>& hosts, Deadline) {
  if (rank != self_ || addresses.size() != peers_.size())
    throwRuntime("ibverbs: connect() does not match prepare()");
  long local = std::count(hosts.begin(), hosts.end(), hosts[rank]);
  yield_ = local > sysconf(_SC_NPROCESSORS_ONLN);
  for (int r = 0; r < static_cast<int>(peers_.size()); ++r) {
    Peer& p = peers_[r];
    p.host = hosts[r];
    if (r == rank) continue;
    p.address = decodeAddress(addresses[r], r);
    auto towards = fmt::format("towards rank {} on {} ({} port {})", r, p.host, p.address.device,
                               p.address.port);
    // Both ends reach RTR and RTS here; nobody sends before Context's barrier that follows,
    // so no packet can arrive at a queue pair that is not ready for it.
    auto rtr = rtrTransition(local_, p.address, rank, r, settings_);
    if (int rc = ibv_modify_qp(p.qp.get(), &rtr.attr, rtr.mask))
      throwVerbs(fmt::format("ibv_modify_qp to RTR {}", towards), rc, where_,
                 "the ports may not share a fabric or subnet; on RoCE check --gid-index");
    auto rts = rtsTransition(local_, p.address, settings_);
    if (int rc = ibv_modify_qp(p.qp.get(), &rts.attr, rts.mask))
      throwVerbs(fmt::format("ibv_modify_qp to RTS {}", towards), rc, where_);
  }
}

std::unique_ptr<Buffer> IbDevice::createBuffer(void* ptr, std::size_t size) {
  return std::make_unique<IbBuffer>(*this, ptr, size);
}

void IbDevice::drain(Deadline deadline) {
  while (waiting_ > 0 || in_flight_ > 0) progress(deadline, "queued work requests to complete");
}

void IbDevice::setProtocol(const engine::ProtocolParams& params) {
  engine_.apply(params, !exposures_.empty());
}

engine::EngineCounters IbDevice::engineCounters() const { return engine_.snapshot(); }

nlohmann::json IbDevice::details() const {
  nlohmann::json d = {{"device", local_.device},
                      {"port", local_.port},
                      {"link_layer", linkLayerName(local_.link)},
                      {"lid", local_.lid},
                      {"gid_index", local_.gid_index},
                      {"active_mtu", mtuBytes(local_.mtu)},
                      {"fw_ver", std::string(device_attr_.fw_ver)},
                      {"vendor_part_id", device_attr_.vendor_part_id},
                      {"qp_type", "RC"},
                      {"recv_slots", recv_slots_},
                      {"recv_slot_bytes", kRecvSlotBytes},
                      {"frame_payload", frameCapacity()},
                      {"send_queue_depth", sq_depth_},
                      {"send_credits", send_credits_},
                      {"max_inline_data", max_inline_},
                      {"max_rd_atomic", local_.rd_atomic_init},
                      {"max_read_bytes", max_read_},
                      {"progress", options_.progress == ProgressMode::Poll ? "poll" : "epoll"},
                      {"yield_when_idle", yield_},
                      {"wire_version", kIbWireVersion},
                      {"overflow_buffers_allocated", engine_.overflow->buffersAllocated()},
                      {"read_dones", read_dones_},
                      {"extra_frames", extra_frames_},
                      {"queued_work_requests", queued_},
                      {"registrations",
                       {{"made", cache_->registrations()},
                        {"hits", cache_->hits()},
                        {"peak_bytes", cache_->peakBytesRegistered()}}}};
  if (local_.gid_index >= 0) d["gid"] = gidText(local_.gid);
  return d;
}

IbDevice::Peer& IbDevice::peerFor(int peer, const char* what) {
  if (peer < 0 || peer >= static_cast<int>(peers_.size()) || peer == self_)
    throwRuntime(fmt::format("{} invalid peer {} (this is rank {} of {})", what, peer, self_,
                             peers_.size()));
  return peers_[peer];
}

std::string IbDevice::peerName(const Peer& p) const {
  return fmt::format("rank {} on {}", p.rank, p.host);
}

const RegistrationCache::Region& IbDevice::registered(IbBuffer& buffer) {
  if (!buffer.region_) buffer.region_ = &cache_->acquire(buffer.data(), buffer.size());
  return *buffer.region_;
}

void IbDevice::postSend(IbBuffer& buffer, int peer, const std::uint8_t* data, std::size_t length,
                        std::uint64_t tag) {
  Peer& p = peerFor(peer, "send to");
  buffer.sendPosted();
  Frame h{};
  h.kind = kMessage;
  h.tag = tag;
  h.length = length;
  switch (engine::choosePath(engine_.params, length)) {
    case engine::Path::Inline: {
      ++engine_.counters.inline_sent;
      Work w;
      w.header = h;
      w.header.bytes = static_cast<std::uint32_t>(length);
      w.payload = data;
      w.copy = true;
      submit(p, std::move(w));
      // Copied (into the send slot, or the queued work): the caller may reuse it at once.
      completeSend(buffer);
      return;
    }
    case engine::Path::Eager: {
      ++engine_.counters.eager_sent;
      auto lkey = registered(buffer).lkey;
      auto frames = frameCount(length);
      extra_frames_ += frames - 1;
      for (std::uint64_t i = 0; i < frames; ++i) {
        Work w;
        w.header = h;
        w.header.offset = i * frameCapacity();
        w.header.bytes = frameBytes(length, i);
        w.payload = data + w.header.offset;
        w.lkey = lkey;
        // Completions of one queue pair come in order: the last frame's is the message's.
        if (i + 1 == frames) w.completes = &buffer;
        submit(p, std::move(w));
      }
      return;
    }
    case engine::Path::Rendezvous: {
      ++engine_.counters.rendezvous_sent;
      const auto& region = registered(buffer);
      std::uint64_t id = next_exposure_++;
      exposures_[id] = Exposure{&buffer, peer, false, false};
      ++p.exposures;
      auto eager = engine_.params.rdzv_eager_size;
      h.kind = kRendezvous;
      h.flags = engine_.params.rdzv_proto == engine::RdzvProto::AltRead ? kFlagAltRead : 0;
      h.id = id;
      h.addr = reinterpret_cast<std::uintptr_t>(data);
      h.rkey = region.rkey;
      h.eager = eager;
      auto frames = frameCount(eager);
      extra_frames_ += frames - 1;
      for (std::uint64_t i = 0; i < frames; ++i) {
        Work w;
        w.header = h;
        w.header.offset = i * frameCapacity();
        w.header.bytes = frameBytes(eager, i);
        w.payload = data + w.header.offset;
        w.lkey = region.lkey;
        if (i + 1 == frames) w.exposure = id;
        submit(p, std::move(w));
      }
      return;
    }
  }
}

void IbDevice::postRecv(IbBuffer& buffer, int peer, std::uint8_t* data, std::size_t capacity,
                        std::uint64_t tag) {
  Peer& p = peerFor(peer, "receive from");
  buffer.recvPosted();
  p.matcher.post(RecvOp{&buffer, data, capacity, tag}, peer, engine_, deliverTo(p));
}

void IbDevice::submit(Peer& p, Work&& work) {
  if (p.queue.empty() && tryPost(p, work)) return;
  // The caller's inline data is not kept: copy it while the work waits.
  if (work.copy && work.header.bytes > 0 && work.owned.empty())
    work.owned.assign(work.payload, work.payload + work.header.bytes);
  ++queued_;
  ++waiting_;
  p.queue.push_back(std::move(work));
}

bool IbDevice::tryPost(Peer& p, Work& w) {
  if (p.outstanding >= sq_depth_ || in_flight_ >= send_credits_) return false;
  if (!w.read && free_send_slots_.empty()) return false;
  std::uint32_t index;
  if (free_ops_.empty()) {
    index = static_cast<std::uint32_t>(ops_.size());
    ops_.emplace_back();
  } else {
    index = free_ops_.back();
    free_ops_.pop_back();
  }
  Op& op = ops_[index];
  op = Op{p.rank, -1, w.read, w.pull, w.completes, w.exposure};
  ibv_sge sge[2];
  ibv_send_wr wr{};
  wr.wr_id = index;
  wr.sg_list = sge;
  wr.send_flags = IBV_SEND_SIGNALED;
  if (w.read) {
    sge[0] = {reinterpret_cast<std::uintptr_t>(w.local), static_cast<std::uint32_t>(w.read_length),
              w.lkey};
    wr.num_sge = 1;
    wr.opcode = IBV_WR_RDMA_READ;
    wr.wr.rdma.remote_addr = w.remote;
    wr.wr.rdma.rkey = w.rkey;
  } else {
    op.slot = static_cast<int>(free_send_slots_.back());
    free_send_slots_.pop_back();
    std::uint8_t* slot = send_memory_->data() + std::size_t(op.slot) * kSendSlotBytes;
    std::memcpy(slot, &w.header, sizeof(Frame));
    std::uint32_t first = sizeof(Frame);
    if (w.copy && w.header.bytes > 0) {
      std::memcpy(slot + sizeof(Frame), w.owned.empty() ? w.payload : w.owned.data(),
                  w.header.bytes);
      first += w.header.bytes;
    }
    sge[0] = {reinterpret_cast<std::uintptr_t>(slot), first, send_mr_->lkey};
    wr.num_sge = 1;
    if (!w.copy && w.header.bytes > 0) {
      sge[1] = {reinterpret_cast<std::uintptr_t>(w.payload), w.header.bytes, w.lkey};
      wr.num_sge = 2;
    }
    wr.opcode = IBV_WR_SEND;
    if (w.copy && fitsInline(w.header.bytes, max_inline_)) wr.send_flags |= IBV_SEND_INLINE;
  }
  ibv_send_wr* bad = nullptr;
  if (int rc = ibv_post_send(p.qp.get(), &wr, &bad)) {
    if (op.slot >= 0) free_send_slots_.push_back(static_cast<std::uint32_t>(op.slot));
    free_ops_.push_back(index);
    throwVerbs(fmt::format("ibv_post_send ({}) to {}", w.read ? "RDMA READ" : "SEND", peerName(p)),
               rc, where_);
  }
  ++p.outstanding;
  ++in_flight_;
  return true;
}

void IbDevice::pump() {
  if (waiting_ == 0) return;
  for (auto& p : peers_) {
    while (!p.queue.empty() && tryPost(p, p.queue.front())) {
      p.queue.pop_front();
      --waiting_;
    }
  }
}

int IbDevice::pollCompletions() {
  ibv_wc wc[kPollBatch];
  int n = ibv_poll_cq(cq_.get(), kPollBatch, wc);
  if (n < 0) throwVerbs("ibv_poll_cq", errno ? errno : EIO, where_);
  std::uint32_t reposts[kPollBatch];
  std::size_t count = 0;
  for (int i = 0; i < n; ++i) {
    if (wc[i].status != IBV_WC_SUCCESS) completionFailed(wc[i]);
    if (wc[i].wr_id & kRecvBit) {
      auto it = qp_peer_.find(wc[i].qp_num);
      if (it == qp_peer_.end())
        throwRuntime(
            fmt::format("a frame arrived on unknown queue pair {} ({})", wc[i].qp_num, where_));
      auto slot = static_cast<std::uint32_t>(wc[i].wr_id & ~kRecvBit);
      frameArrived(peers_[it->second], slot, wc[i].byte_len);
      reposts[count++] = slot;  // copied out: the slot can take the next frame
    } else {
      sendCompleted(wc[i].wr_id);
    }
  }
  if (count > 0) postRecvSlots(reposts, count);
  if (n > 0) pump();
  return n;
}

void IbDevice::completionFailed(const ibv_wc& wc) {
  std::string op = "receive from";
  int peer = -1;
  if (wc.wr_id & kRecvBit) {
    if (auto it = qp_peer_.find(wc.qp_num); it != qp_peer_.end()) peer = it->second;
  } else if (wc.wr_id < ops_.size()) {
    peer = ops_[wc.wr_id].peer;
    op = ops_[wc.wr_id].read ? "RDMA READ from" : "send to";
  }
  auto host = peer >= 0 && peer < static_cast<int>(peers_.size()) ? peers_[peer].host : "?";
  throwRuntime(fmt::format("{} rank {} on {} failed: {} (ibv_poll_cq status {}, vendor error "
                           "{:#x}) ({})",
                           op, peer, host, ibv_wc_status_str(wc.status),
                           static_cast<int>(wc.status), wc.vendor_err, where_),
               completionHint(wc.status));
}

void IbDevice::protocolError(const Peer& p, const std::string& what) {
  throwRuntime(fmt::format("protocol error from {}: {} ({})", peerName(p), what, where_),
               "every rank must run the same rdzvbench build");
}

void IbDevice::sendCompleted(std::uint64_t wr_id) {
  if (wr_id >= ops_.size()) throwRuntime(fmt::format("completion of unknown request {}", wr_id));
  Op op = ops_[wr_id];
  free_ops_.push_back(static_cast<std::uint32_t>(wr_id));
  if (op.slot >= 0) free_send_slots_.push_back(static_cast<std::uint32_t>(op.slot));
  Peer& p = peers_[op.peer];
  --p.outstanding;
  --in_flight_;
  if (op.completes) completeSend(*op.completes);
  if (op.exposure) exposureProgress(op.peer, op.exposure, false);
  if (op.read) {
    auto it = p.pulls.find(op.pull);
    if (it == p.pulls.end()) throwRuntime(fmt::format("READ of unknown rendezvous {}", op.pull));
    --it->second.reads_left;
    maybeFinishPull(p, op.pull);
  }
}

void IbDevice::frameArrived(Peer& p, std::uint32_t slot, std::uint32_t byte_len) {
  const std::uint8_t* s = recv_memory_->data() + std::size_t{slot} * kRecvSlotBytes;
  if (byte_len < sizeof(Frame)) protocolError(p, fmt::format("a frame of {} bytes", byte_len));
  Frame h;
  std::memcpy(&h, s, sizeof h);
  if (sizeof(Frame) + h.bytes != byte_len)
    protocolError(
        p, fmt::format("a frame of {} bytes announcing {} payload bytes", byte_len, h.bytes));
  switch (h.kind) {
    case kMessage:
    case kRendezvous: {
      if (!p.in.active) {
        if (h.offset != 0) protocolError(p, "a continuation frame without its first frame");
        startMessage(p, h);
      } else if (h.offset != p.in.received || h.tag != p.in.first.tag ||
                 h.kind != p.in.first.kind) {
        protocolError(p, fmt::format("frame at offset {} of tag {} while {} bytes of tag {} were "
                                     "received",
                                     h.offset, h.tag, p.in.received, p.in.first.tag));
      }
      if (p.in.received + h.bytes > p.in.carried)
        protocolError(p, "frames carry more than their message announced");
      if (h.bytes > 0) std::memcpy(p.in.dst + p.in.received, s + sizeof(Frame), h.bytes);
      p.in.received += h.bytes;
      if (p.in.received == p.in.carried) finishMessage(p);
      break;
    }
    case kReadDone:
    case kDone:
      exposureProgress(p.rank, h.id, true);
      break;
    default:
      protocolError(p, fmt::format("unknown frame kind {}", h.kind));
  }
}

void IbDevice::startMessage(Peer& p, const Frame& h) {
  bool rendezvous = h.kind == kRendezvous;
  if (rendezvous && h.eager >= h.length) protocolError(p, "a rendezvous with nothing left to read");
  std::uint64_t carried = rendezvous ? h.eager : h.length;
  p.in = Incoming{};
  p.in.active = true;
  p.in.first = h;
  p.in.carried = carried;
  auto sink = p.matcher.arrive(h, carried, p.rank, engine_);
  p.in.dst = sink.dst;
  if (!sink.matched) {
    p.in.sink = Sink::Unexpected;
    p.in.unexpected = sink.unexpected;
    return;
  }
  p.in.sink = Sink::Matched;
  p.in.op = sink.op;
  bool alt_read = (h.flags & kFlagAltRead) != 0;
  if (rendezvous && getTiming(alt_read ? engine::RdzvProto::AltRead : engine::RdzvProto::Default) ==
                        GetTiming::AtMatch)
    issueGet(
        p, h.id,
        Pull{p.in.op.buffer, p.in.op.data, h.length, h.eager, h.addr, h.rkey, false, false, 0});
}

void IbDevice::finishMessage(Peer& p) {
  p.in.active = false;
  const Frame& h = p.in.first;
  if (p.in.sink == Sink::Unexpected) {
    p.matcher.arrived(p.in.unexpected, engine_, deliverTo(p));
    return;
  }
  if (h.kind == kMessage) {
    completeRecv(*p.in.op.buffer);
    return;
  }
  auto pull = p.pulls.find(h.id);
  if (pull != p.pulls.end()) {  // issued at match
    pull->second.frames_done = true;
    maybeFinishPull(p, h.id);
  } else {
    issueGet(p, h.id,
             Pull{p.in.op.buffer, p.in.op.data, h.length, h.eager, h.addr, h.rkey,
                  (h.flags & kFlagAltRead) != 0, true, 0});
  }
}

void IbDevice::deliverUnexpected(Peer& p, const Frame& h, const RecvOp& op) {
  if (h.kind == kRendezvous) {
    // An unexpected rendezvous: the Get is issued by software when the receive is
    // processed, whatever the protocol (cxi-reference.md §2.2).
    issueGet(p, h.id,
             Pull{op.buffer, op.data, h.length, h.eager, h.addr, h.rkey,
                  (h.flags & kFlagAltRead) != 0, true, 0});
  } else {
    completeRecv(*op.buffer);
  }
}

void IbDevice::issueGet(Peer& p, std::uint64_t id, const Pull& pull) {
  ++engine_.counters.gets;
  auto lkey = registered(*pull.buffer).lkey;
  auto reads = readCount(pull.length, pull.eager, max_read_);
  auto [it, inserted] = p.pulls.emplace(id, pull);
  if (!inserted) protocolError(p, fmt::format("rendezvous {} announced twice", id));
  it->second.reads_left = reads;
  for (std::uint64_t i = 0; i < reads; ++i) {
    auto chunk = readChunk(pull.length, pull.eager, max_read_, i);
    Work w;
    w.read = true;
    w.local = pull.data + chunk.offset;
    w.lkey = lkey;
    w.remote = pull.addr + chunk.offset;
    w.rkey = pull.rkey;
    w.read_length = chunk.length;
    w.pull = id;
    submit(p, std::move(w));
  }
}

void IbDevice::maybeFinishPull(Peer& p, std::uint64_t id) {
  auto it = p.pulls.find(id);
  if (it == p.pulls.end() || it->second.reads_left > 0 || !it->second.frames_done) return;
  Pull pull = it->second;
  p.pulls.erase(it);
  completeRecv(*pull.buffer);
  auto kind = completionFrame(pull.alt_read);
  ++(kind == kDone ? engine_.counters.done_sent : read_dones_);
  sendControl(p, kind, id);
}

void IbDevice::sendControl(Peer& p, FrameKind kind, std::uint64_t id) {
  Work w;
  w.header = Frame{};
  w.header.kind = kind;
  w.header.id = id;
  w.copy = true;
  submit(p, std::move(w));
}

void IbDevice::exposureProgress(int peer, std::uint64_t id, bool notified) {
  auto it = exposures_.find(id);
  if (it == exposures_.end() || it->second.peer != peer ||
      (notified ? it->second.notified : it->second.frames_sent))
    protocolError(peers_[peer], fmt::format("completion of unknown rendezvous {}", id));
  (notified ? it->second.notified : it->second.frames_sent) = true;
  if (!it->second.notified || !it->second.frames_sent) return;
  completeSend(*it->second.buffer);
  --peers_[peer].exposures;
  exposures_.erase(it);
}

void IbDevice::completeRecv(IbBuffer& buffer) { buffer.recvCompleted(); }

void IbDevice::completeSend(IbBuffer& buffer) { buffer.sendCompleted(); }

void IbDevice::progress(Deadline deadline, const char* what) {
  if (pollCompletions() > 0) return;
  if (options_.progress == ProgressMode::Epoll) {
    if (!armed_) {
      // Armed before the last look, so a completion that slips in between raises an event.
      if (int rc = ibv_req_notify_cq(cq_.get(), 0)) throwVerbs("ibv_req_notify_cq", rc, where_);
      armed_ = true;
      return;
    }
    pollfd fd{channel_->fd, POLLIN, 0};
    int n = ::poll(&fd, 1, deadline.remainingMs(100));
    if (n < 0 && errno != EINTR) throwVerbs("poll on the completion channel", errno, where_);
    if (n > 0) {
      ibv_cq* cq = nullptr;
      void* context = nullptr;
      if (ibv_get_cq_event(channel_.get(), &cq, &context) != 0)
        throwVerbs("ibv_get_cq_event", errno, where_);
      ibv_ack_cq_events(cq, 1);
      armed_ = false;
      return;
    }
  } else {
    ++spins_;
    if ((spins_ & 255) != 0) {
      if (yield_) sched_yield();
      return;
    }
  }
  if (deadline.expired())
    throwRuntime(
        fmt::format("timed out waiting for {} over {} ({})", what, where_, pendingDescription()),
        "a peer is stuck, dead or far slower than expected; raise --timeout if it is "
        "only slow");
  if (yield_) sched_yield();
}

std::string IbDevice::pendingDescription() const {
  std::vector<int> recv_from, send_to;
  for (const auto& p : peers_) {
    if (p.rank == self_) continue;
    if (p.matcher.hasPosted() || p.in.active || !p.pulls.empty()) recv_from.push_back(p.rank);
    if (!p.queue.empty() || p.outstanding > 0 || p.exposures > 0) send_to.push_back(p.rank);
  }
  std::string out;
  if (!recv_from.empty())
    out += fmt::format("receives pending from rank {}", fmt::join(recv_from, ", "));
  if (!send_to.empty())
    out += fmt::format("{}sends pending to rank {}", out.empty() ? "" : "; ",
                       fmt::join(send_to, ", "));
  return out.empty() ? "nothing pending" : out;
}

IbBuffer::~IbBuffer() {
  if (region_) device_.registrations().release(*region_);
}

void IbBuffer::send(int peer, std::size_t offset, std::size_t length, std::uint64_t tag) {
  checkRange(offset, length);
  device_.postSend(*this, peer, data() + offset, length, tag);
}

void IbBuffer::recv(int peer, std::size_t offset, std::size_t length, std::uint64_t tag) {
  checkRange(offset, length);
  device_.postRecv(*this, peer, data() + offset, length, tag);
}

}  // namespace rdzv::transport::ibverbs
