// The sysfs reader on fixture trees: Cassini 1 and 2 port layouts, the properties fallback,
// rdzv_get_en and its module default, netdev and NUMA placement, telemetry values and deltas,
// link restarts, PCIe/AER counters, identity and resources.

#include <gtest/gtest.h>

#include "cxi_fixture.h"
#include "transport/ofi/cxi_sysfs.h"

namespace rdzv::transport::ofi {
namespace {

using rdzv::testing::FakeNic;
using rdzv::testing::SysfsTree;

TEST(CxiSysfs, EmptyRootHasNoNics) {
  SysfsTree tree;
  auto s = readCxiSysfs(tree.root());
  EXPECT_TRUE(s.nics.empty());
  EXPECT_FALSE(s.rdzv_get_en_default);
  EXPECT_TRUE(readCxiSysfs(tree.root() / "does-not-exist").nics.empty());
}

TEST(CxiSysfs, Cassini1Layout) {
  SysfsTree tree;
  tree.addNic({.index = 0, .generation = 1, .link = "up", .rdzv_get_en = 1});
  auto s = readCxiSysfs(tree.root());
  ASSERT_EQ(s.nics.size(), 1u);
  const auto& nic = s.nics[0];
  EXPECT_EQ(nic.name, "cxi0");
  EXPECT_EQ(nic.cassini_version, "1.1");
  EXPECT_EQ(nic.generation, 1);
  EXPECT_EQ(nic.link_up, std::optional<bool>(true));
  EXPECT_EQ(nic.link_state, "up");
  EXPECT_EQ(nic.link_speed, "BS_200G");
  EXPECT_EQ(nic.media, "electrical");
  EXPECT_EQ(nic.link_layer_retry, "on");
  EXPECT_EQ(nic.rdzv_get_en, std::optional<bool>(true));
  EXPECT_EQ(nic.rdzvGetEnPath(), tree.root() / "class/cxi/cxi0/device/properties/rdzv_get_en");
}

TEST(CxiSysfs, Cassini2LayoutLinkDown) {
  SysfsTree tree;
  tree.addNic({.index = 1, .generation = 2, .link = "down", .rdzv_get_en = 0});
  auto s = readCxiSysfs(tree.root());
  ASSERT_EQ(s.nics.size(), 1u);
  const auto& nic = s.nics[0];
  EXPECT_EQ(nic.generation, 2);
  EXPECT_EQ(nic.link_up, std::optional<bool>(false));
  EXPECT_EQ(nic.link_state, "down");
  EXPECT_EQ(nic.link_speed, "CK_400G");
  EXPECT_EQ(nic.media, "AOC");
  EXPECT_EQ(nic.link_layer_retry, "running");
  EXPECT_EQ(nic.rdzv_get_en, std::optional<bool>(false));
}

TEST(CxiSysfs, LayoutDecidesWhenTheVersionIsMissing) {
  SysfsTree tree;
  tree.addNic({.index = 0, .generation = 2, .write_version = false});
  tree.addNic({.index = 1, .generation = 1, .write_version = false});
  auto s = readCxiSysfs(tree.root());
  ASSERT_EQ(s.nics.size(), 2u);
  EXPECT_EQ(s.nics[0].generation, 2);
  EXPECT_EQ(s.nics[1].generation, 1);
  EXPECT_EQ(s.nics[0].cassini_version, "");
  EXPECT_EQ(s.nics[1].link_up, std::optional<bool>(true));
}

TEST(CxiSysfs, PropertiesLinkIsTheFallback) {
  SysfsTree tree;
  const std::string slot = "0000:41:00.0";
  tree.addNic({.index = 0, .link = nullptr, .slot = slot.c_str()});
  tree.write(std::filesystem::path("devices/pci0000:00") / slot / "properties/link", "1\n");
  auto s = readCxiSysfs(tree.root());
  ASSERT_EQ(s.nics.size(), 1u);
  EXPECT_EQ(s.nics[0].link_up, std::optional<bool>(true));
  EXPECT_EQ(s.nics[0].link_state, "1");
  EXPECT_EQ(s.nics[0].link_speed, "200000");  // properties/speed
  tree.write(std::filesystem::path("devices/pci0000:00") / slot / "properties/link", "0\n");
  EXPECT_EQ(readCxiSysfs(tree.root()).nics[0].link_up, std::optional<bool>(false));
}

TEST(CxiSysfs, UnknownLinkAndMissingProperty) {
  SysfsTree tree;
  tree.addNic({.index = 0, .link = nullptr, .rdzv_get_en = -1});
  auto nic = readCxiSysfs(tree.root()).nics.at(0);
  EXPECT_FALSE(nic.link_up);
  EXPECT_FALSE(nic.rdzv_get_en);
  nlohmann::json j = nic;
  EXPECT_TRUE(j["link_up"].is_null());
  EXPECT_TRUE(j["rdzv_get_en"].is_null());
}

TEST(CxiSysfs, ModuleDefault) {
  SysfsTree tree;
  tree.moduleDefault("Y");
  auto s = readCxiSysfs(tree.root());
  EXPECT_EQ(s.rdzv_get_en_default, std::optional<bool>(true));
  EXPECT_EQ(s.rdzv_get_en_default_path,
            tree.root() / "module/cxi_ss1/parameters/rdzv_get_en_default");
  SysfsTree old;
  old.moduleDefault("N", "cxi_core");
  auto o = readCxiSysfs(old.root());
  EXPECT_EQ(o.rdzv_get_en_default, std::optional<bool>(false));
  EXPECT_EQ(o.rdzv_get_en_default_path.parent_path().parent_path().filename(), "cxi_core");
}

TEST(CxiSysfs, PlacementAndNetdev) {
  SysfsTree tree;
  tree.addNic({.index = 0, .slot = "0000:21:00.0", .numa_node = 1, .cpulist = "16-31"});
  tree.addNic({.index = 1, .slot = "0000:c1:00.0", .netdev = nullptr, .numa_node = 3});
  // An unrelated interface with a device link, and a virtual one without.
  tree.write("devices/pci0000:00/0000:01:00.0/uevent", "PCI_SLOT_NAME=0000:01:00.0\n");
  tree.link("class/net/eth0/device", tree.pciDir("0000:01:00.0"));
  std::filesystem::create_directories(tree.root() / "class/net/lo");
  auto s = readCxiSysfs(tree.root());
  ASSERT_EQ(s.nics.size(), 2u);
  EXPECT_EQ(s.nics[0].pci_slot, "0000:21:00.0");
  EXPECT_EQ(s.nics[0].netdev, "hsn0");
  EXPECT_EQ(s.nics[0].numa_node, 1);
  EXPECT_EQ(s.nics[0].local_cpulist, "16-31");
  EXPECT_EQ(s.nics[1].pci_slot, "0000:c1:00.0");
  EXPECT_EQ(s.nics[1].netdev, "");
  EXPECT_EQ(s.nics[1].numa_node, 3);
}

TEST(CxiSysfs, SlotFromTheDeviceLinkWithoutUevent) {
  SysfsTree tree;
  tree.addNic({.index = 0, .slot = "0000:21:00.0"});
  std::filesystem::remove(tree.pciDir("0000:21:00.0") / "uevent");
  auto s = readCxiSysfs(tree.root());
  EXPECT_EQ(s.nics.at(0).pci_slot, "0000:21:00.0");
  EXPECT_EQ(s.nics.at(0).netdev, "hsn0");
}

TEST(CxiSysfs, NicsInIndexOrder) {
  SysfsTree tree;
  for (int i : {10, 2, 0, 1}) {
    const std::string slot = "0000:" + std::to_string(40 + i) + ":00.0";
    tree.addNic({.index = i, .slot = slot.c_str()});
  }
  std::filesystem::create_directories(tree.root() / "class/cxi/cxi_not_a_nic");
  auto s = readCxiSysfs(tree.root());
  ASSERT_EQ(s.nics.size(), 4u);
  EXPECT_EQ(s.nics[0].name, "cxi0");
  EXPECT_EQ(s.nics[1].name, "cxi1");
  EXPECT_EQ(s.nics[2].name, "cxi2");
  EXPECT_EQ(s.nics[3].name, "cxi10");
}

TEST(CxiSysfs, TelemetryFormat) {
  EXPECT_EQ(parseTelemetry("123@1700000000.5"), (TelemetryValue{123, 1700000000, 5}));
  EXPECT_EQ(parseTelemetry(" 0@0.000000000\n"), (TelemetryValue{0, 0, 0}));
  EXPECT_EQ(parseTelemetry("72057594037927935@12.999999999"),
            (TelemetryValue{72057594037927935u, 12, 999999999}));
  for (const char* bad : {"", "123", "123@", "a@1.2", "1@2", "1@-2.3", "1@2.x", "-1@2.3", "1 @2.3"})
    EXPECT_FALSE(parseTelemetry(bad)) << bad;
  SysfsTree tree;
  tree.addNic({.index = 0, .restricted = "7@100.250000000", .unrestricted = "garbage"});
  auto nic = readCxiSysfs(tree.root()).nics.at(0);
  EXPECT_EQ(nic.telemetry.at(kRestrictedPktCounter), (TelemetryValue{7, 100, 250000000}));
  EXPECT_FALSE(nic.telemetry.count(kUnrestrictedPktCounter));
}

TEST(CxiSysfs, TelemetrySnapshotsAndDeltas) {
  SysfsTree tree;
  tree.addNic({.index = 0, .restricted = "100@10.0", .unrestricted = "1000@10.0"});
  tree.addNic({.index = 1,
               .slot = "0000:22:00.0",
               .restricted = "72057594037927930@10.0",
               .unrestricted = nullptr});
  const auto before = snapshotTelemetry(tree.root());
  ASSERT_EQ(before.size(), 2u);
  EXPECT_EQ(before.at("cxi0").at(kUnrestrictedPktCounter).count, 1000u);
  EXPECT_FALSE(before.at("cxi1").count(kUnrestrictedPktCounter));
  tree.write("devices/pci0000:00/0000:20:00.0/telemetry/ixe_rx_ptl_restricted_pkt",
             "164@11.500000000\n");
  tree.write("devices/pci0000:00/0000:20:00.0/telemetry/ixe_rx_ptl_unrestricted_pkt",
             "1000@11.500000000\n");
  tree.write("devices/pci0000:00/0000:22:00.0/telemetry/ixe_rx_ptl_restricted_pkt", "4@12.0\n");
  const auto after = snapshotTelemetry(tree.root());
  const auto d = telemetryDelta(before, after);
  EXPECT_EQ(d.at("cxi0").at(kRestrictedPktCounter).count, 64u);
  EXPECT_DOUBLE_EQ(d.at("cxi0").at(kRestrictedPktCounter).seconds, 1.5);
  EXPECT_EQ(d.at("cxi0").at(kUnrestrictedPktCounter).count, 0u);
  // 56-bit counters: 2^56 − 6 → 4 is a wrap of 10.
  EXPECT_EQ(d.at("cxi1").at(kRestrictedPktCounter).count, 10u);
  EXPECT_FALSE(d.at("cxi1").count(kUnrestrictedPktCounter));
  nlohmann::json j = d;
  EXPECT_EQ(j["cxi0"][kRestrictedPktCounter]["count"], 64);
  // Other counters on request.
  tree.write("devices/pci0000:00/0000:20:00.0/telemetry/lpe_net_match_request_0", "9@1.0\n");
  auto custom = snapshotTelemetry(tree.root(), {"lpe_net_match_request_0"});
  EXPECT_EQ(custom.at("cxi0").at("lpe_net_match_request_0").count, 9u);
  EXPECT_TRUE(custom.at("cxi1").empty());
}

TEST(CxiSysfs, CacheLineAndCpuLists) {
  SysfsTree tree;
  EXPECT_EQ(readCacheLineSize(tree.root()), 64u);
  tree.write("devices/system/cpu/cpu0/cache/index0/coherency_line_size", "256\n");
  EXPECT_EQ(readCacheLineSize(tree.root()), 256u);
  EXPECT_EQ(parseCpuList("0-3,8,10-11\n"), (std::vector<int>{0, 1, 2, 3, 8, 10, 11}));
  EXPECT_EQ(parseCpuList("5"), (std::vector<int>{5}));
  EXPECT_TRUE(parseCpuList("").empty());
  EXPECT_TRUE(parseCpuList("3-1").empty());
  EXPECT_TRUE(parseCpuList("x").empty());
}

TEST(CxiSysfs, HealthIdentityAndResources) {
  SysfsTree tree;
  tree.addNic({.index = 0});
  tree.addNicDetails(0);
  tree.write("class/cxi/cxi0/device/link_restarts/time_3", "1700000000\n");
  tree.write("class/cxi/cxi0/device/link_restarts/time_7", "1699990000\n");
  tree.write("class/cxi/cxi0/device/properties/pcie_corr_err", "7\n");
  tree.write("class/cxi/cxi0/device/aer_dev_nonfatal", "DLP 1\nMalfTLP 2\nTOTAL_ERR_NONFATAL 3\n");
  const auto nic = readCxiSysfs(tree.root()).nics.at(0);
  EXPECT_EQ(nic.link_restarts, (std::vector<std::int64_t>{1699990000, 1700000000}));
  EXPECT_EQ(nic.pcie_corr_err, std::optional<std::uint64_t>(7));
  EXPECT_EQ(nic.pcie_uncorr_err, std::optional<std::uint64_t>(0));
  EXPECT_EQ(nic.aer, (std::map<std::string, std::uint64_t>{
                         {"correctable", 0}, {"fatal", 0}, {"nonfatal", 3}}));
  EXPECT_EQ(nic.nic_addr, "0x12");
  EXPECT_EQ(nic.nid, "0x12");
  EXPECT_EQ(nic.pid_granule, std::optional<std::int64_t>(256));
  EXPECT_EQ(nic.rdzv_get_idx, std::optional<std::int64_t>(0));
  EXPECT_EQ(nic.driver_rev, "9ce667e");
  EXPECT_EQ(nic.firmware, "1.5.41");
  EXPECT_EQ(nic.fru, (std::map<std::string, std::string>{{"model", "HPE Slingshot 400Gb 1-port"},
                                                         {"serial_number", "SN0001"}}));
  EXPECT_EQ(nic.resources.size(), cxiResourceProperties().size());
  EXPECT_EQ(nic.resources.at("num_les"), 16384u);
  EXPECT_EQ(nic.resources.at("rgids_avail"), 251u);
}

TEST(CxiSysfs, MissingHealthFilesLeaveTheFieldsEmpty) {
  SysfsTree tree;
  tree.addNic({.index = 0});
  tree.write("class/cxi/cxi0/device/link_restarts/time_0", "garbage\n");
  tree.write("class/cxi/cxi0/device/properties/num_ptes", "-1\n");
  const auto nic = readCxiSysfs(tree.root()).nics.at(0);
  EXPECT_FALSE(nic.link_restarts.has_value());
  EXPECT_FALSE(nic.pcie_corr_err.has_value());
  EXPECT_FALSE(nic.pcie_uncorr_err.has_value());
  EXPECT_TRUE(nic.aer.empty());
  EXPECT_EQ(nic.nic_addr, "");
  EXPECT_FALSE(nic.pid_granule.has_value());
  EXPECT_TRUE(nic.fru.empty());
  EXPECT_TRUE(nic.resources.empty());
}

TEST(CxiSysfs, AerCounterFiles) {
  EXPECT_EQ(parseAerCounters("RxErr 1\nBadTLP 2\nTOTAL_ERR_COR 5\n"), 5u);  // the total wins
  EXPECT_EQ(parseAerCounters("RxErr 1\nBadTLP 2\n"), 3u);
  EXPECT_EQ(parseAerCounters("  DLP\t4\n"), 4u);
  EXPECT_EQ(parseAerCounters("no numbers here\n"), std::nullopt);
  EXPECT_EQ(parseAerCounters(""), std::nullopt);
}

TEST(CxiSysfs, NicNames) {
  SysfsTree tree;
  EXPECT_TRUE(cxiNicNames(tree.root()).empty());
  tree.addNic({.index = 10, .slot = "0000:30:00.0"});
  tree.addNic({.index = 2});
  EXPECT_EQ(cxiNicNames(tree.root()), (std::vector<std::string>{"cxi2", "cxi10"}));
}

TEST(CxiSysfs, Json) {
  SysfsTree tree;
  tree.addNic({.index = 0});
  tree.moduleDefault("Y");
  nlohmann::json j = readCxiSysfs(tree.root());
  EXPECT_EQ(j["nics"][0]["name"], "cxi0");
  EXPECT_EQ(j["nics"][0]["link_up"], true);
  EXPECT_EQ(j["nics"][0]["rdzv_get_en"], true);
  EXPECT_EQ(j["nics"][0]["netdev"], "hsn0");
  EXPECT_EQ(j["nics"][0]["telemetry"][kRestrictedPktCounter]["count"], 100);
  EXPECT_EQ(j["rdzv_get_en_default"], true);
  EXPECT_TRUE(j["nics"][0]["link_restarts"].is_null());
  EXPECT_TRUE(j["nics"][0]["pcie_uncorr_err"].is_null());
  EXPECT_TRUE(j["nics"][0]["resources"].empty());
  tree.addNicDetails(0);
  tree.write("class/cxi/cxi0/device/link_restarts/time_1", "1700000000\n");
  nlohmann::json d = readCxiSysfs(tree.root());
  EXPECT_EQ(d["nics"][0]["link_restarts"], nlohmann::json::array({1700000000}));
  EXPECT_EQ(d["nics"][0]["pcie_uncorr_err"], 0);
  EXPECT_EQ(d["nics"][0]["aer"]["fatal"], 0);
  EXPECT_EQ(d["nics"][0]["pid_granule"], 256);
  EXPECT_EQ(d["nics"][0]["firmware"], "1.5.41");
  EXPECT_EQ(d["nics"][0]["fru"]["serial_number"], "SN0001");
  EXPECT_EQ(d["nics"][0]["resources"]["rgids_avail"], 251);
}

}  // namespace
}  // namespace rdzv::transport::ofi
