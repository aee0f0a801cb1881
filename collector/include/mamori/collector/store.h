// Everything the collector remembers, behind one interface so that another database can replace
// the embedded SQLite one. Every method is one transaction: it happens entirely or not at all.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace mamori::collector {

// Seconds since the Unix epoch, UTC.
using UnixTime = std::int64_t;

// A failure of the storage itself (I/O, corruption, lock timeout): the request cannot be served.
class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class Role { kItRead, kAdmin };

struct EnrollmentToken {
  std::string id;  // public part of the token, used to find the row
  std::string group;
  int uses_left = 0;
  UnixTime expires_at = 0;
  UnixTime created_at = 0;
};

struct ApiToken {
  std::string id;
  Role role = Role::kItRead;
  std::string label;
  UnixTime created_at = 0;
};

// A client certificate of the admin/IT API, signed by the collector's admin CA. The role is bound
// twice: in the certificate's subject (AdminCertOu) and here, and this row is what authenticates:
// a certificate whose fingerprint has no row, or a revoked row, is refused.
struct AdminCertificate {
  std::string id;           // "c-" and random hex; what `mamorictl admin cert revoke` names
  std::string fingerprint;  // SHA-256 of the certificate DER, lowercase hex
  Role role = Role::kItRead;
  std::string name;  // who holds it: the certificate's common name
  UnixTime created_at = 0;
  UnixTime expires_at = 0;
  bool revoked = false;
};

// A stored secret: the token's row plus the SHA-256 of its secret part.
struct TokenSecret {
  std::string secret_hash;  // 32 raw bytes
};

struct Terminal {
  std::string id;
  std::string group;
  std::string machine_id;
  std::string cert_fingerprint;  // SHA-256 of the client certificate (DER), lowercase hex
  std::string key_fingerprint;   // SHA-256 of the public key (SubjectPublicKeyInfo DER), hex
  std::string hostname;
  std::string serial;
  std::string os;
  UnixTime enrolled_at = 0;
  std::optional<UnixTime> last_seen;  // time of the last stored report
  bool revoked = false;
  bool cloned = false;      // its machine-id was already enrolled under another key
  std::string cloned_from;  // the terminal whose machine-id it repeats
  std::uint64_t last_sequence = 0;
  std::optional<std::uint64_t> policy_version;  // the version the terminal last said it applied
};

// One compliance check result as the terminal reported it.
struct CheckResult {
  std::string check_id;
  std::string result;  // pass | fail | error | not-applicable
  std::string observed;
};

struct CheckState {
  std::string check_id;
  std::string result;
  std::string observed;
  UnixTime changed_at = 0;                  // when result or observed last changed
  std::optional<UnixTime> first_failed_at;  // start of the current run of failures
  UnixTime updated_at = 0;
};

struct CheckHistoryEntry {
  std::string check_id;
  std::string result;
  std::string observed;
  UnixTime at = 0;
  std::uint64_t sequence = 0;
};

struct Event {
  std::int64_t id = 0;  // assigned by the store, increasing
  std::string terminal_id;
  std::uint64_t sequence = 0;  // the report that carried it
  UnixTime time = 0;           // when it happened on the terminal
  std::string type;
  std::string data;  // JSON object text
};

struct Report {
  std::uint64_t sequence = 0;
  std::optional<std::uint64_t> policy_version;
  std::vector<CheckResult> checks;
  std::vector<Event> events;  // id and terminal_id are ignored on input
};

struct PolicyRecord {
  std::uint64_t version = 0;
  std::string hash;
  std::string bundle;  // the signed bundle exactly as pushed
  UnixTime stored_at = 0;
};

struct FleetEntry {
  Terminal terminal;
  int pass = 0;
  int fail = 0;
  int error = 0;
};

// What Enroll needs besides the token.
struct NewTerminal {
  std::string id;
  std::string machine_id;
  std::string cert_fingerprint;
  std::string key_fingerprint;
  std::string hostname;
  std::string serial;
  std::string os;
};

enum class EnrollStatus { kOk, kUnknownToken, kTokenExhausted, kTokenExpired };

struct EnrollOutcome {
  EnrollStatus status = EnrollStatus::kUnknownToken;
  std::optional<Terminal> terminal;  // set when kOk
};

// One enrollment of a group commit.
struct EnrollItem {
  std::string token_id;
  NewTerminal terminal;
};

struct EnrollResult {
  EnrollOutcome outcome;
  std::string error;  // set when storing failed: nothing of this enrollment was written
};

enum class PolicyStoreStatus { kStored, kNotNewer };

// A user's centrally enrolled TOTP credential. The secret is sealed with the collector's MFA key
// (MfaKey) under the user name; the store never sees it in the clear.
struct MfaCredential {
  std::string user;
  std::vector<std::string> groups;  // the terminal groups it is delivered to
  std::string algorithm = "SHA1";
  int digits = 6;
  int period = 30;
  std::string sealed_secret;
  UnixTime enrolled_at = 0;
};

// What a terminal of one group must do for one user, as of `revision`. Revisions come from one
// counter of the store, so "every change after R" is a complete answer for a terminal at R.
struct MfaChange {
  std::uint64_t revision = 0;
  bool remove = false;                     // reset, or the group was taken from the credential
  MfaCredential credential;                // when !remove (groups not filled in)
  std::uint64_t unlocked_at_revision = 0;  // the last unlock request; 0 if none
};

enum class MfaWriteStatus { kDone, kAlreadyEnrolled, kNotEnrolled };

struct MfaWrite {
  MfaWriteStatus status = MfaWriteStatus::kDone;
  std::uint64_t revision = 0;  // when kDone
};

// A code-reuse alert raised while a report was stored: `user` logged in with the code of time
// step `step` on `first_terminal` and then on the reporting terminal.
inline constexpr std::string_view kCodeReusedEvent = "mfa.code_reused";

// One report of a group commit.
struct IngestItem {
  std::string terminal_id;
  Report report;
};

struct IngestResult {
  bool stored = false;     // false: `error` says why; nothing of this report was written
  bool duplicate = false;  // the sequence was already stored; nothing changed
  std::uint64_t ack = 0;   // the highest sequence committed for the terminal
  std::string error;
  std::uint64_t code_reused_alerts = 0;  // kCodeReusedEvent alerts the report raised
};

// Counts over every terminal, read from columns the ingest transaction keeps current.
// Compliance of a terminal: fail if any check fails, else error if any errs, else pass; unknown
// before its first report. Revoked terminals are counted only in `revoked`.
struct FleetTotals {
  std::uint64_t terminals = 0;  // enrolled, revoked included
  std::uint64_t revoked = 0;
  std::uint64_t stale = 0;
  std::uint64_t pass = 0;
  std::uint64_t fail = 0;
  std::uint64_t error = 0;
  std::uint64_t unknown = 0;
  // Terminals per policy version they last applied; nullopt: none reported yet. Ascending.
  std::vector<std::pair<std::optional<std::uint64_t>, std::uint64_t>> policy_versions;
};

class Store {
 public:
  virtual ~Store() = default;

  virtual void CreateEnrollmentToken(const EnrollmentToken& token,
                                     const std::string& secret_hash) = 0;
  // Looks up the token by id; returns it with its stored hash so the caller compares the secret
  // in constant time.
  virtual std::optional<std::pair<EnrollmentToken, TokenSecret>> FindEnrollmentToken(
      const std::string& id) = 0;
  // Consumes one use of token `token_id` and adds the terminal, in one transaction. A machine-id
  // already enrolled (not revoked) under another key, and never under this one, makes the new
  // terminal a flagged clone.
  virtual EnrollOutcome Enroll(const std::string& token_id, const NewTerminal& terminal,
                               UnixTime now) = 0;
  // Group commit: each of `items` as Enroll would, in order (a token's uses count down through
  // the batch), with one result per item, returned only after the commit. One that fails leaves
  // the others stored. This default commits each on its own.
  virtual std::vector<EnrollResult> EnrollBatch(const std::vector<EnrollItem>& items,
                                                UnixTime now) {
    std::vector<EnrollResult> results;
    results.reserve(items.size());
    for (const EnrollItem& item : items) {
      try {
        results.push_back({Enroll(item.token_id, item.terminal, now), ""});
      } catch (const std::exception& e) {
        results.push_back({{}, e.what()});
      }
    }
    return results;
  }

  virtual void CreateApiToken(const ApiToken& token, const std::string& secret_hash) = 0;
  virtual std::optional<std::pair<ApiToken, TokenSecret>> FindApiToken(const std::string& id) = 0;

  virtual void CreateAdminCertificate(const AdminCertificate& cert) = 0;
  virtual std::optional<AdminCertificate> FindAdminCertificate(const std::string& fingerprint) = 0;
  // Returns false when there is no such certificate.
  virtual bool RevokeAdminCertificate(const std::string& id) = 0;
  // Every admin certificate, revoked ones included, oldest first.
  virtual std::vector<AdminCertificate> AdminCertificates() = 0;

  virtual std::optional<Terminal> FindTerminal(const std::string& id) = 0;
  // Returns false when there is no such terminal.
  virtual bool RevokeTerminal(const std::string& id) = 0;
  virtual std::vector<FleetEntry> Fleet() = 0;
  // Terminals not revoked whose last report (or enrollment) is older than `stale_before` count
  // as stale.
  virtual FleetTotals FleetSummary(UnixTime stale_before) = 0;

  // Stores a report once: a sequence already stored for this terminal changes nothing. Returns the
  // highest sequence committed for the terminal.
  virtual std::uint64_t IngestReport(const std::string& terminal_id, const Report& report,
                                     UnixTime now) = 0;
  // Group commit: stores every report of `items` in one transaction and returns one result per
  // item, in order. A report that fails leaves the others stored (they are retried one
  // transaction each). Results are returned only after the commit.
  virtual std::vector<IngestResult> IngestReports(const std::vector<IngestItem>& items,
                                                  UnixTime now) = 0;
  virtual bool HasReport(const std::string& terminal_id, std::uint64_t sequence) = 0;
  virtual std::vector<CheckState> Checks(const std::string& terminal_id) = 0;
  virtual std::vector<CheckHistoryEntry> CheckHistory(const std::string& terminal_id,
                                                      std::size_t limit) = 0;
  // Events that happened at or after `since`, oldest first.
  virtual std::vector<Event> Events(UnixTime since, std::size_t limit) = 0;

  // Stores a bundle only if its version is above every stored one.
  virtual PolicyStoreStatus StorePolicy(const PolicyRecord& record) = 0;
  virtual std::optional<PolicyRecord> LatestPolicy() = 0;

  // Small named values the collector keeps with its data (its CA key and certificate).
  // Returns the stored value: `value` if there was none, otherwise the existing one.
  virtual std::string PutSettingIfAbsent(const std::string& name, const std::string& value) = 0;
  virtual std::optional<std::string> Setting(const std::string& name) = 0;

  // Stores a new credential with a new revision. kAlreadyEnrolled when the user has an active one
  // (reset first). Groups the user had before and lost are delivered as removals.
  virtual MfaWrite EnrollMfa(const MfaCredential& credential) = 0;
  // Marks the active credential removed on every terminal. kNotEnrolled when there is none.
  virtual MfaWrite ResetMfa(const std::string& user) = 0;
  // Asks the terminals to clear the user's lockout. kNotEnrolled when there is no active one.
  virtual MfaWrite UnlockMfa(const std::string& user) = 0;
  // What terminals of `group` must apply after `after`: oldest revision first, at most `limit`.
  virtual std::vector<MfaChange> MfaChanges(const std::string& group, std::uint64_t after,
                                            std::size_t limit) = 0;
};

// The user and TOTP time step of an event that accepted a TOTP code ("mfa.success" whose data
// carries "user" and "step"), which the report ingest checks for reuse across terminals.
struct AcceptedStep {
  std::string user;
  std::uint64_t step = 0;
};
std::optional<AcceptedStep> AcceptedStepOf(const Event& event);
// The data of a kCodeReusedEvent: {"user", "step" (decimal text, as in the agent's event),
// "first_terminal", "terminal"}.
std::string CodeReusedData(const AcceptedStep& accepted, const std::string& first_terminal,
                           const std::string& terminal);

std::string_view ToString(Role role);
std::optional<Role> ParseRole(std::string_view text);

}  // namespace mamori::collector
