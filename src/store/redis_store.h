#pragma once
// A store in a Redis server (hiredis 0.14 client), for rendezvous across hosts when no rank
// should serve the store itself and runs come and go on one long-lived server.
//
// Every key is a Redis string written with an expiry (the TTL), so a crashed run leaves nothing
// behind for ever; a successful run deletes its keys itself (removePrefix). Counters are decimal
// text, as in every other store, so get() on a counter reads naturally.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "store/store.h"

struct redisContext;
struct redisReply;

namespace rdzv::store {

// Where the server is and how to talk to it; the fields of a redis:// store URI.
struct RedisOptions {
  std::string host;
  int port = 6379;
  std::string password;  // empty: no AUTH
  int db = 0;
  // Expiry of every key written, refreshed by each write.
  std::chrono::seconds ttl{86400};
  // Bounds the requests that take no deadline (set, check, add, remove, removePrefix), including
  // reconnecting, counted from when the server was first found unreachable.
  std::chrono::milliseconds request_timeout{60000};
};

// One connection to a Redis server, reopened when lost. Thread-safe (requests are serialised).
//
// Failures: an unreachable or restarted server is retried, reconnecting with back-off, until the
// request's deadline; then Runtime "store redis://h:p unreachable after Ns: <reason>". A wrong or
// missing password, or a database the server does not have, is Usage (fix the URI). A key that
// holds another Redis type (WRONGTYPE) or a reply of an unexpected type is Runtime naming the key.
//
// A server restarted without persistence loses every key; so that a run survives it, the client
// writes again, on reconnecting, the keys it set itself (up to 16 MiB of them) and still owns.
class RedisStore final : public Store {
 public:
  // Connects, authenticates and selects the database, retrying until `connect_deadline`.
  RedisStore(RedisOptions options, Deadline connect_deadline);
  ~RedisStore() override;
  RedisStore(const RedisStore&) = delete;
  RedisStore& operator=(const RedisStore&) = delete;

  void set(const std::string& key, const Bytes& value) override;
  Bytes get(const std::string& key, Deadline deadline) override;
  // Polls the missing keys with a bounded back-off (1 ms doubling to 25 ms), one pipelined round
  // trip per poll. Redis has no blocking "wait until this key exists": BLPOP consumes what it
  // returns (only one waiter would wake) and keyspace notifications need a server setting and a
  // second connection. At 25 ms a waiting rank costs the server at most 40 requests a second.
  void wait(const std::vector<std::string>& keys, Deadline deadline) override;
  bool check(const std::vector<std::string>& keys) override;
  // Atomic and safe to retry after a lost connection: a Lua script records each request's result
  // under a request id, so a retried request is not counted twice.
  std::int64_t add(const std::string& key, std::int64_t delta) override;
  bool remove(const std::string& key) override;
  // SCAN for the prefix, then UNLINK in batches.
  std::size_t removePrefix(const std::string& prefix) override;
  // "redis://host:port" plus "/db" when db is not 0; never the password.
  std::string describe() const override;

  // Connections opened so far, the first included (for tests of reconnection).
  int connects() const { return connects_.load(); }

 private:
  struct ContextFree {
    void operator()(redisContext* c) const;
  };
  struct ReplyFree {
    void operator()(redisReply* r) const;
  };
  using Context = std::unique_ptr<redisContext, ContextFree>;
  using Reply = std::unique_ptr<redisReply, ReplyFree>;
  using Command = std::vector<std::string>;

  // Sends `commands` in one pipeline and returns their replies, reconnecting and resending until
  // `deadline` when the connection fails or the server is not ready. Error replies are thrown
  // (see classify). `about` names the keys concerned, for messages.
  std::vector<Reply> run(const std::vector<Command>& commands, Deadline deadline,
                         const std::string& about);
  Reply runOne(const Command& command, Deadline deadline, const std::string& about);
  // One pipelined round trip on the open connection; nullopt, with the connection dropped and
  // last_failure_ saying why, when it failed.
  std::optional<std::vector<Reply>> roundTrip(const std::vector<Command>& commands,
                                              Deadline deadline);
  // Opens a connection (AUTH, SELECT, then the journal replay after a loss) unless one is open.
  void ensureConnected(Deadline deadline);
  // One connection attempt; returns why it failed, or nothing.
  std::optional<std::string> tryConnect(Deadline deadline);
  // The deadline of a request that takes none.
  Deadline requestDeadline();
  void dropConnection(const std::string& why);
  [[noreturn]] void throwUnreachable(const std::string& about);
  // Turns an error reply into the Error it means; returns normally for transient ones (LOADING,
  // a server still starting), which are retried.
  void classify(const redisReply& reply, const std::string& about);
  void journal(const std::string& key, const Bytes* value);

  RedisOptions options_;
  Context context_;
  std::mutex mu_;
  std::atomic<int> connects_ = 0;
  bool ever_connected_ = false;
  std::string last_failure_;  // why the last connection attempt or request failed
  // When the server was first found unreachable in the current outage; nullopt when connected.
  std::optional<Clock::time_point> outage_since_;
  // Keys this client set and has not removed, with their values, for the replay; bounded.
  std::map<std::string, Bytes> written_;
  std::size_t written_bytes_ = 0;
  bool journal_full_ = false;
  std::string client_id_;  // unique per store object: scopes add()'s request ids
  std::uint64_t next_request_ = 0;
};

}  // namespace rdzv::store
