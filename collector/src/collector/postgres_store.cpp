#include "mamori/collector/postgres_store.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "collector/pg_conn.h"

namespace mamori::collector {
namespace {

using pg::Bytes;
using pg::Int;
using pg::Null;
using pg::OptInt;
using pg::Result;
using pg::Text;

// Each entry is one schema version; a database records the versions it has applied, and each is
// applied in one transaction together with that record. Identifiers sort bytewise ("C"), as in
// SQLite, whatever the database's locale.
constexpr const char* kMigrations[] = {
    R"sql(
CREATE TABLE enrollment_tokens (
  id TEXT COLLATE "C" PRIMARY KEY, secret_hash BYTEA NOT NULL, grp TEXT NOT NULL,
  uses_left INTEGER NOT NULL, expires_at BIGINT NOT NULL, created_at BIGINT NOT NULL);
CREATE TABLE api_tokens (
  id TEXT COLLATE "C" PRIMARY KEY, secret_hash BYTEA NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('it-read', 'admin')), label TEXT NOT NULL,
  created_at BIGINT NOT NULL);
CREATE TABLE terminals (
  id TEXT COLLATE "C" PRIMARY KEY, grp TEXT NOT NULL, machine_id TEXT NOT NULL,
  cert_fingerprint TEXT NOT NULL, key_fingerprint TEXT NOT NULL, hostname TEXT NOT NULL,
  serial TEXT NOT NULL, os TEXT NOT NULL, enrolled_at BIGINT NOT NULL, last_seen BIGINT,
  revoked BOOLEAN NOT NULL DEFAULT FALSE, cloned BOOLEAN NOT NULL DEFAULT FALSE,
  cloned_from TEXT NOT NULL DEFAULT '', last_sequence BIGINT NOT NULL DEFAULT 0,
  policy_version NUMERIC(20, 0));
CREATE INDEX terminals_machine_id ON terminals (machine_id);
CREATE TABLE reports (
  terminal_id TEXT COLLATE "C" NOT NULL REFERENCES terminals (id), sequence BIGINT NOT NULL,
  received_at BIGINT NOT NULL, policy_version NUMERIC(20, 0),
  PRIMARY KEY (terminal_id, sequence));
CREATE TABLE check_state (
  terminal_id TEXT COLLATE "C" NOT NULL REFERENCES terminals (id),
  check_id TEXT COLLATE "C" NOT NULL, result TEXT NOT NULL, observed TEXT NOT NULL,
  changed_at BIGINT NOT NULL, first_failed_at BIGINT, updated_at BIGINT NOT NULL,
  PRIMARY KEY (terminal_id, check_id));
CREATE TABLE check_history (
  id BIGSERIAL PRIMARY KEY, terminal_id TEXT COLLATE "C" NOT NULL REFERENCES terminals (id),
  check_id TEXT NOT NULL, result TEXT NOT NULL, observed TEXT NOT NULL, at BIGINT NOT NULL,
  sequence BIGINT NOT NULL);
CREATE INDEX check_history_terminal ON check_history (terminal_id, id);
CREATE TABLE events (
  id BIGSERIAL PRIMARY KEY, terminal_id TEXT COLLATE "C" NOT NULL REFERENCES terminals (id),
  sequence BIGINT NOT NULL, time BIGINT NOT NULL, type TEXT NOT NULL, data TEXT NOT NULL,
  received_at BIGINT NOT NULL);
CREATE INDEX events_time ON events (time, id);
CREATE TABLE policies (
  version NUMERIC(20, 0) PRIMARY KEY, hash TEXT NOT NULL, bundle BYTEA NOT NULL,
  stored_at BIGINT NOT NULL);
CREATE TABLE settings (name TEXT COLLATE "C" PRIMARY KEY, value BYTEA NOT NULL);
-- A report in one round trip: the same steps as SqliteStore::IngestReport, in the same order.
CREATE FUNCTION mamori_ingest_report(
  p_terminal TEXT, p_sequence BIGINT, p_now BIGINT, p_policy_version NUMERIC,
  p_check_ids TEXT[], p_results TEXT[], p_observed TEXT[],
  p_event_times BIGINT[], p_event_types TEXT[], p_event_data TEXT[]) RETURNS BIGINT
LANGUAGE plpgsql AS $$
DECLARE
  v_last BIGINT;
  v_prev check_state%ROWTYPE;
  v_existed BOOLEAN;
  v_changed BOOLEAN;
BEGIN
  SELECT last_sequence INTO v_last FROM terminals WHERE id = p_terminal FOR NO KEY UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no terminal %', p_terminal;
  END IF;
  INSERT INTO reports (terminal_id, sequence, received_at, policy_version)
    VALUES (p_terminal, p_sequence, p_now, p_policy_version) ON CONFLICT DO NOTHING;
  IF NOT FOUND THEN
    RETURN v_last;  -- already stored
  END IF;
  INSERT INTO events (terminal_id, sequence, time, type, data, received_at)
    SELECT p_terminal, p_sequence, e.t, e.ty, e.d, p_now
    FROM unnest(p_event_times, p_event_types, p_event_data) WITH ORDINALITY AS e(t, ty, d, n)
    ORDER BY e.n;
  -- A report that arrives after a later one adds its events but keeps the newer status.
  IF p_sequence <= v_last THEN
    UPDATE terminals SET last_seen = p_now WHERE id = p_terminal;
    RETURN v_last;
  END IF;
  FOR i IN 1 .. coalesce(array_length(p_check_ids, 1), 0) LOOP
    SELECT * INTO v_prev FROM check_state
      WHERE terminal_id = p_terminal AND check_id = p_check_ids[i];
    v_existed := FOUND;
    v_changed := NOT v_existed OR v_prev.result <> p_results[i] OR v_prev.observed <> p_observed[i];
    INSERT INTO check_state (terminal_id, check_id, result, observed, changed_at, first_failed_at,
                             updated_at)
      VALUES (p_terminal, p_check_ids[i], p_results[i], p_observed[i],
              CASE WHEN v_changed THEN p_now ELSE v_prev.changed_at END,
              CASE WHEN p_results[i] = 'fail' THEN
                COALESCE(CASE WHEN v_existed THEN v_prev.first_failed_at END, p_now) END,
              p_now)
      ON CONFLICT (terminal_id, check_id) DO UPDATE SET result = excluded.result,
        observed = excluded.observed, changed_at = excluded.changed_at,
        first_failed_at = excluded.first_failed_at, updated_at = excluded.updated_at;
    IF v_changed THEN
      INSERT INTO check_history (terminal_id, check_id, result, observed, at, sequence)
        VALUES (p_terminal, p_check_ids[i], p_results[i], p_observed[i], p_now, p_sequence);
    END IF;
  END LOOP;
  UPDATE terminals SET last_sequence = p_sequence, last_seen = p_now,
    policy_version = COALESCE(p_policy_version, policy_version) WHERE id = p_terminal;
  RETURN p_sequence;
END $$;
)sql",
    // Centrally enrolled MFA credentials, their delivery to terminal groups, and the TOTP steps
    // accepted on each terminal: the report function now raises code-reuse alerts.
    R"sql(
CREATE TABLE mfa_revision (id INTEGER PRIMARY KEY CHECK (id = 1), value BIGINT NOT NULL);
INSERT INTO mfa_revision (id, value) VALUES (1, 0);
CREATE TABLE mfa_credentials (
  username TEXT COLLATE "C" PRIMARY KEY, algorithm TEXT NOT NULL, digits INTEGER NOT NULL,
  period INTEGER NOT NULL, sealed_secret BYTEA NOT NULL, enrolled_at BIGINT NOT NULL,
  active BOOLEAN NOT NULL, revision BIGINT NOT NULL,
  unlocked_at_revision BIGINT NOT NULL DEFAULT 0);
CREATE INDEX mfa_credentials_revision ON mfa_credentials (revision);
CREATE TABLE mfa_groups (
  username TEXT COLLATE "C" NOT NULL REFERENCES mfa_credentials (username),
  grp TEXT COLLATE "C" NOT NULL, current BOOLEAN NOT NULL, PRIMARY KEY (username, grp));
CREATE INDEX mfa_groups_grp ON mfa_groups (grp, username);
CREATE TABLE mfa_accepted_steps (
  username TEXT COLLATE "C" NOT NULL, step BIGINT NOT NULL,
  terminal_id TEXT COLLATE "C" NOT NULL REFERENCES terminals (id),
  PRIMARY KEY (username, step, terminal_id));
DROP FUNCTION mamori_ingest_report(TEXT, BIGINT, BIGINT, NUMERIC, TEXT[], TEXT[], TEXT[],
                                   BIGINT[], TEXT[], TEXT[]);
-- A report in one round trip: the same steps as SqliteStore::IngestReport, in the same order.
CREATE FUNCTION mamori_ingest_report(
  p_terminal TEXT, p_sequence BIGINT, p_now BIGINT, p_policy_version NUMERIC,
  p_check_ids TEXT[], p_results TEXT[], p_observed TEXT[],
  p_event_times BIGINT[], p_event_types TEXT[], p_event_data TEXT[],
  p_step_users TEXT[], p_steps BIGINT[], p_step_times BIGINT[]) RETURNS BIGINT
LANGUAGE plpgsql AS $$
DECLARE
  v_last BIGINT;
  v_prev check_state%ROWTYPE;
  v_existed BOOLEAN;
  v_changed BOOLEAN;
  v_first TEXT;
BEGIN
  SELECT last_sequence INTO v_last FROM terminals WHERE id = p_terminal FOR NO KEY UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no terminal %', p_terminal;
  END IF;
  INSERT INTO reports (terminal_id, sequence, received_at, policy_version)
    VALUES (p_terminal, p_sequence, p_now, p_policy_version) ON CONFLICT DO NOTHING;
  IF NOT FOUND THEN
    RETURN v_last;  -- already stored
  END IF;
  INSERT INTO events (terminal_id, sequence, time, type, data, received_at)
    SELECT p_terminal, p_sequence, e.t, e.ty, e.d, p_now
    FROM unnest(p_event_times, p_event_types, p_event_data) WITH ORDINALITY AS e(t, ty, d, n)
    ORDER BY e.n;
  -- A TOTP step accepted for the same user on another terminal: the code was seen twice. Reports
  -- of two terminals may be stored at once; a lock per user and step orders them.
  FOR i IN 1 .. coalesce(array_length(p_steps, 1), 0) LOOP
    PERFORM pg_advisory_xact_lock(1835101549, hashtext(p_step_users[i] || '/' || p_steps[i]));
    SELECT terminal_id INTO v_first FROM mfa_accepted_steps
      WHERE username = p_step_users[i] AND step = p_steps[i] AND terminal_id <> p_terminal
      ORDER BY terminal_id LIMIT 1;
    IF FOUND THEN
      INSERT INTO events (terminal_id, sequence, time, type, data, received_at)
        VALUES (p_terminal, p_sequence, p_step_times[i], 'mfa.code_reused',
                json_build_object('user', p_step_users[i], 'step', p_steps[i]::text,
                                  'first_terminal', v_first, 'terminal', p_terminal)::text,
                p_now);
    END IF;
    INSERT INTO mfa_accepted_steps (username, step, terminal_id)
      VALUES (p_step_users[i], p_steps[i], p_terminal) ON CONFLICT DO NOTHING;
  END LOOP;
  -- A report that arrives after a later one adds its events but keeps the newer status.
  IF p_sequence <= v_last THEN
    UPDATE terminals SET last_seen = p_now WHERE id = p_terminal;
    RETURN v_last;
  END IF;
  FOR i IN 1 .. coalesce(array_length(p_check_ids, 1), 0) LOOP
    SELECT * INTO v_prev FROM check_state
      WHERE terminal_id = p_terminal AND check_id = p_check_ids[i];
    v_existed := FOUND;
    v_changed := NOT v_existed OR v_prev.result <> p_results[i] OR v_prev.observed <> p_observed[i];
    INSERT INTO check_state (terminal_id, check_id, result, observed, changed_at, first_failed_at,
                             updated_at)
      VALUES (p_terminal, p_check_ids[i], p_results[i], p_observed[i],
              CASE WHEN v_changed THEN p_now ELSE v_prev.changed_at END,
              CASE WHEN p_results[i] = 'fail' THEN
                COALESCE(CASE WHEN v_existed THEN v_prev.first_failed_at END, p_now) END,
              p_now)
      ON CONFLICT (terminal_id, check_id) DO UPDATE SET result = excluded.result,
        observed = excluded.observed, changed_at = excluded.changed_at,
        first_failed_at = excluded.first_failed_at, updated_at = excluded.updated_at;
    IF v_changed THEN
      INSERT INTO check_history (terminal_id, check_id, result, observed, at, sequence)
        VALUES (p_terminal, p_check_ids[i], p_results[i], p_observed[i], p_now, p_sequence);
    END IF;
  END LOOP;
  UPDATE terminals SET last_sequence = p_sequence, last_seen = p_now,
    policy_version = COALESCE(p_policy_version, policy_version) WHERE id = p_terminal;
  RETURN p_sequence;
END $$;
)sql",
    // Fleet totals without scanning the fleet: each terminal's compliance is kept by the ingest
    // function; a trigger logs each change of a terminal's (revoked, compliance, policy version)
    // as -1/+1 rows in fleet_count_deltas, insert-only so that concurrent reports never wait for
    // one counter row, and FoldFleetCounts adds them into fleet_counts now and then. The stale
    // terminals are a range of a partial index.
    R"sql(
ALTER TABLE terminals ADD COLUMN compliance TEXT NOT NULL DEFAULT 'unknown';
UPDATE terminals t SET compliance = (SELECT CASE WHEN bool_or(c.result = 'fail') THEN 'fail'
  WHEN bool_or(c.result = 'error') THEN 'error' ELSE 'pass' END
  FROM check_state c WHERE c.terminal_id = t.id) WHERE last_sequence > 0;
CREATE INDEX terminals_seen ON terminals ((COALESCE(last_seen, enrolled_at))) WHERE NOT revoked;
-- policy_key: the policy version, -1 before the terminal reported one.
CREATE TABLE fleet_counts (
  revoked BOOLEAN NOT NULL, compliance TEXT NOT NULL, policy_key NUMERIC(20, 0) NOT NULL,
  terminals BIGINT NOT NULL, PRIMARY KEY (revoked, compliance, policy_key));
CREATE TABLE fleet_count_deltas (
  revoked BOOLEAN NOT NULL, compliance TEXT NOT NULL, policy_key NUMERIC(20, 0) NOT NULL,
  delta INTEGER NOT NULL);
INSERT INTO fleet_counts
  SELECT revoked, compliance, COALESCE(policy_version, -1), COUNT(*) FROM terminals
  GROUP BY 1, 2, 3;
CREATE FUNCTION mamori_count_terminal() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' THEN
    IF OLD.revoked = NEW.revoked AND OLD.compliance = NEW.compliance AND
       OLD.policy_version IS NOT DISTINCT FROM NEW.policy_version THEN
      RETURN NULL;
    END IF;
    INSERT INTO fleet_count_deltas
      VALUES (OLD.revoked, OLD.compliance, COALESCE(OLD.policy_version, -1), -1);
  END IF;
  INSERT INTO fleet_count_deltas
    VALUES (NEW.revoked, NEW.compliance, COALESCE(NEW.policy_version, -1), 1);
  RETURN NULL;
END $$;
CREATE TRIGGER terminals_count AFTER INSERT OR UPDATE OF revoked, compliance, policy_version
  ON terminals FOR EACH ROW EXECUTE FUNCTION mamori_count_terminal();
CREATE OR REPLACE FUNCTION mamori_ingest_report(
  p_terminal TEXT, p_sequence BIGINT, p_now BIGINT, p_policy_version NUMERIC,
  p_check_ids TEXT[], p_results TEXT[], p_observed TEXT[],
  p_event_times BIGINT[], p_event_types TEXT[], p_event_data TEXT[],
  p_step_users TEXT[], p_steps BIGINT[], p_step_times BIGINT[]) RETURNS BIGINT
LANGUAGE plpgsql AS $$
DECLARE
  v_last BIGINT;
  v_prev check_state%ROWTYPE;
  v_existed BOOLEAN;
  v_changed BOOLEAN;
  v_first TEXT;
BEGIN
  SELECT last_sequence INTO v_last FROM terminals WHERE id = p_terminal FOR NO KEY UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no terminal %', p_terminal;
  END IF;
  INSERT INTO reports (terminal_id, sequence, received_at, policy_version)
    VALUES (p_terminal, p_sequence, p_now, p_policy_version) ON CONFLICT DO NOTHING;
  IF NOT FOUND THEN
    RETURN v_last;  -- already stored
  END IF;
  INSERT INTO events (terminal_id, sequence, time, type, data, received_at)
    SELECT p_terminal, p_sequence, e.t, e.ty, e.d, p_now
    FROM unnest(p_event_times, p_event_types, p_event_data) WITH ORDINALITY AS e(t, ty, d, n)
    ORDER BY e.n;
  -- A TOTP step accepted for the same user on another terminal: the code was seen twice. Reports
  -- of two terminals may be stored at once; a lock per user and step orders them.
  FOR i IN 1 .. coalesce(array_length(p_steps, 1), 0) LOOP
    PERFORM pg_advisory_xact_lock(1835101549, hashtext(p_step_users[i] || '/' || p_steps[i]));
    SELECT terminal_id INTO v_first FROM mfa_accepted_steps
      WHERE username = p_step_users[i] AND step = p_steps[i] AND terminal_id <> p_terminal
      ORDER BY terminal_id LIMIT 1;
    IF FOUND THEN
      INSERT INTO events (terminal_id, sequence, time, type, data, received_at)
        VALUES (p_terminal, p_sequence, p_step_times[i], 'mfa.code_reused',
                json_build_object('user', p_step_users[i], 'step', p_steps[i]::text,
                                  'first_terminal', v_first, 'terminal', p_terminal)::text,
                p_now);
    END IF;
    INSERT INTO mfa_accepted_steps (username, step, terminal_id)
      VALUES (p_step_users[i], p_steps[i], p_terminal) ON CONFLICT DO NOTHING;
  END LOOP;
  -- A report that arrives after a later one adds its events but keeps the newer status.
  IF p_sequence <= v_last THEN
    UPDATE terminals SET last_seen = p_now WHERE id = p_terminal;
    RETURN v_last;
  END IF;
  FOR i IN 1 .. coalesce(array_length(p_check_ids, 1), 0) LOOP
    SELECT * INTO v_prev FROM check_state
      WHERE terminal_id = p_terminal AND check_id = p_check_ids[i];
    v_existed := FOUND;
    v_changed := NOT v_existed OR v_prev.result <> p_results[i] OR v_prev.observed <> p_observed[i];
    INSERT INTO check_state (terminal_id, check_id, result, observed, changed_at, first_failed_at,
                             updated_at)
      VALUES (p_terminal, p_check_ids[i], p_results[i], p_observed[i],
              CASE WHEN v_changed THEN p_now ELSE v_prev.changed_at END,
              CASE WHEN p_results[i] = 'fail' THEN
                COALESCE(CASE WHEN v_existed THEN v_prev.first_failed_at END, p_now) END,
              p_now)
      ON CONFLICT (terminal_id, check_id) DO UPDATE SET result = excluded.result,
        observed = excluded.observed, changed_at = excluded.changed_at,
        first_failed_at = excluded.first_failed_at, updated_at = excluded.updated_at;
    IF v_changed THEN
      INSERT INTO check_history (terminal_id, check_id, result, observed, at, sequence)
        VALUES (p_terminal, p_check_ids[i], p_results[i], p_observed[i], p_now, p_sequence);
    END IF;
  END LOOP;
  UPDATE terminals SET last_sequence = p_sequence, last_seen = p_now,
    policy_version = COALESCE(p_policy_version, policy_version),
    compliance = (SELECT CASE WHEN bool_or(result = 'fail') THEN 'fail'
      WHEN bool_or(result = 'error') THEN 'error' ELSE 'pass' END
      FROM check_state WHERE terminal_id = p_terminal)
    WHERE id = p_terminal;
  RETURN p_sequence;
END $$;
)sql",
    // Client certificates of the admin/IT API, found by fingerprint on every request.
    R"sql(
CREATE TABLE admin_certificates (
  id TEXT COLLATE "C" PRIMARY KEY, fingerprint TEXT COLLATE "C" NOT NULL UNIQUE,
  role TEXT NOT NULL CHECK (role IN ('it-read', 'admin')), name TEXT NOT NULL,
  created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL,
  revoked BOOLEAN NOT NULL DEFAULT FALSE);
)sql",
};

constexpr int kSchemaVersion = static_cast<int>(std::size(kMigrations));

// Taken by every collector that migrates, so that two starting at once apply each version once.
constexpr std::int64_t kMigrationLock = 0x6d616d6f7269;  // "mamori"

// The fleet count changes logged meanwhile are folded every so many report batches.
constexpr std::uint64_t kFoldEveryBatches = 64;

// Enough for a burst of enrollments contending on one token; each retry waits a little longer.
constexpr int kMaxAttempts = 30;

// kSingleStatement: the body runs one idempotent statement, atomic by itself, with no BEGIN and
// COMMIT around it (two round trips fewer).
enum class Isolation { kReadCommitted, kSerializable, kSingleStatement };

std::int64_t AsInt(std::uint64_t value) {
  if (value > static_cast<std::uint64_t>(INT64_MAX)) {
    throw StoreError("sequence " + std::to_string(value) + " is out of range");
  }
  return static_cast<std::int64_t>(value);
}

pg::Param Version(std::optional<std::uint64_t> version) {
  return version ? Text(std::to_string(*version)) : Null();
}

constexpr const char* kTerminalColumns =
    "id, grp, machine_id, cert_fingerprint, key_fingerprint, hostname, serial, os, enrolled_at, "
    "last_seen, revoked, cloned, cloned_from, last_sequence, policy_version";

Terminal ReadTerminal(const Result& r, int row) {
  Terminal t;
  t.id = r.Text(row, 0);
  t.group = r.Text(row, 1);
  t.machine_id = r.Text(row, 2);
  t.cert_fingerprint = r.Text(row, 3);
  t.key_fingerprint = r.Text(row, 4);
  t.hostname = r.Text(row, 5);
  t.serial = r.Text(row, 6);
  t.os = r.Text(row, 7);
  t.enrolled_at = r.Int(row, 8);
  t.last_seen = r.OptInt(row, 9);
  t.revoked = r.Bool(row, 10);
  t.cloned = r.Bool(row, 11);
  t.cloned_from = r.Text(row, 12);
  t.last_sequence = static_cast<std::uint64_t>(r.Int(row, 13));
  if (!r.IsNull(row, 14)) t.policy_version = std::stoull(r.Text(row, 14));
  return t;
}

// A row of "SELECT id, fingerprint, role, name, created_at, expires_at, revoked".
AdminCertificate ReadAdminCertificate(const Result& r, int row) {
  AdminCertificate c;
  c.id = r.Text(row, 0);
  c.fingerprint = r.Text(row, 1);
  const auto role = ParseRole(r.Text(row, 2));
  if (!role) throw StoreError("admin certificate " + c.id + " has an unknown role");
  c.role = *role;
  c.name = r.Text(row, 3);
  c.created_at = r.Int(row, 4);
  c.expires_at = r.Int(row, 5);
  c.revoked = r.Bool(row, 6);
  return c;
}

class PostgresStore final : public Store {
 public:
  explicit PostgresStore(const std::string& conninfo) : db_(conninfo), reader_(conninfo) {
    Migrate();
  }

  void CreateEnrollmentToken(const EnrollmentToken& token,
                             const std::string& secret_hash) override {
    Transact(Isolation::kReadCommitted, [&] {
      db_.Exec(
          "INSERT INTO enrollment_tokens (id, secret_hash, grp, uses_left, expires_at, "
          "created_at) VALUES ($1, $2, $3, $4, $5, $6)",
          {Text(token.id), Bytes(secret_hash), Text(token.group), Int(token.uses_left),
           Int(token.expires_at), Int(token.created_at)});
      return 0;
    });
  }

  std::optional<std::pair<EnrollmentToken, TokenSecret>> FindEnrollmentToken(
      const std::string& id) override {
    return Transact(Isolation::kReadCommitted, [&] { return FindEnrollmentTokenLocked(id); });
  }

  // Serializable: two enrollments of one machine-id under different keys at the same time must
  // not both miss each other, and a token's last use goes to one of them only.
  EnrollOutcome Enroll(const std::string& token_id, const NewTerminal& nt, UnixTime now) override {
    return Transact(Isolation::kSerializable, [&] { return EnrollLocked(token_id, nt, now); });
  }

  std::vector<EnrollResult> EnrollBatch(const std::vector<EnrollItem>& items,
                                        UnixTime now) override {
    std::vector<EnrollResult> results;
    try {
      Transact(Isolation::kSerializable, [&] {
        results.clear();  // a retried transaction starts over
        for (const EnrollItem& item : items) {
          results.push_back({EnrollLocked(item.token_id, item.terminal, now), ""});
        }
        return 0;
      });
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
    db_.Exec("UPDATE enrollment_tokens SET uses_left = uses_left - 1 WHERE id = $1",
             {Text(token_id)});
    const Result clone = db_.Exec(
        "SELECT id FROM terminals WHERE machine_id = $1 AND NOT revoked AND "
        "key_fingerprint <> $2 AND NOT EXISTS (SELECT 1 FROM terminals WHERE "
        "machine_id = $1 AND key_fingerprint = $2) ORDER BY enrolled_at, id LIMIT 1",
        {Text(nt.machine_id), Text(nt.key_fingerprint)});
    const std::string cloned_from = clone.rows() > 0 ? clone.Text(0, 0) : "";
    db_.Exec(
        "INSERT INTO terminals (id, grp, machine_id, cert_fingerprint, key_fingerprint, "
        "hostname, serial, os, enrolled_at, cloned, cloned_from) VALUES ($1, $2, $3, $4, $5, "
        "$6, $7, $8, $9, $10, $11)",
        {Text(nt.id), Text(token.group), Text(nt.machine_id), Text(nt.cert_fingerprint),
         Text(nt.key_fingerprint), Text(nt.hostname), Text(nt.serial), Text(nt.os), Int(now),
         Text(cloned_from.empty() ? "false" : "true"), Text(cloned_from)});
    return {EnrollStatus::kOk, FindTerminalLocked(nt.id)};
  }

 public:
  void CreateApiToken(const ApiToken& token, const std::string& secret_hash) override {
    Transact(Isolation::kReadCommitted, [&] {
      db_.Exec(
          "INSERT INTO api_tokens (id, secret_hash, role, label, created_at) VALUES ($1, $2, $3, "
          "$4, $5)",
          {Text(token.id), Bytes(secret_hash), Text(ToString(token.role)), Text(token.label),
           Int(token.created_at)});
      return 0;
    });
  }

  std::optional<std::pair<ApiToken, TokenSecret>> FindApiToken(const std::string& id) override {
    return Transact(
        Isolation::kReadCommitted, [&]() -> std::optional<std::pair<ApiToken, TokenSecret>> {
          const Result r = db_.Exec(
              "SELECT id, secret_hash, role, label, created_at FROM api_tokens WHERE id = $1",
              {Text(id)});
          if (r.rows() == 0) return std::nullopt;
          ApiToken token;
          token.id = r.Text(0, 0);
          auto role = ParseRole(r.Text(0, 2));
          if (!role) throw StoreError("api token " + id + " has an unknown role");
          token.role = *role;
          token.label = r.Text(0, 3);
          token.created_at = r.Int(0, 4);
          return std::pair{token, TokenSecret{r.Bytes(0, 1)}};
        });
  }

  void CreateAdminCertificate(const AdminCertificate& cert) override {
    Transact(Isolation::kReadCommitted, [&] {
      db_.Exec(
          "INSERT INTO admin_certificates (id, fingerprint, role, name, created_at, expires_at, "
          "revoked) VALUES ($1, $2, $3, $4, $5, $6, $7)",
          {Text(cert.id), Text(cert.fingerprint), Text(ToString(cert.role)), Text(cert.name),
           Int(cert.created_at), Int(cert.expires_at), Text(cert.revoked ? "true" : "false")});
      return 0;
    });
  }

  std::optional<AdminCertificate> FindAdminCertificate(const std::string& fingerprint) override {
    return Transact(Isolation::kReadCommitted, [&]() -> std::optional<AdminCertificate> {
      const Result r = db_.Exec(
          "SELECT id, fingerprint, role, name, created_at, expires_at, revoked FROM "
          "admin_certificates WHERE fingerprint = $1",
          {Text(fingerprint)});
      if (r.rows() == 0) return std::nullopt;
      return ReadAdminCertificate(r, 0);
    });
  }

  bool RevokeAdminCertificate(const std::string& id) override {
    return Transact(Isolation::kReadCommitted, [&] {
      return db_.Exec("UPDATE admin_certificates SET revoked = TRUE WHERE id = $1", {Text(id)})
                 .affected() > 0;
    });
  }

  std::vector<AdminCertificate> AdminCertificates() override {
    return Transact(Isolation::kReadCommitted, [&] {
      const Result r = db_.Exec(
          "SELECT id, fingerprint, role, name, created_at, expires_at, revoked FROM "
          "admin_certificates ORDER BY created_at, id",
          {});
      std::vector<AdminCertificate> out;
      for (int i = 0; i < r.rows(); ++i) out.push_back(ReadAdminCertificate(r, i));
      return out;
    });
  }

  std::optional<Terminal> FindTerminal(const std::string& id) override {
    return Read([&](pg::Connection& db) { return FindTerminalOn(db, id); });
  }

  bool RevokeTerminal(const std::string& id) override {
    return Transact(Isolation::kReadCommitted, [&] {
      return db_.Exec("UPDATE terminals SET revoked = TRUE WHERE id = $1", {Text(id)}).affected() >
             0;
    });
  }

  std::vector<FleetEntry> Fleet() override {
    return Transact(Isolation::kReadCommitted, [&] {
      const Result r = db_.Exec(
          "SELECT t.id, t.grp, t.machine_id, t.cert_fingerprint, t.key_fingerprint, t.hostname, "
          "t.serial, t.os, t.enrolled_at, t.last_seen, t.revoked, t.cloned, t.cloned_from, "
          "t.last_sequence, t.policy_version, COUNT(*) FILTER (WHERE c.result = 'pass'), "
          "COUNT(*) FILTER (WHERE c.result = 'fail'), COUNT(*) FILTER (WHERE c.result = 'error') "
          "FROM terminals t LEFT JOIN check_state c ON c.terminal_id = t.id GROUP BY t.id "
          "ORDER BY t.id");
      std::vector<FleetEntry> out;
      out.reserve(static_cast<std::size_t>(r.rows()));
      for (int i = 0; i < r.rows(); ++i) {
        FleetEntry e;
        e.terminal = ReadTerminal(r, i);
        e.pass = static_cast<int>(r.Int(i, 15));
        e.fail = static_cast<int>(r.Int(i, 16));
        e.error = static_cast<int>(r.Int(i, 17));
        out.push_back(std::move(e));
      }
      return out;
    });
  }

  // One statement, so one transaction without BEGIN and COMMIT: the terminal's row lock in
  // mamori_ingest_report orders reports of one terminal across collectors, as the single writer
  // did in SQLite; reports of different terminals proceed in parallel.
  std::uint64_t IngestReport(const std::string& terminal_id, const Report& report,
                             UnixTime now) override {
    return Transact(Isolation::kSingleStatement,
                    [&] { return IngestLocked(terminal_id, report, now).ack; });
  }

  // One transaction for the batch, its reports in terminal order so that two collectors
  // batching the same terminals take their row locks in one order.
  std::vector<IngestResult> IngestReports(const std::vector<IngestItem>& items,
                                          UnixTime now) override {
    std::vector<std::size_t> order(items.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      return items[a].terminal_id < items[b].terminal_id;
    });
    std::vector<IngestResult> results(items.size());
    if (++batches_ % kFoldEveryBatches == 0) FoldFleetCounts();
    try {
      Transact(Isolation::kReadCommitted, [&] {
        for (const std::size_t i : order) {
          results[i] = IngestLocked(items[i].terminal_id, items[i].report, now);
        }
        return 0;
      });
      return results;
    } catch (const std::exception&) {
      // Something in the batch failed and it all rolled back: each report again on its own, so
      // that only the failing one is refused.
    }
    for (std::size_t i = 0; i < items.size(); ++i) {
      try {
        results[i] = Transact(Isolation::kSingleStatement, [&] {
          return IngestLocked(items[i].terminal_id, items[i].report, now);
        });
      } catch (const std::exception& e) {
        results[i] = {false, false, 0, e.what()};
      }
    }
    return results;
  }

  FleetTotals FleetSummary(UnixTime stale_before) override {
    FoldFleetCounts();
    return Transact(Isolation::kReadCommitted, [&] {
      // fleet_counts plus the changes not folded in yet: one consistent snapshot.
      const Result r = db_.Exec(
          "SELECT revoked, compliance, NULLIF(policy_key, -1), 0, SUM(terminals) FROM "
          "(SELECT revoked, compliance, policy_key, terminals FROM fleet_counts UNION ALL "
          "SELECT revoked, compliance, policy_key, delta FROM fleet_count_deltas) c "
          "GROUP BY 1, 2, 3 HAVING SUM(terminals) > 0");
      FleetTotals totals;
      totals.stale = static_cast<std::uint64_t>(
          db_.Exec("SELECT COUNT(*) FROM terminals WHERE NOT revoked AND "
                   "COALESCE(last_seen, enrolled_at) < $1",
                   {Int(stale_before)})
              .Int(0, 0));
      std::map<std::optional<std::uint64_t>, std::uint64_t> versions;
      for (int i = 0; i < r.rows(); ++i) {
        const auto count = static_cast<std::uint64_t>(r.Int(i, 4));
        totals.terminals += count;
        if (r.Bool(i, 0)) {
          totals.revoked += count;
          continue;
        }
        const std::string compliance = r.Text(i, 1);
        if (compliance == "pass") totals.pass += count;
        if (compliance == "fail") totals.fail += count;
        if (compliance == "error") totals.error += count;
        if (compliance == "unknown") totals.unknown += count;
        std::optional<std::uint64_t> version;
        if (!r.IsNull(i, 2)) version = std::stoull(r.Text(i, 2));
        versions[version] += count;
      }
      totals.policy_versions.assign(versions.begin(), versions.end());
      return totals;
    });
  }

  bool HasReport(const std::string& terminal_id, std::uint64_t sequence) override {
    const std::int64_t seq = AsInt(sequence);
    return Transact(Isolation::kReadCommitted, [&] {
      return db_.Exec("SELECT 1 FROM reports WHERE terminal_id = $1 AND sequence = $2",
                      {Text(terminal_id), Int(seq)})
                 .rows() > 0;
    });
  }

  std::vector<CheckState> Checks(const std::string& terminal_id) override {
    return Transact(Isolation::kReadCommitted, [&] {
      const Result r = db_.Exec(
          "SELECT check_id, result, observed, changed_at, first_failed_at, updated_at FROM "
          "check_state WHERE terminal_id = $1 ORDER BY check_id",
          {Text(terminal_id)});
      std::vector<CheckState> out;
      for (int i = 0; i < r.rows(); ++i) {
        out.push_back(
            {r.Text(i, 0), r.Text(i, 1), r.Text(i, 2), r.Int(i, 3), r.OptInt(i, 4), r.Int(i, 5)});
      }
      return out;
    });
  }

  std::vector<CheckHistoryEntry> CheckHistory(const std::string& terminal_id,
                                              std::size_t limit) override {
    return Transact(Isolation::kReadCommitted, [&] {
      const Result r = db_.Exec(
          "SELECT check_id, result, observed, at, sequence FROM check_history WHERE "
          "terminal_id = $1 ORDER BY id DESC LIMIT $2",
          {Text(terminal_id), Int(static_cast<std::int64_t>(limit))});
      std::vector<CheckHistoryEntry> out;
      for (int i = r.rows() - 1; i >= 0; --i) {
        out.push_back({r.Text(i, 0), r.Text(i, 1), r.Text(i, 2), r.Int(i, 3),
                       static_cast<std::uint64_t>(r.Int(i, 4))});
      }
      return out;
    });
  }

  std::vector<Event> Events(UnixTime since, std::size_t limit) override {
    return Transact(Isolation::kReadCommitted, [&] {
      const Result r = db_.Exec(
          "SELECT id, terminal_id, sequence, time, type, data FROM events WHERE time >= $1 "
          "ORDER BY time, id LIMIT $2",
          {Int(since), Int(static_cast<std::int64_t>(limit))});
      std::vector<Event> out;
      for (int i = 0; i < r.rows(); ++i) {
        out.push_back({r.Int(i, 0), r.Text(i, 1), static_cast<std::uint64_t>(r.Int(i, 2)),
                       r.Int(i, 3), r.Text(i, 4), r.Text(i, 5)});
      }
      return out;
    });
  }

  // Serializable: of two pushes racing through different collectors, the lower version must not
  // land after the higher one. The notification goes out only if the transaction commits.
  PolicyStoreStatus StorePolicy(const PolicyRecord& record) override {
    return Transact(Isolation::kSerializable, [&] {
      if (db_.Exec("SELECT 1 FROM policies WHERE version >= $1 LIMIT 1", {Version(record.version)})
              .rows() > 0) {
        return PolicyStoreStatus::kNotNewer;
      }
      db_.Exec("INSERT INTO policies (version, hash, bundle, stored_at) VALUES ($1, $2, $3, $4)",
               {Version(record.version), Text(record.hash), Bytes(record.bundle),
                Int(record.stored_at)});
      db_.Exec("SELECT pg_notify($1, $2)", {Text(kPolicyChannel), Version(record.version)});
      return PolicyStoreStatus::kStored;
    });
  }

  std::optional<PolicyRecord> LatestPolicy() override {
    return Read([&](pg::Connection& db) -> std::optional<PolicyRecord> {
      const Result r = db.Exec(
          "SELECT version, hash, bundle, stored_at FROM policies ORDER BY version DESC LIMIT 1");
      if (r.rows() == 0) return std::nullopt;
      return PolicyRecord{std::stoull(r.Text(0, 0)), r.Text(0, 1), r.Bytes(0, 2), r.Int(0, 3)};
    });
  }

  std::string PutSettingIfAbsent(const std::string& name, const std::string& value) override {
    return Transact(Isolation::kReadCommitted, [&] {
      db_.Exec("INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT DO NOTHING",
               {Text(name), Bytes(value)});
      return SettingLocked(name).value_or(value);
    });
  }

  std::optional<std::string> Setting(const std::string& name) override {
    return Transact(Isolation::kReadCommitted, [&] { return SettingLocked(name); });
  }

  // Every MFA write takes the revision counter's row lock first and holds it to commit: writes
  // commit in revision order, so a terminal that saw revision R has seen every revision below it.
  MfaWrite EnrollMfa(const MfaCredential& c) override {
    return Transact(Isolation::kReadCommitted, [&]() -> MfaWrite {
      LockMfaRevision();
      if (MfaActiveLocked(c.user)) return {MfaWriteStatus::kAlreadyEnrolled, 0};
      const std::int64_t revision = NextMfaRevision();
      db_.Exec(
          "INSERT INTO mfa_credentials (username, algorithm, digits, period, sealed_secret, "
          "enrolled_at, active, revision, unlocked_at_revision) VALUES ($1, $2, $3, $4, $5, $6, "
          "TRUE, $7, 0) ON CONFLICT (username) DO UPDATE SET algorithm = excluded.algorithm, "
          "digits = excluded.digits, period = excluded.period, "
          "sealed_secret = excluded.sealed_secret, enrolled_at = excluded.enrolled_at, "
          "active = TRUE, revision = excluded.revision, unlocked_at_revision = 0",
          {Text(c.user), Text(c.algorithm), Int(c.digits), Int(c.period), Bytes(c.sealed_secret),
           Int(c.enrolled_at), Int(revision)});
      db_.Exec("UPDATE mfa_groups SET current = FALSE WHERE username = $1", {Text(c.user)});
      for (const std::string& group : c.groups) {
        db_.Exec(
            "INSERT INTO mfa_groups (username, grp, current) VALUES ($1, $2, TRUE) "
            "ON CONFLICT (username, grp) DO UPDATE SET current = TRUE",
            {Text(c.user), Text(group)});
      }
      return {MfaWriteStatus::kDone, static_cast<std::uint64_t>(revision)};
    });
  }

  MfaWrite ResetMfa(const std::string& user) override {
    // The secret goes with the reset: nothing needs it any more.
    return ChangeActiveMfa(user,
                           "UPDATE mfa_credentials SET active = FALSE, sealed_secret = '', "
                           "revision = $1 WHERE username = $2");
  }

  MfaWrite UnlockMfa(const std::string& user) override {
    return ChangeActiveMfa(user,
                           "UPDATE mfa_credentials SET revision = $1, unlocked_at_revision = $1 "
                           "WHERE username = $2");
  }

  std::vector<MfaChange> MfaChanges(const std::string& group, std::uint64_t after,
                                    std::size_t limit) override {
    const std::int64_t from = AsInt(after);
    return Transact(Isolation::kReadCommitted, [&] {
      const Result r = db_.Exec(
          "SELECT c.username, c.algorithm, c.digits, c.period, c.sealed_secret, c.enrolled_at, "
          "c.active AND g.current, c.revision, c.unlocked_at_revision FROM mfa_groups g "
          "JOIN mfa_credentials c ON c.username = g.username WHERE g.grp = $1 AND "
          "c.revision > $2 ORDER BY c.revision LIMIT $3",
          {Text(group), Int(from), Int(static_cast<std::int64_t>(limit))});
      std::vector<MfaChange> out;
      for (int i = 0; i < r.rows(); ++i) {
        MfaChange change;
        change.revision = static_cast<std::uint64_t>(r.Int(i, 7));
        change.remove = !r.Bool(i, 6);
        change.credential.user = r.Text(i, 0);
        if (!change.remove) {
          change.credential.algorithm = r.Text(i, 1);
          change.credential.digits = static_cast<int>(r.Int(i, 2));
          change.credential.period = static_cast<int>(r.Int(i, 3));
          change.credential.sealed_secret = r.Bytes(i, 4);
          change.credential.enrolled_at = r.Int(i, 5);
          change.unlocked_at_revision = static_cast<std::uint64_t>(r.Int(i, 8));
        }
        out.push_back(std::move(change));
      }
      return out;
    });
  }

 private:
  // Taken before the user's row is read, so two writes for one user see each other's outcome.
  void LockMfaRevision() { db_.Exec("SELECT value FROM mfa_revision WHERE id = 1 FOR UPDATE"); }

  std::int64_t NextMfaRevision() {
    return db_.Exec("UPDATE mfa_revision SET value = value + 1 WHERE id = 1 RETURNING value")
        .Int(0, 0);
  }

  bool MfaActiveLocked(const std::string& user) {
    const Result r =
        db_.Exec("SELECT active FROM mfa_credentials WHERE username = $1", {Text(user)});
    return r.rows() > 0 && r.Bool(0, 0);
  }

  MfaWrite ChangeActiveMfa(const std::string& user, const char* update) {
    return Transact(Isolation::kReadCommitted, [&]() -> MfaWrite {
      LockMfaRevision();
      if (!MfaActiveLocked(user)) return {MfaWriteStatus::kNotEnrolled, 0};
      const std::int64_t revision = NextMfaRevision();
      db_.Exec(update, {Int(revision), Text(user)});
      return {MfaWriteStatus::kDone, static_cast<std::uint64_t>(revision)};
    });
  }

 private:
  // Runs `body` in one transaction on the store's connection, again from the start when
  // PostgreSQL reports a serialization failure or deadlock, or when the connection turns out to
  // be broken before anything was sent but BEGIN (a server restart, an idle connection dropped).
  // Any other error rolls back and propagates; an early return commits what `body` did (reads
  // only, in every such path).
  template <class Body>
  auto Transact(Isolation isolation, Body&& body) -> decltype(body()) {
    std::lock_guard lock(mutex_);
    for (int attempt = 1;; ++attempt) {
      db_.EnsureOpen();
      const bool block = isolation != Isolation::kSingleStatement;
      try {
        if (block) {
          db_.Exec(isolation == Isolation::kSerializable ? "BEGIN ISOLATION LEVEL SERIALIZABLE"
                                                         : "BEGIN");
        }
      } catch (const pg::Error&) {
        if (PQstatus(db_.handle()) != CONNECTION_BAD || attempt == kMaxAttempts) throw;
        continue;
      }
      try {
        auto result = body();
        if (block) db_.Exec("COMMIT");
        return result;
      } catch (const pg::Error& e) {
        if (block) Rollback();
        // A single statement that met a broken connection is sent again: the statements run
        // this way (a report) change nothing the second time.
        const bool lost = !block && PQstatus(db_.handle()) == CONNECTION_BAD;
        if (!(e.retryable() || lost) || attempt == kMaxAttempts) throw;
      } catch (...) {
        if (block) Rollback();
        throw;
      }
      std::uniform_int_distribution<int> jitter(1, 2 * attempt);
      std::this_thread::sleep_for(std::chrono::milliseconds(jitter(random_)));
    }
  }

  // One report in one statement; `duplicate` comes from the statement's snapshot, taken before
  // the function inserts.
  IngestResult IngestLocked(const std::string& terminal_id, const Report& report, UnixTime now) {
    const std::int64_t sequence = AsInt(report.sequence);
    std::vector<std::string> check_ids, results, observed, event_types, event_data;
    std::vector<std::int64_t> event_times;
    for (const CheckResult& c : report.checks) {
      check_ids.push_back(c.check_id);
      results.push_back(c.result);
      observed.push_back(c.observed);
    }
    std::vector<std::string> step_users;
    std::vector<std::int64_t> steps, step_times;
    for (const Event& e : report.events) {
      event_times.push_back(e.time);
      event_types.push_back(e.type);
      event_data.push_back(e.data);
      if (auto accepted = AcceptedStepOf(e)) {
        step_users.push_back(accepted->user);
        steps.push_back(AsInt(accepted->step));
        step_times.push_back(e.time);
      }
    }
    const Result r = db_.Exec(
        "SELECT EXISTS (SELECT 1 FROM reports WHERE terminal_id = $1 AND sequence = $2), "
        "mamori_ingest_report($1, $2, $3, $4::numeric, $5::text[], $6::text[], $7::text[], "
        "$8::bigint[], $9::text[], $10::text[], $11::text[], $12::bigint[], $13::bigint[])",
        {Text(terminal_id), Int(sequence), Int(now), Version(report.policy_version),
         pg::TextArray(check_ids), pg::TextArray(results), pg::TextArray(observed),
         pg::IntArray(event_times), pg::TextArray(event_types), pg::TextArray(event_data),
         pg::TextArray(step_users), pg::IntArray(steps), pg::IntArray(step_times)});
    IngestResult result{true, r.Bool(0, 0), static_cast<std::uint64_t>(r.Int(0, 1)), ""};
    // The function raised its alerts as events of this (terminal, sequence), which is stored
    // once; the report's own events of that type are not alerts of the collector.
    if (!result.duplicate && !steps.empty()) {
      const Result alerts = db_.Exec(
          "SELECT COUNT(*) FROM events WHERE terminal_id = $1 AND sequence = $2 AND type = $3",
          {Text(terminal_id), Int(sequence), Text(std::string(kCodeReusedEvent))});
      const auto sent = std::count(event_types.begin(), event_types.end(), kCodeReusedEvent);
      result.code_reused_alerts = static_cast<std::uint64_t>(alerts.Int(0, 0) - sent);
    }
    return result;
  }

  // Moves the logged count changes into fleet_counts in one statement: the totals read the same
  // before and after, and two collectors folding at once move each change once.
  void FoldFleetCounts() {
    Transact(Isolation::kSingleStatement, [&] {
      db_.Exec(
          "WITH moved AS (DELETE FROM fleet_count_deltas RETURNING *) INSERT INTO fleet_counts "
          "SELECT revoked, compliance, policy_key, SUM(delta) FROM moved GROUP BY 1, 2, 3 "
          "ON CONFLICT (revoked, compliance, policy_key) DO UPDATE SET terminals = "
          "fleet_counts.terminals + excluded.terminals");
      return 0;
    });
  }

  // A read of one statement on a connection of its own, so that authenticating a terminal or
  // answering a long-poll never waits behind a batch of reports. Sent again once when the
  // connection turns out to be broken.
  template <class Body>
  auto Read(Body&& body) -> decltype(body(std::declval<pg::Connection&>())) {
    std::lock_guard lock(reader_mutex_);
    for (int attempt = 1;; ++attempt) {
      reader_.EnsureOpen();
      try {
        return body(reader_);
      } catch (const pg::Error&) {
        if (PQstatus(reader_.handle()) != CONNECTION_BAD || attempt == 2) throw;
      }
    }
  }

  void Rollback() {
    // A broken connection has no transaction left to roll back; EnsureOpen reconnects next time.
    if (PQstatus(db_.handle()) == CONNECTION_OK) PQclear(PQexec(db_.handle(), "ROLLBACK"));
  }

  void Migrate() {
    std::lock_guard lock(mutex_);
    db_.Exec("BEGIN");
    try {
      db_.Exec("SELECT pg_advisory_xact_lock($1)", {Int(kMigrationLock)});
      db_.ExecScript(
          "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
          "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())");
      const std::int64_t current =
          db_.Exec("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Int(0, 0);
      if (current > kSchemaVersion) {
        throw StoreError(db_.description() + ": database schema version " +
                         std::to_string(current) + " is newer than this collector's " +
                         std::to_string(kSchemaVersion));
      }
      for (int v = static_cast<int>(current) + 1; v <= kSchemaVersion; ++v) {
        db_.ExecScript(kMigrations[v - 1]);
        db_.Exec("INSERT INTO schema_migrations (version) VALUES ($1)", {Int(v)});
      }
      db_.Exec("COMMIT");
    } catch (...) {
      Rollback();
      throw;
    }
  }

  std::optional<std::pair<EnrollmentToken, TokenSecret>> FindEnrollmentTokenLocked(
      const std::string& id) {
    const Result r = db_.Exec(
        "SELECT id, secret_hash, grp, uses_left, expires_at, created_at FROM enrollment_tokens "
        "WHERE id = $1",
        {Text(id)});
    if (r.rows() == 0) return std::nullopt;
    EnrollmentToken token{r.Text(0, 0), r.Text(0, 2), static_cast<int>(r.Int(0, 3)), r.Int(0, 4),
                          r.Int(0, 5)};
    return std::pair{token, TokenSecret{r.Bytes(0, 1)}};
  }

  std::optional<Terminal> FindTerminalLocked(const std::string& id) {
    return FindTerminalOn(db_, id);
  }

  static std::optional<Terminal> FindTerminalOn(pg::Connection& db, const std::string& id) {
    const std::string sql =
        std::string("SELECT ") + kTerminalColumns + " FROM terminals WHERE id = $1";
    const Result r = db.Exec(sql.c_str(), {Text(id)});
    if (r.rows() == 0) return std::nullopt;
    return ReadTerminal(r, 0);
  }

  std::optional<std::string> SettingLocked(const std::string& name) {
    const Result r = db_.Exec("SELECT value FROM settings WHERE name = $1", {Text(name)});
    if (r.rows() == 0) return std::nullopt;
    return r.Bytes(0, 0);
  }

  std::mutex mutex_;
  pg::Connection db_;
  std::mutex reader_mutex_;
  pg::Connection reader_;
  std::minstd_rand random_{std::random_device{}()};
  std::atomic<std::uint64_t> batches_{
      0};  // of IngestReports, to fold the fleet counts now and then
};

}  // namespace

bool IsPostgresUri(const std::string& database) {
  return database.starts_with("postgresql://") || database.starts_with("postgres://");
}

std::unique_ptr<Store> OpenPostgresStore(const std::string& conninfo) {
  return std::make_unique<PostgresStore>(conninfo);
}

int PostgresSchemaVersion() { return kSchemaVersion; }

}  // namespace mamori::collector
