// The tcp transport's matching and protocol engine, with real sockets on loopback: ranks are
// threads of this process rendezvousing through a HashStore.

#include <gtest/gtest.h>

#include <functional>
#include <numeric>
#include <thread>

#include "lib/error.h"
#include "store/bootstrap.h"
#include "store/hash_store.h"
#include "transport/context.h"
#include "transport/tcp/tcp_device.h"

namespace rdzv::transport {
namespace {

using RankBody = std::function<void(Context&, Device&)>;

// Runs `body` on `n` ranks, each a thread with its own TcpDevice; rethrows the first error.
void runRanks(int n, const engine::ProtocolParams& params, const RankBody& body) {
  store::HashStore store;
  std::vector<std::thread> threads;
  std::vector<std::exception_ptr> errors(n);
  for (int r = 0; r < n; ++r) {
    threads.emplace_back([&, r] {
      try {
        store::StoreBootstrap bootstrap(store, r, n);
        TransportOptions options;
        options.addr = "127.0.0.1";
        options.run_id = "unit";
        auto device = std::make_unique<tcp::TcpDevice>(options);
        device->setProtocol(params);
        auto& dev = *device;
        Context context(std::move(device), bootstrap);
        context.connectFullMesh("mesh", Deadline::afterSeconds(10));
        body(context, dev);
        bootstrap.barrier("end", Deadline::afterSeconds(10));
      } catch (const std::exception& e) {
        errors[r] = std::current_exception();
        store::StoreBootstrap(store, r, n).abort(e.what());
      }
    });
  }
  for (auto& t : threads) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

Deadline soon() { return Deadline::afterSeconds(10); }

std::vector<std::uint8_t> pattern(std::size_t n, std::uint8_t seed) {
  std::vector<std::uint8_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>(seed + i * 7);
  return v;
}

TEST(TcpEngine, OutOfOrderTagsMatchTheirOwnReceive) {
  runRanks(2, {}, [](Context& ctx, Device&) {
    std::vector<std::uint8_t> mem(200);
    auto buf = ctx.createBuffer(mem.data(), mem.size());
    if (ctx.rank() == 0) {
      std::fill(mem.begin(), mem.begin() + 100, 0xAA);
      std::fill(mem.begin() + 100, mem.end(), 0xBB);
      buf->send(1, 0, 100, 1);
      buf->send(1, 100, 100, 2);
      buf->waitSend(soon());
      buf->waitSend(soon());
    } else {
      buf->recv(0, 0, 100, 2);  // tag 2 into the first half
      buf->recv(0, 100, 100, 1);
      buf->waitRecv(soon());
      buf->waitRecv(soon());
      EXPECT_EQ(mem[0], 0xBB);
      EXPECT_EQ(mem[199], 0xAA);
    }
  });
}

TEST(TcpEngine, UnexpectedMessagesOfEveryPathWaitInOverflowSpace) {
  const std::vector<std::size_t> sizes{0, 100, 5000, 100000};  // inline x2, eager, rendezvous
  runRanks(2, {}, [&](Context& ctx, Device& dev) {
    std::size_t total = std::accumulate(sizes.begin(), sizes.end(), std::size_t{0});
    std::vector<std::uint8_t> mem(total);
    auto buf = ctx.createBuffer(mem.data(), mem.size());
    auto flag = std::vector<std::uint8_t>(1);
    auto sync = ctx.createBuffer(flag.data(), 1);
    if (ctx.rank() == 0) {
      auto data = pattern(total, 3);
      std::copy(data.begin(), data.end(), mem.begin());
      std::size_t off = 0;
      for (auto s : sizes) {
        buf->send(1, off, s, 7);
        off += s;
      }
      // The inline and eager sends complete without the receiver; signal it to post.
      for (int i = 0; i < 3; ++i) buf->waitSend(soon());
      sync->send(1, 0, 1, 99);
      sync->waitSend(soon());
      buf->waitSend(soon());  // the rendezvous completes once pulled
    } else {
      sync->recv(0, 0, 1, 99);
      sync->waitRecv(soon());
      std::size_t off = 0;
      for (auto s : sizes) {
        buf->recv(0, off, s, 7);
        off += s;
      }
      for (std::size_t i = 0; i < sizes.size(); ++i) buf->waitRecv(soon());
      EXPECT_EQ(mem, pattern(total, 3));
      auto c = dev.engineCounters();
      EXPECT_EQ(c.unexpected, 4u);
      EXPECT_EQ(c.gets, 1u);
      // All of the eager ones and the rendezvous' E bytes came through overflow space.
      EXPECT_EQ(c.overflow_bytes_copied, 100u + 5000u + 2048u);
      EXPECT_EQ(c.peak_overflow_bytes, 100u + 5000u + 2048u);
    }
  });
}

TEST(TcpEngine, SameTagMatchesInPostedOrder) {
  runRanks(2, {}, [](Context& ctx, Device&) {
    const int n = 50;
    std::vector<std::uint8_t> mem(n * 300);
    auto buf = ctx.createBuffer(mem.data(), mem.size());
    if (ctx.rank() == 0) {
      for (int i = 0; i < n; ++i) {
        std::fill(mem.begin() + i * 300, mem.begin() + (i + 1) * 300, std::uint8_t(i));
        buf->send(1, i * 300, 300, 4);
      }
      for (int i = 0; i < n; ++i) buf->waitSend(soon());
    } else {
      for (int i = 0; i < n; ++i) buf->recv(0, i * 300, 300, 4);
      for (int i = 0; i < n; ++i) buf->waitRecv(soon());
      for (int i = 0; i < n; ++i) EXPECT_EQ(mem[i * 300 + 299], std::uint8_t(i)) << i;
    }
  });
}

// Both directions at once between 3 ranks, every size in flight together, sizes straddling
// every boundary; odd ranks post their receives in reverse tag order, so expected and
// unexpected arrivals mix.
void crossTraffic(const engine::ProtocolParams& params) {
  const std::vector<std::size_t> sizes{1, 192, 193, 18433, 18434, 70000, 1 << 20};
  std::vector<std::size_t> offsets{0};
  for (auto s : sizes) offsets.push_back(offsets.back() + s);
  const std::size_t total = offsets.back();
  runRanks(3, params, [&](Context& ctx, Device&) {
    int me = ctx.rank();
    std::vector<std::uint8_t> out = pattern(total, static_cast<std::uint8_t>(me));
    std::vector<std::vector<std::uint8_t>> in(3, std::vector<std::uint8_t>(total));
    auto send = ctx.createBuffer(out.data(), out.size());
    std::vector<std::unique_ptr<Buffer>> recv;
    for (int p = 0; p < 3; ++p) recv.push_back(ctx.createBuffer(in[p].data(), total));
    int posted = 0;
    for (int p = 0; p < 3; ++p) {
      if (p == me) continue;
      for (std::size_t k = 0; k < sizes.size(); ++k) {
        std::size_t i = me % 2 ? sizes.size() - 1 - k : k;
        recv[p]->recv(p, offsets[i], sizes[i], i);
      }
      for (std::size_t i = 0; i < sizes.size(); ++i, ++posted)
        send->send(p, offsets[i], sizes[i], i);
    }
    for (int i = 0; i < posted; ++i) send->waitSend(soon());
    for (int p = 0; p < 3; ++p) {
      if (p == me) continue;
      for (std::size_t i = 0; i < sizes.size(); ++i) recv[p]->waitRecv(soon());
      EXPECT_EQ(in[p], pattern(total, static_cast<std::uint8_t>(p))) << "from rank " << p;
    }
  });
}

TEST(TcpEngine, CrossTrafficDefaultProtocol) { crossTraffic({}); }

TEST(TcpEngine, CrossTrafficAltRead) {
  engine::ProtocolParams p;
  p.rdzv_proto = engine::RdzvProto::AltRead;
  crossTraffic(p);
}

TEST(TcpEngine, AltReadSendsDoneAndDefaultDoesNot) {
  for (auto proto : {engine::RdzvProto::Default, engine::RdzvProto::AltRead}) {
    engine::ProtocolParams params;
    params.rdzv_proto = proto;
    runRanks(2, params, [&](Context& ctx, Device& dev) {
      std::vector<std::uint8_t> mem(1 << 20);
      auto buf = ctx.createBuffer(mem.data(), mem.size());
      if (ctx.rank() == 0) {
        buf->send(1, 0, mem.size(), 1);
        buf->waitSend(soon());
        EXPECT_EQ(dev.engineCounters().rendezvous_sent, 1u);
      } else {
        buf->recv(0, 0, mem.size(), 1);
        buf->waitRecv(soon());
        auto c = dev.engineCounters();
        EXPECT_EQ(c.gets, 1u);
        EXPECT_EQ(c.done_sent, proto == engine::RdzvProto::AltRead ? 1u : 0u);
      }
    });
  }
}

TEST(TcpEngine, MessageLargerThanReceiveIsAnError) {
  EXPECT_THROW(runRanks(2, {},
                        [](Context& ctx, Device&) {
                          std::vector<std::uint8_t> mem(1000);
                          auto buf = ctx.createBuffer(mem.data(), mem.size());
                          if (ctx.rank() == 0) {
                            buf->send(1, 0, 1000, 1);
                            buf->waitSend(soon());
                          } else {
                            buf->recv(0, 0, 10, 1);
                            buf->waitRecv(soon());
                          }
                        }),
               Error);
}

TEST(TcpEngine, WaitWithNothingPostedIsAnError) {
  runRanks(2, {}, [](Context& ctx, Device&) {
    std::uint8_t byte = 0;
    auto buf = ctx.createBuffer(&byte, 1);
    EXPECT_THROW(buf->waitRecv(soon()), Error);
    EXPECT_THROW(buf->waitSend(soon()), Error);
  });
}

TEST(TcpEngine, DeadlineNamesWhatIsPending) {
  runRanks(2, {}, [](Context& ctx, Device&) {
    std::uint8_t byte = 0;
    auto buf = ctx.createBuffer(&byte, 1);
    if (ctx.rank() == 1) {
      buf->recv(0, 0, 1, 1);
      try {
        buf->waitRecv(Deadline::afterSeconds(0.2));
        ADD_FAILURE() << "no timeout";
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("receives pending from rank 0"), std::string::npos)
            << e.what();
      }
    }
  });
}

}  // namespace
}  // namespace rdzv::transport
