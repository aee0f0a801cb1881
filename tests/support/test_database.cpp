#include "test_database.h"

#include <libpq-fe.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <random>
#include <stdexcept>

namespace mamori::testing {
namespace {

class SqliteDatabase final : public TestDatabase {
 public:
  explicit SqliteDatabase(std::filesystem::path path) : path_(std::move(path)) {}
  std::string uri() const override { return path_.string(); }

  std::string Query(const std::string& sql) override {
    sqlite3* db = nullptr;
    if (sqlite3_open(path_.c_str(), &db) != SQLITE_OK) {
      sqlite3_close(db);
      throw std::runtime_error(path_.string() + ": cannot open");
    }
    sqlite3_stmt* stmt = nullptr;
    std::string out;
    int rc = sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr);
    if (rc == SQLITE_OK) rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
      const unsigned char* text = sqlite3_column_text(stmt, 0);
      if (text) out = reinterpret_cast<const char*>(text);
    }
    const std::string error = sqlite3_errmsg(db);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) throw std::runtime_error(sql + ": " + error);
    return out;
  }

 private:
  std::filesystem::path path_;
};

std::string ReadLine(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::string line;
  if (!std::getline(in, line) || line.empty()) {
    throw std::runtime_error(path.string() +
                             " missing: the PostgreSQL test server is not running "
                             "(tests/support/pg-test-server.sh)");
  }
  return line;
}

std::string RunPg(const std::string& conninfo, const std::string& sql) {
  PGconn* conn = PQconnectdb(conninfo.c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    const std::string error = PQerrorMessage(conn);
    PQfinish(conn);
    throw std::runtime_error("PostgreSQL test server unreachable: " + error);
  }
  PGresult* result = PQexec(conn, sql.c_str());
  const ExecStatusType status = PQresultStatus(result);
  std::string out;
  if (status == PGRES_TUPLES_OK && PQntuples(result) > 0) out = PQgetvalue(result, 0, 0);
  const std::string error = PQresultErrorMessage(result);
  PQclear(result);
  PQfinish(conn);
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
    throw std::runtime_error(sql + ": " + error);
  }
  return out;
}

class PostgresDatabase final : public TestDatabase {
 public:
  PostgresDatabase() {
    const char* dir = std::getenv("MAMORI_TEST_PG_DIR");
    if (dir == nullptr || *dir == '\0') {
      throw std::runtime_error(
          "MAMORI_TEST_PG_DIR is not set: run the PostgreSQL tests through ctest (label "
          "postgres), which starts the test server");
    }
    host_ = ReadLine(std::filesystem::path(dir) / "host");
    port_ = ReadLine(std::filesystem::path(dir) / "port");
    static std::atomic<int> counter{0};
    std::random_device random;
    name_ = "mamori_" + std::to_string(getpid()) + "_" + std::to_string(counter++) + "_" +
            std::to_string(random() % 100000);
    RunPg(Admin(), "CREATE DATABASE " + name_);
  }

  ~PostgresDatabase() override {
    try {
      RunPg(Admin(), "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    } catch (const std::exception&) {
      // The server is gone; its data directory goes with it.
    }
  }

  std::string uri() const override {
    return "postgresql:///" + name_ + "?host=" + host_ + "&port=" + port_ + "&user=postgres";
  }

  std::string Query(const std::string& sql) override { return RunPg(uri(), sql); }

 private:
  std::string Admin() const {
    return "host=" + host_ + " port=" + port_ + " user=postgres dbname=postgres";
  }

  std::string host_, port_, name_;
};

}  // namespace

std::string BackendName(Backend backend) {
  return backend == Backend::kSqlite ? "Sqlite" : "Postgres";
}

std::unique_ptr<TestDatabase> TestDatabase::Create(Backend backend,
                                                   const std::filesystem::path& dir) {
  if (backend == Backend::kSqlite) return std::make_unique<SqliteDatabase>(dir / "collector.db");
  return std::make_unique<PostgresDatabase>();
}

}  // namespace mamori::testing
