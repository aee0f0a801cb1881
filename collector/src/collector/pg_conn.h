// A thin layer over libpq for the PostgreSQL store: one connection, parameterized statements
// only (values never become SQL text), errors as StoreError carrying the SQLSTATE, and the
// connection string never repeated in a message because it may hold a password.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mamori/collector/store.h"

namespace mamori::collector::pg {

// A failed statement; `sqlstate` tells serialization failures and deadlocks apart.
class Error : public StoreError {
 public:
  Error(const std::string& message, std::string sqlstate)
      : StoreError(message), sqlstate_(std::move(sqlstate)) {}
  const std::string& sqlstate() const { return sqlstate_; }
  // Another transaction won a conflict; running the same transaction again is safe.
  bool retryable() const { return sqlstate_ == "40001" || sqlstate_ == "40P01"; }

 private:
  std::string sqlstate_;
};

// One statement parameter: text, binary bytes (bytea) or NULL.
struct Param {
  std::optional<std::string> value;
  bool binary = false;
};
Param Text(std::string_view text);
Param Int(std::int64_t value);
Param Bytes(std::string_view bytes);
Param OptInt(std::optional<std::int64_t> value);
Param Null();
// Arrays in PostgreSQL's text form, every element quoted: for unnest and loops on the server.
Param TextArray(const std::vector<std::string>& values);
Param IntArray(const std::vector<std::int64_t>& values);

class Result {
 public:
  explicit Result(PGresult* result) : result_(result, &PQclear) {}
  int rows() const { return PQntuples(result_.get()); }
  bool IsNull(int row, int column) const { return PQgetisnull(result_.get(), row, column) != 0; }
  std::string Text(int row, int column) const;
  // A bytea column, decoded from libpq's text form.
  std::string Bytes(int row, int column) const;
  std::int64_t Int(int row, int column) const;
  std::optional<std::int64_t> OptInt(int row, int column) const;
  bool Bool(int row, int column) const;
  // Rows changed by INSERT/UPDATE/DELETE.
  std::int64_t affected() const;

 private:
  std::unique_ptr<PGresult, decltype(&PQclear)> result_;
};

// The database a connection string names, without its password: host, port, database and user.
std::string Describe(const std::string& conninfo);

class Connection {
 public:
  // Connects; throws StoreError naming the database (never the password) on failure.
  explicit Connection(std::string conninfo);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Reconnects when the server dropped the connection since the last statement.
  void EnsureOpen();
  Result Exec(const char* sql, std::initializer_list<Param> params = {});
  // Runs `sql`, which may hold several statements and takes no parameters (the schema).
  void ExecScript(const char* sql);
  PGconn* handle() const { return conn_.get(); }
  const std::string& description() const { return description_; }

 private:
  Result Check(PGresult* result, const char* what);

  std::string conninfo_;
  std::string description_;
  std::unique_ptr<PGconn, decltype(&PQfinish)> conn_;
};

}  // namespace mamori::collector::pg
