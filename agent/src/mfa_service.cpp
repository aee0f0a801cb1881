#include "mamori/agent/mfa_service.h"

#include <stdio.h>

#include "mamori/policy/mfa_scope.h"

namespace mamori::agent {

MfaService::MfaService(CredentialStore& store, EventJournal& journal, platform::Accounts& accounts,
                       policy::MfaPolicy policy, Clock clock)
    : store_(store),
      journal_(journal),
      accounts_(accounts),
      policy_(std::move(policy)),
      clock_(std::move(clock)) {}

std::string MfaService::HandleLine(std::string_view line, const platform::PeerCredentials& peer) {
  std::string error;
  auto request = ParseMfaRequest(line, &error);
  if (!request) {
    std::fprintf(stderr, "mfa: refused a malformed request from uid %u: %s\n",
                 static_cast<unsigned>(peer.uid), error.c_str());
    return SerializeMfaAnswer(MfaAnswer::kAuthError);
  }
  return SerializeMfaAnswer(Handle(*request, peer));
}

MfaAnswer MfaService::Handle(const MfaRequest& request, const platform::PeerCredentials& peer) {
  if (!ValidUserName(request.user)) {
    return Finish(MfaAnswer::kUserUnknown, "mfa.invalid_user", request, peer);
  }
  // Only root (the login stack) may have any user checked; a user's own screen locker may check
  // that user alone. Otherwise anyone could probe codes or lock others out.
  if (peer.uid != 0) {
    auto name = accounts_.UserName(peer.uid);
    if (!name || *name != request.user) {
      return Finish(MfaAnswer::kAuthError, "mfa.caller_refused", request, peer);
    }
  }
  const policy::MfaPolicy policy = CurrentPolicy();
  if (!policy::MfaRequired(policy, request.user, accounts_.GroupNames(request.user),
                           request.service)) {
    return MfaAnswer::kIgnore;
  }
  if (request.op == MfaOp::kCheck) return MfaAnswer::kPrompt;

  MfaVerifier verifier(
      store_, MfaSettings{policy.window_steps, policy.max_failures, policy.lockout_seconds});
  VerifyResult r = verifier.Verify(request.user, request.code, clock_());
  const MfaAnswer failed = r.lockout_started ? MfaAnswer::kMaxTries : MfaAnswer::kAuthError;
  MfaAnswer answer = MfaAnswer::kAuthError;
  switch (r.verdict) {
    case Verdict::kAccepted:
      // The step lets the collector see one code accepted on two terminals.
      answer = Finish(MfaAnswer::kSuccess, "mfa.success", request, peer,
                      {{"step", std::to_string(r.step)}});
      break;
    case Verdict::kAcceptedRecovery:
      answer = Finish(MfaAnswer::kSuccess, "mfa.recovery_used", request, peer,
                      {{"recovery_remaining", std::to_string(r.recovery_remaining)}});
      break;
    case Verdict::kRejected:
      answer = Finish(failed, "mfa.failure", request, peer);
      break;
    case Verdict::kReplay:
      answer = Finish(failed, "mfa.replay", request, peer);
      break;
    case Verdict::kLocked:
      answer = Finish(MfaAnswer::kMaxTries, "mfa.locked", request, peer);
      break;
    case Verdict::kNotEnrolled:
      if (policy.deny_unenrolled) {
        answer = Finish(MfaAnswer::kUserUnknown, "mfa.unenrolled_denied", request, peer);
      } else {
        answer = Finish(MfaAnswer::kIgnore, "mfa.unenrolled_allowed", request, peer);
      }
      break;
    case Verdict::kError:
      answer = Finish(MfaAnswer::kAuthError, "mfa.error", request, peer, {{"error", r.error}});
      break;
  }
  if (r.lockout_started) {
    answer = Finish(answer, "mfa.lockout", request, peer,
                    {{"lockout_seconds", std::to_string(policy.lockout_seconds)}});
  }
  return answer;
}

MfaAnswer MfaService::Finish(MfaAnswer answer, std::string type, const MfaRequest& request,
                             const platform::PeerCredentials& peer,
                             std::vector<std::pair<std::string, std::string>> extra) {
  Event e;
  e.time = clock_();
  e.type = std::move(type);
  e.fields = {{"user", request.user},
              {"service", request.service},
              {"tty", request.tty},
              {"rhost", request.rhost},
              {"caller_uid", std::to_string(peer.uid)},
              {"caller_pid", std::to_string(peer.pid)}};
  for (auto& f : extra) e.fields.push_back(std::move(f));
  platform::Status s = journal_.Record(e);
  if (!s.ok()) {
    std::fprintf(stderr, "mfa: event journal not written, refusing: %s\n", s.message().c_str());
    if (answer == MfaAnswer::kSuccess || answer == MfaAnswer::kIgnore) {
      return MfaAnswer::kAuthError;
    }
  }
  return answer;
}

void MfaService::SetPolicy(policy::MfaPolicy policy) {
  std::lock_guard<std::mutex> guard(policy_mu_);
  policy_ = std::move(policy);
}

policy::MfaPolicy MfaService::CurrentPolicy() {
  std::lock_guard<std::mutex> guard(policy_mu_);
  return policy_;
}

}  // namespace mamori::agent
