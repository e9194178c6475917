// The protocol engine's decisions in ibverbs terms: frames per first part, READ chunks, when
// the Get is issued and how the sender learns it is done; and which path each message takes
// with the engine's parameters, exactly as on tcp.

#ifdef RDZV_HAVE_IBVERBS

#include <gtest/gtest.h>

#include "transport/engine/protocol.h"
#include "transport/ibverbs/frames.h"

namespace rdzv::transport::ibverbs {
namespace {

TEST(IbFrames, HeaderIs64BytesAndSlotsHoldTheDefaults) {
  EXPECT_EQ(sizeof(Frame), 64u);
  EXPECT_EQ(frameCapacity(), 32768u - 64u);
  engine::ProtocolParams p;
  // Default eager messages (up to T + G) and inline ones take one frame.
  EXPECT_EQ(frameCount(p.switchPoint()), 1u);
  EXPECT_EQ(frameCount(p.inject_size), 1u);
  EXPECT_EQ(frameCount(p.rdzv_eager_size), 1u);
  EXPECT_GE(kSendSlotBytes, sizeof(Frame) + 4096);  // the largest inject size validate allows
}

TEST(IbFrames, FirstPartsSplitIntoFullFramesAndARest) {
  const std::size_t cap = 1000;
  EXPECT_EQ(frameCount(0, cap), 1u);  // a header alone (E = 0)
  EXPECT_EQ(frameBytes(0, 0, cap), 0u);
  EXPECT_EQ(frameCount(1000, cap), 1u);
  EXPECT_EQ(frameCount(1001, cap), 2u);
  EXPECT_EQ(frameBytes(1001, 0, cap), 1000u);
  EXPECT_EQ(frameBytes(1001, 1, cap), 1u);
  EXPECT_EQ(frameCount(3000, cap), 3u);
  std::uint64_t total = 0;
  for (std::uint64_t i = 0; i < frameCount(12345); ++i) total += frameBytes(12345, i);
  EXPECT_EQ(total, 12345u);
  // A 1 MiB eager threshold: 33 frames of a 32 KiB slot.
  EXPECT_EQ(frameCount(1 << 20), 33u);
}

TEST(IbFrames, ReadsPullTheRestInChunksOfTheLargestMessage) {
  EXPECT_EQ(readCount(100, 100, 64), 0u);
  EXPECT_EQ(readCount(1 << 20, 2048, 1ull << 30), 1u);
  auto only = readChunk(1 << 20, 2048, 1ull << 30, 0);
  EXPECT_EQ(only.offset, 2048u);
  EXPECT_EQ(only.length, (1u << 20) - 2048u);
  EXPECT_EQ(readCount(1000, 100, 300), 3u);
  EXPECT_EQ(readChunk(1000, 100, 300, 0).offset, 100u);
  EXPECT_EQ(readChunk(1000, 100, 300, 2).offset, 700u);
  EXPECT_EQ(readChunk(1000, 100, 300, 2).length, 300u);
  EXPECT_EQ(readCount(1001, 100, 300), 4u);
  EXPECT_EQ(readChunk(1001, 100, 300, 3).length, 1u);
}

TEST(IbFrames, GetTimingFollowsTheProtocol) {
  EXPECT_EQ(getTiming(engine::RdzvProto::Default), GetTiming::AtMatch);
  EXPECT_EQ(getTiming(engine::RdzvProto::AltRead), GetTiming::AfterFrames);
}

TEST(IbFrames, SenderLearnsOfTheReadByReadDoneOrDone) {
  EXPECT_EQ(completionFrame(false), kReadDone);
  EXPECT_EQ(completionFrame(true), kDone);
}

TEST(IbFrames, InlineWhenHeaderAndPayloadFit) {
  EXPECT_TRUE(fitsInline(192, 256));
  EXPECT_FALSE(fitsInline(193, 256));
  EXPECT_TRUE(fitsInline(0, 64));
  EXPECT_FALSE(fitsInline(0, 0));  // no inline space at all
}

TEST(IbFrames, PathsAndFirstPartsAreTheEnginesOwn) {
  // The transport asks the engine; these are the boundaries tcp sees, in frames.
  engine::ProtocolParams p;
  p.rdzv_threshold = 65536;
  p.rdzv_get_min = 0;
  p.rdzv_eager_size = 40000;
  engine::validate(p);
  EXPECT_EQ(engine::choosePath(p, 65536), engine::Path::Eager);
  EXPECT_EQ(frameCount(engine::firstFrameBytes(p, 65536)), 3u);  // eager, 3 frames
  EXPECT_EQ(engine::choosePath(p, 65537), engine::Path::Rendezvous);
  EXPECT_EQ(frameCount(engine::firstFrameBytes(p, 65537)), 2u);  // E = 40000: 2 frames
  EXPECT_EQ(readCount(65537, p.rdzv_eager_size, 1ull << 30), 1u);
}

}  // namespace
}  // namespace rdzv::transport::ibverbs

#endif  // RDZV_HAVE_IBVERBS
