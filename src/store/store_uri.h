#pragma once
// Store URIs (--store, RDZV_STORE) and opening the store one names.

#include <memory>
#include <string>

#include "lib/clock.h"
#include "store/store.h"
#include "store/tcp_store.h"

namespace rdzv::store {

// One parsed --store value. Accepted forms:
//   hash:                                   in-process, ranks as threads
//   file:///abs/dir                         a directory every rank reaches
//   tcp://host:port, tcp://[v6addr]:port    served by rank 0
//   redis://[:password@]host[:port][/db]    port 6379 and db 0 by default
// each optionally followed by ?prefix=NAME, which scopes every key under NAME/; a redis URI also
// takes &ttl=SECONDS, the expiry of every key (a day by default).
struct StoreUri {
  std::string scheme;  // "hash", "file", "tcp" or "redis"
  std::string host;    // without brackets for IPv6
  int port = 0;
  std::string path;  // file: the directory
  std::string prefix;
  // The URI as given, except that a redis password is shown as "***", so it is safe to print
  // and to record in reports.
  std::string text;
  std::string password;  // redis only
  int db = 0;            // redis only
  int ttl = 0;           // redis only: key expiry in seconds; 0 for the default
};

// Throws Usage naming the text and listing the accepted forms when it is not one of them.
StoreUri parseStoreUri(const std::string& text);

struct OpenedStore {
  // Declared first so that it is destroyed last, after the client connected to it.
  std::unique_ptr<TcpStoreServer> server;
  std::unique_ptr<Store> store;
};

// Opens the store `uri` names. hash: one HashStore shared by every caller in this process.
// tcp: rank 0 also starts the server unless the port is already served (then another process,
// such as the local-mode parent, serves it). `deadline` bounds connecting to a tcp or redis
// store; a redis store also bounds each later request by the time it leaves.
OpenedStore openStore(const StoreUri& uri, int rank, Deadline deadline);

}  // namespace rdzv::store
