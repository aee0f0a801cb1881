// The admin/IT half of the API: bearer tokens, roles, and the fleet reports.
#include <string_view>

#include "collector/api_common.h"
#include "collector/json_fields.h"
#include "collector/log.h"
#include "mamori/collector/api.h"
#include "mamori/collector/bundle_check.h"
#include "mamori/collector/tokens.h"
#include "mamori/policy/text.h"

namespace mamori::collector {
namespace {

constexpr std::string_view kBearer = "Bearer ";
constexpr std::size_t kHistoryLimit = 500;
constexpr std::uint64_t kMaxEventsPerPage = 10000;
constexpr int kStaleIntervals = 3;

bool IsStale(const Terminal& t, UnixTime now, int interval) {
  const UnixTime reference = t.last_seen.value_or(t.enrolled_at);
  return now - reference > static_cast<UnixTime>(kStaleIntervals) * interval;
}

std::optional<std::string> PathParameter(std::string_view path, std::string_view prefix,
                                         std::string_view suffix) {
  if (path.size() <= prefix.size() + suffix.size() || !path.starts_with(prefix) ||
      !path.ends_with(suffix)) {
    return std::nullopt;
  }
  std::string_view id = path.substr(prefix.size(), path.size() - prefix.size() - suffix.size());
  if (id.find('/') != std::string_view::npos) return std::nullopt;
  return std::string(id);
}

}  // namespace

std::optional<ApiToken> Api::AuthenticateToken(const HttpRequest& request, HttpResponse& error) {
  const std::string_view header = request.authorization;
  if (!header.starts_with(kBearer)) {
    error = ErrorResponse(401, "an Authorization: Bearer token is required");
    return std::nullopt;
  }
  const auto parts = ParseToken(header.substr(kBearer.size()), kApiTokenPrefix);
  const auto found = parts ? store_.FindApiToken(parts->id) : std::nullopt;
  if (!found || !SecretMatches(parts->secret, found->second.secret_hash)) {
    error = ErrorResponse(401, "invalid API token");
    return std::nullopt;
  }
  return found->first;
}

std::optional<ApiToken> Api::AuthenticateCaller(const HttpRequest& request, HttpResponse& error) {
  return request.peer ? AuthenticateCertificate(*request.peer, error)
                      : AuthenticateToken(request, error);
}

HttpResponse Api::HandleAdmin(const HttpRequest& request) {
  try {
    HttpResponse error;
    const auto caller = AuthenticateCaller(request, error);
    if (!caller) return error;
    const Target target = ParseTarget(request.target);
    const std::string& path = target.path;
    const bool get = request.method == "GET";
    const bool post = request.method == "POST";

    if (path == "/metrics") {
      if (!get) return ErrorResponse(405, "use GET");
      return HttpResponse{200, metrics_.Render(), "text/plain; version=0.0.4"};
    }
    if (path == "/v1/fleet") return get ? Fleet() : ErrorResponse(405, "use GET");
    if (path == "/v1/fleet/summary") return get ? FleetSummary() : ErrorResponse(405, "use GET");
    if (path == "/v1/events")
      return get ? ListEvents(request.target) : ErrorResponse(405, "use GET");
    if (auto id = PathParameter(path, "/v1/terminals/", "")) {
      return get ? ShowTerminal(*id) : ErrorResponse(405, "use GET");
    }
    if (path.starts_with("/v1/admin/")) {
      if (caller->role != Role::kAdmin) {
        return ErrorResponse(403, "the admin role is required; this " +
                                      std::string(request.peer ? "certificate" : "token") +
                                      " has role " + std::string(ToString(caller->role)));
      }
      if (path == "/v1/admin/certs") {
        if (get) return ListAdminCertificates();
        return post ? IssueAdminCertificate(*caller, request)
                    : ErrorResponse(405, "use GET or POST");
      }
      if (!post) return ErrorResponse(405, "use POST");
      if (auto id = PathParameter(path, "/v1/admin/certs/", "/revoke")) {
        return RevokeAdminCertificate(*caller, *id);
      }
      if (path == "/v1/admin/tokens") return CreateToken(*caller, request);
      if (path == "/v1/admin/policy") return PushPolicy(*caller, request);
      if (auto id = PathParameter(path, "/v1/admin/terminals/", "/revoke")) {
        return RevokeTerminal(*caller, *id);
      }
      for (std::string_view action : {"enroll", "reset", "unlock"}) {
        if (auto user = PathParameter(path, "/v1/admin/mfa/users/", "/" + std::string(action))) {
          return MfaAdmin(*caller, PercentDecode(*user), action, request);
        }
      }
    }
    return ErrorResponse(404, "no such endpoint: " + path);
  } catch (const BadRequest& e) {
    return ErrorResponse(400, e.what());
  }
}

HttpResponse Api::CreateToken(const ApiToken& caller, const HttpRequest& request) {
  const boost::json::object root = ParseObject(request.body);
  const auto kind_value = root.if_contains("kind");
  const std::string kind =
      kind_value && kind_value->is_string() ? std::string(kind_value->get_string()) : "";
  const UnixTime now = clock_();
  boost::json::object body;
  if (kind == "enrollment") {
    const Fields f(root, "", {"kind", "group", "uses", "expires_in_seconds"});
    EnrollmentToken token;
    token.group = f.Str("group", 256);
    token.uses_left = static_cast<int>(f.OptUint("uses", 1, 100000).value_or(1));
    const auto lifetime = f.OptUint("expires_in_seconds", 60, 366 * 86400).value_or(7 * 86400);
    token.expires_at = now + static_cast<UnixTime>(lifetime);
    token.created_at = now;
    const NewToken secret = GenerateToken(kEnrollmentTokenPrefix);
    token.id = secret.id;
    store_.CreateEnrollmentToken(token, secret.secret_hash);
    body["token"] = secret.text;
    body["id"] = token.id;
    body["kind"] = kind;
    body["group"] = token.group;
    body["uses"] = token.uses_left;
    body["expires_at"] = FormatTime(token.expires_at);
  } else if (kind == "api") {
    const Fields f(root, "", {"kind", "role", "label"});
    const auto role = ParseRole(f.Str("role", 16));
    if (!role) throw BadRequest("/role: expected it-read or admin");
    ApiToken token{"", *role, f.OptStr("label", 256).value_or(""), now};
    const NewToken secret = GenerateToken(kApiTokenPrefix);
    token.id = secret.id;
    store_.CreateApiToken(token, secret.secret_hash);
    body["token"] = secret.text;
    body["id"] = token.id;
    body["kind"] = kind;
    body["role"] = ToString(token.role);
  } else {
    throw BadRequest("/kind: expected \"enrollment\" or \"api\"");
  }
  Log("info", "token created",
      {{"by", caller.id}, {"kind", kind}, {"token_id", body["id"].as_string()}});
  return JsonResponse(201, body);
}

HttpResponse Api::PushPolicy(const ApiToken& caller, const HttpRequest& request) {
  auto inspected = InspectBundle(request.body);
  if (auto* message = std::get_if<std::string>(&inspected)) return ErrorResponse(400, *message);
  const auto& info = std::get<BundleInfo>(inspected);
  const PolicyStoreStatus status =
      store_.StorePolicy({info.version, info.hash, request.body, clock_()});
  if (status == PolicyStoreStatus::kNotNewer) {
    const auto latest = store_.LatestPolicy();
    return ErrorResponse(409, "policy version " + std::to_string(info.version) +
                                  " is not above the stored version " +
                                  std::to_string(latest ? latest->version : 0));
  }
  metrics_.CountPolicyPush();
  Log("info", "policy stored", {{"by", caller.id}, {"version", info.version}, {"hash", info.hash}});
  if (on_policy_stored_) on_policy_stored_();
  boost::json::object body;
  body["version"] = info.version;
  body["hash"] = info.hash;
  return JsonResponse(201, body);
}

HttpResponse Api::RevokeTerminal(const ApiToken& caller, const std::string& id) {
  if (!store_.RevokeTerminal(id)) return ErrorResponse(404, "no terminal " + id);
  Log("warning", "terminal revoked", {{"by", caller.id}, {"terminal", id}});
  boost::json::object body;
  body["id"] = id;
  body["revoked"] = true;
  return JsonResponse(200, body);
}

HttpResponse Api::Fleet() {
  const UnixTime now = clock_();
  const int interval = ReportIntervalSeconds();
  boost::json::array terminals;
  for (const FleetEntry& e : store_.Fleet()) {
    boost::json::object o = TerminalJson(e.terminal);
    o["pass"] = e.pass;
    o["fail"] = e.fail;
    o["error"] = e.error;
    o["stale"] = IsStale(e.terminal, now, interval);
    terminals.push_back(std::move(o));
  }
  boost::json::object body;
  body["terminals"] = std::move(terminals);
  body["stale_after_seconds"] = kStaleIntervals * interval;
  return JsonResponse(200, body);
}

HttpResponse Api::FleetSummary() {
  const int interval = ReportIntervalSeconds();
  const UnixTime stale_after = static_cast<UnixTime>(kStaleIntervals) * interval;
  const FleetTotals totals = store_.FleetSummary(clock_() - stale_after);
  boost::json::object body;
  body["terminals"] = totals.terminals;
  body["revoked"] = totals.revoked;
  body["stale"] = totals.stale;
  body["pass"] = totals.pass;
  body["fail"] = totals.fail;
  body["error"] = totals.error;
  body["unknown"] = totals.unknown;
  boost::json::array versions;
  for (const auto& [version, count] : totals.policy_versions) {
    versions.push_back({{"policy_version", version ? boost::json::value(*version) : nullptr},
                        {"terminals", count}});
  }
  body["policy_versions"] = std::move(versions);
  body["stale_after_seconds"] = stale_after;
  return JsonResponse(200, body);
}

HttpResponse Api::ShowTerminal(const std::string& id) {
  const auto terminal = store_.FindTerminal(id);
  if (!terminal) return ErrorResponse(404, "no terminal " + id);
  boost::json::object body = TerminalJson(*terminal);
  body["stale"] = IsStale(*terminal, clock_(), ReportIntervalSeconds());
  boost::json::array checks;
  for (const CheckState& c : store_.Checks(id)) {
    boost::json::object o;
    o["id"] = c.check_id;
    o["result"] = c.result;
    o["observed"] = c.observed;
    o["changed_at"] = FormatTime(c.changed_at);
    o["first_failed_at"] =
        c.first_failed_at ? boost::json::value(FormatTime(*c.first_failed_at)) : nullptr;
    o["updated_at"] = FormatTime(c.updated_at);
    checks.push_back(std::move(o));
  }
  body["checks"] = std::move(checks);
  boost::json::array history;
  for (const CheckHistoryEntry& h : store_.CheckHistory(id, kHistoryLimit)) {
    boost::json::object o;
    o["id"] = h.check_id;
    o["result"] = h.result;
    o["observed"] = h.observed;
    o["at"] = FormatTime(h.at);
    o["sequence"] = h.sequence;
    history.push_back(std::move(o));
  }
  body["history"] = std::move(history);
  return JsonResponse(200, body);
}

HttpResponse Api::ListEvents(const std::string& raw_target) {
  const Target target = ParseTarget(raw_target);
  UnixTime since = 0;
  if (auto it = target.query.find("since"); it != target.query.end()) {
    const auto t = policy::ParseTimestamp(it->second);
    if (!t) throw BadRequest("query parameter since: expected RFC 3339 UTC time");
    since = t->time_since_epoch().count();
  }
  const std::uint64_t limit = QueryUint(target, "limit", 1000, kMaxEventsPerPage);
  boost::json::array events;
  for (const Event& e : store_.Events(since, limit)) {
    boost::json::object o;
    o["id"] = e.id;
    o["terminal"] = e.terminal_id;
    o["sequence"] = e.sequence;
    o["time"] = FormatTime(e.time);
    o["type"] = e.type;
    boost::system::error_code ec;
    o["data"] = boost::json::parse(e.data, ec);
    if (ec) o["data"] = e.data;
    events.push_back(std::move(o));
  }
  boost::json::object body;
  body["events"] = std::move(events);
  return JsonResponse(200, body);
}

}  // namespace mamori::collector
