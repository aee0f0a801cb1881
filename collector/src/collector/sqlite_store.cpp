#include "mamori/collector/sqlite_store.h"

#include <cinttypes>
#include <cstdio>
#include <map>
#include <mutex>

#include "collector/sqlite_db.h"

namespace mamori::collector {
namespace {

using sqlite::Db;
using sqlite::Stmt;
using sqlite::Transaction;

// Each entry is one schema version; a database records the versions it has applied, and each is
// applied in its own transaction together with that record.
constexpr const char* kMigrations[] = {
    R"sql(
CREATE TABLE enrollment_tokens (
  id TEXT PRIMARY KEY, secret_hash BLOB NOT NULL, grp TEXT NOT NULL,
  uses_left INTEGER NOT NULL, expires_at INTEGER NOT NULL, created_at INTEGER NOT NULL);
CREATE TABLE api_tokens (
  id TEXT PRIMARY KEY, secret_hash BLOB NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('it-read', 'admin')), label TEXT NOT NULL,
  created_at INTEGER NOT NULL);
CREATE TABLE terminals (
  id TEXT PRIMARY KEY, grp TEXT NOT NULL, machine_id TEXT NOT NULL,
  cert_fingerprint TEXT NOT NULL, key_fingerprint TEXT NOT NULL, hostname TEXT NOT NULL,
  serial TEXT NOT NULL, os TEXT NOT NULL, enrolled_at INTEGER NOT NULL, last_seen INTEGER,
  revoked INTEGER NOT NULL DEFAULT 0, cloned INTEGER NOT NULL DEFAULT 0,
  cloned_from TEXT NOT NULL DEFAULT '', last_sequence INTEGER NOT NULL DEFAULT 0,
  policy_version TEXT);
CREATE INDEX terminals_machine_id ON terminals (machine_id);
CREATE TABLE reports (
  terminal_id TEXT NOT NULL REFERENCES terminals (id), sequence INTEGER NOT NULL,
  received_at INTEGER NOT NULL, policy_version TEXT,
  PRIMARY KEY (terminal_id, sequence)) WITHOUT ROWID;
CREATE TABLE check_state (
  terminal_id TEXT NOT NULL REFERENCES terminals (id), check_id TEXT NOT NULL,
  result TEXT NOT NULL, observed TEXT NOT NULL, changed_at INTEGER NOT NULL,
  first_failed_at INTEGER, updated_at INTEGER NOT NULL,
  PRIMARY KEY (terminal_id, check_id)) WITHOUT ROWID;
CREATE TABLE check_history (
  id INTEGER PRIMARY KEY, terminal_id TEXT NOT NULL REFERENCES terminals (id),
  check_id TEXT NOT NULL, result TEXT NOT NULL, observed TEXT NOT NULL, at INTEGER NOT NULL,
  sequence INTEGER NOT NULL);
CREATE INDEX check_history_terminal ON check_history (terminal_id, id);
CREATE TABLE events (
  id INTEGER PRIMARY KEY AUTOINCREMENT, terminal_id TEXT NOT NULL REFERENCES terminals (id),
  sequence INTEGER NOT NULL, time INTEGER NOT NULL, type TEXT NOT NULL, data TEXT NOT NULL,
  received_at INTEGER NOT NULL);
CREATE INDEX events_time ON events (time, id);
CREATE TABLE policies (
  version TEXT PRIMARY KEY, hash TEXT NOT NULL, bundle BLOB NOT NULL, stored_at INTEGER NOT NULL);
CREATE TABLE settings (name TEXT PRIMARY KEY, value BLOB NOT NULL);
)sql",
    // Centrally enrolled MFA credentials, their delivery to terminal groups, and the TOTP steps
    // accepted on each terminal (for code-reuse alerts).
    R"sql(
CREATE TABLE mfa_revision (id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL);
INSERT INTO mfa_revision (id, value) VALUES (1, 0);
CREATE TABLE mfa_credentials (
  username TEXT PRIMARY KEY, algorithm TEXT NOT NULL, digits INTEGER NOT NULL,
  period INTEGER NOT NULL, sealed_secret BLOB NOT NULL, enrolled_at INTEGER NOT NULL,
  active INTEGER NOT NULL, revision INTEGER NOT NULL,
  unlocked_at_revision INTEGER NOT NULL DEFAULT 0);
CREATE INDEX mfa_credentials_revision ON mfa_credentials (revision);
CREATE TABLE mfa_groups (
  username TEXT NOT NULL REFERENCES mfa_credentials (username), grp TEXT NOT NULL,
  current INTEGER NOT NULL, PRIMARY KEY (username, grp)) WITHOUT ROWID;
CREATE INDEX mfa_groups_grp ON mfa_groups (grp, username);
CREATE TABLE mfa_accepted_steps (
  username TEXT NOT NULL, step INTEGER NOT NULL,
  terminal_id TEXT NOT NULL REFERENCES terminals (id),
  PRIMARY KEY (username, step, terminal_id)) WITHOUT ROWID;
)sql",
    // Fleet totals without reading check_state: each terminal's compliance is kept by the ingest
    // transaction, and one covering index answers the summary.
    R"sql(
ALTER TABLE terminals ADD COLUMN compliance TEXT NOT NULL DEFAULT 'unknown';
UPDATE terminals SET compliance = (SELECT CASE WHEN SUM(c.result = 'fail') > 0 THEN 'fail'
  WHEN SUM(c.result = 'error') > 0 THEN 'error' ELSE 'pass' END
  FROM check_state c WHERE c.terminal_id = terminals.id) WHERE last_sequence > 0;
CREATE INDEX terminals_summary ON terminals
  (revoked, compliance, policy_version, last_seen, enrolled_at);
)sql",
    // Client certificates of the admin/IT API, found by fingerprint on every request.
    R"sql(
CREATE TABLE admin_certificates (
  id TEXT PRIMARY KEY, fingerprint TEXT NOT NULL UNIQUE,
  role TEXT NOT NULL CHECK (role IN ('it-read', 'admin')), name TEXT NOT NULL,
  created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
  revoked INTEGER NOT NULL DEFAULT 0);
)sql",
};

constexpr int kSchemaVersion = static_cast<int>(std::size(kMigrations));

// Policy versions span the full unsigned 64-bit range; fixed-width decimal text keeps SQLite's
// ordering right where a signed INTEGER column would not.
std::string VersionKey(std::uint64_t version) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%020" PRIu64, version);
  return buffer;
}

std::uint64_t ParseVersionKey(const std::string& text) { return std::stoull(text); }

std::int64_t AsInt(std::uint64_t value) {
  if (value > static_cast<std::uint64_t>(INT64_MAX)) {
    throw StoreError("sequence " + std::to_string(value) + " is out of range");
  }
  return static_cast<std::int64_t>(value);
}

constexpr const char* kTerminalColumns =
    "id, grp, machine_id, cert_fingerprint, key_fingerprint, hostname, serial, os, enrolled_at, "
    "last_seen, revoked, cloned, cloned_from, last_sequence, policy_version";

// Reads a row of "SELECT id, fingerprint, role, name, created_at, expires_at, revoked".
AdminCertificate ReadAdminCertificate(const Stmt& s) {
  AdminCertificate c;
  c.id = s.Text(0);
  c.fingerprint = s.Text(1);
  const auto role = ParseRole(s.Text(2));
  if (!role) throw StoreError("admin certificate " + c.id + " has an unknown role");
  c.role = *role;
  c.name = s.Text(3);
  c.created_at = s.Int(4);
  c.expires_at = s.Int(5);
  c.revoked = s.Int(6) != 0;
  return c;
}

Terminal ReadTerminal(const Stmt& s) {
  Terminal t;
  t.id = s.Text(0);
  t.group = s.Text(1);
  t.machine_id = s.Text(2);
  t.cert_fingerprint = s.Text(3);
  t.key_fingerprint = s.Text(4);
  t.hostname = s.Text(5);
  t.serial = s.Text(6);
  t.os = s.Text(7);
  t.enrolled_at = s.Int(8);
  t.last_seen = s.OptInt(9);
  t.revoked = s.Int(10) != 0;
  t.cloned = s.Int(11) != 0;
  t.cloned_from = s.Text(12);
  t.last_sequence = static_cast<std::uint64_t>(s.Int(13));
  if (!s.IsNull(14)) t.policy_version = ParseVersionKey(s.Text(14));
  return t;
}

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(const std::string& path) : db_(path) {
    db_.Exec("PRAGMA busy_timeout = 5000");
    db_.Exec("PRAGMA journal_mode = WAL");
    // FULL: a commit survives power loss, not only a crash of the process.
    db_.Exec("PRAGMA synchronous = FULL");
    db_.Exec("PRAGMA foreign_keys = ON");
    // A fleet's working set (its terminals, check states, index pages) stays in memory.
    db_.Exec("PRAGMA cache_size = -65536");
    Migrate();
    // WAL lets this second connection read committed data while the first one writes, so the
    // requests that only read (authentication, long-polls, fleet totals) never wait for a commit.
    reader_.emplace(path);
    reader_->Exec("PRAGMA busy_timeout = 5000");
    reader_->Exec("PRAGMA cache_size = -16384");
  }

  void CreateEnrollmentToken(const EnrollmentToken& token,
                             const std::string& secret_hash) override {
    std::lock_guard lock(mutex_);
    Stmt(db_,
         "INSERT INTO enrollment_tokens (id, secret_hash, grp, uses_left, expires_at, created_at) "
         "VALUES (?, ?, ?, ?, ?, ?)")
        .Bind(1, token.id)
        .BindBlob(2, secret_hash)
        .Bind(3, token.group)
        .Bind(4, std::int64_t{token.uses_left})
        .Bind(5, token.expires_at)
        .Bind(6, token.created_at)
        .Run();
  }

  std::optional<std::pair<EnrollmentToken, TokenSecret>> FindEnrollmentToken(
      const std::string& id) override {
    std::lock_guard lock(mutex_);
    return FindEnrollmentTokenLocked(id);
  }

  EnrollOutcome Enroll(const std::string& token_id, const NewTerminal& nt, UnixTime now) override {
    std::lock_guard lock(mutex_);
    Transaction tx(db_);
    EnrollOutcome outcome = EnrollLocked(token_id, nt, now);
    tx.Commit();
    return outcome;
  }

  std::vector<EnrollResult> EnrollBatch(const std::vector<EnrollItem>& items,
                                        UnixTime now) override {
    try {
      std::lock_guard lock(mutex_);
      std::vector<EnrollResult> results;
      results.reserve(items.size());
      Transaction tx(db_);
      for (const EnrollItem& item : items) {
        results.push_back({EnrollLocked(item.token_id, item.terminal, now), ""});
      }
      tx.Commit();
      return results;
    } catch (const std::exception&) {
      // The batch rolled back: each again on its own, so that only the failing one is refused.
    }
    return Store::EnrollBatch(items, now);
  }

 private:
  EnrollOutcome EnrollLocked(const std::string& token_id, const NewTerminal& nt, UnixTime now) {
    auto found = FindEnrollmentTokenLocked(token_id);
    if (!found) return {EnrollStatus::kUnknownToken, std::nullopt};
    const EnrollmentToken& token = found->first;
    if (token.expires_at <= now) return {EnrollStatus::kTokenExpired, std::nullopt};
    if (token.uses_left <= 0) return {EnrollStatus::kTokenExhausted, std::nullopt};
    Stmt(db_, "UPDATE enrollment_tokens SET uses_left = uses_left - 1 WHERE id = ?")
        .Bind(1, token_id)
        .Run();

    std::string cloned_from;
    {
      Stmt s(db_,
             "SELECT id FROM terminals WHERE machine_id = ?1 AND revoked = 0 AND "
             "key_fingerprint <> ?2 AND NOT EXISTS (SELECT 1 FROM terminals WHERE "
             "machine_id = ?1 AND key_fingerprint = ?2) ORDER BY enrolled_at, id LIMIT 1");
      s.Bind(1, nt.machine_id).Bind(2, nt.key_fingerprint);
      if (s.Step()) cloned_from = s.Text(0);
    }
    Stmt(db_,
         "INSERT INTO terminals (id, grp, machine_id, cert_fingerprint, key_fingerprint, hostname, "
         "serial, os, enrolled_at, cloned, cloned_from) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
        .Bind(1, nt.id)
        .Bind(2, token.group)
        .Bind(3, nt.machine_id)
        .Bind(4, nt.cert_fingerprint)
        .Bind(5, nt.key_fingerprint)
        .Bind(6, nt.hostname)
        .Bind(7, nt.serial)
        .Bind(8, nt.os)
        .Bind(9, now)
        .Bind(10, std::int64_t{cloned_from.empty() ? 0 : 1})
        .Bind(11, cloned_from)
        .Run();
    return {EnrollStatus::kOk, FindTerminalLocked(nt.id)};
  }

 public:
  void CreateApiToken(const ApiToken& token, const std::string& secret_hash) override {
    std::lock_guard lock(mutex_);
    Stmt(db_,
         "INSERT INTO api_tokens (id, secret_hash, role, label, created_at) VALUES (?, ?, ?, ?, ?)")
        .Bind(1, token.id)
        .BindBlob(2, secret_hash)
        .Bind(3, ToString(token.role))
        .Bind(4, token.label)
        .Bind(5, token.created_at)
        .Run();
  }

  std::optional<std::pair<ApiToken, TokenSecret>> FindApiToken(const std::string& id) override {
    std::lock_guard lock(mutex_);
    Stmt s(db_, "SELECT id, secret_hash, role, label, created_at FROM api_tokens WHERE id = ?");
    s.Bind(1, id);
    if (!s.Step()) return std::nullopt;
    ApiToken token;
    token.id = s.Text(0);
    auto role = ParseRole(s.Text(2));
    if (!role) throw StoreError("api token " + id + " has an unknown role");
    token.role = *role;
    token.label = s.Text(3);
    token.created_at = s.Int(4);
    return std::pair{token, TokenSecret{s.Text(1)}};
  }

  void CreateAdminCertificate(const AdminCertificate& cert) override {
    std::lock_guard lock(mutex_);
    Stmt(db_,
         "INSERT INTO admin_certificates (id, fingerprint, role, name, created_at, expires_at, "
         "revoked) VALUES (?, ?, ?, ?, ?, ?, ?)")
        .Bind(1, cert.id)
        .Bind(2, cert.fingerprint)
        .Bind(3, ToString(cert.role))
        .Bind(4, cert.name)
        .Bind(5, cert.created_at)
        .Bind(6, cert.expires_at)
        .Bind(7, std::int64_t{cert.revoked ? 1 : 0})
        .Run();
  }

  std::optional<AdminCertificate> FindAdminCertificate(const std::string& fingerprint) override {
    std::lock_guard lock(mutex_);
    Stmt s(db_,
           "SELECT id, fingerprint, role, name, created_at, expires_at, revoked FROM "
           "admin_certificates WHERE fingerprint = ?");
    s.Bind(1, fingerprint);
    if (!s.Step()) return std::nullopt;
    return ReadAdminCertificate(s);
  }

  bool RevokeAdminCertificate(const std::string& id) override {
    std::lock_guard lock(mutex_);
    Stmt(db_, "UPDATE admin_certificates SET revoked = 1 WHERE id = ?").Bind(1, id).Run();
    return sqlite3_changes(db_.handle()) > 0;
  }

  std::vector<AdminCertificate> AdminCertificates() override {
    std::lock_guard lock(mutex_);
    Stmt s(db_,
           "SELECT id, fingerprint, role, name, created_at, expires_at, revoked FROM "
           "admin_certificates ORDER BY created_at, id");
    std::vector<AdminCertificate> out;
    while (s.Step()) out.push_back(ReadAdminCertificate(s));
    return out;
  }

  std::optional<Terminal> FindTerminal(const std::string& id) override {
    std::lock_guard lock(reader_mutex_);
    return FindTerminalIn(*reader_, id);
  }

  bool RevokeTerminal(const std::string& id) override {
    std::lock_guard lock(mutex_);
    Stmt(db_, "UPDATE terminals SET revoked = 1 WHERE id = ?").Bind(1, id).Run();
    return sqlite3_changes(db_.handle()) > 0;
  }

  FleetTotals FleetSummary(UnixTime stale_before) override {
    std::lock_guard lock(reader_mutex_);
    // Answered from the terminals_summary index alone: a few bytes per terminal.
    Stmt s(*reader_,
           "SELECT revoked, compliance, policy_version, SUM(COALESCE(last_seen, enrolled_at) < ?), "
           "COUNT(*) FROM terminals INDEXED BY terminals_summary GROUP BY 1, 2, 3");
    s.Bind(1, stale_before);
    FleetTotals totals;
    std::map<std::optional<std::uint64_t>, std::uint64_t> versions;
    while (s.Step()) {
      const auto count = static_cast<std::uint64_t>(s.Int(4));
      totals.terminals += count;
      if (s.Int(0) != 0) {
        totals.revoked += count;
        continue;
      }
      const std::string compliance = s.Text(1);
      if (compliance == "pass") totals.pass += count;
      if (compliance == "fail") totals.fail += count;
      if (compliance == "error") totals.error += count;
      if (compliance == "unknown") totals.unknown += count;
      totals.stale += static_cast<std::uint64_t>(s.Int(3));
      std::optional<std::uint64_t> version;
      if (!s.IsNull(2)) version = ParseVersionKey(s.Text(2));
      versions[version] += count;
    }
    totals.policy_versions.assign(versions.begin(), versions.end());
    return totals;
  }

  std::vector<FleetEntry> Fleet() override {
    std::lock_guard lock(mutex_);
    const std::string sql =
        "SELECT t.id, t.grp, t.machine_id, t.cert_fingerprint, t.key_fingerprint, t.hostname, "
        "t.serial, t.os, t.enrolled_at, t.last_seen, t.revoked, t.cloned, t.cloned_from, "
        "t.last_sequence, t.policy_version, COALESCE(SUM(c.result = 'pass'), 0), "
        "COALESCE(SUM(c.result = 'fail'), 0), COALESCE(SUM(c.result = 'error'), 0) "
        "FROM terminals t LEFT JOIN check_state c ON c.terminal_id = t.id GROUP BY t.id "
        "ORDER BY t.id";
    Stmt s(db_, sql.c_str());
    std::vector<FleetEntry> out;
    while (s.Step()) {
      FleetEntry e;
      e.terminal = ReadTerminal(s);
      e.pass = static_cast<int>(s.Int(15));
      e.fail = static_cast<int>(s.Int(16));
      e.error = static_cast<int>(s.Int(17));
      out.push_back(std::move(e));
    }
    return out;
  }

  std::uint64_t IngestReport(const std::string& terminal_id, const Report& report,
                             UnixTime now) override {
    std::lock_guard lock(mutex_);
    Transaction tx(db_);
    const IngestResult result = IngestLocked(terminal_id, report, now);
    tx.Commit();
    return result.ack;
  }

  std::vector<IngestResult> IngestReports(const std::vector<IngestItem>& items,
                                          UnixTime now) override {
    std::lock_guard lock(mutex_);
    std::vector<IngestResult> results;
    results.reserve(items.size());
    try {
      Transaction tx(db_);
      for (const IngestItem& item : items) {
        results.push_back(IngestLocked(item.terminal_id, item.report, now));
      }
      tx.Commit();
      return results;
    } catch (const std::exception&) {
      // Something in the batch failed and it all rolled back: each report again on its own, so
      // that only the failing one is refused.
    }
    results.clear();
    for (const IngestItem& item : items) {
      try {
        Transaction tx(db_);
        results.push_back(IngestLocked(item.terminal_id, item.report, now));
        tx.Commit();
      } catch (const std::exception& e) {
        results.push_back({false, false, 0, e.what()});
      }
    }
    return results;
  }

 private:
  IngestResult IngestLocked(const std::string& terminal_id, const Report& report, UnixTime now) {
    auto terminal = FindTerminalLocked(terminal_id);
    if (!terminal) throw StoreError("no terminal " + terminal_id);
    const std::int64_t sequence = AsInt(report.sequence);
    std::optional<std::string> policy_version;
    if (report.policy_version) policy_version = VersionKey(*report.policy_version);

    Stmt insert(db_,
                "INSERT OR IGNORE INTO reports (terminal_id, sequence, received_at, "
                "policy_version) VALUES (?, ?, ?, ?)");
    insert.Bind(1, terminal_id).Bind(2, sequence).Bind(3, now);
    if (policy_version) {
      insert.Bind(4, *policy_version);
    } else {
      insert.BindNull(4);
    }
    insert.Run();
    if (sqlite3_changes(db_.handle()) == 0) {
      return {true, true, terminal->last_sequence, ""};  // already stored
    }

    std::uint64_t alerts = 0;
    for (const Event& e : report.events) {
      InsertEvent(terminal_id, sequence, e.time, e.type, e.data, now);
      if (auto accepted = AcceptedStepOf(e)) {
        if (CheckCodeReuse(terminal_id, sequence, e, *accepted, now)) ++alerts;
      }
    }
    // A report that arrives after a later one still adds its events, but must not overwrite the
    // newer status.
    const bool newest = report.sequence > terminal->last_sequence;
    if (newest) {
      for (const CheckResult& c : report.checks) UpdateCheck(terminal_id, c, sequence, now);
      Stmt update(db_,
                  "UPDATE terminals SET last_sequence = ?1, last_seen = ?2, "
                  "policy_version = COALESCE(?3, policy_version), compliance = (SELECT CASE WHEN "
                  "SUM(result = 'fail') > 0 THEN 'fail' WHEN SUM(result = 'error') > 0 THEN "
                  "'error' ELSE 'pass' END FROM check_state WHERE terminal_id = ?4) WHERE id = ?4");
      update.Bind(1, sequence).Bind(2, now);
      if (policy_version) {
        update.Bind(3, *policy_version);
      } else {
        update.BindNull(3);
      }
      update.Bind(4, terminal_id).Run();
    } else {
      Stmt(db_, "UPDATE terminals SET last_seen = ? WHERE id = ?")
          .Bind(1, now)
          .Bind(2, terminal_id)
          .Run();
    }
    return {true, false, newest ? report.sequence : terminal->last_sequence, "", alerts};
  }

 public:
  bool HasReport(const std::string& terminal_id, std::uint64_t sequence) override {
    std::lock_guard lock(mutex_);
    Stmt s(db_, "SELECT 1 FROM reports WHERE terminal_id = ? AND sequence = ?");
    s.Bind(1, terminal_id).Bind(2, AsInt(sequence));
    return s.Step();
  }

  std::vector<CheckState> Checks(const std::string& terminal_id) override {
    std::lock_guard lock(mutex_);
    Stmt s(db_,
           "SELECT check_id, result, observed, changed_at, first_failed_at, updated_at FROM "
           "check_state WHERE terminal_id = ? ORDER BY check_id");
    s.Bind(1, terminal_id);
    std::vector<CheckState> out;
    while (s.Step()) {
      out.push_back({s.Text(0), s.Text(1), s.Text(2), s.Int(3), s.OptInt(4), s.Int(5)});
    }
    return out;
  }

  std::vector<CheckHistoryEntry> CheckHistory(const std::string& terminal_id,
                                              std::size_t limit) override {
    std::lock_guard lock(mutex_);
    Stmt s(db_,
           "SELECT check_id, result, observed, at, sequence FROM check_history WHERE "
           "terminal_id = ? ORDER BY id DESC LIMIT ?");
    s.Bind(1, terminal_id).Bind(2, static_cast<std::int64_t>(limit));
    std::vector<CheckHistoryEntry> out;
    while (s.Step()) {
      out.push_back(
          {s.Text(0), s.Text(1), s.Text(2), s.Int(3), static_cast<std::uint64_t>(s.Int(4))});
    }
    return {out.rbegin(), out.rend()};
  }

  std::vector<Event> Events(UnixTime since, std::size_t limit) override {
    std::lock_guard lock(mutex_);
    Stmt s(db_,
           "SELECT id, terminal_id, sequence, time, type, data FROM events WHERE time >= ? "
           "ORDER BY time, id LIMIT ?");
    s.Bind(1, since).Bind(2, static_cast<std::int64_t>(limit));
    std::vector<Event> out;
    while (s.Step()) {
      out.push_back({s.Int(0), s.Text(1), static_cast<std::uint64_t>(s.Int(2)), s.Int(3), s.Text(4),
                     s.Text(5)});
    }
    return out;
  }

  PolicyStoreStatus StorePolicy(const PolicyRecord& record) override {
    std::lock_guard lock(mutex_);
    Transaction tx(db_);
    {
      Stmt s(db_, "SELECT 1 FROM policies WHERE version >= ? LIMIT 1");
      s.Bind(1, VersionKey(record.version));
      if (s.Step()) return PolicyStoreStatus::kNotNewer;
    }
    Stmt(db_, "INSERT INTO policies (version, hash, bundle, stored_at) VALUES (?, ?, ?, ?)")
        .Bind(1, VersionKey(record.version))
        .Bind(2, record.hash)
        .BindBlob(3, record.bundle)
        .Bind(4, record.stored_at)
        .Run();
    tx.Commit();
    return PolicyStoreStatus::kStored;
  }

  std::optional<PolicyRecord> LatestPolicy() override {
    std::lock_guard lock(reader_mutex_);
    Stmt s(*reader_,
           "SELECT version, hash, bundle, stored_at FROM policies ORDER BY version DESC LIMIT 1");
    if (!s.Step()) return std::nullopt;
    return PolicyRecord{ParseVersionKey(s.Text(0)), s.Text(1), s.Text(2), s.Int(3)};
  }

  std::string PutSettingIfAbsent(const std::string& name, const std::string& value) override {
    std::lock_guard lock(mutex_);
    Transaction tx(db_);
    Stmt(db_, "INSERT OR IGNORE INTO settings (name, value) VALUES (?, ?)")
        .Bind(1, name)
        .BindBlob(2, value)
        .Run();
    auto stored = SettingLocked(name);
    tx.Commit();
    return stored.value_or(value);
  }

  std::optional<std::string> Setting(const std::string& name) override {
    std::lock_guard lock(mutex_);
    return SettingLocked(name);
  }

  MfaWrite EnrollMfa(const MfaCredential& c) override {
    std::lock_guard lock(mutex_);
    Transaction tx(db_);
    if (MfaActiveLocked(c.user).value_or(false)) return {MfaWriteStatus::kAlreadyEnrolled, 0};
    const std::int64_t revision = NextMfaRevision();
    Stmt(db_,
         "INSERT INTO mfa_credentials (username, algorithm, digits, period, sealed_secret, "
         "enrolled_at, active, revision, unlocked_at_revision) VALUES (?, ?, ?, ?, ?, ?, 1, ?, 0) "
         "ON CONFLICT (username) DO UPDATE SET algorithm = excluded.algorithm, "
         "digits = excluded.digits, period = excluded.period, "
         "sealed_secret = excluded.sealed_secret, enrolled_at = excluded.enrolled_at, active = 1, "
         "revision = excluded.revision, unlocked_at_revision = 0")
        .Bind(1, c.user)
        .Bind(2, c.algorithm)
        .Bind(3, std::int64_t{c.digits})
        .Bind(4, std::int64_t{c.period})
        .BindBlob(5, c.sealed_secret)
        .Bind(6, c.enrolled_at)
        .Bind(7, revision)
        .Run();
    Stmt(db_, "UPDATE mfa_groups SET current = 0 WHERE username = ?").Bind(1, c.user).Run();
    for (const std::string& group : c.groups) {
      Stmt(db_,
           "INSERT INTO mfa_groups (username, grp, current) VALUES (?, ?, 1) "
           "ON CONFLICT (username, grp) DO UPDATE SET current = 1")
          .Bind(1, c.user)
          .Bind(2, group)
          .Run();
    }
    tx.Commit();
    return {MfaWriteStatus::kDone, static_cast<std::uint64_t>(revision)};
  }

  MfaWrite ResetMfa(const std::string& user) override {
    // The secret goes with the reset: nothing needs it any more.
    return ChangeActiveMfa(user,
                           "UPDATE mfa_credentials SET active = 0, sealed_secret = X'', "
                           "revision = ?1 WHERE username = ?2");
  }

  MfaWrite UnlockMfa(const std::string& user) override {
    return ChangeActiveMfa(user,
                           "UPDATE mfa_credentials SET revision = ?1, unlocked_at_revision = ?1 "
                           "WHERE username = ?2");
  }

  std::vector<MfaChange> MfaChanges(const std::string& group, std::uint64_t after,
                                    std::size_t limit) override {
    std::lock_guard lock(mutex_);
    Stmt s(db_,
           "SELECT c.username, c.algorithm, c.digits, c.period, c.sealed_secret, c.enrolled_at, "
           "c.active AND g.current, c.revision, c.unlocked_at_revision FROM mfa_groups g "
           "JOIN mfa_credentials c ON c.username = g.username WHERE g.grp = ? AND c.revision > ? "
           "ORDER BY c.revision LIMIT ?");
    s.Bind(1, group).Bind(2, AsInt(after)).Bind(3, static_cast<std::int64_t>(limit));
    std::vector<MfaChange> out;
    while (s.Step()) {
      MfaChange change;
      change.revision = static_cast<std::uint64_t>(s.Int(7));
      change.remove = s.Int(6) == 0;
      change.credential.user = s.Text(0);
      if (!change.remove) {
        change.credential.algorithm = s.Text(1);
        change.credential.digits = static_cast<int>(s.Int(2));
        change.credential.period = static_cast<int>(s.Int(3));
        change.credential.sealed_secret = s.Text(4);
        change.credential.enrolled_at = s.Int(5);
        change.unlocked_at_revision = static_cast<std::uint64_t>(s.Int(8));
      }
      out.push_back(std::move(change));
    }
    return out;
  }

 private:
  void InsertEvent(const std::string& terminal_id, std::int64_t sequence, UnixTime time,
                   const std::string& type, const std::string& data, UnixTime now) {
    Stmt(db_,
         "INSERT INTO events (terminal_id, sequence, time, type, data, received_at) "
         "VALUES (?, ?, ?, ?, ?, ?)")
        .Bind(1, terminal_id)
        .Bind(2, sequence)
        .Bind(3, time)
        .Bind(4, type)
        .Bind(5, data)
        .Bind(6, now)
        .Run();
  }

  // A TOTP code is good for one login: the same user's step accepted on another terminal means
  // the code (or the secret) was seen by someone else. Returns whether it raised an alert.
  bool CheckCodeReuse(const std::string& terminal_id, std::int64_t sequence, const Event& e,
                      const AcceptedStep& accepted, UnixTime now) {
    const std::int64_t step = AsInt(accepted.step);
    std::optional<std::string> first;
    {
      Stmt s(db_,
             "SELECT terminal_id FROM mfa_accepted_steps WHERE username = ? AND step = ? AND "
             "terminal_id <> ? ORDER BY terminal_id LIMIT 1");
      s.Bind(1, accepted.user).Bind(2, step).Bind(3, terminal_id);
      if (s.Step()) first = s.Text(0);
    }
    Stmt(db_,
         "INSERT OR IGNORE INTO mfa_accepted_steps (username, step, terminal_id) VALUES (?, ?, ?)")
        .Bind(1, accepted.user)
        .Bind(2, step)
        .Bind(3, terminal_id)
        .Run();
    if (first) {
      InsertEvent(terminal_id, sequence, e.time, std::string(kCodeReusedEvent),
                  CodeReusedData(accepted, *first, terminal_id), now);
    }
    return first.has_value();
  }

  std::optional<bool> MfaActiveLocked(const std::string& user) {
    Stmt s(db_, "SELECT active FROM mfa_credentials WHERE username = ?");
    s.Bind(1, user);
    if (!s.Step()) return std::nullopt;
    return s.Int(0) != 0;
  }

  std::int64_t NextMfaRevision() {
    Stmt(db_, "UPDATE mfa_revision SET value = value + 1 WHERE id = 1").Run();
    Stmt s(db_, "SELECT value FROM mfa_revision WHERE id = 1");
    if (!s.Step()) throw StoreError("mfa_revision has no row");
    return s.Int(0);
  }

  MfaWrite ChangeActiveMfa(const std::string& user, const char* update) {
    std::lock_guard lock(mutex_);
    Transaction tx(db_);
    if (!MfaActiveLocked(user).value_or(false)) return {MfaWriteStatus::kNotEnrolled, 0};
    const std::int64_t revision = NextMfaRevision();
    Stmt(db_, update).Bind(1, revision).Bind(2, user).Run();
    tx.Commit();
    return {MfaWriteStatus::kDone, static_cast<std::uint64_t>(revision)};
  }

  void Migrate() {
    db_.Exec(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
        "applied_at INTEGER NOT NULL DEFAULT (unixepoch()))");
    Transaction tx(db_);
    std::int64_t current = 0;
    {
      Stmt s(db_, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
      s.Step();
      current = s.Int(0);
    }
    if (current > kSchemaVersion) {
      throw StoreError("database schema version " + std::to_string(current) +
                       " is newer than this collector's " + std::to_string(kSchemaVersion));
    }
    for (int v = static_cast<int>(current) + 1; v <= kSchemaVersion; ++v) {
      db_.Exec(kMigrations[v - 1]);
      Stmt(db_, "INSERT INTO schema_migrations (version) VALUES (?)")
          .Bind(1, std::int64_t{v})
          .Run();
    }
    tx.Commit();
  }

  std::optional<std::pair<EnrollmentToken, TokenSecret>> FindEnrollmentTokenLocked(
      const std::string& id) {
    Stmt s(db_,
           "SELECT id, secret_hash, grp, uses_left, expires_at, created_at FROM "
           "enrollment_tokens WHERE id = ?");
    s.Bind(1, id);
    if (!s.Step()) return std::nullopt;
    EnrollmentToken token{s.Text(0), s.Text(2), static_cast<int>(s.Int(3)), s.Int(4), s.Int(5)};
    return std::pair{token, TokenSecret{s.Text(1)}};
  }

  std::optional<Terminal> FindTerminalLocked(const std::string& id) {
    return FindTerminalIn(db_, id);
  }

  static std::optional<Terminal> FindTerminalIn(Db& db, const std::string& id) {
    const std::string sql =
        std::string("SELECT ") + kTerminalColumns + " FROM terminals WHERE id = ?";
    Stmt s(db, sql.c_str());
    s.Bind(1, id);
    if (!s.Step()) return std::nullopt;
    return ReadTerminal(s);
  }

  std::optional<std::string> SettingLocked(const std::string& name) {
    Stmt s(db_, "SELECT value FROM settings WHERE name = ?");
    s.Bind(1, name);
    if (!s.Step()) return std::nullopt;
    return s.Text(0);
  }

  void UpdateCheck(const std::string& terminal_id, const CheckResult& c, std::int64_t sequence,
                   UnixTime now) {
    const bool failing = c.result == "fail";
    std::optional<CheckState> old;
    {
      Stmt s(db_,
             "SELECT result, observed, changed_at, first_failed_at FROM check_state WHERE "
             "terminal_id = ? AND check_id = ?");
      s.Bind(1, terminal_id).Bind(2, c.check_id);
      if (s.Step()) old = CheckState{c.check_id, s.Text(0), s.Text(1), s.Int(2), s.OptInt(3), 0};
    }
    const bool changed = !old || old->result != c.result || old->observed != c.observed;
    std::optional<UnixTime> first_failed;
    if (failing) first_failed = (old && old->first_failed_at) ? *old->first_failed_at : now;
    Stmt(db_,
         "INSERT INTO check_state (terminal_id, check_id, result, observed, changed_at, "
         "first_failed_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (terminal_id, "
         "check_id) DO UPDATE SET result = excluded.result, observed = excluded.observed, "
         "changed_at = excluded.changed_at, first_failed_at = excluded.first_failed_at, "
         "updated_at = excluded.updated_at")
        .Bind(1, terminal_id)
        .Bind(2, c.check_id)
        .Bind(3, c.result)
        .Bind(4, c.observed)
        .Bind(5, changed ? now : old->changed_at)
        .Bind(6, first_failed)
        .Bind(7, now)
        .Run();
    if (changed) {
      Stmt(db_,
           "INSERT INTO check_history (terminal_id, check_id, result, observed, at, sequence) "
           "VALUES (?, ?, ?, ?, ?, ?)")
          .Bind(1, terminal_id)
          .Bind(2, c.check_id)
          .Bind(3, c.result)
          .Bind(4, c.observed)
          .Bind(5, now)
          .Bind(6, sequence)
          .Run();
    }
  }

  std::mutex mutex_;
  Db db_;
  std::mutex reader_mutex_;
  std::optional<Db> reader_;
};

}  // namespace

std::unique_ptr<Store> OpenSqliteStore(const std::string& path) {
  return std::make_unique<SqliteStore>(path);
}

int SqliteSchemaVersion() { return kSchemaVersion; }

std::string_view ToString(Role role) { return role == Role::kAdmin ? "admin" : "it-read"; }

std::optional<Role> ParseRole(std::string_view text) {
  if (text == "admin") return Role::kAdmin;
  if (text == "it-read") return Role::kItRead;
  return std::nullopt;
}

}  // namespace mamori::collector
