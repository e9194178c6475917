// ibverbs runtime detection through the registry: built, an engine transport, and on a host
// without an RDMA device (the build machines) refused early with one clear message.

#ifdef RDZV_HAVE_IBVERBS

#include <gtest/gtest.h>

#include "lib/error.h"
#include "transport/ibverbs/verbs.h"
#include "transport/registry.h"

namespace rdzv::transport {
namespace {

TEST(IbDetect, BuiltAndRunsTheEngine) {
  auto info = transportInfo("ibverbs");
  EXPECT_TRUE(info.built);
  EXPECT_TRUE(info.engine);
  EXPECT_NO_THROW(requireTransport("ibverbs"));
}

TEST(IbDetect, NoDeviceIsARuntimeErrorBeforeAnythingStarts) {
  if (!ibverbs::deviceNames().empty()) GTEST_SKIP() << "this host has an RDMA device";
  EXPECT_EQ(hostNotes("ibverbs"), "no RDMA device found");
  for (const char* device : {"", "mlx5_0"}) {
    TransportOptions options;
    options.ib_device = device;
    try {
      probeTransport("ibverbs", options);
      ADD_FAILURE() << "no error without a device";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::Runtime);
      EXPECT_EQ(std::string(e.what()).rfind("ibverbs: built, no RDMA device found", 0), 0u)
          << e.what();
      EXPECT_NE(e.hint().find("-t tcp"), std::string::npos) << e.hint();
    }
    EXPECT_THROW(createDevice("ibverbs", options), Error);
  }
}

}  // namespace
}  // namespace rdzv::transport

#endif  // RDZV_HAVE_IBVERBS
