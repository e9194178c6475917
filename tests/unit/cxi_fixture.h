#pragma once
// Fake sysfs trees for the CXI tests: a temporary directory laid out like /sys on a Slingshot
// node (class/cxi/cxiN -> the PCI function, Cassini 1 or 2 port files, properties, telemetry,
// class/net/hsnN, the cxi_ss1 module parameter, health/identity/resource files), removed when the
// object goes away.

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

namespace rdzv::testing {

struct FakeNic {
  int index = 0;
  int generation = 2;          // 1: port/{link,speed,...}; 2: port/0/link/state, ...
  bool write_version = true;   // properties/cassini_version
  const char* link = "up";     // port state text; nullptr: no port files at all
  int rdzv_get_en = 1;         // -1: no property file
  const char* slot = nullptr;  // PCI slot; nullptr: 0000:2<index>:00.0
  const char* netdev = "hsn";  // class/net/<netdev><index>; nullptr: none
  int numa_node = 0;
  const char* cpulist = "0-1";
  const char* restricted = "100@1700000000.000000001";
  const char* unrestricted = "5000@1700000000.000000001";
};

class SysfsTree {
 public:
  SysfsTree() {
    std::string pattern = (std::filesystem::temp_directory_path() / "rdzv-sysfs-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
    root_ = pattern;
  }
  ~SysfsTree() {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
  SysfsTree(const SysfsTree&) = delete;
  SysfsTree& operator=(const SysfsTree&) = delete;

  const std::filesystem::path& root() const { return root_; }

  // Writes `content` to root/relative, creating the directories.
  void write(const std::filesystem::path& relative, const std::string& content) const {
    const auto path = root_ / relative;
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path) << content;
  }

  void link(const std::filesystem::path& relative, const std::filesystem::path& target) const {
    const auto path = root_ / relative;
    std::filesystem::create_directories(path.parent_path());
    std::filesystem::create_directory_symlink(target, path);
  }

  // The PCI function directory of a NIC added with addNic.
  std::filesystem::path pciDir(const std::string& slot) const {
    return root_ / "devices" / "pci0000:00" / slot;
  }

  // Adds class/cxi/cxi<index>, its PCI function and (optionally) its netdev.
  std::string addNic(const FakeNic& nic) const {
    const std::string slot =
        nic.slot != nullptr ? nic.slot : "0000:2" + std::to_string(nic.index) + ":00.0";
    const std::string name = "cxi" + std::to_string(nic.index);
    const std::filesystem::path pci = std::filesystem::path("devices") / "pci0000:00" / slot;
    write(pci / "uevent", "DRIVER=cxi_ss1\nPCI_CLASS=20000\nPCI_SLOT_NAME=" + slot + "\n");
    write(pci / "numa_node", std::to_string(nic.numa_node) + "\n");
    write(pci / "local_cpulist", std::string(nic.cpulist) + "\n");
    if (nic.write_version)
      write(pci / "properties" / "cassini_version", nic.generation == 1 ? "1.1\n" : "2.0\n");
    if (nic.rdzv_get_en >= 0)
      write(pci / "properties" / "rdzv_get_en", std::to_string(nic.rdzv_get_en) + "\n");
    write(pci / "properties" / "speed", "200000\n");
    if (nic.link != nullptr) {
      if (nic.generation == 1) {
        write(pci / "port" / "link", std::string(nic.link) + "\n");
        write(pci / "port" / "speed", "BS_200G\n");
        write(pci / "port" / "media", "electrical\n");
        write(pci / "port" / "link_layer_retry", "on\n");
      } else {
        write(pci / "port" / "0" / "link" / "state", std::string(nic.link) + "\n");
        write(pci / "port" / "0" / "link" / "speed", "CK_400G\n");
        write(pci / "port" / "0" / "media" / "type", "AOC\n");
        write(pci / "port" / "0" / "llr" / "state", "running\n");
      }
    }
    if (nic.restricted != nullptr)
      write(pci / "telemetry" / "ixe_rx_ptl_restricted_pkt", std::string(nic.restricted) + "\n");
    if (nic.unrestricted != nullptr)
      write(pci / "telemetry" / "ixe_rx_ptl_unrestricted_pkt",
            std::string(nic.unrestricted) + "\n");
    std::filesystem::create_directories(root_ / "class" / "cxi" / name);
    link(std::filesystem::path("class") / "cxi" / name / "device", root_ / pci);
    if (nic.netdev != nullptr)
      link(std::filesystem::path("class") / "net" /
               (std::string(nic.netdev) + std::to_string(nic.index)) / "device",
           root_ / pci);
    return name;
  }

  // A NIC's health, identity and resource files as a quiet Cassini 2 node shows them (N3, N4,
  // N7): no link restart, no PCIe error, resource groups free. Tests overwrite single files.
  void addNicDetails(int index) const {
    const auto dev =
        std::filesystem::path("class") / "cxi" / ("cxi" + std::to_string(index)) / "device";
    for (int i = 0; i < 10; ++i)
      write(dev / "link_restarts" / ("time_" + std::to_string(i)), "0\n");
    write(dev / "properties" / "pcie_corr_err", "0\n");
    write(dev / "properties" / "pcie_uncorr_err", "0\n");
    write(dev / "aer_dev_correctable", "RxErr 0\nBadTLP 0\nBadDLLP 0\nTOTAL_ERR_COR 0\n");
    write(dev / "aer_dev_fatal", "Undefined 0\nDLP 0\nMalfTLP 0\nTOTAL_ERR_FATAL 0\n");
    write(dev / "aer_dev_nonfatal", "Undefined 0\nDLP 0\nMalfTLP 0\nTOTAL_ERR_NONFATAL 0\n");
    write(dev / "properties" / "nic_addr", "0x12\n");
    write(dev / "properties" / "nid", "0x12\n");
    write(dev / "properties" / "pid_granule", "256\n");
    write(dev / "properties" / "rdzv_get_idx", "0\n");
    write(dev / "properties" / "driver_rev", "9ce667e\n");
    write(dev / "uc" / "version", "1.5.41\n");
    write(dev / "fru" / "model", "HPE Slingshot 400Gb 1-port\n");
    write(dev / "fru" / "serial_number", "SN0001\n");
    const char* resources[][2] = {
        {"num_ptes", "2048"}, {"num_txqs", "1024"}, {"num_tgqs", "512"},
        {"num_eqs", "2048"},  {"num_cts", "2048"},  {"num_acs", "1022"},
        {"num_tles", "2048"}, {"num_les", "16384"}, {"rgids_avail", "251"}};
    for (const auto& [name, value] : resources)
      write(dev / "properties" / name, std::string(value) + "\n");
  }

  // The driver's boot default, as module cxi_ss1 (or the older cxi_core) shows it.
  void moduleDefault(const char* value, const char* module = "cxi_ss1") const {
    write(std::filesystem::path("module") / module / "parameters" / "rdzv_get_en_default",
          std::string(value) + "\n");
  }

 private:
  std::filesystem::path root_;
};

}  // namespace rdzv::testing
