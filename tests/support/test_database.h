// A fresh, empty database for one test, on either backend of the collector's store; dropped at the
// end. PostgreSQL databases live on the private server of tests/support/pg-test-server.sh, found
// through MAMORI_TEST_PG_DIR (set by ctest for the tests labelled `postgres`): without a reachable
// server, Create throws and the test fails.
#pragma once

#include <filesystem>
#include <memory>
#include <ostream>
#include <string>

namespace mamori::testing {

enum class Backend { kSqlite, kPostgres };

// "Sqlite" or "Postgres": the prefix of test names per backend.
std::string BackendName(Backend backend);
// For GoogleTest's messages about parameterized tests.
inline void PrintTo(Backend backend, std::ostream* out) { *out << BackendName(backend); }

class TestDatabase {
 public:
  // `dir` is a directory of the test's own (the SQLite file goes there).
  static std::unique_ptr<TestDatabase> Create(Backend backend, const std::filesystem::path& dir);
  virtual ~TestDatabase() = default;

  // What the collector's `database` setting takes: a file path or a postgresql:// URI.
  virtual std::string uri() const = 0;
  // Runs one SQL statement beside the store (to look, or to tamper) and returns the first column
  // of its first row ("" when there is none).
  virtual std::string Query(const std::string& sql) = 0;
};

}  // namespace mamori::testing
