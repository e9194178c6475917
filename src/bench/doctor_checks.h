#pragma once
// Internal to doctor: the list the checks append to, and the node/NIC checks that live in
// doctor_nic.cc (N3, N4, N6, N7, N8, N12) so that doctor.cc keeps the libfabric, FI_CXI_* and
// rendezvous-Get ones.

#include <string>
#include <utility>
#include <vector>

#include "bench/doctor.h"
#include "transport/ofi/cxi_sysfs.h"

namespace rdzv::bench::detail {

class Checks {
 public:
  void add(CheckStatus status, std::string id, std::string subject, std::string message) {
    list.push_back({std::move(id), std::move(subject), status, std::move(message)});
  }
  void ok(std::string id, std::string subject, std::string message) {
    add(CheckStatus::Ok, std::move(id), std::move(subject), std::move(message));
  }
  void warn(std::string id, std::string subject, std::string message) {
    add(CheckStatus::Warning, std::move(id), std::move(subject), std::move(message));
  }
  void error(std::string id, std::string subject, std::string message) {
    add(CheckStatus::Error, std::move(id), std::move(subject), std::move(message));
  }
  std::vector<DoctorCheck> list;
};

// The variable from the input's environment, "" when unset.
inline std::string envValue(const DoctorInput& in, const std::string& name) {
  auto it = in.env.find(name);
  return it == in.env.end() ? std::string() : it->second;
}

// N3 link restarts and PCIe errors, N4 identity, N6 retry handler, N7 resources of `used`.
void checkNicHealth(const DoctorInput& in, const std::vector<transport::ofi::CxiNic>& used,
                    Checks& c);

// N8: the SLINGSHOT_* variables a launcher sets for the job's CXI service.
void checkSlingshotService(const DoctorInput& in, const DoctorReport& rep, bool want_cxi,
                           Checks& c);

// N12: other Slurm jobs on this node, who may flip the node-global rdzv_get_en.
void checkSharedNode(const DoctorInput& in, const DoctorReport& rep, Checks& c);

}  // namespace rdzv::bench::detail
