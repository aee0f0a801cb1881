// Client certificates as the second credential of the admin/IT API. The administrator's key never
// leaves their machine: mamorictl sends a CSR, the admin CA signs it with the role in the subject,
// and the store records the certificate's fingerprint, role and revocation. A request is
// authenticated by that record, looked up on every request, so a revocation holds at once, even on
// a connection opened before it.
#include <algorithm>
#include <cctype>

#include "collector/api_common.h"
#include "collector/json_fields.h"
#include "collector/log.h"
#include "mamori/collector/api.h"
#include "mamori/collector/tokens.h"

namespace mamori::collector {
namespace {

constexpr std::size_t kMaxNameBytes = 64;
constexpr std::uint64_t kDefaultDays = 365;
constexpr std::uint64_t kMaxDays = 825;

// The holder's name becomes the certificate's common name: plain text only.
bool ValidName(const std::string& name) {
  return !name.empty() && name.size() <= kMaxNameBytes &&
         std::all_of(name.begin(), name.end(), [](unsigned char c) {
           return std::isalnum(c) || c == '.' || c == '_' || c == '-' || c == '@' || c == ' ';
         });
}

boost::json::object CertificateJson(const AdminCertificate& c) {
  boost::json::object o;
  o["id"] = c.id;
  o["name"] = c.name;
  o["role"] = ToString(c.role);
  o["fingerprint"] = c.fingerprint;
  o["created_at"] = FormatTime(c.created_at);
  o["expires_at"] = FormatTime(c.expires_at);
  o["revoked"] = c.revoked;
  return o;
}

}  // namespace

std::optional<ApiToken> Api::AuthenticateCertificate(const PeerCertificate& peer,
                                                     HttpResponse& error) {
  // The TLS layer verified the chain against the admin CA (a terminal certificate fails there);
  // the OU check keeps that true should the listener ever trust another CA.
  if (admin_ca_ == nullptr) {
    error = ErrorResponse(401, "client certificates are not enabled on the admin API");
    return std::nullopt;
  }
  if (peer.organizational_unit == kTerminalCertOu) {
    error = ErrorResponse(403, "terminal certificates are not accepted on the admin API");
    return std::nullopt;
  }
  const auto cert = store_.FindAdminCertificate(peer.fingerprint);
  if (!cert) {
    error = ErrorResponse(401, "unknown admin certificate");
    return std::nullopt;
  }
  if (cert->revoked) {
    error = ErrorResponse(403, "admin certificate " + cert->id + " is revoked");
    return std::nullopt;
  }
  if (peer.organizational_unit != AdminCertOu(cert->role)) {
    error = ErrorResponse(403, "admin certificate " + cert->id + " does not match its record");
    return std::nullopt;
  }
  if (cert->expires_at <= clock_()) {
    error = ErrorResponse(403, "admin certificate " + cert->id + " has expired");
    return std::nullopt;
  }
  return ApiToken{cert->id, cert->role, cert->name, cert->created_at};
}

HttpResponse Api::IssueAdminCertificate(const ApiToken& caller, const HttpRequest& request) {
  if (admin_ca_ == nullptr) return ErrorResponse(503, "admin certificates are not enabled");
  const boost::json::object root = ParseObject(request.body);
  const Fields f(root, "", {"csr", "role", "name", "days"});
  const auto role = ParseRole(f.Str("role", 16));
  if (!role) throw BadRequest("/role: expected it-read or admin");
  const std::string name = f.Str("name", kMaxNameBytes);
  if (!ValidName(name)) {
    throw BadRequest("/name: letters, digits, space and . _ - @ only, at most 64 bytes");
  }
  const auto days = f.OptUint("days", 1, kMaxDays).value_or(kDefaultDays);
  const UnixTime now = clock_();
  auto issued = admin_ca_->SignAdminCsr(f.Str("csr", 16 * 1024 + 1, true), name, *role, now,
                                        static_cast<int>(days));
  if (auto* message = std::get_if<std::string>(&issued)) return ErrorResponse(400, *message);
  const auto& cert = std::get<IssuedCertificate>(issued);
  AdminCertificate record;
  record.id = "c-" + RandomHex(8);
  record.fingerprint = cert.cert_fingerprint;
  record.role = *role;
  record.name = name;
  record.created_at = now;
  record.expires_at = now + static_cast<UnixTime>(days) * 86400;
  store_.CreateAdminCertificate(record);
  Log("info", "admin certificate issued",
      {{"by", caller.id},
       {"certificate", record.id},
       {"role", ToString(record.role)},
       {"name", name}});
  boost::json::object body = CertificateJson(record);
  body["certificate"] = cert.cert_pem;
  body["ca"] = admin_ca_->cert_pem();
  return JsonResponse(201, body);
}

HttpResponse Api::RevokeAdminCertificate(const ApiToken& caller, const std::string& id) {
  if (!store_.RevokeAdminCertificate(id)) return ErrorResponse(404, "no admin certificate " + id);
  Log("warning", "admin certificate revoked", {{"by", caller.id}, {"certificate", id}});
  boost::json::object body;
  body["id"] = id;
  body["revoked"] = true;
  return JsonResponse(200, body);
}

HttpResponse Api::ListAdminCertificates() {
  boost::json::array certificates;
  for (const AdminCertificate& c : store_.AdminCertificates()) {
    certificates.push_back(CertificateJson(c));
  }
  boost::json::object body;
  body["certificates"] = std::move(certificates);
  return JsonResponse(200, body);
}

}  // namespace mamori::collector
