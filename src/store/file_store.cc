#include "store/file_store.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>
#include <thread>

#include "lib/error.h"
#include "store/hash_store.h"

namespace rdzv::store {
namespace {

// File names stay well below NAME_MAX (255) even with the temp-file suffix.
constexpr std::size_t kMaxEncodedKey = 200;
// add() holds the lock for one read and one rename; only a stopped or hung process holds it
// longer, and then failing beats hanging.
constexpr auto kLockTimeout = std::chrono::seconds(60);
constexpr auto kFirstBackoff = std::chrono::milliseconds(1);
constexpr auto kMaxBackoff = std::chrono::milliseconds(50);

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  // Closes now so that the caller can see close() fail (a full disk may only show up here).
  int close() {
    int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

std::string encodeKey(const std::string& key) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : key) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// Sleeps for the current back-off, never past the deadline, and doubles it for the next round.
void backOff(std::chrono::nanoseconds& delay, Deadline deadline) {
  std::this_thread::sleep_for(std::min(delay, deadline.remaining()));
  delay = std::min<std::chrono::nanoseconds>(delay * 2, kMaxBackoff);
}

// Temp names must not collide between hosts sharing the directory, so pid alone is not enough;
// and a forked child inherits the generator's state, so the random part alone is not either.
std::string uniqueSuffix() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  return fmt::format("{}-{:016x}", ::getpid(), rng());
}

}  // namespace

FileStore::FileStore(std::string dir) : dir_(std::move(dir)) {
  if (dir_.empty()) throwUsage("file store: empty directory", "use --store file:///abs/dir");
  while (dir_.size() > 1 && dir_.back() == '/') dir_.pop_back();
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) {
    throwRuntime(
        fmt::format("store {}: cannot create directory {}: {}", describe(), dir_, ec.message()),
        "choose a directory every rank can write, e.g. --store file:///shared/rdzv");
  }
  if (::access(dir_.c_str(), W_OK | X_OK) != 0) {
    throwRuntime(fmt::format("store {}: directory {} is not writable: {}", describe(), dir_,
                             std::strerror(errno)),
                 "choose a directory every rank can write, e.g. --store file:///shared/rdzv");
  }
}

std::string FileStore::describe() const {
  return dir_.starts_with('/') ? "file://" + dir_ : "file:" + dir_;
}

std::string FileStore::pathOf(char kind, const std::string& key) const {
  std::string encoded = encodeKey(key);
  if (encoded.size() > kMaxEncodedKey) {
    throwUsage(fmt::format("store {}: key {} is too long ({} characters once encoded, at most {})",
                           describe(), key.substr(0, 40) + "...", encoded.size(), kMaxEncodedKey),
               "use shorter keys or a shorter run prefix");
  }
  return dir_ + "/" + kind + "." + encoded;
}

std::optional<Bytes> FileStore::tryRead(const std::string& key) const {
  const std::string path = pathOf('k', key);
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) return std::nullopt;
    throwSystem("open " + path, errno);
  }
  Bytes out;
  std::uint8_t buf[65536];
  while (true) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throwSystem("read " + path, errno);
    if (n == 0) break;
    out.insert(out.end(), buf, buf + n);
  }
  return out;
}

void FileStore::writeAtomically(const std::string& key, const Bytes& value) const {
  const std::string path = pathOf('k', key);
  const std::string tmp = pathOf('t', key) + "." + uniqueSuffix();
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (fd.get() < 0) throwSystem("create " + tmp, errno, "check that " + dir_ + " is writable");
  std::size_t done = 0;
  while (done < value.size()) {
    ssize_t n = ::write(fd.get(), value.data() + done, value.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::unlink(tmp.c_str());
      throwSystem("write " + tmp, err, "check free space in " + dir_);
    }
    done += static_cast<std::size_t>(n);
  }
  if (fd.close() != 0 || ::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    throwSystem("write " + path, err, "check free space in " + dir_);
  }
}

void FileStore::set(const std::string& key, const Bytes& value) { writeAtomically(key, value); }

Bytes FileStore::get(const std::string& key, Deadline deadline) {
  const auto start = Clock::now();
  std::chrono::nanoseconds delay = kFirstBackoff;
  while (true) {
    if (auto value = tryRead(key)) return *value;
    if (deadline.expired()) detail::throwWaitExpired(describe(), {key}, Clock::now() - start);
    backOff(delay, deadline);
  }
}

void FileStore::wait(const std::vector<std::string>& keys, Deadline deadline) {
  const auto start = Clock::now();
  std::chrono::nanoseconds delay = kFirstBackoff;
  std::vector<std::string> missing = keys;
  while (true) {
    // Keys never need a second look once seen; only the missing ones are polled again.
    std::erase_if(missing, [&](const std::string& key) {
      struct stat st;
      return ::stat(pathOf('k', key).c_str(), &st) == 0;
    });
    if (missing.empty()) return;
    if (deadline.expired()) detail::throwWaitExpired(describe(), missing, Clock::now() - start);
    backOff(delay, deadline);
  }
}

bool FileStore::check(const std::vector<std::string>& keys) {
  return std::all_of(keys.begin(), keys.end(), [&](const std::string& key) {
    struct stat st;
    return ::stat(pathOf('k', key).c_str(), &st) == 0;
  });
}

std::int64_t FileStore::add(const std::string& key, std::int64_t delta) {
  const std::string lock_path = pathOf('l', key);
  Fd lock(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (lock.get() < 0)
    throwSystem("open " + lock_path, errno, "check that " + dir_ + " is writable");
  // Non-blocking attempts with back-off rather than a blocking flock(), which has no timeout.
  const Deadline lock_deadline = Deadline::after(kLockTimeout);
  std::chrono::nanoseconds delay = std::chrono::microseconds(50);
  while (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR) throwSystem("flock " + lock_path, errno);
    if (lock_deadline.expired()) {
      throwRuntime(fmt::format("store {}: lock {} still held after {}s", describe(), lock_path,
                               kLockTimeout.count()),
                   "a process holding it is stopped or hung; kill it or use a fresh directory");
    }
    backOff(delay, lock_deadline);
  }
  auto old = tryRead(key);
  std::int64_t value = detail::addCounter(
      describe(), key, old ? detail::decodeCounter(describe(), key, *old) : 0, delta);
  writeAtomically(key, detail::encodeCounter(value));
  return value;  // closing `lock` releases the flock
}

bool FileStore::remove(const std::string& key) {
  const std::string path = pathOf('k', key);
  if (::unlink(path.c_str()) == 0) return true;
  if (errno == ENOENT) return false;
  throwSystem("unlink " + path, errno);
}

std::size_t FileStore::removePrefix(const std::string& prefix) {
  // Encoding is character by character, so the encoded prefix begins every encoded key under it.
  const std::string encoded = encodeKey(prefix);
  std::size_t removed = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() < 2 || name[1] != '.' ||
        std::string_view(name).substr(2).rfind(encoded, 0) != 0)
      continue;
    if (name[0] != 'k' && name[0] != 'l' && name[0] != 't') continue;
    if (::unlink(entry.path().c_str()) == 0 && name[0] == 'k') ++removed;
  }
  if (ec) throwSystem("list " + dir_, ec.value());
  return removed;
}

}  // namespace rdzv::store
