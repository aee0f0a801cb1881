// Thin RAII over the SQLite C API: a connection, prepared statements and transactions. Every error
// becomes a StoreError carrying SQLite's message.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace mamori::collector::sqlite {

class Db {
 public:
  explicit Db(const std::string& path);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  sqlite3* handle() const { return db_; }
  void Exec(const char* sql);
  [[noreturn]] void Fail(std::string_view what) const;

 private:
  friend class Stmt;
  // Prepared statements by SQL text: parsing costs more than running most of them. A statement in
  // use is out of the cache, so the same SQL may be open twice.
  sqlite3_stmt* Take(const char* sql);
  void Give(sqlite3_stmt* stmt);

  sqlite3* db_ = nullptr;
  std::string path_;
  std::unordered_multimap<std::string, sqlite3_stmt*> cache_;
};

class Stmt {
 public:
  Stmt(Db& db, const char* sql);
  ~Stmt();
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& Bind(int index, std::string_view text);
  Stmt& BindBlob(int index, std::string_view bytes);
  Stmt& Bind(int index, std::int64_t value);
  Stmt& Bind(int index, std::optional<std::int64_t> value);
  Stmt& BindNull(int index);

  // True while there is a row to read; false when done.
  bool Step();
  void Run() { Step(); }

  std::string Text(int column) const;
  std::int64_t Int(int column) const;
  std::optional<std::int64_t> OptInt(int column) const;
  bool IsNull(int column) const;

 private:
  Db& db_;
  sqlite3_stmt* stmt_ = nullptr;
};

// BEGIN IMMEDIATE on construction; rolled back on destruction unless committed, so an exception
// leaves nothing half-written.
class Transaction {
 public:
  explicit Transaction(Db& db);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void Commit();

 private:
  Db& db_;
  bool done_ = false;
};

}  // namespace mamori::collector::sqlite
