#pragma once
// Collective rendezvous operations among all ranks of a run: the exchange Context uses to
// wire the mesh and the harness uses to gather results. Implemented over a Store (keys
// under the run's prefix) or over MPI.

#include <memory>
#include <string>
#include <vector>

#include "lib/clock.h"
#include "store/store.h"

namespace rdzv::store {

class Bootstrap {
 public:
  virtual ~Bootstrap() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Every rank contributes `mine`; every rank gets all contributions, indexed by rank.
  // `name` must be unique per call within a run (it scopes the keys).
  virtual std::vector<Bytes> allgather(const std::string& name, const Bytes& mine,
                                       Deadline deadline) = 0;
  // Like allgather, but only rank 0 gets the contributions; the others get an empty vector.
  virtual std::vector<Bytes> gather(const std::string& name, const Bytes& mine,
                                    Deadline deadline) = 0;
  virtual void barrier(const std::string& name, Deadline deadline) = 0;
  // Rank 0's `value` reaches every rank (the others' `value` is ignored). The default is an
  // allgather; a store sends the others one key instead of every rank's.
  virtual Bytes broadcast(const std::string& name, const Bytes& value, Deadline deadline) {
    return allgather(name, value, deadline).at(0);
  }
  // Tells the other ranks that this one failed, so their waits end naming it. Best effort,
  // never throws.
  virtual void abort(const std::string& message) noexcept = 0;
  // The first failure another rank announced with abort(), if any. Never throws.
  virtual std::string abortNotice() noexcept { return {}; }
  // "store tcp://127.0.0.1:4000 (run r42)" or "MPI_COMM_WORLD".
  virtual std::string describe() const = 0;
};

// Bootstrap over a Store. Keys: "<name>/<rank>"; the abort notice: "abort"; the rank claims:
// "claim/<rank>".
class StoreBootstrap : public Bootstrap {
 public:
  StoreBootstrap(Store& store, int rank, int size);
  // Claims this rank's place in the run (an atomic counter "claim/<rank>"), so that two jobs
  // sharing one run id in one store fail instead of mixing. When another process holds the
  // place already, announces the collision to every rank of the run (they stop rather than
  // pair with the wrong job) and throws Usage, with `hint` saying how to choose a distinct id.
  void claimRank(const std::string& hint);
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::vector<Bytes> allgather(const std::string& name, const Bytes& mine,
                               Deadline deadline) override;
  std::vector<Bytes> gather(const std::string& name, const Bytes& mine, Deadline deadline) override;
  void barrier(const std::string& name, Deadline deadline) override;
  Bytes broadcast(const std::string& name, const Bytes& value, Deadline deadline) override;
  void abort(const std::string& message) noexcept override;
  std::string abortNotice() noexcept override;
  std::string describe() const override;

 private:
  // Waits for "<name>/<r>" of every r in `ranks`; on expiry names the ranks still missing,
  // and ends early with the abort notice of a failed rank.
  void waitRanks(const std::string& name, const std::vector<int>& ranks, Deadline deadline);

  Store& store_;
  int rank_;
  int size_;
};

}  // namespace rdzv::store
