#include "lib/error.h"

#include <cstring>

namespace rdzv {

Error::Error(ErrorKind kind, std::string what, std::string hint)
    : std::runtime_error(std::move(what)), kind_(kind), hint_(std::move(hint)) {}

Error& Error::onRank(int rank) {
  if (!rank_) rank_ = rank;
  return *this;
}

std::string Error::message() const {
  std::string out;
  if (rank_) out = "rank " + std::to_string(*rank_) + ": ";
  out += what();
  if (!hint_.empty()) out += " (" + hint_ + ")";
  return out;
}

void throwUsage(std::string what, std::string hint) {
  throw Error(ErrorKind::Usage, std::move(what), std::move(hint));
}

void throwRuntime(std::string what, std::string hint) {
  throw Error(ErrorKind::Runtime, std::move(what), std::move(hint));
}

void throwSystem(const std::string& call, int err, std::string hint) {
  throw Error(ErrorKind::Runtime, call + ": " + std::strerror(err), std::move(hint));
}

}  // namespace rdzv
