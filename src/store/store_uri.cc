#include "store/store_uri.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "lib/error.h"
#include "store/file_store.h"
#include "store/hash_store.h"
#include "store/prefix_store.h"
#ifdef RDZV_HAVE_HIREDIS
#include "store/redis_store.h"
#endif

namespace rdzv::store {
namespace {

constexpr const char* kAcceptedForms =
    "accepted: hash:, file:///abs/dir, tcp://host:port, tcp://[v6addr]:port, "
    "redis://[:password@]host[:port][/db], each optionally ending in ?prefix=NAME "
    "(redis also &ttl=SECONDS)";

// Hides a redis password ("redis://:secret@h" -> "redis://:***@h") wherever the text is shown.
std::string redact(const std::string& text) {
  auto scheme_end = text.find("://");
  auto at = text.find('@');
  if (scheme_end == std::string::npos || at == std::string::npos || at < scheme_end) return text;
  auto colon = text.find(':', scheme_end + 3);
  if (colon == std::string::npos || colon > at) return text;
  return text.substr(0, colon + 1) + "***" + text.substr(at);
}

[[noreturn]] void bad(const std::string& text, const std::string& why) {
  throwUsage(fmt::format("bad store URI \"{}\": {}", redact(text), why), kAcceptedForms);
}

bool allDigits(const std::string& s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
}

int parsePort(const std::string& text, const std::string& port) {
  // Bounded length first, so that stoi cannot overflow.
  if (!allDigits(port) || port.size() > 5 || std::stoi(port) < 1 || std::stoi(port) > 65535) {
    bad(text, fmt::format("port \"{}\" is not a number in 1..65535", port));
  }
  return std::stoi(port);
}

// Splits "host:port" or "[v6]:port". Without a port, returns -1 as the port.
std::pair<std::string, int> parseHostPort(const std::string& text, const std::string& authority) {
  std::string host;
  std::string rest;
  if (authority.starts_with('[')) {
    auto close = authority.find(']');
    if (close == std::string::npos) bad(text, "missing ] after the IPv6 address");
    host = authority.substr(1, close - 1);
    rest = authority.substr(close + 1);
    if (!rest.empty() && !rest.starts_with(':')) bad(text, "expected :port after ]");
  } else {
    auto colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string::npos) rest = authority.substr(colon);
    if (rest.find(':', 1) != std::string::npos) {
      bad(text, "an IPv6 address needs brackets, as in tcp://[::1]:4000");
    }
  }
  if (host.empty()) bad(text, "missing host");
  if (rest.empty()) return {host, -1};
  return {host, parsePort(text, rest.substr(1))};
}

void parseQuery(const std::string& text, const std::string& query, StoreUri& uri) {
  std::size_t pos = 0;
  while (pos <= query.size()) {
    auto amp = query.find('&', pos);
    std::string item = query.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
    auto eq = item.find('=');
    std::string name = item.substr(0, eq);
    std::string value = eq == std::string::npos ? "" : item.substr(eq + 1);
    if (name == "ttl") {
      if (!allDigits(value) || value.size() > 9 || std::stoi(value) < 1)
        bad(text, fmt::format("ttl \"{}\" is not a number of seconds >= 1", value));
      if (uri.ttl != 0) bad(text, "ttl given twice");
      uri.ttl = std::stoi(value);
      if (amp == std::string::npos) break;
      pos = amp + 1;
      continue;
    }
    if (name != "prefix")
      bad(text, fmt::format("unknown parameter \"{}\" (only prefix and ttl)", name));
    if (!uri.prefix.empty()) bad(text, "prefix given twice");
    // The prefix becomes part of keys and, in a file store, of file names.
    bool ok = !value.empty() && std::all_of(value.begin(), value.end(), [](unsigned char c) {
      return std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '/';
    });
    if (!ok) bad(text, fmt::format("prefix \"{}\" must be letters, digits, - _ . or /", value));
    uri.prefix = value;
    if (amp == std::string::npos) break;
    pos = amp + 1;
  }
}

// Lets every caller of openStore("hash:") share one store, while each gets its own unique_ptr.
class SharedStore final : public Store {
 public:
  explicit SharedStore(std::shared_ptr<Store> inner) : inner_(std::move(inner)) {}
  void set(const std::string& key, const Bytes& value) override { inner_->set(key, value); }
  Bytes get(const std::string& key, Deadline deadline) override {
    return inner_->get(key, deadline);
  }
  void wait(const std::vector<std::string>& keys, Deadline deadline) override {
    inner_->wait(keys, deadline);
  }
  bool check(const std::vector<std::string>& keys) override { return inner_->check(keys); }
  std::int64_t add(const std::string& key, std::int64_t delta) override {
    return inner_->add(key, delta);
  }
  bool remove(const std::string& key) override { return inner_->remove(key); }
  std::size_t removePrefix(const std::string& prefix) override {
    return inner_->removePrefix(prefix);
  }
  std::string describe() const override { return inner_->describe(); }

 private:
  std::shared_ptr<Store> inner_;
};

}  // namespace

StoreUri parseStoreUri(const std::string& text) {
  StoreUri uri;
  uri.text = redact(text);
  auto colon = text.find(':');
  if (colon == std::string::npos || colon == 0) bad(text, "missing scheme");
  uri.scheme = text.substr(0, colon);
  std::transform(uri.scheme.begin(), uri.scheme.end(), uri.scheme.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::string rest = text.substr(colon + 1);
  if (auto q = rest.find('?'); q != std::string::npos) {
    parseQuery(text, rest.substr(q + 1), uri);
    rest.resize(q);
  }

  if (uri.ttl != 0 && uri.scheme != "redis") bad(text, "only a redis store takes ttl");
  if (uri.scheme == "hash") {
    if (!rest.empty() && rest != "//") bad(text, "hash: takes nothing after the colon");
    return uri;
  }
  if (uri.scheme == "file") {
    if (!rest.starts_with("//")) bad(text, "a file store is file:///abs/dir (three slashes)");
    uri.path = rest.substr(2);
    if (!uri.path.starts_with('/')) {
      bad(text, "the directory must be an absolute path, as in file:///shared/rdzv");
    }
    return uri;
  }
  if (uri.scheme == "tcp") {
    if (!rest.starts_with("//")) bad(text, "a tcp store is tcp://host:port");
    std::string authority = rest.substr(2);
    if (authority.find('/') != std::string::npos) bad(text, "a tcp store takes no path");
    auto [host, port] = parseHostPort(text, authority);
    if (port < 0) bad(text, "missing :port");
    uri.host = host;
    uri.port = port;
    return uri;
  }
  if (uri.scheme == "redis") {
    if (!rest.starts_with("//")) bad(text, "a redis store is redis://host:port");
    std::string authority = rest.substr(2);
    std::string db;
    if (auto slash = authority.find('/'); slash != std::string::npos) {
      db = authority.substr(slash + 1);
      authority.resize(slash);
      if (!db.empty()) {
        if (!allDigits(db) || db.size() > 5) bad(text, "the database after / must be a number");
        uri.db = std::stoi(db);
      }
    }
    if (auto at = authority.rfind('@'); at != std::string::npos) {
      if (!authority.starts_with(':')) bad(text, "give the password as redis://:password@host");
      uri.password = authority.substr(1, at - 1);
      authority = authority.substr(at + 1);
    }
    auto [host, port] = parseHostPort(text, authority);
    uri.host = host;
    uri.port = port < 0 ? 6379 : port;
    return uri;
  }
  bad(text, fmt::format("unknown scheme \"{}\"", uri.scheme));
}

OpenedStore openStore(const StoreUri& uri, int rank, Deadline deadline) {
  OpenedStore out;
  if (uri.scheme == "hash") {
    // Never destroyed before exit: ranks running as threads may still hold it.
    static const auto shared = std::make_shared<HashStore>();
    out.store = std::make_unique<SharedStore>(shared);
  } else if (uri.scheme == "file") {
    out.store = std::make_unique<FileStore>(uri.path);
  } else if (uri.scheme == "tcp") {
    if (rank == 0) out.server = TcpStoreServer::tryStart(uri.host, uri.port);
    out.store = std::make_unique<TcpStoreClient>(uri.host, uri.port, deadline);
  } else if (uri.scheme == "redis") {
#ifdef RDZV_HAVE_HIREDIS
    RedisOptions options;
    options.host = uri.host;
    options.port = uri.port;
    options.password = uri.password;
    options.db = uri.db;
    if (uri.ttl > 0) options.ttl = std::chrono::seconds(uri.ttl);
    // A key must outlive the longest wait for it, or ranks would wait for keys that expired.
    if (options.ttl < deadline.remaining()) {
      throwUsage(fmt::format("store {}: ttl {}s is shorter than --timeout", uri.text, uri.ttl),
                 "raise ttl or lower --timeout");
    }
    // Requests after connecting get as long as the run gives any one wait (--timeout).
    options.request_timeout = std::max<std::chrono::milliseconds>(
        std::chrono::ceil<std::chrono::milliseconds>(deadline.remaining()),
        std::chrono::seconds(1));
    out.store = std::make_unique<RedisStore>(std::move(options), deadline);
#else
    throwUsage(
        "the redis store is not built into this rdzvbench (libhiredis-dev missing at build "
        "time)",
        "use --store tcp://host:port or file:///dir, or rebuild with libhiredis-dev");
#endif
  } else {
    throwUsage(fmt::format("store URI \"{}\": unknown scheme \"{}\"", uri.text, uri.scheme),
               kAcceptedForms);
  }
  if (!uri.prefix.empty()) {
    out.store = std::make_unique<PrefixStore>(std::move(out.store), uri.prefix);
  }
  return out;
}

}  // namespace rdzv::store
