#include "collector/pg_conn.h"
#include "mamori/collector/postgres_store.h"
#include "mamori/collector/sqlite_store.h"

namespace mamori::collector {

std::unique_ptr<Store> OpenStore(const std::string& database) {
  return IsPostgresUri(database) ? OpenPostgresStore(database) : OpenSqliteStore(database);
}

std::string DescribeDatabase(const std::string& database) {
  return IsPostgresUri(database) ? pg::Describe(database) : database;
}

}  // namespace mamori::collector
