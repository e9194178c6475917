#include "transport/mpi/mpi_device.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <climits>

#include <fmt/format.h>

#include "lib/error.h"
#include "store/mpi_bootstrap.h"

namespace rdzv::transport::mpi {

MpiDevice::MpiDevice(const TransportOptions& options) : options_(options) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized)
    throwUsage("the mpi transport needs MPI",
               "launch with mpirun or srun --mpi=pmix and pass --bootstrap mpi");
  void* ub = nullptr;
  int found = 0;
  MPI_Comm_get_attr(MPI_COMM_WORLD, MPI_TAG_UB, &ub, &found);
  if (found) tag_ub_ = *static_cast<int*>(ub);
}

void MpiDevice::connect(int rank, const std::vector<Bytes>& addresses,
                        const std::vector<std::string>& hosts, Deadline) {
  int mpi_rank = -1, mpi_size = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &mpi_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &mpi_size);
  if (mpi_rank != rank || mpi_size != static_cast<int>(addresses.size()))
    throwUsage(fmt::format("rdzvbench rank {} of {} is MPI rank {} of {}", rank, addresses.size(),
                           mpi_rank, mpi_size),
               "the mpi transport needs rdzvbench's ranks to be MPI_COMM_WORLD's; use --bootstrap "
               "mpi");
  long local = std::count(hosts.begin(), hosts.end(), hosts[rank]);
  yield_ = local > sysconf(_SC_NPROCESSORS_ONLN);
}

std::unique_ptr<Buffer> MpiDevice::createBuffer(void* ptr, std::size_t size) {
  return std::make_unique<MpiBuffer>(*this, ptr, size);
}

nlohmann::json MpiDevice::details() const {
  char version[MPI_MAX_LIBRARY_VERSION_STRING] = {};
  int len = 0;
  MPI_Get_library_version(version, &len);
  std::string text(version, len);
  if (auto nl = text.find('\n'); nl != std::string::npos) text.resize(nl);
  return {{"library", text}, {"yield_when_idle", yield_}};
}

MpiBuffer::MpiBuffer(MpiDevice& device, void* ptr, std::size_t size)
    : Buffer(ptr, size), device_(device) {
  sends_.reserve(256);
  recvs_.reserve(256);
}

MpiBuffer::~MpiBuffer() {
  // Requests still pending belong to a failed run; free them so MPI_Finalize is not blocked.
  for (auto* list : {&sends_, &recvs_})
    for (auto& r : *list)
      if (r != MPI_REQUEST_NULL) {
        MPI_Cancel(&r);
        MPI_Request_free(&r);
      }
}

int MpiBuffer::mpiTag(std::uint64_t tag) const {
  if (tag > static_cast<std::uint64_t>(device_.tagUpperBound()))
    throwRuntime(fmt::format("tag {} exceeds MPI_TAG_UB ({})", tag, device_.tagUpperBound()));
  return static_cast<int>(tag);
}

void MpiBuffer::send(int peer, std::size_t offset, std::size_t length, std::uint64_t tag) {
  checkRange(offset, length);
  if (length > static_cast<std::size_t>(INT_MAX))
    throwUsage(fmt::format("message of {} bytes is too large for the mpi transport", length));
  MPI_Request r;
  store::checkMpi(MPI_Isend(data() + offset, static_cast<int>(length), MPI_BYTE, peer, mpiTag(tag),
                            MPI_COMM_WORLD, &r),
                  "MPI_Isend");
  sends_.push_back(r);
}

void MpiBuffer::recv(int peer, std::size_t offset, std::size_t length, std::uint64_t tag) {
  checkRange(offset, length);
  if (length > static_cast<std::size_t>(INT_MAX))
    throwUsage(fmt::format("message of {} bytes is too large for the mpi transport", length));
  MPI_Request r;
  store::checkMpi(MPI_Irecv(data() + offset, static_cast<int>(length), MPI_BYTE, peer, mpiTag(tag),
                            MPI_COMM_WORLD, &r),
                  "MPI_Irecv");
  recvs_.push_back(r);
}

void MpiBuffer::waitOne(std::vector<MPI_Request>& requests, Deadline deadline, const char* what) {
  if (requests.empty()) throwRuntime(fmt::format("waiting for {} with none posted", what));
  std::uint64_t spins = 0;
  while (true) {
    int index = MPI_UNDEFINED, flag = 0;
    store::checkMpi(MPI_Testany(static_cast<int>(requests.size()), requests.data(), &index, &flag,
                                MPI_STATUS_IGNORE),
                    "MPI_Testany");
    if (flag && index != MPI_UNDEFINED) {
      requests.erase(requests.begin() + index);
      return;
    }
    if ((++spins & 255) == 0 && deadline.expired())
      throwRuntime(fmt::format("timed out waiting for {} over MPI", what),
                   "a peer is stuck or dead; raise --timeout if it is only slow");
    if (device_.yieldWhenIdle()) sched_yield();
  }
}

void MpiBuffer::waitSend(Deadline deadline) { waitOne(sends_, deadline, "a send to complete"); }
void MpiBuffer::waitRecv(Deadline deadline) { waitOne(recvs_, deadline, "a message to arrive"); }

}  // namespace rdzv::transport::mpi
