// The receive matcher shared by the tcp, ibverbs and ofi engine devices, on its own: which receive
// a message lands in, in which order, what is copied out of overflow space and counted, and the
// refusal of a message longer than its receive.

#include <gtest/gtest.h>

#include <cstring>
#include <deque>
#include <string>
#include <vector>

#include "lib/error.h"
#include "transport/engine/matcher.h"

namespace rdzv::transport::engine {
namespace {

struct TestOp {
  int id = -1;
  std::uint8_t* data = nullptr;
  std::size_t capacity = 0;
  std::uint64_t tag = 0;
};

struct TestHeader {
  std::uint64_t tag = 0;
  std::uint64_t length = 0;
  bool rendezvous = false;
  char fill = 0;  // the byte its carried payload is made of
};

struct Delivery {
  int op;
  TestHeader header;
};

// A device stand-in: one peer's matcher, the engine state and the deliveries made.
class MatcherTest : public ::testing::Test {
 protected:
  static constexpr int kPeer = 3;

  MatcherTest() { engine.apply(ProtocolParams{}, false); }

  TestOp op(int id, std::uint64_t tag, std::size_t capacity = 64) {
    memory.emplace_back(capacity, std::uint8_t{0});
    return TestOp{id, memory.back().data(), capacity, tag};
  }
  auto record() {
    return [this](const TestHeader& h, const TestOp& o) { deliveries.push_back({o.id, h}); };
  }
  void post(const TestOp& o) { matcher.post(o, kPeer, engine, record()); }
  // A first frame whose carried bytes all arrive at once; returns the sink it went to.
  Matcher<TestOp, TestHeader>::Sink arriveWhole(std::uint64_t tag, std::uint64_t length, char fill,
                                                std::uint64_t carried = ~0ull) {
    if (carried == ~0ull) carried = length;
    TestHeader h{tag, length, carried < length, fill};
    auto sink = matcher.arrive(h, carried, kPeer, engine);
    if (carried > 0) std::memset(sink.dst, fill, carried);
    if (!sink.matched) matcher.arrived(sink.unexpected, engine, record());
    return sink;
  }
  static std::string text(const TestOp& o, std::size_t n) {
    return std::string(reinterpret_cast<const char*>(o.data), n);
  }

  EngineState engine;
  Matcher<TestOp, TestHeader> matcher;
  std::vector<Delivery> deliveries;
  std::deque<std::vector<std::uint8_t>> memory;  // deque: data pointers stay valid
};

TEST_F(MatcherTest, PostedThenArrivalGoesStraightToTheReceive) {
  auto a = op(1, 5, 40);  // exactly long enough
  post(a);
  EXPECT_TRUE(matcher.hasPosted());
  auto sink = matcher.arrive(TestHeader{5, 40, false, 'x'}, 40, kPeer, engine);
  ASSERT_TRUE(sink.matched);
  EXPECT_EQ(sink.op.id, 1);
  EXPECT_EQ(sink.dst, a.data);  // no overflow space, no copy
  EXPECT_FALSE(matcher.hasPosted());
  EXPECT_EQ(matcher.unexpectedCount(), 0u);
  EXPECT_TRUE(deliveries.empty());  // the device completes a matched receive itself
  EXPECT_EQ(engine.counters.unexpected, 0u);
  EXPECT_EQ(engine.counters.overflow_bytes_copied, 0u);
  EXPECT_EQ(engine.overflow->bytesInUse(), 0u);
}

TEST_F(MatcherTest, ArrivalThenPostedCopiesFromOverflow) {
  auto sink = arriveWhole(7, 48, 'u');
  ASSERT_FALSE(sink.matched);
  EXPECT_EQ(engine.counters.unexpected, 1u);
  EXPECT_EQ(engine.overflow->bytesInUse(), 48u);
  EXPECT_TRUE(deliveries.empty());
  auto a = op(2, 7);
  post(a);
  ASSERT_EQ(deliveries.size(), 1u);
  EXPECT_EQ(deliveries[0].op, 2);
  EXPECT_EQ(deliveries[0].header.length, 48u);
  EXPECT_EQ(text(a, 48), std::string(48, 'u'));
  EXPECT_EQ(a.data[48], 0);  // nothing beyond the message
  EXPECT_EQ(engine.counters.overflow_bytes_copied, 48u);
  EXPECT_EQ(engine.overflow->bytesInUse(), 0u);  // the slot was released
  EXPECT_EQ(matcher.unexpectedCount(), 0u);
  EXPECT_FALSE(matcher.hasPosted());
}

TEST_F(MatcherTest, ReceivePostedWhileArrivingClaimsAndWaits) {
  TestHeader h{7, 32, false, 'c'};
  auto sink = matcher.arrive(h, 32, kPeer, engine);
  ASSERT_FALSE(sink.matched);
  std::memset(sink.dst, 'c', 16);  // half of it is in
  auto a = op(3, 7);
  post(a);
  ASSERT_TRUE(deliveries.empty());  // claimed, not delivered: bytes are missing
  EXPECT_FALSE(matcher.hasPosted());
  EXPECT_EQ(matcher.unexpectedCount(), 1u);
  // A second receive of the same tag does not take the claimed arrival: it waits for the next.
  auto b = op(4, 7);
  post(b);
  EXPECT_EQ(matcher.postedCount(), 1u);
  std::memset(sink.dst + 16, 'c', 16);
  matcher.arrived(sink.unexpected, engine, record());
  ASSERT_EQ(deliveries.size(), 1u);
  EXPECT_EQ(deliveries[0].op, 3);
  EXPECT_EQ(text(a, 32), std::string(32, 'c'));
  EXPECT_EQ(engine.counters.overflow_bytes_copied, 32u);
  EXPECT_EQ(matcher.unexpectedCount(), 0u);
  auto next = matcher.arrive(TestHeader{7, 8, false, 'n'}, 8, kPeer, engine);
  ASSERT_TRUE(next.matched);
  EXPECT_EQ(next.op.id, 4);
  EXPECT_EQ(engine.counters.unexpected, 1u);
}

TEST_F(MatcherTest, UnexpectedRendezvousCopiesOnlyItsCarriedBytes) {
  auto sink = arriveWhole(9, 1 << 20, 'r', 16);
  ASSERT_FALSE(sink.matched);
  EXPECT_EQ(engine.overflow->bytesInUse(), 16u);
  auto a = op(5, 9, 1 << 20);
  post(a);
  ASSERT_EQ(deliveries.size(), 1u);
  EXPECT_TRUE(deliveries[0].header.rendezvous);  // the device issues the Get from here
  EXPECT_EQ(deliveries[0].header.length, 1u << 20);
  EXPECT_EQ(text(a, 17), std::string(16, 'r') + '\0');
  EXPECT_EQ(engine.counters.overflow_bytes_copied, 16u);
}

TEST_F(MatcherTest, UnexpectedArrivalsAreTakenFirstInFirstOutPerTag) {
  arriveWhole(1, 4, 'a');
  arriveWhole(2, 4, 'b');
  arriveWhole(1, 4, 'c');
  arriveWhole(2, 4, 'd');
  arriveWhole(1, 0, 'e');  // zero bytes: still an arrival of its own
  EXPECT_EQ(engine.counters.unexpected, 5u);
  std::vector<TestOp> ops{op(10, 2), op(11, 1), op(12, 1), op(13, 2), op(14, 1)};
  for (const auto& o : ops) post(o);
  ASSERT_EQ(deliveries.size(), 5u);
  std::string order;
  for (const auto& d : deliveries) order += d.header.fill;
  EXPECT_EQ(order, "bacde");
  EXPECT_EQ(text(ops[0], 4), "bbbb");
  EXPECT_EQ(text(ops[1], 4), "aaaa");
  EXPECT_EQ(text(ops[2], 4), "cccc");
  EXPECT_EQ(text(ops[3], 4), "dddd");
  EXPECT_EQ(engine.counters.overflow_bytes_copied, 16u);
  EXPECT_EQ(engine.overflow->bytesInUse(), 0u);
}

TEST_F(MatcherTest, PostedReceivesAreTakenFirstInFirstOutPerTag) {
  post(op(20, 1));
  post(op(21, 2));
  post(op(22, 1));
  post(op(23, 2));
  std::vector<int> got;
  for (std::uint64_t tag : {2u, 1u, 1u, 2u}) {
    auto sink = matcher.arrive(TestHeader{tag, 4, false, 'p'}, 4, kPeer, engine);
    ASSERT_TRUE(sink.matched);
    got.push_back(sink.op.id);
  }
  EXPECT_EQ(got, (std::vector<int>{21, 20, 22, 23}));
  EXPECT_EQ(engine.counters.unexpected, 0u);
}

TEST_F(MatcherTest, TooLongArrivalForAPostedReceiveIsRefused) {
  post(op(30, 4, 50));
  try {
    matcher.arrive(TestHeader{4, 100, false, 't'}, 100, kPeer, engine);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Runtime);
    EXPECT_STREQ(e.what(), "rank 3 sent 100 bytes with tag 4, but the receive holds only 50");
  }
}

TEST_F(MatcherTest, ReceiveTooShortForAnUnexpectedArrivalIsRefused) {
  arriveWhole(6, 4096, 's', 64);  // a rendezvous: its whole length counts, not its E bytes
  try {
    post(op(31, 6, 4095));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Runtime);
    EXPECT_STREQ(e.what(), "rank 3 sent 4096 bytes with tag 6, but the receive holds only 4095");
  }
  // Refused before anything is copied, counted or taken: the arrival waits for a fitting one.
  EXPECT_TRUE(deliveries.empty());
  EXPECT_EQ(engine.counters.overflow_bytes_copied, 0u);
  EXPECT_EQ(matcher.unexpectedCount(), 1u);
  post(op(32, 6, 4096));  // exactly long enough
  EXPECT_EQ(deliveries.size(), 1u);
  EXPECT_EQ(engine.counters.overflow_bytes_copied, 64u);
  EXPECT_EQ(matcher.unexpectedCount(), 0u);
}

}  // namespace
}  // namespace rdzv::transport::engine
