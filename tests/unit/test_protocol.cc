// The protocol engine's decisions at every boundary, and the refusals of combinations the
// CXI provider would silently change.

#include <gtest/gtest.h>

#include "lib/error.h"
#include "transport/engine/overflow.h"
#include "transport/engine/protocol.h"

namespace rdzv::transport::engine {
namespace {

ProtocolParams params(std::uint64_t T, std::uint64_t G, std::uint64_t E) {
  ProtocolParams p;
  p.rdzv_threshold = T;
  p.rdzv_get_min = G;
  p.rdzv_eager_size = E;
  return p;
}

TEST(Protocol, DefaultsAreLibfabric24) {
  ProtocolParams p;
  EXPECT_EQ(p.inject_size, 192u);
  EXPECT_EQ(p.rdzv_threshold, 16384u);
  EXPECT_EQ(p.rdzv_get_min, 2049u);
  EXPECT_EQ(p.rdzv_eager_size, 2048u);
  EXPECT_EQ(p.oflow_buf_size, 12u << 20);
  EXPECT_EQ(p.oflow_buf_count, 3u);
  EXPECT_EQ(p.switchPoint(), 18433u);
  EXPECT_NO_THROW(validate(p));
}

TEST(Protocol, InlineBoundary) {
  ProtocolParams p;
  EXPECT_EQ(choosePath(p, 0), Path::Inline);
  EXPECT_EQ(choosePath(p, 192), Path::Inline);
  EXPECT_EQ(choosePath(p, 193), Path::Eager);
  EXPECT_EQ(firstFrameBytes(p, 193), 193u);
}

TEST(Protocol, SwitchPointBoundary) {
  ProtocolParams p;
  EXPECT_EQ(choosePath(p, 18433), Path::Eager);
  EXPECT_EQ(firstFrameBytes(p, 18433), 18433u);
  EXPECT_EQ(choosePath(p, 18434), Path::Rendezvous);
  EXPECT_EQ(firstFrameBytes(p, 18434), 2048u);
}

TEST(Protocol, EagerSizeZeroSendsHeaderOnly) {
  auto p = params(16384, 2049, 0);
  EXPECT_EQ(choosePath(p, 1 << 20), Path::Rendezvous);
  EXPECT_EQ(firstFrameBytes(p, 1 << 20), 0u);
}

TEST(Protocol, EagerSizeEqualToThreshold) {
  auto p = params(16384, 2049, 16384);  // the pre-2.4 default
  EXPECT_NO_THROW(validate(p));
  EXPECT_EQ(firstFrameBytes(p, 18434), 16384u);
}

TEST(Protocol, GetMinZeroSwitchesAtThreshold) {
  auto p = params(4096, 0, 2048);
  EXPECT_EQ(choosePath(p, 4096), Path::Eager);
  EXPECT_EQ(choosePath(p, 4097), Path::Rendezvous);
}

TEST(Protocol, HpeRecipeEverythingAboveInjectIsRendezvous) {
  // FI_CXI_RDZV_THRESHOLD=0 is clamped to 192 by the provider; asked for directly here.
  auto p = params(192, 0, 0);
  EXPECT_NO_THROW(validate(p));
  EXPECT_EQ(choosePath(p, 192), Path::Inline);
  EXPECT_EQ(choosePath(p, 193), Path::Rendezvous);
}

std::string refusal(const ProtocolParams& p) {
  try {
    validate(p);
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Usage);
    return e.message();
  }
  return "";
}

TEST(Protocol, ThresholdBelowInjectIsRefusedSayingTheProviderWouldRaiseIt) {
  auto msg = refusal(params(100, 2049, 0));
  EXPECT_NE(msg.find("--rdzv-threshold 100"), std::string::npos) << msg;
  EXPECT_NE(msg.find("raise it to 192"), std::string::npos) << msg;
}

TEST(Protocol, EagerSizeAboveThresholdIsRefusedSayingTheProviderWouldClamp) {
  auto msg = refusal(params(4096, 2049, 8192));
  EXPECT_NE(msg.find("--rdzv-eager-size 8192"), std::string::npos) << msg;
  EXPECT_NE(msg.find("clamp"), std::string::npos) << msg;
}

TEST(Protocol, ThresholdAboveOverflowIsRefusedSayingTheProviderWouldReset) {
  auto p = params(16u << 20, 2049, 2048);
  auto msg = refusal(p);
  EXPECT_NE(msg.find("reset the threshold"), std::string::npos) << msg;
}

TEST(Protocol, ThresholdPlusGetMinAboveOverflowIsRefusedSayingGetMinWouldBeZero) {
  auto p = params(12u << 20, 2049, 2048);
  auto msg = refusal(p);
  EXPECT_NE(msg.find("rdzv_get_min to 0"), std::string::npos) << msg;
  p.rdzv_get_min = 0;
  EXPECT_NO_THROW(validate(p));  // exactly the buffer size is allowed
}

TEST(Protocol, ZeroOverflowBuffersRefused) {
  ProtocolParams p;
  p.oflow_buf_count = 0;
  EXPECT_NE(refusal(p).find("--oflow-buf-count 0"), std::string::npos);
}

TEST(Protocol, ProtoNames) {
  EXPECT_EQ(parseProto("default"), RdzvProto::Default);
  EXPECT_EQ(parseProto("alt_read"), RdzvProto::AltRead);
  EXPECT_EQ(parseProto("alt-read"), RdzvProto::AltRead);
  EXPECT_THROW(parseProto("alt_write"), Error);
  EXPECT_EQ(describe(ProtocolParams{}).at("rdzv_threshold"), "16K");
}

TEST(Overflow, FillsBuffersFrontToBackAndReusesIdleOnes) {
  OverflowPool pool(1000, 3);
  auto a = pool.allocate(400);
  auto b = pool.allocate(400);
  EXPECT_EQ(a.buffer, b.buffer);
  EXPECT_EQ(b.data, a.data + 400);
  auto c = pool.allocate(400);  // does not fit: a second buffer
  EXPECT_NE(c.buffer, a.buffer);
  EXPECT_EQ(pool.buffersAllocated(), 2u);
  EXPECT_EQ(pool.bytesInUse(), 1200u);
  pool.release(a);
  pool.release(b);  // the first buffer is idle again
  auto d = pool.allocate(900);
  EXPECT_EQ(d.buffer, a.buffer);
  EXPECT_EQ(pool.buffersAllocated(), 2u);
  EXPECT_EQ(pool.peakBytesInUse(), 1300u);
  pool.release(c);
  pool.release(d);
  EXPECT_EQ(pool.bytesInUse(), 0u);
}

TEST(Overflow, GrowsBeyondPostedWhenAllAreBusy) {
  OverflowPool pool(100, 2);
  std::vector<OverflowPool::Slot> held;
  for (int i = 0; i < 5; ++i) held.push_back(pool.allocate(100));
  EXPECT_EQ(pool.buffersAllocated(), 5u);
  EXPECT_EQ(pool.buffersBeyondPosted(), 3u);
  EXPECT_EQ(pool.peakBytesInUse(), 500u);
  EXPECT_THROW(pool.allocate(101), Error);
}

TEST(Overflow, ZeroByteMessagesTakeNoSpace) {
  OverflowPool pool(100, 1);
  auto a = pool.allocate(0);
  EXPECT_EQ(pool.bytesInUse(), 0u);
  pool.release(a);
}

}  // namespace
}  // namespace rdzv::transport::engine
