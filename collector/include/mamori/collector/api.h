// The collector's two JSON APIs, independent of the transport: the HTTPS server turns each request
// into an HttpRequest (with the verified client certificate, if any) and sends back the response.
//
// Agent API (client certificates): POST /v1/enroll, POST /v1/reports, GET /v1/policy,
// GET /v1/mfa/credentials.
// Admin/IT API (bearer tokens, or client certificates of the admin CA, with role it-read or
// admin): POST /v1/admin/tokens, POST /v1/admin/policy, POST /v1/admin/terminals/{id}/revoke,
// GET|POST /v1/admin/certs, POST /v1/admin/certs/{id}/revoke,
// POST /v1/admin/mfa/users/{user}/enroll|reset|unlock, GET /v1/fleet, GET /v1/fleet/summary,
// GET /v1/terminals/{id}, GET /v1/events, GET /metrics.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "mamori/collector/ca.h"
#include "mamori/collector/metrics.h"
#include "mamori/collector/store.h"

namespace mamori::collector {

// The client certificate the TLS layer verified against the collector's CA.
struct PeerCertificate {
  std::string common_name;
  std::string organizational_unit;
  std::string fingerprint;  // SHA-256 of the DER, lowercase hex
};

struct HttpRequest {
  std::string method;
  std::string target;  // path and query
  std::string authorization;
  std::string body;
  std::optional<PeerCertificate> peer;
};

struct HttpResponse {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  int retry_after_seconds = 0;  // sent as Retry-After when above 0
};

// A JSON error body: {"error": message}.
HttpResponse ErrorResponse(int status, std::string_view message);

struct ApiOptions {
  int certificate_days = 365;
  int long_poll_max_seconds = 60;
  // Used for staleness while no policy is stored; otherwise the policy's report interval.
  int default_report_interval_seconds = 300;
  // The collector's MFA key (MfaKey), created on the first central enrollment. Empty: MFA
  // administration and delivery answer 503.
  std::string mfa_key_file;
  std::string mfa_issuer = "Mamori";
};

// The answer to a long-poll: a response now, or nothing yet and how long the caller may wait.
struct PolicyPoll {
  std::optional<HttpResponse> response;
  std::chrono::seconds wait{0};
};

// An enrollment whose token is checked and certificate signed, waiting to be stored.
struct PreparedEnrollment {
  EnrollItem item;
  std::string certificate_pem;
};

class Api {
 public:
  using Clock = std::function<UnixTime()>;

  Api(Store& store, const CertificateAuthority& ca, Metrics& metrics, ApiOptions options,
      Clock clock);

  // Enables admin client certificates, issued by `admin_ca` (which must outlive the Api). Without
  // it certificate issuance answers 503 and a request with a client certificate is refused. Call
  // before serving.
  void UseAdminCa(const CertificateAuthority& admin_ca) { admin_ca_ = &admin_ca; }

  // Thread-safe, as is every method but OnPolicyStored and UseAdminCa.
  HttpResponse HandleAgent(const HttpRequest& request);
  HttpResponse HandleAdmin(const HttpRequest& request);

  // A report in steps, for group commit: PrepareReport parses and authenticates it (a response
  // when it is refused), CommitReports stores a batch of them in one transaction and answers each.
  static bool IsReport(const HttpRequest& request);
  std::variant<HttpResponse, IngestItem> PrepareReport(const HttpRequest& request);
  std::vector<HttpResponse> CommitReports(const std::vector<IngestItem>& items);

  // An enrollment in steps, for group commit: PrepareEnrollment checks the token and signs the
  // certificate (a response when it is refused), CommitEnrollments stores a batch of them in one
  // transaction and answers each.
  static bool IsEnrollment(const HttpRequest& request);
  std::variant<HttpResponse, PreparedEnrollment> PrepareEnrollment(const HttpRequest& request);
  std::vector<HttpResponse> CommitEnrollments(const std::vector<PreparedEnrollment>& items);

  static bool IsPolicyPoll(const HttpRequest& request);
  // Called again after each wake-up until it answers or the wait is over.
  PolicyPoll PollPolicy(const HttpRequest& request);

  // Called after a new policy is stored, so long-polls can be woken.
  void OnPolicyStored(std::function<void()> callback) { on_policy_stored_ = std::move(callback); }

 private:
  // Authenticates a terminal from its certificate alone; on failure `error` is the response.
  std::optional<Terminal> AuthenticateTerminal(const HttpRequest& request, HttpResponse& error);
  // The caller of an admin request: its client certificate when it sent one, else its bearer
  // token. A certificate caller is returned as an ApiToken with the certificate's id and role.
  std::optional<ApiToken> AuthenticateCaller(const HttpRequest& request, HttpResponse& error);
  std::optional<ApiToken> AuthenticateToken(const HttpRequest& request, HttpResponse& error);
  std::optional<ApiToken> AuthenticateCertificate(const PeerCertificate& peer, HttpResponse& error);

  // Throws BadRequest on malformed input.
  std::variant<HttpResponse, PreparedEnrollment> PrepareEnrollmentOrThrow(
      const HttpRequest& request);
  HttpResponse EnrollmentResponse(const PreparedEnrollment& prepared, const EnrollOutcome& outcome);
  HttpResponse MfaChanges(const Terminal& terminal, const HttpRequest& request);

  HttpResponse CreateToken(const ApiToken& caller, const HttpRequest& request);
  HttpResponse PushPolicy(const ApiToken& caller, const HttpRequest& request);
  HttpResponse RevokeTerminal(const ApiToken& caller, const std::string& id);
  HttpResponse IssueAdminCertificate(const ApiToken& caller, const HttpRequest& request);
  HttpResponse RevokeAdminCertificate(const ApiToken& caller, const std::string& id);
  HttpResponse ListAdminCertificates();
  HttpResponse MfaAdmin(const ApiToken& caller, const std::string& user, std::string_view action,
                        const HttpRequest& request);
  HttpResponse EnrollMfa(const ApiToken& caller, const std::string& user,
                         const HttpRequest& request);
  HttpResponse Fleet();
  HttpResponse FleetSummary();
  HttpResponse ShowTerminal(const std::string& id);
  HttpResponse ListEvents(const std::string& query);
  int ReportIntervalSeconds();

  Store& store_;
  const CertificateAuthority& ca_;
  const CertificateAuthority* admin_ca_ = nullptr;
  Metrics& metrics_;
  ApiOptions options_;
  Clock clock_;
  std::function<void()> on_policy_stored_;
};

}  // namespace mamori::collector
