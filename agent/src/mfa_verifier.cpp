#include "mamori/agent/mfa_verifier.h"

namespace mamori::agent {
namespace {

VerifyResult Failed(std::string error) {
  VerifyResult r;
  r.verdict = Verdict::kError;
  r.error = std::move(error);
  return r;
}

}  // namespace

std::string_view ToString(Verdict v) {
  switch (v) {
    case Verdict::kAccepted:
      return "accepted";
    case Verdict::kAcceptedRecovery:
      return "accepted_recovery";
    case Verdict::kRejected:
      return "rejected";
    case Verdict::kReplay:
      return "replay";
    case Verdict::kLocked:
      return "locked";
    case Verdict::kNotEnrolled:
      return "not_enrolled";
    case Verdict::kError:
      return "error";
  }
  return "error";
}

VerifyResult MfaVerifier::Verify(std::string_view user, std::string_view code, std::time_t now) {
  VerifyResult result;
  if (!ValidUserName(user)) {
    result.verdict = Verdict::kNotEnrolled;
    return result;
  }
  std::unique_ptr<platform::FileLock> lock;
  platform::Status s = store_.LockUser(user, &lock);
  if (!s.ok()) return Failed(s.message());
  std::optional<CredentialRecord> record;
  s = store_.Load(user, &record);
  if (!s.ok()) return Failed(s.message());
  if (!record) {
    result.verdict = Verdict::kNotEnrolled;
    return result;
  }
  if (now < record->locked_until) {
    result.verdict = Verdict::kLocked;
    return result;
  }
  auto secret = store_.host_key().Open(record->secret, SecretBinding(record->user));
  if (!secret) return Failed("credential of '" + record->user + "': secret does not decrypt");

  CredentialRecord next = *record;
  auto step = MatchTotp(*secret, record->totp, now, settings_.window_steps, code);
  if (step && *step > record->last_step) {
    next.last_step = *step;
    next.failures = 0;
    result.verdict = Verdict::kAccepted;
    result.step = *step;
  } else if (step) {
    result.verdict = Verdict::kReplay;
  } else if (auto normalized = NormalizeRecoveryCode(code)) {
    if (auto index = MatchRecoveryCode(record->recovery, *normalized)) {
      next.recovery.hashes[*index].clear();
      next.failures = 0;
      result.verdict = Verdict::kAcceptedRecovery;
      result.recovery_remaining = next.recovery.Remaining();
    } else {
      result.verdict = Verdict::kRejected;
    }
  } else {
    result.verdict = Verdict::kRejected;
  }

  if (result.verdict == Verdict::kRejected || result.verdict == Verdict::kReplay) {
    next.failures = record->failures + 1;
    if (settings_.max_failures > 0 && next.failures >= settings_.max_failures) {
      next.failures = 0;
      next.locked_until = now + static_cast<std::time_t>(settings_.lockout_seconds);
      result.lockout_started = true;
    }
  }
  // Only a spent recovery code changes the credential file; everything else is counters. Either is
  // durable before the caller answers, and a failure counts as durably as a success: otherwise
  // cutting the power would reset the lockout count and give a guesser unlimited tries.
  s = result.verdict == Verdict::kAcceptedRecovery ? store_.Save(next) : store_.SaveState(next);
  if (!s.ok()) return Failed(s.message());
  return result;
}

}  // namespace mamori::agent
