// The PostgreSQL store, for fleets that outgrow one SQLite file or need several collectors: they
// share the database and hold no state of their own. Every method is one transaction; where the
// SQLite store relied on being the only writer, this one takes row locks or runs serializable and
// retries serialization failures.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "mamori/collector/store.h"

namespace mamori::collector {

// True for a "postgresql://" or "postgres://" URI: the collector's `database` names PostgreSQL
// this way and a SQLite file otherwise.
bool IsPostgresUri(const std::string& database);

// Connects with libpq (`conninfo` in any form libpq accepts, including PGPASSWORD and ~/.pgpass)
// and applies every schema migration not yet recorded in schema_migrations. Throws StoreError
// naming the database, never its password.
std::unique_ptr<Store> OpenPostgresStore(const std::string& conninfo);

// The schema version this build writes; a database with a newer one is refused.
int PostgresSchemaVersion();

// The notification channel a stored policy is announced on (NOTIFY, sent at commit).
inline constexpr const char* kPolicyChannel = "mamori_policy";

// Watches for policies stored through any collector on the same database: LISTEN on a connection
// of its own, and every `recheck` a look at the latest version, which also covers notifications
// lost while that connection was down. Calls `on_change` from its own thread.
class PolicyWatch {
 public:
  PolicyWatch(std::string conninfo, std::chrono::milliseconds recheck,
              std::function<void()> on_change);
  ~PolicyWatch();
  PolicyWatch(const PolicyWatch&) = delete;
  PolicyWatch& operator=(const PolicyWatch&) = delete;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The database to open for a `database` setting: PostgreSQL for a URI, else a SQLite file.
std::unique_ptr<Store> OpenStore(const std::string& database);

// What may be logged about a `database` setting: the SQLite path, or the PostgreSQL host, port,
// database and user without the password.
std::string DescribeDatabase(const std::string& database);

}  // namespace mamori::collector
