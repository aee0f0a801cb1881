// Central MFA: administrators enroll, reset and unlock users' TOTP credentials; terminals fetch
// what changed for their group. Secrets are sealed with the collector's MFA key in the store and
// leave the collector only twice: once to the administrator (the otpauth URI) and over mTLS to
// the terminals of the user's groups.
#include <openssl/crypto.h>

#include "collector/api_common.h"
#include "collector/json_fields.h"
#include "collector/log.h"
#include "collector/mfa_credential.h"
#include "mamori/collector/api.h"
#include "mamori/collector/mfa_key.h"

namespace mamori::collector {
namespace {

constexpr std::size_t kMaxGroups = 64;
constexpr std::size_t kMaxGroupBytes = 256;
constexpr std::uint64_t kChangesPerPage = 100;

// A secret in a std::string that is wiped when it goes out of scope.
struct Wiped {
  std::string bytes;
  ~Wiped() { OPENSSL_cleanse(bytes.data(), bytes.size()); }
};

MfaCredential ParseEnrollment(const std::string& user, std::string_view body) {
  const boost::json::object root = ParseObject(body.empty() ? "{}" : body);
  const Fields f(root, "", {"groups", "algorithm", "digits", "period"});
  MfaCredential c;
  c.user = user;
  const auto& groups = f.Array("groups", kMaxGroups);
  if (groups.empty()) throw BadRequest("/groups: at least one terminal group");
  for (std::size_t i = 0; i < groups.size(); ++i) {
    const auto* g = groups[i].if_string();
    if (!g || g->empty() || g->size() > kMaxGroupBytes) {
      throw BadRequest("/groups/" + std::to_string(i) + ": expected a group name");
    }
    c.groups.emplace_back(*g);
  }
  c.algorithm = f.OptStr("algorithm", 8).value_or("SHA1");
  if (c.algorithm != "SHA1" && c.algorithm != "SHA256" && c.algorithm != "SHA512") {
    throw BadRequest("/algorithm: expected SHA1, SHA256 or SHA512");
  }
  c.digits = static_cast<int>(f.OptUint("digits", 6, 8).value_or(6));
  c.period = static_cast<int>(f.OptUint("period", 15, 300).value_or(30));
  return c;
}

}  // namespace

HttpResponse Api::MfaAdmin(const ApiToken& caller, const std::string& user, std::string_view action,
                           const HttpRequest& request) {
  if (!ValidMfaUser(user)) {
    return ErrorResponse(400, "user: '" + user + "' is not a valid user name");
  }
  if (action == "enroll") return EnrollMfa(caller, user, request);
  const MfaWrite done = action == "reset" ? store_.ResetMfa(user) : store_.UnlockMfa(user);
  if (done.status != MfaWriteStatus::kDone) {
    return ErrorResponse(404, "user " + user + " has no active MFA credential");
  }
  Log("warning", action == "reset" ? "mfa credential reset" : "mfa unlock requested",
      {{"by", caller.id}, {"user", user}, {"revision", done.revision}});
  boost::json::object body;
  body["user"] = user;
  body["revision"] = done.revision;
  return JsonResponse(200, body);
}

HttpResponse Api::EnrollMfa(const ApiToken& caller, const std::string& user,
                            const HttpRequest& request) {
  MfaCredential c = ParseEnrollment(user, request.body);
  std::optional<MfaKey> key;
  try {
    key = MfaKey::Load(options_.mfa_key_file, true);
  } catch (const MfaKeyError& e) {
    Log("error", "mfa key unusable", {{"error", e.what()}});
    return ErrorResponse(503, e.what());
  }
  const Wiped secret{NewTotpSecret()};
  c.sealed_secret = key->Seal(secret.bytes, c.user);
  c.enrolled_at = clock_();
  const MfaWrite done = store_.EnrollMfa(c);
  if (done.status == MfaWriteStatus::kAlreadyEnrolled) {
    return ErrorResponse(409,
                         "user " + user + " already has an active MFA credential; reset first");
  }
  Log("info", "mfa credential enrolled",
      {{"by", caller.id}, {"user", user}, {"revision", done.revision}});
  boost::json::array groups;
  for (const auto& g : c.groups) groups.emplace_back(g);
  boost::json::object body;
  body["user"] = user;
  body["groups"] = std::move(groups);
  body["revision"] = done.revision;
  body["otpauth_uri"] = OtpauthUri(c, secret.bytes, options_.mfa_issuer);
  return JsonResponse(201, body);
}

HttpResponse Api::MfaChanges(const Terminal& terminal, const HttpRequest& request) {
  const Target target = ParseTarget(request.target);
  const std::uint64_t after = QueryUint(target, "after", 0, static_cast<std::uint64_t>(INT64_MAX));
  const std::vector<MfaChange> changes = store_.MfaChanges(terminal.group, after, kChangesPerPage);
  std::optional<MfaKey> key;
  boost::json::array out;
  for (const MfaChange& change : changes) {
    boost::json::object o;
    o["revision"] = change.revision;
    o["user"] = change.credential.user;
    if (change.remove) {
      o["action"] = "remove";
    } else {
      if (!key) {
        try {
          key = MfaKey::Load(options_.mfa_key_file, false);
        } catch (const MfaKeyError& e) {
          Log("error", "mfa key unusable", {{"error", e.what()}});
          return ErrorResponse(503, e.what());
        }
      }
      auto opened = key->Open(change.credential.sealed_secret, change.credential.user);
      if (!opened) {
        Log("error", "mfa secret does not open",
            {{"user", change.credential.user}, {"revision", change.revision}});
        return ErrorResponse(500, "the MFA secret of " + change.credential.user +
                                      " does not decrypt with the configured MFA key");
      }
      const Wiped secret{std::move(*opened)};
      o["action"] = "import";
      o["unlocked_at_revision"] = change.unlocked_at_revision;
      o["credential"] = ImportFormat(change.credential, secret.bytes);
    }
    out.push_back(std::move(o));
  }
  boost::json::object body;
  body["changes"] = std::move(out);
  body["more"] = changes.size() == kChangesPerPage;
  const std::string text = boost::json::serialize(body) + "\n";
  // The body holds secrets: wipe the JSON tree's copies as well as can be done.
  for (auto& v : body["changes"].as_array()) {
    if (auto* cred = v.as_object().if_contains("credential")) {
      auto& b32 = cred->as_object()["secret_base32"].as_string();
      OPENSSL_cleanse(b32.data(), b32.size());
    }
  }
  return HttpResponse{200, text, "application/json"};
}

}  // namespace mamori::collector
