#include "store/mpi_bootstrap.h"

#include <mpi.h>
#include <sched.h>

#include <chrono>
#include <thread>

#include <fmt/format.h>

#include "lib/error.h"

namespace rdzv::store {
namespace {

// MPI collectives have no timeout of their own: poll the request until the deadline. Yielding
// for the first half millisecond (a collective among ranks that are all there ends sooner),
// then sleeping between polls, so that ranks waiting out other ranks' measurement (a survey's
// idle ranks, the pairs of a round) leave the CPU to it. The sleep stays short because the
// collective only progresses inside MPI calls: each of its steps waits for this rank's poll.
void waitRequest(MPI_Request& request, const std::string& what, Deadline deadline) {
  const auto start = Clock::now();
  int done = 0;
  while (true) {
    checkMpi(MPI_Test(&request, &done, MPI_STATUS_IGNORE), "MPI_Test");
    if (done) return;
    if (deadline.expired())
      throwRuntime(fmt::format("timed out in the MPI exchange \"{}\"", what),
                   "a rank is stuck or dead; raise --timeout or check the other ranks' output");
    if (Clock::now() - start < std::chrono::microseconds(500))
      sched_yield();
    else
      std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
}

}  // namespace

void checkMpi(int rc, const char* call) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  throwRuntime(fmt::format("{} failed: {}", call, std::string(text, len)));
}

MpiSession::MpiSession() {
  int provided = 0;
  checkMpi(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
}

MpiSession::~MpiSession() { MPI_Finalize(); }

void MpiSession::abortAll(int code) {
  MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);
}

MpiBootstrap::MpiBootstrap(const MpiSession& session)
    : rank_(session.rank()), size_(session.size()) {}

std::vector<Bytes> MpiBootstrap::exchange(const std::string& name, const Bytes& mine, bool to_all,
                                          Deadline deadline) {
  int length = static_cast<int>(mine.size());
  std::vector<int> lengths(size_);
  MPI_Request request;
  if (to_all)
    checkMpi(
        MPI_Iallgather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, MPI_COMM_WORLD, &request),
        "MPI_Iallgather");
  else
    checkMpi(
        MPI_Igather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, 0, MPI_COMM_WORLD, &request),
        "MPI_Igather");
  waitRequest(request, name, deadline);
  std::vector<int> offsets(size_, 0);
  int total = 0;
  for (int r = 0; r < size_; ++r) {
    offsets[r] = total;
    total += lengths[r];
  }
  std::vector<std::uint8_t> all(total > 0 ? total : 1);
  if (to_all)
    checkMpi(MPI_Iallgatherv(mine.data(), length, MPI_BYTE, all.data(), lengths.data(),
                             offsets.data(), MPI_BYTE, MPI_COMM_WORLD, &request),
             "MPI_Iallgatherv");
  else
    checkMpi(MPI_Igatherv(mine.data(), length, MPI_BYTE, all.data(), lengths.data(), offsets.data(),
                          MPI_BYTE, 0, MPI_COMM_WORLD, &request),
             "MPI_Igatherv");
  waitRequest(request, name, deadline);
  if (!to_all && rank_ != 0) return {};
  std::vector<Bytes> out(size_);
  for (int r = 0; r < size_; ++r)
    out[r].assign(all.begin() + offsets[r], all.begin() + offsets[r] + lengths[r]);
  return out;
}

std::vector<Bytes> MpiBootstrap::allgather(const std::string& name, const Bytes& mine,
                                           Deadline deadline) {
  return exchange(name, mine, true, deadline);
}

std::vector<Bytes> MpiBootstrap::gather(const std::string& name, const Bytes& mine,
                                        Deadline deadline) {
  return exchange(name, mine, false, deadline);
}

void MpiBootstrap::barrier(const std::string& name, Deadline deadline) {
  MPI_Request request;
  checkMpi(MPI_Ibarrier(MPI_COMM_WORLD, &request), "MPI_Ibarrier");
  waitRequest(request, name, deadline);
}

void MpiBootstrap::abort(const std::string&) noexcept {
  // MPI_Abort is issued by the CLI after the report is written; nothing to publish here.
}

}  // namespace rdzv::store
