// The embedded store: one SQLite file in WAL mode. A report is acknowledged only after its
// transaction is durably committed (synchronous=FULL), so a crash never loses an acknowledged one.
#pragma once

#include <memory>
#include <string>

#include "mamori/collector/store.h"

namespace mamori::collector {

// Opens (creating if needed) the database at `path` and applies every schema migration not yet
// recorded in its schema_migrations table. Throws StoreError naming the file on failure.
std::unique_ptr<Store> OpenSqliteStore(const std::string& path);

// The schema version this build writes; a database with a newer one is refused.
int SqliteSchemaVersion();

}  // namespace mamori::collector
