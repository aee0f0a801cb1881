#include "mamori/agent/mfa_admin.h"

#include <errno.h>
#include <openssl/rand.h>

#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

namespace mamori::agent {
namespace {

constexpr std::size_t kNewSecretBytes = 20;

std::string FormatTime(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

platform::Status Fail(int err, std::string message) {
  return platform::Status::Error(err, std::move(message));
}

}  // namespace

std::optional<PendingEnrollment> NewEnrollment(std::string_view user) {
  PendingEnrollment e;
  e.user = std::string(user);
  e.secret = SecretBytes(kNewSecretBytes);
  if (RAND_bytes(e.secret.data(), static_cast<int>(e.secret.size())) != 1) return std::nullopt;
  return e;
}

std::string OtpauthUri(const PendingEnrollment& e, std::string_view issuer) {
  auto enc = [](std::string_view s) {
    return boost::urls::encode(s, boost::urls::unreserved_chars);
  };
  const std::string label = enc(issuer) + ":" + enc(e.user);
  return "otpauth://totp/" + label + "?secret=" + Base32Encode(e.secret) +
         "&issuer=" + enc(issuer) + "&algorithm=" + std::string(ToString(e.totp.algorithm)) +
         "&digits=" + std::to_string(e.totp.digits) + "&period=" + std::to_string(e.totp.period);
}

platform::Status MfaAdmin::Activate(const PendingEnrollment& e, std::string_view code,
                                    std::time_t now, std::vector<std::string>* recovery_codes) {
  if (!ValidUserName(e.user)) return Fail(EINVAL, "invalid user name '" + e.user + "'");
  std::unique_ptr<platform::FileLock> lock;
  platform::Status s = store_.LockUser(e.user, &lock);
  std::optional<CredentialRecord> existing;
  if (s.ok()) s = store_.Load(e.user, &existing);
  if (!s.ok()) return s;
  if (existing) {
    return Fail(EEXIST, "user '" + e.user + "' is already enrolled; reset first");
  }
  auto step = MatchTotp(e.secret, e.totp, now, 1, code);
  if (!step) return Fail(EACCES, "the code does not match: check the app and the clock");
  auto recovery = GenerateRecoveryCodes();
  auto sealed = store_.host_key().Seal(e.secret, SecretBinding(e.user));
  if (!recovery || !sealed) return Fail(-1, "random bytes or encryption failed");
  CredentialRecord r;
  r.user = e.user;
  r.totp = e.totp;
  r.secret = std::move(*sealed);
  r.enrolled_at = now;
  r.last_step = *step;  // the code just typed is spent
  r.recovery = std::move(recovery->hashes);
  s = store_.Save(r);
  if (!s.ok()) return s;
  *recovery_codes = std::move(recovery->codes);
  return Journal("mfa.enrolled", e.user, now);
}

platform::Status MfaAdmin::Import(const CredentialImport& c, std::time_t now) {
  std::unique_ptr<platform::FileLock> lock;
  platform::Status s = store_.LockUser(c.user, &lock);
  if (!s.ok()) return s;
  auto sealed = store_.host_key().Seal(c.secret, SecretBinding(c.user));
  if (!sealed) return Fail(-1, "encryption failed");
  CredentialRecord r;
  r.user = c.user;
  r.totp = c.totp;
  r.secret = std::move(*sealed);
  r.enrolled_at = c.enrolled_at;
  r.recovery = c.recovery;
  s = store_.Save(r);
  if (!s.ok()) return s;
  return Journal("mfa.imported", c.user, now);
}

platform::Status MfaAdmin::Reset(std::string_view user, std::time_t now) {
  std::unique_ptr<platform::FileLock> lock;
  platform::Status s = store_.LockUser(user, &lock);
  if (s.ok()) s = store_.Remove(user);
  if (!s.ok()) return s;
  return Journal("mfa.reset", user, now);
}

platform::Status MfaAdmin::Unlock(std::string_view user, std::time_t now) {
  std::unique_ptr<platform::FileLock> lock;
  platform::Status s = store_.LockUser(user, &lock);
  std::optional<CredentialRecord> r;
  if (s.ok()) s = store_.Load(user, &r);
  if (!s.ok()) return s;
  if (!r) return Fail(ENOENT, "user '" + std::string(user) + "' is not enrolled");
  r->failures = 0;
  r->locked_until = 0;
  s = store_.SaveState(*r);
  if (!s.ok()) return s;
  return Journal("mfa.unlocked", user, now);
}

platform::Status MfaAdmin::Status(std::string_view user, std::time_t now, bool* enrolled,
                                  std::string* summary) {
  std::unique_ptr<platform::FileLock> lock;
  platform::Status s = store_.LockUser(user, &lock);
  std::optional<CredentialRecord> r;
  if (s.ok()) s = store_.Load(user, &r);
  if (!s.ok()) return s;
  *enrolled = r.has_value();
  if (!r) {
    *summary = "user: " + std::string(user) + "\nenrolled: no\n";
    return platform::Status::Ok();
  }
  *summary =
      "user: " + r->user + "\nenrolled: " + FormatTime(r->enrolled_at) +
      "\ntotp: " + std::string(ToString(r->totp.algorithm)) + ", " +
      std::to_string(r->totp.digits) + " digits, " + std::to_string(r->totp.period) +
      " s\nlast login step: " +
      (r->last_step == 0 ? std::string("none")
                         : FormatTime(static_cast<std::time_t>(r->last_step * r->totp.period))) +
      "\nconsecutive failures: " + std::to_string(r->failures) + "\nlocked: " +
      (now < r->locked_until ? "until " + FormatTime(r->locked_until) : std::string("no")) +
      "\nrecovery codes left: " + std::to_string(r->recovery.Remaining()) + "\n";
  return platform::Status::Ok();
}

platform::Status MfaAdmin::Journal(std::string type, std::string_view user, std::time_t now) {
  Event e;
  e.time = now;
  e.type = std::move(type);
  e.fields = {{"user", std::string(user)}};
  return journal_.Record(e);
}

}  // namespace mamori::agent
