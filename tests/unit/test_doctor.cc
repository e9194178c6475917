// Each doctor rule on fixture environments and sysfs trees: libfabric and the cxi provider
// (E1–E3), libfabric.conf (E5), the FI_CXI_* findings (E4, E6, E7, E11), the NICs (N1–N7, N9,
// N13), alt_read against rdzv_get_en (E9, E10), the job (N8, N12), the host (N10, N11), the JSON.

#include <filesystem>
#include <map>
#include <string>

#include <gtest/gtest.h>

#include "bench/doctor.h"
#include "cxi_fixture.h"

namespace rdzv::bench {
namespace {

using rdzv::testing::FakeNic;
using rdzv::testing::SysfsTree;
using transport::ofi::FabricProbe;

FabricProbe noCxi(int rc = -38) {
  FabricProbe f;
  f.major = 1;
  f.minor = 17;
  f.patch = 0;
  f.library_path = "/usr/lib/x86_64-linux-gnu/libfabric.so.1";
  f.providers = {"tcp;ofi_rxm", "shm", "tcp"};
  f.cxi_rc = rc;
  f.cxi_error = rc == -38 ? "Function not implemented" : "No data available";
  return f;
}

FabricProbe withCxi(int major = 2, int minor = 3) {
  FabricProbe f;
  f.major = major;
  f.minor = minor;
  f.patch = 1;
  f.library_path = "/opt/cray/libfabric/2.3.1/lib64/libfabric.so.1";
  f.providers = {"cxi", "tcp;ofi_rxm", "shm"};
  f.cxi_rc = 0;
  f.cxi_nics = {{"cxi0", true, 200000000000u, 2112}};
  return f;
}

constexpr std::int64_t kNow = 1700003600;

// A quiet node: libfabric with cxi, unlimited memlock, no FI_* set, the fixture's /sys.
DoctorInput input(const SysfsTree& tree, std::map<std::string, std::string> env = {}) {
  DoctorInput in;
  in.env = std::move(env);
  in.sysfs_root = tree.root();
  in.real_node = false;
  in.libfabric_built = true;
  in.fabric = withCxi();
  in.host.hostname = "nid001";
  in.host.cpus = 4;
  in.limits.memlock_known = true;
  in.now = kNow;
  return in;
}

const DoctorCheck* find(const DoctorReport& r, const std::string& id, const std::string& subject) {
  for (const auto& c : r.checks)
    if (c.id == id && c.subject == subject) return &c;
  return nullptr;
}

// The check's status, and that its message holds `text`.
::testing::AssertionResult has(const DoctorReport& r, const std::string& id,
                               const std::string& subject, CheckStatus status,
                               const std::string& text = "") {
  for (const auto& c : r.checks) {
    if (c.id != id || c.subject != subject || c.status != status) continue;
    if (c.message.find(text) != std::string::npos) return ::testing::AssertionSuccess();
  }
  auto failure = ::testing::AssertionFailure()
                 << "no " << checkStatusName(status) << " " << id << " " << subject << " with \""
                 << text << "\" among:\n";
  for (const auto& c : r.checks)
    failure << "  " << checkStatusName(c.status) << " " << c.id << " " << c.subject << ": "
            << c.message << "\n";
  return failure;
}

// --- libfabric and providers ------------------------------------------------------------------

TEST(Doctor, LibfabricNotBuiltStillRunsThePureChecks) {
  SysfsTree tree;
  auto in = input(tree, {{"FI_CXI_RDZV_THRESHOLD", "16K"}});
  in.libfabric_built = false;
  in.libfabric_why = "libfabric was not found (apt-get install libfabric-dev) at build time";
  in.fabric.reset();
  auto r = runDoctor(in);
  EXPECT_TRUE(has(r, "E1", "libfabric", CheckStatus::Warning, "not built into this rdzvbench"));
  EXPECT_TRUE(has(r, "E1", "libfabric", CheckStatus::Warning, "apt-get install libfabric-dev"));
  EXPECT_TRUE(
      has(r, "E6", "FI_CXI_RDZV_THRESHOLD", CheckStatus::Error, "parsed by libfabric as 16"));
  EXPECT_FALSE(r.cxi.version_known);
  EXPECT_EQ(r.cxi.version.str(), "2.6");
  EXPECT_EQ(r.exitCode(), 1);
}

TEST(Doctor, NoCxiOnADebianNodeIsAWarning) {
  SysfsTree tree;
  auto in = input(tree);
  in.fabric = noCxi();
  auto r = runDoctor(in);
  EXPECT_TRUE(has(r, "E1", "libfabric", CheckStatus::Ok,
                  "libfabric 1.17.0 (/usr/lib/x86_64-linux-gnu/libfabric.so.1); older than 1.21"));
  EXPECT_TRUE(has(r, "E2", "providers", CheckStatus::Ok, "tcp;ofi_rxm, shm, tcp"));
  EXPECT_TRUE(has(r, "E2", "cxi provider", CheckStatus::Warning,
                  "cxi provider not available: libfabric 1.17.0 is older than 1.21, the first "
                  "with the cxi provider (fi_getinfo -38"));
  EXPECT_TRUE(has(r, "N1", "CXI NICs", CheckStatus::Warning, "no CXI NIC under"));
  EXPECT_TRUE(has(r, "E7", "FI_CXI_*", CheckStatus::Ok, "none set"));
  EXPECT_EQ(r.cxi.version.str(), "1.17.0");
  EXPECT_EQ(r.exitCode(), 0);
  EXPECT_EQ(r.count(CheckStatus::Error), 0);
}

TEST(Doctor, NoCxiIsAnErrorWhenFiProviderAsksForIt) {
  SysfsTree tree;
  auto in = input(tree, {{"FI_PROVIDER", "cxi"}});
  in.fabric = noCxi(-61);
  auto r = runDoctor(in);
  EXPECT_TRUE(has(r, "E2", "cxi provider", CheckStatus::Error,
                  "no cxi provider or no CXI NIC in this libfabric (fi_getinfo -61"));
  EXPECT_TRUE(has(r, "E2", "cxi provider", CheckStatus::Error, "FI_PROVIDER=cxi asks for it"));
  EXPECT_TRUE(has(r, "N1", "CXI NICs", CheckStatus::Error, "FI_PROVIDER asks for cxi"));
  EXPECT_EQ(r.exitCode(), 1);
  in.env = {{"FI_PROVIDER", "tcp"}};
  EXPECT_TRUE(has(runDoctor(in), "E2", "cxi provider", CheckStatus::Warning,
                  "FI_PROVIDER=tcp excludes it too"));
  in.env = {{"FI_PROVIDER", "^cxi"}};
  EXPECT_EQ(runDoctor(in).exitCode(), 0);
}

TEST(Doctor, FiProviderWithCxiAvailable) {
  SysfsTree tree;
  tree.addNic({.index = 0});
  auto unset = runDoctor(input(tree));
  EXPECT_TRUE(has(unset, "E2", "cxi provider", CheckStatus::Ok, "available: cxi0 (link up)"));
  EXPECT_TRUE(has(unset, "E3", "FI_PROVIDER", CheckStatus::Warning,
                  "FI_PROVIDER unset; first provider is cxi"));
  EXPECT_TRUE(
      has(runDoctor(input(tree, {{"FI_PROVIDER", "cxi"}})), "E3", "FI_PROVIDER", CheckStatus::Ok));
  EXPECT_TRUE(has(runDoctor(input(tree, {{"FI_PROVIDER", "tcp,shm"}})), "E3", "FI_PROVIDER",
                  CheckStatus::Warning, "leaves cxi out"));
  EXPECT_EQ(unset.exitCode(), 0);
}

TEST(Doctor, Libfabric122RmaWarning) {
  SysfsTree tree;
  auto in = input(tree);
  in.fabric = withCxi(1, 22);
  EXPECT_TRUE(has(runDoctor(in), "E1", "libfabric", CheckStatus::Warning, "uccl PR #1013"));
}

TEST(Doctor, VersionForTheRules) {
  SysfsTree tree;
  auto in = input(tree);
  EXPECT_EQ(runDoctor(in).cxi.version.str(), "2.3.1");  // the loaded library
  in.version = transport::ofi::LibfabricVersion::parse("2.4.0");
  auto r = runDoctor(in);
  EXPECT_EQ(r.cxi.version.str(), "2.4.0");  // --libfabric-version wins
  EXPECT_EQ(r.cxi.effective.rdzv_eager_size, 2048u);
}

// --- FI_CXI_* findings -------------------------------------------------------------------------

TEST(Doctor, EnvironmentFindingsBecomeChecks) {
  SysfsTree tree;
  auto r = runDoctor(input(tree, {{"FI_CXI_OFLOW_BUF_SIZE", "12M"},
                                  {"FI_CXI_EAGER_SIZE", "0"},
                                  {"FI_CXI_RX_MATCH_MODE", "Software"},
                                  {"FI_CXI_RDZV_THRESHOLD", "16777216"}}));
  EXPECT_TRUE(has(r, "E6", "FI_CXI_OFLOW_BUF_SIZE", CheckStatus::Error,
                  "FI_CXI_OFLOW_BUF_SIZE=\"12M\" is parsed by libfabric as 12"));
  EXPECT_TRUE(has(r, "E4", "FI_CXI_EAGER_SIZE", CheckStatus::Warning,
                  "did you mean FI_CXI_RDZV_EAGER_SIZE?"));
  EXPECT_TRUE(has(r, "E11", "FI_CXI_RX_MATCH_MODE", CheckStatus::Warning,
                  "RX_MATCH_MODE=Software is not recognized → hardware"));
  EXPECT_TRUE(has(r, "E7", "FI_CXI_RDZV_THRESHOLD", CheckStatus::Warning,
                  "provider resets threshold to 16384"));
  EXPECT_TRUE(has(r, "E7", "FI_CXI_*", CheckStatus::Ok, "eager up to T + G"));
  EXPECT_EQ(r.exitCode(), 1);
}

TEST(Doctor, VariablesMpiInitSetChangedOrRemovedAreNamed) {
  SysfsTree tree;
  auto in = input(tree, {{"FI_CXI_RX_MATCH_MODE", "hybrid"},
                         {"FI_CXI_RDZV_THRESHOLD", "16384"},
                         {"FI_PROVIDER", "cxi"},
                         {"OMPI_COMM_WORLD_RANK", "0"}});
  auto r = runDoctor(in);
  EXPECT_EQ(find(r, "E14", "MPI_Init"), nullptr);  // no MPI: nothing to compare
  in.env_before_mpi = {{"FI_CXI_RDZV_THRESHOLD", "16384"},
                       {"FI_PROVIDER", "tcp"},
                       {"FI_MR_CACHE_MONITOR", "userfaultfd"}};
  r = runDoctor(in);
  EXPECT_TRUE(has(r, "E14", "FI_CXI_RX_MATCH_MODE", CheckStatus::Warning,
                  "set by MPI_Init: (unset) -> hybrid; libfabric reads it once, so it uses the "
                  "value after MPI_Init"));
  EXPECT_TRUE(
      has(r, "E14", "FI_PROVIDER", CheckStatus::Warning, "changed by MPI_Init: tcp -> cxi"));
  EXPECT_TRUE(has(r, "E14", "FI_MR_CACHE_MONITOR", CheckStatus::Warning,
                  "unset by MPI_Init: userfaultfd -> (unset); libfabric reads it once, so it "
                  "uses its default"));
  EXPECT_EQ(find(r, "E14", "FI_CXI_RDZV_THRESHOLD"), nullptr);  // the same before and after
  EXPECT_EQ(find(r, "E14", "OMPI_COMM_WORLD_RANK"), nullptr);   // not libfabric's
  in.env_before_mpi = in.env;
  r = runDoctor(in);
  EXPECT_TRUE(has(r, "E14", "MPI_Init", CheckStatus::Ok, "no FI_* variable"));
}

TEST(Doctor, FiCxiVariablesWithoutCxiProviderAreNoted) {
  SysfsTree tree;
  auto in = input(tree, {{"FI_CXI_RDZV_THRESHOLD", "4096"}});
  in.fabric = noCxi();
  EXPECT_TRUE(has(runDoctor(in), "E7", "FI_CXI_*", CheckStatus::Ok,
                  "1 FI_CXI_* variable(s) set and checked against the rules of libfabric 1.17.0; "
                  "no cxi provider here"));
}

TEST(Doctor, RegisteredParametersUsedOnceCxiIsLoaded) {
  SysfsTree tree;
  auto in = input(tree, {{"FI_CXI_RDZV_PROTO", "alt_read"}});
  in.fabric->params = {"FI_CXI_RDZV_THRESHOLD", "FI_PROVIDER"};  // an old HPE build
  auto r = runDoctor(in);
  EXPECT_TRUE(has(r, "E4", "FI_CXI_RDZV_PROTO", CheckStatus::Warning, "not registered"));
  EXPECT_EQ(r.cxi.effective.rdzv_proto, transport::engine::RdzvProto::Default);
}

// --- libfabric.conf ---------------------------------------------------------------------------

TEST(Doctor, ConfigFile) {
  SysfsTree tree;
  tree.write("etc/libfabric.conf", "# site\nFI_CXI_RDZV_THRESHOLD=4096\n");
  tree.write("opt/etc/libfabric.conf", "FI_CXI_RDZV_THRESHOLD=8192\n");
  auto in = input(tree);
  in.config_files = {tree.root() / "missing.conf", tree.root() / "etc/libfabric.conf",
                     tree.root() / "opt/etc/libfabric.conf"};
  auto r = runDoctor(in);
  EXPECT_EQ(r.config_file, (tree.root() / "etc/libfabric.conf").string());
  EXPECT_TRUE(has(r, "E5", "libfabric.conf", CheckStatus::Ok, "sets FI_CXI_RDZV_THRESHOLD"));
  EXPECT_TRUE(has(r, "E5", "libfabric.conf", CheckStatus::Warning, "exists too"));
  EXPECT_EQ(r.cxi.effective.rdzv_threshold, 4096u);
  EXPECT_EQ(r.cxi.sources.at("FI_CXI_RDZV_THRESHOLD"), "libfabric.conf");

  in.fabric = noCxi();  // 1.17 never reads the file
  in.config_files = {tree.root() / "etc/libfabric.conf"};
  auto old = runDoctor(in);
  EXPECT_EQ(old.cxi.effective.rdzv_threshold, 2048u);
  EXPECT_TRUE(has(old, "E5", "FI_CXI_*", CheckStatus::Warning, "does not read libfabric.conf"));

  in.config_files = {tree.root() / "nothing-here.conf"};
  EXPECT_TRUE(has(runDoctor(in), "E5", "libfabric.conf", CheckStatus::Ok, "none (looked at"));
}

// --- NICs -------------------------------------------------------------------------------------

TEST(Doctor, LinkStates) {
  SysfsTree tree;
  tree.addNic({.index = 0, .generation = 1, .link = "up"});
  tree.addNic({.index = 1, .generation = 2, .link = "down", .slot = "0000:22:00.0"});
  tree.addNic({.index = 2, .link = nullptr, .slot = "0000:23:00.0"});
  auto r = runDoctor(input(tree));
  EXPECT_TRUE(has(r, "N2", "cxi0 link", CheckStatus::Ok, "up (BS_200G, electrical, Cassini 1)"));
  EXPECT_TRUE(has(r, "N2", "cxi1 link", CheckStatus::Error, "cxi1 link down (down)"));
  EXPECT_TRUE(has(r, "N2", "cxi2 link", CheckStatus::Warning, "unreadable"));
  EXPECT_TRUE(has(r, "N5", "cxi0 placement", CheckStatus::Ok,
                  "cxi0 = hsn0 (0000:20:00.0), NUMA node 0, local CPUs 0-1"));
  EXPECT_EQ(r.exitCode(), 1);
}

TEST(Doctor, DeviceNameRestrictsTheNicsChecked) {
  SysfsTree tree;
  tree.addNic({.index = 0, .link = "down", .rdzv_get_en = 1});
  tree.addNic({.index = 1, .rdzv_get_en = 0, .slot = "0000:22:00.0"});
  auto r =
      runDoctor(input(tree, {{"FI_CXI_RDZV_PROTO", "alt_read"}, {"FI_CXI_DEVICE_NAME", "cxi1"}}));
  EXPECT_EQ(find(r, "N2", "cxi0 link"), nullptr);
  EXPECT_EQ(find(r, "E9", "cxi0 rdzv_get_en"), nullptr);
  EXPECT_TRUE(has(r, "E9", "cxi1 rdzv_get_en", CheckStatus::Ok, "0 with alt_read"));
  EXPECT_EQ(r.exitCode(), 0);
  auto missing = runDoctor(input(tree, {{"FI_CXI_DEVICE_NAME", "cxi1,cxi5"}}));
  EXPECT_TRUE(has(missing, "N1", "FI_CXI_DEVICE_NAME", CheckStatus::Error, "names cxi5"));
}

TEST(Doctor, TelemetryCounters) {
  SysfsTree tree;
  tree.addNic({.index = 0, .restricted = "42@1.0", .unrestricted = "7@1.0"});
  tree.addNic({.index = 1, .slot = "0000:22:00.0", .restricted = nullptr});
  auto r = runDoctor(input(tree));
  EXPECT_TRUE(has(r, "N13", "cxi0 telemetry", CheckStatus::Ok,
                  "ixe_rx_ptl_restricted_pkt=42, ixe_rx_ptl_unrestricted_pkt=7"));
  EXPECT_TRUE(has(r, "N13", "cxi1 telemetry", CheckStatus::Warning, "cannot be proven"));
}

TEST(Doctor, Affinity) {
  SysfsTree tree;
  tree.addNic({.index = 0, .numa_node = 1, .cpulist = "2-3"});
  auto in = input(tree);
  in.limits.affinity = {0, 1};
  EXPECT_TRUE(has(runDoctor(in), "N9", "affinity", CheckStatus::Warning,
                  "may run on CPUs 0-1 but the CXI NICs are local to CPUs 2-3"));
  in.limits.affinity = {0, 3};
  EXPECT_TRUE(has(runDoctor(in), "N9", "affinity", CheckStatus::Ok, "next to a CXI NIC"));
}

TEST(Doctor, LinkRestartsInTheLastHour) {
  SysfsTree tree;
  tree.addNic({.index = 0});
  EXPECT_EQ(find(runDoctor(input(tree)), "N3", "cxi0 link restarts"), nullptr);  // no files
  tree.addNicDetails(0);
  EXPECT_TRUE(has(runDoctor(input(tree)), "N3", "cxi0 link restarts", CheckStatus::Ok,
                  "no automatic link restart recorded"));
  const auto at = [&](int slot, std::int64_t t) {
    tree.write("class/cxi/cxi0/device/link_restarts/time_" + std::to_string(slot),
               std::to_string(t) + "\n");
  };
  at(4, kNow - 7200);
  EXPECT_TRUE(has(runDoctor(input(tree)), "N3", "cxi0 link restarts", CheckStatus::Ok,
                  "none in the last hour (1 recorded, the last 2 h 00 min ago)"));
  at(5, kNow - 3000);
  at(6, kNow - 100);
  auto r = runDoctor(input(tree));
  EXPECT_TRUE(has(r, "N3", "cxi0 link restarts", CheckStatus::Warning,
                  "cxi0 link restarted 2× in last hour (last 1 min 40 s ago)"));
  EXPECT_EQ(r.exitCode(), 0);
  for (int slot = 0; slot < 10; ++slot) at(slot, kNow - 60 - slot);
  EXPECT_TRUE(has(runDoctor(input(tree)), "N3", "cxi0 link restarts", CheckStatus::Warning,
                  "restarted at least 10× in last hour"));
}

TEST(Doctor, PcieErrors) {
  SysfsTree tree;
  tree.addNic({.index = 0});
  EXPECT_EQ(find(runDoctor(input(tree)), "N3", "cxi0 PCIe errors"), nullptr);
  tree.addNicDetails(0);
  EXPECT_TRUE(has(runDoctor(input(tree)), "N3", "cxi0 PCIe errors", CheckStatus::Ok,
                  "no uncorrectable error; 0 correctable"));
  tree.write("class/cxi/cxi0/device/properties/pcie_corr_err", "5\n");
  EXPECT_TRUE(has(runDoctor(input(tree)), "N3", "cxi0 PCIe errors", CheckStatus::Ok,
                  "5 correctable (pcie_corr_err 5, aer_dev_correctable 0)"));
  tree.write("class/cxi/cxi0/device/aer_dev_nonfatal", "DLP 1\nTOTAL_ERR_NONFATAL 1\n");
  EXPECT_TRUE(has(runDoctor(input(tree)), "N3", "cxi0 PCIe errors", CheckStatus::Warning,
                  "1 uncorrectable PCIe error (pcie_uncorr_err 0, aer_dev_fatal 0, "
                  "aer_dev_nonfatal 1)"));
  // Only the driver's counter, no AER files: still judged.
  SysfsTree bare;
  bare.addNic({.index = 0});
  bare.write("class/cxi/cxi0/device/properties/pcie_uncorr_err", "2\n");
  EXPECT_TRUE(has(runDoctor(input(bare)), "N3", "cxi0 PCIe errors", CheckStatus::Warning,
                  "2 uncorrectable PCIe errors (pcie_uncorr_err 2)"));
}

TEST(Doctor, Identity) {
  SysfsTree tree;
  tree.addNic({.index = 0});
  EXPECT_EQ(find(runDoctor(input(tree)), "N4", "cxi0 identity"), nullptr);
  tree.write("class/cxi/cxi0/device/properties/nid", "0x2a\n");
  EXPECT_TRUE(has(runDoctor(input(tree)), "N4", "cxi0 identity", CheckStatus::Ok, "nid 0x2a"));
  tree.addNicDetails(0);
  EXPECT_TRUE(has(runDoctor(input(tree)), "N4", "cxi0 identity", CheckStatus::Ok,
                  "nic_addr 0x12, nid 0x12, pid_granule 256, rdzv_get_idx 0, driver 9ce667e, "
                  "firmware 1.5.41, model HPE Slingshot 400Gb 1-port, serial_number SN0001"));
}

TEST(Doctor, Resources) {
  SysfsTree tree;
  tree.addNic({.index = 0});
  EXPECT_EQ(find(runDoctor(input(tree)), "N7", "cxi0 resources"), nullptr);
  tree.addNicDetails(0);
  EXPECT_TRUE(has(runDoctor(input(tree)), "N7", "cxi0 resources", CheckStatus::Ok,
                  "num_ptes 2048, num_txqs 1024, num_tgqs 512, num_eqs 2048, num_cts 2048, "
                  "num_acs 1022, num_tles 2048, num_les 16384, rgids_avail 251"));
  tree.write("class/cxi/cxi0/device/properties/rgids_avail", "0\n");
  auto r = runDoctor(input(tree));
  EXPECT_TRUE(has(r, "N7", "cxi0 resources", CheckStatus::Warning, "rgids_avail is 0"));
  EXPECT_EQ(r.exitCode(), 0);
}

TEST(Doctor, RetryHandler) {
  SysfsTree tree;
  tree.addNic({.index = 0});
  tree.addNic({.index = 1, .slot = "0000:22:00.0"});
  tree.addNic({.index = 2, .slot = "0000:23:00.0"});
  auto in = input(tree);
  in.retry_handlers = {{"cxi0", "active"}, {"cxi1", "failed"}};
  EXPECT_EQ(find(runDoctor(in), "N6", "cxi0 retry handler"), nullptr);  // a fixture's NICs
  in.real_node = true;
  auto r = runDoctor(in);
  EXPECT_TRUE(has(r, "N6", "cxi0 retry handler", CheckStatus::Ok, "cxi_rh@cxi0.service is active"));
  EXPECT_TRUE(has(r, "N6", "cxi1 retry handler", CheckStatus::Error,
                  "cxi_rh@cxi1 not running (systemctl is-active: failed)"));
  EXPECT_TRUE(has(r, "N6", "cxi2 retry handler", CheckStatus::Warning, "cannot tell whether"));
  in.retry_handlers["cxi2"] = "unknown";
  EXPECT_TRUE(has(runDoctor(in), "N6", "cxi2 retry handler", CheckStatus::Warning,
                  "cannot tell whether cxi_rh@cxi2.service runs"));
  in.env = {{"FI_CXI_DEVICE_NAME", "cxi0"}};  // only the NICs the provider may use
  EXPECT_EQ(find(runDoctor(in), "N6", "cxi1 retry handler"), nullptr);
}

// --- the job: VNI and other jobs -----------------------------------------------------------------

TEST(Doctor, SlingshotVni) {
  SysfsTree none;
  EXPECT_EQ(find(runDoctor(input(none)), "N8", "Slingshot VNI"), nullptr);
  EXPECT_TRUE(has(runDoctor(input(none, {{"SLINGSHOT_DEVICES", "cxi0"}})), "N8", "Slingshot VNI",
                  CheckStatus::Ok, "SLINGSHOT_DEVICES=cxi0"));
  auto in = input(none, {{"FI_PROVIDER", "cxi"}});
  in.fabric = noCxi();
  EXPECT_TRUE(has(runDoctor(in), "N8", "Slingshot VNI", CheckStatus::Warning,
                  "no SLINGSHOT_VNIS: provider will use a default service/VNI 10 (may fail or "
                  "be shared)"));
  SysfsTree tree;
  tree.addNic({.index = 0});
  auto job = runDoctor(input(tree, {{"SLINGSHOT_DEVICES", "cxi0"}}));
  EXPECT_TRUE(
      has(job, "N8", "Slingshot VNI", CheckStatus::Warning, "single-node jobs often get none"));
  EXPECT_TRUE(has(job, "N8", "Slingshot VNI", CheckStatus::Warning, "set: SLINGSHOT_DEVICES=cxi0"));
  EXPECT_TRUE(has(runDoctor(input(tree, {{"SLINGSHOT_VNIS", "1024"},
                                         {"SLINGSHOT_DEVICES", "cxi0"},
                                         {"SLINGSHOT_SVC_IDS", "5"},
                                         {"SLINGSHOT_TCS", "0xa"}})),
                  "N8", "Slingshot VNI", CheckStatus::Ok,
                  "SLINGSHOT_VNIS=1024, SLINGSHOT_DEVICES=cxi0, SLINGSHOT_SVC_IDS=5, "
                  "SLINGSHOT_TCS=0xa"));
}

TEST(Doctor, SharedNode) {
  SysfsTree tree;
  tree.addNic({.index = 0});
  auto in = input(tree, {{"SLURM_JOB_ID", "42"}});
  EXPECT_EQ(find(runDoctor(in), "N12", "shared node"), nullptr);  // squeue not asked or failed
  in.node_jobs = std::vector<std::string>{"42"};
  EXPECT_TRUE(
      has(runDoctor(in), "N12", "shared node", CheckStatus::Ok, "no other job on this node"));
  in.node_jobs = std::vector<std::string>{"40_2", "42", "43", "44+1", "43"};
  in.env["SLURM_ARRAY_JOB_ID"] = "40";
  in.env["SLURM_ARRAY_TASK_ID"] = "2";
  auto r = runDoctor(in);
  EXPECT_TRUE(has(r, "N12", "shared node", CheckStatus::Warning,
                  "rdzv_get_en is node-global; another job (43, 44+1) may flip it"));
  EXPECT_EQ(r.exitCode(), 0);
  in.node_jobs = std::vector<std::string>{"42+0", "42+1"};  // this het job's parts
  EXPECT_TRUE(
      has(runDoctor(in), "N12", "shared node", CheckStatus::Ok, "no other job on this node"));
  in.env.erase("SLURM_JOB_ID");
  EXPECT_EQ(find(runDoctor(in), "N12", "shared node"), nullptr);  // outside a job
  SysfsTree none;
  auto plain = input(none, {{"SLURM_JOB_ID", "42"}});
  plain.node_jobs = std::vector<std::string>{"42", "43"};
  EXPECT_TRUE(has(runDoctor(plain), "N12", "shared node", CheckStatus::Ok,
                  "other jobs on this node (43), but no CXI NIC"));
}

// --- alt_read and rdzv_get_en -------------------------------------------------------------------

TEST(Doctor, AltReadWithHardwareGetsEnabledIsAnError) {
  SysfsTree tree;
  tree.addNic({.index = 0, .rdzv_get_en = 1});
  for (const char* spelling : {"alt_read", "alt-read"}) {
    auto r = runDoctor(input(tree, {{"FI_CXI_RDZV_PROTO", spelling}}));
    EXPECT_TRUE(has(r, "E9", "cxi0 rdzv_get_en", CheckStatus::Error,
                    "alt_read requested but " +
                        (tree.root() / "class/cxi/cxi0/device/properties/rdzv_get_en").string() +
                        "=1 (run with srun --network=disable_rdzv_get; note: no effect on "
                        "single-node steps without a VNI)"))
        << spelling;
    EXPECT_EQ(r.exitCode(), 1) << spelling;
  }
}

TEST(Doctor, AltReadWithHardwareGetsDisabledIsFine) {
  SysfsTree tree;
  tree.addNic({.index = 0, .rdzv_get_en = 0});
  tree.moduleDefault("Y");
  auto r = runDoctor(input(
      tree,
      {{"FI_CXI_RDZV_PROTO", "alt_read"}, {"FI_PROVIDER", "cxi"}, {"SLINGSHOT_VNIS", "1234"}}));
  EXPECT_TRUE(has(r, "E9", "cxi0 rdzv_get_en", CheckStatus::Ok, "0 with alt_read"));
  EXPECT_TRUE(has(r, "E9", "rdzv_get_en_default", CheckStatus::Ok, "=Y"));
  EXPECT_EQ(r.count(CheckStatus::Error), 0);
  EXPECT_EQ(r.count(CheckStatus::Warning), 0);
  EXPECT_EQ(r.exitCode(), 0);
}

TEST(Doctor, AltReadAndSlurmNetwork) {
  SysfsTree tree;
  tree.addNic({.index = 0, .rdzv_get_en = 0});
  auto job = runDoctor(input(tree, {{"FI_CXI_RDZV_PROTO", "alt_read"}, {"SLURM_JOB_ID", "42"}}));
  EXPECT_TRUE(has(job, "E9", "SLURM_NETWORK", CheckStatus::Warning,
                  "without --network=disable_rdzv_get (SLURM_NETWORK=unset)"));
  auto flagged = runDoctor(input(tree, {{"FI_CXI_RDZV_PROTO", "alt_read"},
                                        {"SLURM_JOB_ID", "42"},
                                        {"SLURM_NETWORK", "job_vni,disable_rdzv_get"}}));
  EXPECT_TRUE(has(flagged, "E9", "SLURM_NETWORK", CheckStatus::Ok, "job_vni,disable_rdzv_get"));
  // The flag was given but the NIC still says 1: a step without a VNI.
  SysfsTree enabled;
  enabled.addNic({.index = 0, .rdzv_get_en = 1});
  auto novni = runDoctor(
      input(enabled, {{"FI_CXI_RDZV_PROTO", "alt_read"}, {"SLURM_NETWORK", "disable_rdzv_get"}}));
  EXPECT_TRUE(has(novni, "E9", "cxi0 rdzv_get_en", CheckStatus::Error, "probably has no VNI"));
}

TEST(Doctor, AltReadCannotBeVerified) {
  SysfsTree none;
  EXPECT_TRUE(has(runDoctor(input(none, {{"FI_CXI_RDZV_PROTO", "alt_read"}})), "E9",
                  "FI_CXI_RDZV_PROTO", CheckStatus::Warning, "no CXI NIC"));
  SysfsTree unreadable;
  unreadable.addNic({.index = 0, .rdzv_get_en = -1});
  EXPECT_TRUE(has(runDoctor(input(unreadable, {{"FI_CXI_RDZV_PROTO", "alt_read"}})), "E9",
                  "cxi0 rdzv_get_en", CheckStatus::Warning, "cannot be read"));
}

TEST(Doctor, DefaultProtocolWithHardwareGetsDisabled) {
  SysfsTree tree;
  tree.addNic({.index = 0, .rdzv_get_en = 0});
  tree.addNic({.index = 1, .rdzv_get_en = 1, .slot = "0000:22:00.0"});
  auto r = runDoctor(input(tree));
  EXPECT_TRUE(has(r, "E10", "cxi0 rdzv_get_en", CheckStatus::Warning,
                  "hardware rendezvous gets disabled on cxi0 but RDZV_PROTO=default: every Get is "
                  "software-issued"));
  EXPECT_TRUE(has(r, "E10", "cxi1 rdzv_get_en", CheckStatus::Ok, "1: the NIC issues"));
  EXPECT_EQ(r.exitCode(), 0);
}

// --- host -----------------------------------------------------------------------------------

TEST(Doctor, Memlock) {
  SysfsTree tree;
  auto in = input(tree);
  EXPECT_TRUE(has(runDoctor(in), "N11", "memlock", CheckStatus::Ok, "unlimited"));
  in.limits.memlock_soft = 8u << 20;
  in.limits.memlock_hard = 8u << 20;
  EXPECT_TRUE(has(runDoctor(in), "N11", "memlock", CheckStatus::Warning,
                  "memlock limit 8 MiB (hard 8 MiB)"));
  in.limits.memlock_known = false;
  EXPECT_TRUE(has(runDoctor(in), "N11", "memlock", CheckStatus::Warning, "could not be read"));
}

TEST(Doctor, HugepagesCpusAndNumaNodes) {
  SysfsTree tree;
  EXPECT_TRUE(
      has(runDoctor(input(tree)), "N10", "hugepages", CheckStatus::Ok, "no 2 MiB hugepage pool"));
  tree.write("kernel/mm/hugepages/hugepages-2048kB/nr_hugepages", "10\n");
  tree.write("kernel/mm/hugepages/hugepages-2048kB/free_hugepages", "0\n");
  EXPECT_TRUE(has(runDoctor(input(tree)), "N10", "hugepages", CheckStatus::Ok,
                  "0 free 2 MiB pages (10 in the pool)"));
  tree.write("kernel/mm/hugepages/hugepages-2048kB/free_hugepages", "4\n");
  EXPECT_TRUE(has(runDoctor(input(tree)), "N10", "hugepages", CheckStatus::Ok, "4 of 10"));
  EXPECT_TRUE(has(runDoctor(input(tree, {{"FI_CXI_DISABLE_EQ_HUGETLB", "1"}})), "N10", "hugepages",
                  CheckStatus::Ok, "FI_CXI_DISABLE_EQ_HUGETLB=1"));
  tree.write("devices/system/node/node0/cpulist", "0-1\n");
  tree.write("devices/system/node/node1/cpulist", "2-3\n");
  tree.write("devices/system/node/possible", "0-1\n");
  EXPECT_TRUE(
      has(runDoctor(input(tree)), "", "host", CheckStatus::Ok, "nid001: 4 CPUs, 2 NUMA nodes"));
}

TEST(Doctor, KdregWithoutDevice) {
  if (std::filesystem::exists("/dev/kdreg2")) GTEST_SKIP() << "this host has /dev/kdreg2";
  SysfsTree tree;
  auto in = input(tree, {{"FI_MR_CACHE_MONITOR", "kdreg2"}});
  in.real_node = true;
  EXPECT_TRUE(has(runDoctor(in), "E12", "FI_MR_CACHE_MONITOR", CheckStatus::Warning,
                  "/dev/kdreg2 does not exist"));
  in.real_node = false;  // a fixture root says nothing about this host's /dev
  EXPECT_EQ(find(runDoctor(in), "E12", "FI_MR_CACHE_MONITOR"), nullptr);
}

// --- JSON ---------------------------------------------------------------------------------------

TEST(Doctor, Json) {
  SysfsTree tree;
  tree.addNic({.index = 0, .rdzv_get_en = 1});
  auto r = runDoctor(input(tree, {{"FI_CXI_RDZV_PROTO", "alt_read"}}));
  auto j = doctorJson(r);
  EXPECT_EQ(j["schema_version"], 1);
  EXPECT_EQ(j["exit_code"], 1);
  EXPECT_EQ(j["summary"]["errors"], r.count(CheckStatus::Error));
  EXPECT_EQ(j["libfabric"]["version"], "2.3.1");
  EXPECT_EQ(j["libfabric"]["cxi"]["available"], true);
  EXPECT_EQ(j["cxi_env"]["effective"]["rdzv_proto"], "alt_read");
  EXPECT_EQ(j["cxi_sysfs"]["nics"][0]["rdzv_get_en"], true);
  bool error = false;
  for (const auto& c : j["checks"]) error |= c["id"] == "E9" && c["status"] == "error";
  EXPECT_TRUE(error);
  auto bare = input(tree);
  bare.libfabric_built = false;
  bare.fabric.reset();
  auto jb = doctorJson(runDoctor(bare));
  EXPECT_EQ(jb["libfabric"]["probed"], false);
  EXPECT_FALSE(jb["libfabric"].contains("version"));
}

}  // namespace
}  // namespace rdzv::bench
