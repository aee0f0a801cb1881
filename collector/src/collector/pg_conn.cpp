#include "collector/pg_conn.h"

#include <charconv>
#include <vector>

namespace mamori::collector::pg {

Param Text(std::string_view text) { return {std::string(text), false}; }
Param Int(std::int64_t value) { return {std::to_string(value), false}; }
Param Bytes(std::string_view bytes) { return {std::string(bytes), true}; }
Param OptInt(std::optional<std::int64_t> value) { return value ? Int(*value) : Null(); }
Param Null() { return {std::nullopt, false}; }

Param TextArray(const std::vector<std::string>& values) {
  std::string out = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    for (const char c : values[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return {out + "}", false};
}

Param IntArray(const std::vector<std::int64_t>& values) {
  std::string out = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += std::to_string(values[i]);
  }
  return {out + "}", false};
}

std::string Result::Text(int row, int column) const {
  return std::string(PQgetvalue(result_.get(), row, column),
                     static_cast<std::size_t>(PQgetlength(result_.get(), row, column)));
}

std::string Result::Bytes(int row, int column) const {
  std::size_t length = 0;
  unsigned char* bytes = PQunescapeBytea(
      reinterpret_cast<const unsigned char*>(PQgetvalue(result_.get(), row, column)), &length);
  if (bytes == nullptr) throw StoreError("cannot decode a bytea value");
  std::string out(reinterpret_cast<const char*>(bytes), length);
  PQfreemem(bytes);
  return out;
}

std::int64_t Result::Int(int row, int column) const {
  const char* text = PQgetvalue(result_.get(), row, column);
  const char* end = text + PQgetlength(result_.get(), row, column);
  std::int64_t value = 0;
  const auto [ptr, ec] = std::from_chars(text, end, value);
  if (ec != std::errc() || ptr != end) {
    throw StoreError("column " + std::string(PQfname(result_.get(), column)) +
                     " is not an integer");
  }
  return value;
}

std::optional<std::int64_t> Result::OptInt(int row, int column) const {
  if (IsNull(row, column)) return std::nullopt;
  return Int(row, column);
}

bool Result::Bool(int row, int column) const {
  return PQgetvalue(result_.get(), row, column)[0] == 't';
}

std::int64_t Result::affected() const {
  const char* text = PQcmdTuples(result_.get());
  return text[0] == '\0' ? 0 : std::stoll(text);
}

std::string Describe(const std::string& conninfo) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &error);
  if (options == nullptr) {
    PQfreemem(error);
    return "postgresql (unparsable connection string)";
  }
  std::string host, port, dbname, user;
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (o->val == nullptr) continue;
    const std::string_view key = o->keyword;
    if (key == "host") host = o->val;
    if (key == "port") port = o->val;
    if (key == "dbname") dbname = o->val;
    if (key == "user") user = o->val;
  }
  PQconninfoFree(options);
  std::string out = "postgresql://" + (user.empty() ? "" : user + "@") + host;
  if (!port.empty()) out += ":" + port;
  return out + "/" + dbname;
}

Connection::Connection(std::string conninfo)
    : conninfo_(std::move(conninfo)),
      description_(Describe(conninfo_)),
      conn_(PQconnectdb(conninfo_.c_str()), &PQfinish) {
  if (!conn_) throw StoreError(description_ + ": out of memory");
  if (PQstatus(conn_.get()) != CONNECTION_OK) {
    throw StoreError(description_ + ": cannot connect: " + PQerrorMessage(conn_.get()));
  }
}

void Connection::EnsureOpen() {
  if (PQstatus(conn_.get()) == CONNECTION_OK) return;
  PQreset(conn_.get());
  if (PQstatus(conn_.get()) != CONNECTION_OK) {
    throw StoreError(description_ + ": cannot reconnect: " + PQerrorMessage(conn_.get()));
  }
}

Result Connection::Check(PGresult* raw, const char* what) {
  Result result(raw);
  const ExecStatusType status = PQresultStatus(raw);
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return result;
  const char* state = raw ? PQresultErrorField(raw, PG_DIAG_SQLSTATE) : nullptr;
  std::string message = raw ? PQresultErrorMessage(raw) : PQerrorMessage(conn_.get());
  while (!message.empty() && message.back() == '\n') message.pop_back();
  throw Error(description_ + ": " + what + ": " + message, state ? state : "");
}

Result Connection::Exec(const char* sql, std::initializer_list<Param> params) {
  std::vector<const char*> values;
  std::vector<int> lengths;
  std::vector<int> formats;
  for (const Param& p : params) {
    values.push_back(p.value ? p.value->data() : nullptr);
    lengths.push_back(p.value ? static_cast<int>(p.value->size()) : 0);
    formats.push_back(p.binary ? 1 : 0);
  }
  return Check(PQexecParams(conn_.get(), sql, static_cast<int>(values.size()), nullptr,
                            values.data(), lengths.data(), formats.data(), 0),
               "statement failed");
}

void Connection::ExecScript(const char* sql) { Check(PQexec(conn_.get(), sql), "schema"); }

}  // namespace mamori::collector::pg
