#pragma once
// MPI as the rendezvous: rank and size from MPI_COMM_WORLD, exchanges by non-blocking MPI
// collectives polled against a deadline. Built only with RDZV_HAVE_MPI.

#include <memory>

#include "store/bootstrap.h"

namespace rdzv::store {

// Throws a Runtime error naming `call` and MPI's own text for `rc` unless it is MPI_SUCCESS.
void checkMpi(int rc, const char* call);

// Owns MPI_Init/MPI_Finalize for the process. Create at most one; safe to create when the
// process was not started by an MPI launcher only if the MPI library allows singletons.
class MpiSession {
 public:
  MpiSession();
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;
  int rank() const { return rank_; }
  int size() const { return size_; }
  // MPI_Abort on MPI_COMM_WORLD: the way to stop every rank when MPI launched them.
  [[noreturn]] static void abortAll(int code);

 private:
  int rank_ = 0;
  int size_ = 1;
};

class MpiBootstrap : public Bootstrap {
 public:
  explicit MpiBootstrap(const MpiSession& session);
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::vector<Bytes> allgather(const std::string& name, const Bytes& mine,
                               Deadline deadline) override;
  std::vector<Bytes> gather(const std::string& name, const Bytes& mine, Deadline deadline) override;
  void barrier(const std::string& name, Deadline deadline) override;
  void abort(const std::string& message) noexcept override;
  std::string describe() const override { return "MPI_COMM_WORLD"; }

 private:
  std::vector<Bytes> exchange(const std::string& name, const Bytes& mine, bool to_all,
                              Deadline deadline);
  int rank_;
  int size_;
};

}  // namespace rdzv::store
