#include "mamori/agent/mfa_verifier.h"

#include <future>
#include <system_error>

namespace mamori::agent {
namespace {

VerifyResult Failed(std::string error) {
  VerifyResult r;
  r.verdict = Verdict::kError;
  r.error = std::move(error);
  return r;
}

// Runs `work` on this thread while `file` is flushed on another; returns the flush's status once
// both are done. Without a thread to spare they run one after the other.
platform::Status SyncAlongside(platform::AppendFile& file, const std::function<void()>& work) {
  std::future<platform::Status> sync;
  try {
    sync = std::async(std::launch::async, [&file] { return file.Sync(); });
  } catch (const std::system_error&) {
    platform::Status s = file.Sync();
    work();
    return s;
  }
  // The flush must be over before `file` may go, even if `work` throws.
  struct Join {
    std::future<platform::Status>& f;
    ~Join() {
      if (f.valid()) f.wait();
    }
  } join{sync};
  work();
  return sync.get();
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

VerifyResult MfaVerifier::Verify(std::string_view user, std::string_view code, std::time_t now,
                                 const Recorder& on_verdict) {
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
  std::shared_ptr<platform::AppendFile> unsynced;
  s = result.verdict == Verdict::kAcceptedRecovery ? store_.Save(next)
                                                   : store_.WriteState(next, &unsynced);
  if (!s.ok()) return Failed(s.message());
  if (unsynced) {
    s = SyncAlongside(*unsynced, [&] {
      if (on_verdict) on_verdict(result);
    });
  } else if (on_verdict) {
    on_verdict(result);
  }
  if (!s.ok()) return Failed(s.message());
  return result;
}

}  // namespace mamori::agent
