#include "mamori/collector/api.h"

#include <algorithm>
#include <boost/url/encoding_opts.hpp>
#include <boost/url/pct_string_view.hpp>
#include <charconv>

#include "collector/api_common.h"
#include "collector/json_fields.h"
#include "collector/log.h"
#include "mamori/collector/bundle_check.h"
#include "mamori/collector/tokens.h"
#include "mamori/policy/text.h"

namespace mamori::collector {
namespace {

constexpr std::size_t kMaxChecks = 1000;
constexpr std::size_t kMaxEvents = 10000;
constexpr std::size_t kMaxNameBytes = 256;
constexpr std::size_t kMaxObservedBytes = 4096;
constexpr std::uint64_t kMaxSequence = static_cast<std::uint64_t>(INT64_MAX);

Report ParseReport(std::string_view body) {
  const boost::json::object root = ParseObject(body);
  const Fields fields(root, "", {"sequence", "policy_version", "checks", "events"});
  Report report;
  report.sequence = fields.Uint("sequence", 1, kMaxSequence);
  report.policy_version = fields.OptUint("policy_version", 1, UINT64_MAX);
  if (const auto* checks = fields.OptArray("checks", kMaxChecks)) {
    for (std::size_t i = 0; i < checks->size(); ++i) {
      const std::string path = "/checks/" + std::to_string(i);
      if (!(*checks)[i].is_object()) throw BadRequest(path + ": expected an object");
      const Fields c((*checks)[i].get_object(), path, {"id", "result", "observed"});
      CheckResult check{c.Str("id", kMaxNameBytes), c.Str("result", 32),
                        c.OptStr("observed", kMaxObservedBytes).value_or("")};
      static constexpr std::string_view kResults[] = {"pass", "fail", "error", "not-applicable"};
      if (std::find(std::begin(kResults), std::end(kResults), check.result) == std::end(kResults)) {
        throw BadRequest(path + "/result: expected pass, fail, error or not-applicable");
      }
      report.checks.push_back(std::move(check));
    }
  }
  if (const auto* events = fields.OptArray("events", kMaxEvents)) {
    for (std::size_t i = 0; i < events->size(); ++i) {
      const std::string path = "/events/" + std::to_string(i);
      if (!(*events)[i].is_object()) throw BadRequest(path + ": expected an object");
      const Fields e((*events)[i].get_object(), path, {"time", "type", "data"});
      const auto time = policy::ParseTimestamp(e.Str("time", 32));
      if (!time) throw BadRequest(path + "/time: expected RFC 3339 UTC, e.g. 2026-11-23T09:00:00Z");
      Event event;
      event.time = time->time_since_epoch().count();
      event.type = e.Str("type", kMaxNameBytes);
      const auto* data = e.OptObject("data");
      event.data = data ? boost::json::serialize(*data) : "{}";
      report.events.push_back(std::move(event));
    }
  }
  return report;
}

}  // namespace

std::string PercentDecode(std::string_view text) {
  const auto pct = boost::urls::make_pct_string_view(text);
  if (!pct) throw BadRequest("query: invalid percent-encoding");
  boost::urls::encoding_opts opts;
  opts.space_as_plus = true;
  return pct->decode(opts);
}

HttpResponse ErrorResponse(int status, std::string_view message) {
  boost::json::object body;
  body["error"] = message;
  return JsonResponse(status, body);
}

HttpResponse JsonResponse(int status, const boost::json::value& body) {
  return HttpResponse{status, boost::json::serialize(body) + "\n", "application/json"};
}

std::string FormatTime(UnixTime t) {
  return policy::FormatTimestamp(policy::Timestamp(std::chrono::seconds(t)));
}

Target ParseTarget(std::string_view target) {
  Target out;
  const std::size_t q = target.find('?');
  out.path = std::string(target.substr(0, q));
  if (q == std::string_view::npos) return out;
  std::string_view query = target.substr(q + 1);
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const std::size_t eq = pair.find('=');
    out.query[PercentDecode(pair.substr(0, eq))] =
        eq == std::string_view::npos ? std::string() : PercentDecode(pair.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return out;
}

std::uint64_t QueryUint(const Target& target, const std::string& key, std::uint64_t fallback,
                        std::uint64_t max) {
  const auto it = target.query.find(key);
  if (it == target.query.end()) return fallback;
  std::uint64_t value = 0;
  const auto& text = it->second;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty() || value > max) {
    throw BadRequest("query parameter " + key + ": expected an integer from 0 to " +
                     std::to_string(max));
  }
  return value;
}

boost::json::object TerminalJson(const Terminal& t) {
  boost::json::object o;
  o["id"] = t.id;
  o["group"] = t.group;
  o["hostname"] = t.hostname;
  o["machine_id"] = t.machine_id;
  o["serial"] = t.serial;
  o["os"] = t.os;
  o["enrolled_at"] = FormatTime(t.enrolled_at);
  o["last_seen"] = t.last_seen ? boost::json::value(FormatTime(*t.last_seen)) : nullptr;
  o["last_sequence"] = t.last_sequence;
  o["policy_version"] = t.policy_version ? boost::json::value(*t.policy_version) : nullptr;
  o["revoked"] = t.revoked;
  o["cloned"] = t.cloned;
  o["cloned_from"] = t.cloned_from;
  o["cert_fingerprint"] = t.cert_fingerprint;
  return o;
}

Api::Api(Store& store, const CertificateAuthority& ca, Metrics& metrics, ApiOptions options,
         Clock clock)
    : store_(store), ca_(ca), metrics_(metrics), options_(options), clock_(std::move(clock)) {}

std::optional<Terminal> Api::AuthenticateTerminal(const HttpRequest& request, HttpResponse& error) {
  if (!request.peer) {
    error = ErrorResponse(401, "a terminal client certificate is required");
    return std::nullopt;
  }
  if (request.peer->organizational_unit != kTerminalCertOu) {
    error = ErrorResponse(403, "not a terminal certificate");
    return std::nullopt;
  }
  auto terminal = store_.FindTerminal(request.peer->common_name);
  if (!terminal || terminal->cert_fingerprint != request.peer->fingerprint) {
    error = ErrorResponse(403, "unknown terminal certificate");
    return std::nullopt;
  }
  if (terminal->revoked) {
    error = ErrorResponse(403, "terminal " + terminal->id + " is revoked");
    return std::nullopt;
  }
  return terminal;
}

HttpResponse Api::HandleAgent(const HttpRequest& request) {
  try {
    const Target target = ParseTarget(request.target);
    if (target.path == "/v1/enroll") {
      if (request.method != "POST") return ErrorResponse(405, "use POST");
      auto prepared = PrepareEnrollment(request);
      if (auto* refused = std::get_if<HttpResponse>(&prepared)) return std::move(*refused);
      return CommitEnrollments({std::get<PreparedEnrollment>(std::move(prepared))}).front();
    }
    if (target.path == "/v1/reports") {
      if (request.method != "POST") return ErrorResponse(405, "use POST");
      auto prepared = PrepareReport(request);
      if (auto* refused = std::get_if<HttpResponse>(&prepared)) return std::move(*refused);
      return CommitReports({std::get<IngestItem>(std::move(prepared))}).front();
    }
    if (target.path == "/v1/mfa/credentials") {
      if (request.method != "GET") return ErrorResponse(405, "use GET");
      HttpResponse error;
      auto terminal = AuthenticateTerminal(request, error);
      if (!terminal) return error;
      return MfaChanges(*terminal, request);
    }
    if (target.path == "/v1/policy") {
      if (request.method != "GET") return ErrorResponse(405, "use GET");
      PolicyPoll poll = PollPolicy(request);
      return poll.response ? *poll.response : HttpResponse{204, "", "application/json"};
    }
    return ErrorResponse(404, "no such endpoint: " + target.path);
  } catch (const BadRequest& e) {
    return ErrorResponse(400, e.what());
  }
}

bool Api::IsPolicyPoll(const HttpRequest& request) {
  return request.method == "GET" && ParseTarget(request.target).path == "/v1/policy";
}

PolicyPoll Api::PollPolicy(const HttpRequest& request) {
  try {
    HttpResponse error;
    auto terminal = AuthenticateTerminal(request, error);
    if (!terminal) return {error, {}};
    const Target target = ParseTarget(request.target);
    const std::uint64_t after = QueryUint(target, "after", 0, UINT64_MAX);
    const auto max_wait = static_cast<std::uint64_t>(options_.long_poll_max_seconds);
    const std::uint64_t wait = QueryUint(target, "wait", max_wait, UINT64_MAX);
    auto latest = store_.LatestPolicy();
    if (latest && latest->version > after) {
      return {HttpResponse{200, latest->bundle, "application/json"}, {}};
    }
    return {std::nullopt, std::chrono::seconds(std::min(wait, max_wait))};
  } catch (const BadRequest& e) {
    return {ErrorResponse(400, e.what()), {}};
  }
}

bool Api::IsEnrollment(const HttpRequest& request) {
  return request.method == "POST" && ParseTarget(request.target).path == "/v1/enroll";
}

std::variant<HttpResponse, PreparedEnrollment> Api::PrepareEnrollment(const HttpRequest& request) {
  try {
    return PrepareEnrollmentOrThrow(request);
  } catch (const BadRequest& e) {
    return ErrorResponse(400, e.what());
  }
}

std::variant<HttpResponse, PreparedEnrollment> Api::PrepareEnrollmentOrThrow(
    const HttpRequest& request) {
  const boost::json::object root = ParseObject(request.body);
  const Fields fields(root, "", {"token", "csr", "facts"});
  const std::string token_text = fields.Str("token", 256);
  const std::string csr = fields.Str("csr", 16 * 1024 + 1, true);
  const Fields facts(fields.Object("facts"), "/facts", {"machine_id", "hostname", "serial", "os"});
  NewTerminal nt;
  nt.machine_id = facts.Str("machine_id", 128);
  nt.hostname = facts.Str("hostname", 253);
  nt.serial = facts.OptStr("serial", kMaxNameBytes).value_or("");
  nt.os = facts.OptStr("os", kMaxNameBytes).value_or("");

  const auto parts = ParseToken(token_text, kEnrollmentTokenPrefix);
  if (!parts) return ErrorResponse(401, "/token: not an enrollment token");
  const auto found = store_.FindEnrollmentToken(parts->id);
  if (!found || !SecretMatches(parts->secret, found->second.secret_hash)) {
    return ErrorResponse(401, "/token: unknown enrollment token");
  }
  const UnixTime now = clock_();
  nt.id = "t-" + RandomHex(8);
  auto issued = ca_.SignTerminalCsr(csr, nt.id, now, options_.certificate_days);
  if (auto* message = std::get_if<std::string>(&issued)) return ErrorResponse(400, *message);
  const auto& cert = std::get<IssuedCertificate>(issued);
  nt.cert_fingerprint = cert.cert_fingerprint;
  nt.key_fingerprint = cert.key_fingerprint;
  return PreparedEnrollment{{parts->id, std::move(nt)}, cert.cert_pem};
}

std::vector<HttpResponse> Api::CommitEnrollments(const std::vector<PreparedEnrollment>& items) {
  std::vector<EnrollItem> batch;
  batch.reserve(items.size());
  for (const PreparedEnrollment& p : items) batch.push_back(p.item);
  const std::vector<EnrollResult> results = store_.EnrollBatch(batch, clock_());
  std::vector<HttpResponse> out;
  out.reserve(results.size());
  for (std::size_t i = 0; i < results.size(); ++i) {
    if (!results[i].error.empty()) {
      Log("error", "enrollment not stored",
          {{"token_id", items[i].item.token_id}, {"error", results[i].error}});
      out.push_back(ErrorResponse(500, "internal error; see the collector's log"));
      continue;
    }
    out.push_back(EnrollmentResponse(items[i], results[i].outcome));
  }
  return out;
}

HttpResponse Api::EnrollmentResponse(const PreparedEnrollment& prepared,
                                     const EnrollOutcome& outcome) {
  switch (outcome.status) {
    case EnrollStatus::kOk:
      break;
    case EnrollStatus::kUnknownToken:
      return ErrorResponse(401, "/token: unknown enrollment token");
    case EnrollStatus::kTokenExpired:
      return ErrorResponse(401, "/token: enrollment token expired");
    case EnrollStatus::kTokenExhausted:
      return ErrorResponse(401, "/token: enrollment token has no uses left");
  }
  const Terminal& t = *outcome.terminal;
  metrics_.CountEnrollment(t.cloned);
  Log(t.cloned ? "warning" : "info", t.cloned ? "cloned image enrolled" : "terminal enrolled",
      {{"terminal", t.id},
       {"group", t.group},
       {"hostname", t.hostname},
       {"token_id", prepared.item.token_id},
       {"cloned_from", t.cloned_from}});
  boost::json::object body;
  body["terminal_id"] = t.id;
  body["group"] = t.group;
  body["certificate"] = prepared.certificate_pem;
  body["ca"] = ca_.cert_pem();
  body["cloned"] = t.cloned;
  body["cloned_from"] = t.cloned_from;
  return JsonResponse(201, body);
}

bool Api::IsReport(const HttpRequest& request) {
  return request.method == "POST" && ParseTarget(request.target).path == "/v1/reports";
}

std::variant<HttpResponse, IngestItem> Api::PrepareReport(const HttpRequest& request) {
  try {
    HttpResponse error;
    auto terminal = AuthenticateTerminal(request, error);
    if (!terminal) return error;
    return IngestItem{terminal->id, ParseReport(request.body)};
  } catch (const BadRequest& e) {
    return ErrorResponse(400, e.what());
  }
}

std::vector<HttpResponse> Api::CommitReports(const std::vector<IngestItem>& items) {
  const std::vector<IngestResult> results = store_.IngestReports(items, clock_());
  std::vector<HttpResponse> out;
  out.reserve(results.size());
  for (std::size_t i = 0; i < results.size(); ++i) {
    const IngestResult& r = results[i];
    if (!r.stored) {
      Log("error", "report not stored",
          {{"terminal", items[i].terminal_id},
           {"sequence", items[i].report.sequence},
           {"error", r.error}});
      out.push_back(ErrorResponse(500, "internal error; see the collector's log"));
      continue;
    }
    metrics_.CountReport(r.duplicate);
    metrics_.CountCodeReusedAlerts(r.code_reused_alerts);
    boost::json::object body;
    body["ack"] = r.ack;
    body["duplicate"] = r.duplicate;
    out.push_back(JsonResponse(200, body));
  }
  return out;
}

int Api::ReportIntervalSeconds() {
  if (auto latest = store_.LatestPolicy()) {
    auto info = InspectBundle(latest->bundle);
    if (auto* i = std::get_if<BundleInfo>(&info))
      return static_cast<int>(i->report_interval_seconds);
  }
  return options_.default_report_interval_seconds;
}

}  // namespace mamori::collector
