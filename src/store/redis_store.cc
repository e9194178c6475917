#include "store/redis_store.h"

#include <fmt/format.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>
#include <thread>

#include "lib/error.h"
#include "lib/sysinfo.h"
#include "store/hash_store.h"

namespace rdzv::store {
namespace {

using namespace std::chrono_literals;

// Polling back-off of get() and wait(); see the comment on RedisStore::wait.
constexpr auto kFirstPoll = 1ms;
constexpr auto kMaxPoll = 25ms;
// Back-off between reconnection attempts: quick enough to catch a restarted server early, slow
// enough that a thousand ranks retrying do not flood a server that is coming up.
constexpr auto kFirstRetry = 10ms;
constexpr auto kMaxRetry = 500ms;
// One connection attempt or round trip may take at least this long even past the deadline, so
// that an expired deadline still gets one real try (as check() after a failed wait needs).
constexpr auto kMinTrip = 100ms;
// A single connection attempt waits at most this long, so that a server that comes back (or a
// link that heals) is found again within this time.
constexpr auto kMaxConnectAttempt = 2s;
constexpr std::size_t kMaxJournalBytes = 16u << 20;
constexpr std::size_t kScanBatch = 1000;

// add() in one atomic step, retry-safe: KEYS[2] records the result of request ARGV[3]; a request
// sent again after a lost connection finds it and returns it instead of counting twice.
constexpr const char* kAddScript = R"lua(
local done = redis.call('GET', KEYS[2])
if done then return tonumber(done) end
local v = redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('SET', KEYS[2], v, 'EX', ARGV[3])
return v
)lua";

// Blocks SIGPIPE on this thread while hiredis writes (it uses write(), not send(MSG_NOSIGNAL)),
// so that writing to a server that went away is an error rather than the death of the process.
// A SIGPIPE raised meanwhile is consumed before the mask is restored.
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~SigpipeGuard() {
    if (!was_pending_) {
      sigset_t pending;
      sigpending(&pending);
      if (sigismember(&pending, SIGPIPE) == 1) {
        timespec zero{0, 0};
        sigtimedwait(&pipe_, nullptr, &zero);
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  sigset_t pipe_;
  sigset_t old_;
  bool was_pending_ = false;
};

timeval toTimeval(std::chrono::nanoseconds d) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
  return timeval{static_cast<time_t>(us / 1000000), static_cast<suseconds_t>(us % 1000000)};
}

// Time a round trip may take: what is left of `deadline`, but at least kMinTrip.
std::chrono::nanoseconds tripTime(Deadline deadline) {
  return std::max<std::chrono::nanoseconds>(deadline.remaining(), kMinTrip);
}

std::string secondsText(std::chrono::nanoseconds d) {
  return fmt::format("{:.1f}s", std::chrono::duration<double>(d).count());
}

// Sleeps for the current back-off, never past the deadline, and doubles it up to `cap`.
void backOff(std::chrono::nanoseconds& delay, std::chrono::nanoseconds cap, Deadline deadline) {
  std::this_thread::sleep_for(std::min(delay, deadline.remaining()));
  delay = std::min(delay * 2, cap);
}

std::string replyText(const redisReply& r) {
  return r.str != nullptr ? std::string(r.str, r.len) : std::string();
}

bool contains(const std::string& text, const char* needle) {
  return text.find(needle) != std::string::npos;
}

// Escapes the glob characters of SCAN MATCH, so that a prefix matches only itself.
std::string globEscape(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

std::string uniqueClientId() {
  std::random_device rd;
  std::uint64_t r = (static_cast<std::uint64_t>(rd()) << 32) | rd();
  return fmt::format("{}-{}-{:016x}", hostName(), getpid(), r);
}

std::string keyList(const std::vector<std::string>& keys) {
  std::string out;
  for (std::size_t i = 0; i < keys.size() && i < 4; ++i) out += (i ? ", " : "") + keys[i];
  if (keys.size() > 4) out += fmt::format(" and {} more", keys.size() - 4);
  return out;
}

}  // namespace

void RedisStore::ContextFree::operator()(redisContext* c) const { redisFree(c); }
void RedisStore::ReplyFree::operator()(redisReply* r) const { freeReplyObject(r); }

RedisStore::RedisStore(RedisOptions options, Deadline connect_deadline)
    : options_(std::move(options)), client_id_(uniqueClientId()) {
  if (options_.ttl.count() < 1) {
    throwUsage(fmt::format("store {}: key expiry of {}s", describe(), options_.ttl.count()),
               "use ?ttl=SECONDS with at least 1");
  }
  std::lock_guard lock(mu_);
  ensureConnected(connect_deadline);
}

RedisStore::~RedisStore() = default;

std::string RedisStore::describe() const {
  std::string host =
      options_.host.find(':') != std::string::npos ? "[" + options_.host + "]" : options_.host;
  std::string out = fmt::format("redis://{}:{}", host, options_.port);
  if (options_.db != 0) out += fmt::format("/{}", options_.db);
  return out;
}

Deadline RedisStore::requestDeadline() {
  if (outage_since_) return Deadline(*outage_since_ + options_.request_timeout);
  return Deadline::after(options_.request_timeout);
}

void RedisStore::dropConnection(const std::string& why) {
  context_.reset();
  last_failure_ = why;
}

void RedisStore::throwUnreachable(const std::string& about) {
  auto waited = outage_since_ ? Clock::now() - *outage_since_ : std::chrono::nanoseconds(0);
  throwRuntime(
      fmt::format("store {} unreachable{}: {}{}", describe(),
                  waited > 0ns ? " after " + secondsText(waited) : "", last_failure_,
                  about.empty() ? "" : " (while accessing " + about + ")"),
      "start redis-server there or fix host and port in --store; check that this host reaches "
      "it, or raise --timeout");
}

void RedisStore::classify(const redisReply& reply, const std::string& about) {
  const std::string msg = replyText(reply);
  const std::string where = "store " + describe();
  // A server that is starting, loading its data or failing over answers these for a while.
  for (const char* transient : {"LOADING", "BUSY", "TRYAGAIN", "MASTERDOWN"}) {
    if (msg.starts_with(transient)) {
      last_failure_ = "the server answered: " + msg;
      return;
    }
  }
  if (msg.starts_with("NOAUTH")) {
    throwUsage(where + ": the server requires a password",
               "give it in the URI: redis://:PASSWORD@host:port");
  }
  if (msg.starts_with("WRONGPASS") || contains(msg, "invalid password") ||
      contains(msg, "invalid username-password")) {
    throwUsage(where + ": authentication failed (" + msg + ")", "check the password in --store");
  }
  if (contains(msg, "without any password configured")) {
    throwUsage(where + ": the URI gives a password but the server has none",
               "drop the :password@ part of --store, or set requirepass on the server");
  }
  if (contains(msg, "DB index is out of range") || contains(msg, "invalid DB index")) {
    throwUsage(fmt::format("{}: the server has no database {}", where, options_.db),
               "use a database below the server's `databases` setting (16 by default)");
  }
  if (msg.starts_with("NOPERM") || contains(msg, "NOPERM")) {
    throwUsage(where + ": permission denied (" + msg + ")",
               "give the Redis user access to the commands and keys rdzvbench uses");
  }
  if (contains(msg, "WRONGTYPE")) {
    throwRuntime(
        fmt::format("{}: key {} holds a Redis list, set or hash, not a string", where, about),
        "another program uses these keys; give this run its own --run-id or ?prefix=");
  }
  if (contains(msg, "not an integer")) {
    throwRuntime(fmt::format("{}: key {} holds a value that is not a counter", where, about),
                 "use a key for add() that set() never writes");
  }
  if (contains(msg, "overflow")) {
    throwRuntime(fmt::format("{}: counter {} overflows", where, about),
                 "remove the counter or use a fresh run prefix");
  }
  throwRuntime(fmt::format("{}: the server refused a request on {}: {}", where, about, msg),
               "check the server's log and version (rdzvbench needs Redis 4 or later)");
}

std::optional<std::vector<RedisStore::Reply>> RedisStore::roundTrip(
    const std::vector<Command>& commands, Deadline deadline) {
  redisSetTimeout(context_.get(), toTimeval(tripTime(deadline)));
  SigpipeGuard guard;
  for (const auto& command : commands) {
    std::vector<const char*> argv;
    std::vector<std::size_t> lens;
    for (const auto& arg : command) {
      argv.push_back(arg.data());
      lens.push_back(arg.size());
    }
    if (redisAppendCommandArgv(context_.get(), static_cast<int>(argv.size()), argv.data(),
                               lens.data()) != REDIS_OK) {
      dropConnection(fmt::format("cannot queue a request: {}", context_->errstr));
      return std::nullopt;
    }
  }
  std::vector<Reply> replies;
  for (std::size_t i = 0; i < commands.size(); ++i) {
    void* raw = nullptr;
    if (redisGetReply(context_.get(), &raw) != REDIS_OK) {
      const int err = context_->err;
      std::string why = context_->errstr;
      if (err == REDIS_ERR_PROTOCOL) {
        context_.reset();
        throwRuntime(fmt::format("store {}: the server does not speak the Redis protocol ({})",
                                 describe(), why),
                     "check host and port in --store: they must name a redis-server");
      }
      if (err == REDIS_ERR_IO && why == std::strerror(EAGAIN)) {
        why = fmt::format("no reply within {}", secondsText(tripTime(deadline)));
      } else if (err == REDIS_ERR_EOF) {
        why = "connection closed by the server";
      }
      dropConnection(why);
      return std::nullopt;
    }
    replies.emplace_back(static_cast<redisReply*>(raw));
  }
  return replies;
}

std::optional<std::string> RedisStore::tryConnect(Deadline deadline) {
  auto attempt = std::min<std::chrono::nanoseconds>(tripTime(deadline), kMaxConnectAttempt);
  Context c(redisConnectWithTimeout(options_.host.c_str(), options_.port, toTimeval(attempt)));
  if (!c) return "out of memory";
  if (c->err != 0) return std::string(c->errstr);
  // Without keep-alive, a server host that vanished without a reset would hold an idle
  // connection open for hours; with it, the kernel notices within about a minute.
  redisEnableKeepAlive(c.get());
  context_ = std::move(c);
  ++connects_;

  std::vector<Command> hello;
  if (!options_.password.empty()) hello.push_back({"AUTH", options_.password});
  if (options_.db != 0) hello.push_back({"SELECT", std::to_string(options_.db)});
  // PING last: a server that is not Redis fails here, before any key is written.
  hello.push_back({"PING"});
  auto replies = roundTrip(hello, deadline);
  if (!replies) return last_failure_;
  for (const auto& r : *replies) {
    if (r->type == REDIS_REPLY_ERROR) {
      classify(*r, "the connection");
      dropConnection(last_failure_);
      return last_failure_;
    }
  }
  if (ever_connected_ && !written_.empty()) {
    // The server may have restarted without its data: write again what this client owns.
    std::vector<Command> replay;
    for (const auto& [key, value] : written_) {
      replay.push_back({"SET", key, std::string(value.begin(), value.end()), "EX",
                        std::to_string(options_.ttl.count())});
    }
    auto done = roundTrip(replay, deadline);
    if (!done) return last_failure_;
    for (const auto& r : *done) {
      if (r->type == REDIS_REPLY_ERROR) {
        classify(*r, "the keys written again after reconnecting");
        dropConnection(last_failure_);
        return last_failure_;
      }
    }
  }
  ever_connected_ = true;
  return std::nullopt;
}

void RedisStore::ensureConnected(Deadline deadline) {
  if (context_) return;
  std::chrono::nanoseconds delay = kFirstRetry;
  while (true) {
    const auto attempt = Clock::now();
    auto failure = tryConnect(deadline);
    if (!failure) {
      outage_since_.reset();
      return;
    }
    last_failure_ = *failure;
    if (!outage_since_) outage_since_ = attempt;
    if (deadline.expired()) throwUnreachable("");
    backOff(delay, kMaxRetry, deadline);
  }
}

std::vector<RedisStore::Reply> RedisStore::run(const std::vector<Command>& commands,
                                               Deadline deadline, const std::string& about) {
  std::chrono::nanoseconds delay = kFirstRetry;
  while (true) {
    ensureConnected(deadline);
    const auto attempt = Clock::now();
    if (auto replies = roundTrip(commands, deadline)) {
      bool transient = false;
      for (const auto& r : *replies) {
        if (r->type != REDIS_REPLY_ERROR) continue;
        classify(*r, about);  // throws unless the error is transient
        transient = true;
      }
      if (!transient) {
        outage_since_.reset();
        return std::move(*replies);
      }
    }
    // Every request this store sends is idempotent (add() through its request id), so sending
    // it again after a lost connection is safe.
    if (!outage_since_) outage_since_ = attempt;
    if (deadline.expired()) throwUnreachable(about);
    backOff(delay, kMaxRetry, deadline);
  }
}

RedisStore::Reply RedisStore::runOne(const Command& command, Deadline deadline,
                                     const std::string& about) {
  return std::move(run({command}, deadline, about).front());
}

void RedisStore::journal(const std::string& key, const Bytes* value) {
  if (auto it = written_.find(key); it != written_.end()) {
    written_bytes_ -= it->first.size() + it->second.size();
    written_.erase(it);
  }
  if (value == nullptr) return;
  // Past the bound a replay would be incomplete: stop recording rather than grow without end.
  if (journal_full_ || written_bytes_ + key.size() + value->size() > kMaxJournalBytes) {
    journal_full_ = true;
    return;
  }
  written_.emplace(key, *value);
  written_bytes_ += key.size() + value->size();
}

void RedisStore::set(const std::string& key, const Bytes& value) {
  std::lock_guard lock(mu_);
  auto reply = runOne({"SET", key, std::string(value.begin(), value.end()), "EX",
                       std::to_string(options_.ttl.count())},
                      requestDeadline(), key);
  if (reply->type != REDIS_REPLY_STATUS) {
    throwRuntime(fmt::format("store {}: unexpected reply of type {} to SET {}", describe(),
                             reply->type, key),
                 "check that --store names a Redis server");
  }
  journal(key, &value);
}

Bytes RedisStore::get(const std::string& key, Deadline deadline) {
  const auto start = Clock::now();
  std::lock_guard lock(mu_);
  std::chrono::nanoseconds delay = kFirstPoll;
  while (true) {
    auto reply = runOne({"GET", key}, deadline, key);
    if (reply->type == REDIS_REPLY_STRING) {
      const auto* p = reinterpret_cast<const std::uint8_t*>(reply->str);
      return Bytes(p, p + reply->len);
    }
    if (reply->type != REDIS_REPLY_NIL) {
      throwRuntime(fmt::format("store {}: unexpected reply of type {} to GET {}", describe(),
                               reply->type, key),
                   "check that --store names a Redis server");
    }
    if (deadline.expired()) detail::throwWaitExpired(describe(), {key}, Clock::now() - start);
    backOff(delay, kMaxPoll, deadline);
  }
}

void RedisStore::wait(const std::vector<std::string>& keys, Deadline deadline) {
  if (keys.empty()) return;
  const auto start = Clock::now();
  std::lock_guard lock(mu_);
  std::vector<std::string> missing;
  for (const auto& key : keys)
    if (std::find(missing.begin(), missing.end(), key) == missing.end()) missing.push_back(key);
  std::chrono::nanoseconds delay = kFirstPoll;
  while (true) {
    // Keys never need a second look once seen; only the missing ones are asked for again.
    std::vector<Command> exists;
    for (const auto& key : missing) exists.push_back({"EXISTS", key});
    auto replies = run(exists, deadline, keyList(missing));
    std::vector<std::string> still;
    for (std::size_t i = 0; i < missing.size(); ++i) {
      if (replies[i]->type != REDIS_REPLY_INTEGER) {
        throwRuntime(fmt::format("store {}: unexpected reply of type {} to EXISTS {}", describe(),
                                 replies[i]->type, missing[i]),
                     "check that --store names a Redis server");
      }
      if (replies[i]->integer == 0) still.push_back(missing[i]);
    }
    missing = std::move(still);
    if (missing.empty()) return;
    if (deadline.expired()) detail::throwWaitExpired(describe(), missing, Clock::now() - start);
    backOff(delay, kMaxPoll, deadline);
  }
}

bool RedisStore::check(const std::vector<std::string>& keys) {
  if (keys.empty()) return true;
  std::lock_guard lock(mu_);
  Command exists{"EXISTS"};
  exists.insert(exists.end(), keys.begin(), keys.end());
  auto reply = runOne(exists, requestDeadline(), keyList(keys));
  if (reply->type != REDIS_REPLY_INTEGER) {
    throwRuntime(
        fmt::format("store {}: unexpected reply of type {} to EXISTS", describe(), reply->type),
        "check that --store names a Redis server");
  }
  // EXISTS counts a key named twice twice, so comparing with the count given is exact.
  return reply->integer == static_cast<long long>(keys.size());
}

std::int64_t RedisStore::add(const std::string& key, std::int64_t delta) {
  std::lock_guard lock(mu_);
  // The request id lives under the key, so removePrefix() takes it too; it only has to outlast
  // the retries of this request.
  const std::string request = fmt::format("{}/.add/{}/{}", key, client_id_, next_request_++);
  const auto request_ttl = std::min<std::int64_t>(
      options_.ttl.count(),
      std::chrono::duration_cast<std::chrono::seconds>(options_.request_timeout).count() + 60);
  auto reply = runOne({"EVAL", kAddScript, "2", key, request, std::to_string(delta),
                       std::to_string(options_.ttl.count()), std::to_string(request_ttl)},
                      requestDeadline(), key);
  if (reply->type != REDIS_REPLY_INTEGER) {
    throwRuntime(fmt::format("store {}: unexpected reply of type {} to an add on {}", describe(),
                             reply->type, key),
                 "check that --store names Redis 4 or later");
  }
  return reply->integer;
}

bool RedisStore::remove(const std::string& key) {
  std::lock_guard lock(mu_);
  auto reply = runOne({"DEL", key}, requestDeadline(), key);
  if (reply->type != REDIS_REPLY_INTEGER) {
    throwRuntime(fmt::format("store {}: unexpected reply of type {} to DEL {}", describe(),
                             reply->type, key),
                 "check that --store names a Redis server");
  }
  journal(key, nullptr);
  // After a retried DEL this says false although the first attempt removed the key; callers
  // use the result for diagnostics only.
  return reply->integer > 0;
}

std::size_t RedisStore::removePrefix(const std::string& prefix) {
  std::lock_guard lock(mu_);
  const Deadline deadline = requestDeadline();
  const std::string pattern = globEscape(prefix) + "*";
  std::size_t removed = 0;
  std::string cursor = "0";
  do {
    auto reply = runOne({"SCAN", cursor, "MATCH", pattern, "COUNT", std::to_string(kScanBatch)},
                        deadline, pattern);
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
        reply->element[0]->type != REDIS_REPLY_STRING ||
        reply->element[1]->type != REDIS_REPLY_ARRAY) {
      throwRuntime(fmt::format("store {}: unexpected reply to SCAN", describe()),
                   "check that --store names Redis 2.8 or later");
    }
    cursor = replyText(*reply->element[0]);
    const redisReply& keys = *reply->element[1];
    if (keys.elements == 0) continue;
    Command unlink{"UNLINK"};
    for (std::size_t i = 0; i < keys.elements; ++i) unlink.push_back(replyText(*keys.element[i]));
    auto gone = runOne(unlink, deadline, pattern);
    if (gone->type == REDIS_REPLY_INTEGER) removed += static_cast<std::size_t>(gone->integer);
  } while (cursor != "0");
  std::erase_if(written_, [&](const auto& entry) { return entry.first.starts_with(prefix); });
  written_bytes_ = 0;
  for (const auto& [key, value] : written_) written_bytes_ += key.size() + value.size();
  return removed;
}

}  // namespace rdzv::store
